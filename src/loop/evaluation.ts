// Evaluation: for each service due, the shared step (src/core/evaluation.ts) turns this round's
// reading into a decision; the decision is logged, and the changes to make are handed back.
import type { Logger } from 'pino';
import { backoffDelay } from '../core/backoff';
import { describeDecision, type Decision } from '../core/decision';
import { evaluate, type DemandInput } from '../core/evaluation';
import type { SystemReadout } from '../core/liveness';
import { demandOnly, type Reading } from '../core/reading';
import { graceWarning, type WorkFigures } from '../core/work';
import { LOG } from '../log-messages';
import type { SystemReading } from '../types';
import { evaluatedBase, updateFailureOf, type EvaluatedRecord, type ServiceRecord } from './record';

export interface EvaluationContext {
  dryRun: boolean;
  retryMaxDelayMs: number;
  random: () => number;
  log: Logger;
  /**
   * this round's readout of the system (src/loop/liveness.ts): due, the instances judged, the work
   * each live one holds, the working floor; null: only the demand is known (no floor, no held work)
   */
  readout?: SystemReadout | null;
}

/** A change of replica count to send to Swarm. */
export interface PlannedUpdate {
  id: string;
  decision: Decision;
  /** the fields of the decision's log line */
  fields: Record<string, unknown>;
  log: Logger;
}

/** The fields of a decision's log line: the decision as data, with the reading it came from. */
export function decisionFields(d: Decision): Record<string, unknown> {
  return {
    action: d.action,
    reason: d.reason,
    limitedBy: d.limitedBy,
    smoothed: round1(d.smoothed),
    recommendation: d.recommendation,
    bounded: d.bounded,
    current: d.current,
    desired: d.desired,
    ...(d.work === undefined ? {} : { work: workFields(d.work) }),
  };
}

/** The work policy's figures, rounded for the log line. */
function workFields(w: WorkFigures): Record<string, unknown> {
  return { ...w, need: round1(w.need), arrivalsPerMin: round1(w.arrivalsPerMin), serviceTime: round1(w.serviceTime) };
}

/**
 * Evaluates one due service with this round's reading of its system; returns its next record
 * and, when its replica count is to change, the update to send.
 */
export function evaluateService(
  r: EvaluatedRecord,
  reading: SystemReading,
  now: number,
  ctx: EvaluationContext,
): { record: ServiceRecord; update: PlannedUpdate | null } {
  const { policy, replicas: current, memory } = r;
  const log = ctx.log.child({ service: r.name, system: policy.system });
  const base = evaluatedBase(r);

  if (!reading.ok) {
    const readFailures = r.status === 'no-reading' ? r.readFailures + 1 : 1;
    const retryAfterMs = backoffDelay(
      readFailures,
      policy.minScheduleInterval * 1000,
      Math.max(ctx.retryMaxDelayMs, 1000),
      ctx.random(),
    );
    const input: DemandInput = { ok: false, why: reading.error.kind, retryAfterMs };
    const { state, decision } = evaluate(memory.state, input, current, policy, now);
    Object.assign(memory, { state, decision, nextAt: decision.nextAt });
    log.debug(
      { ...decisionFields(decision), retryInS: round1(retryAfterMs / 1000), explanation: describeDecision(decision) },
      LOG.decision,
    );
    return {
      record: {
        ...base,
        status: 'no-reading',
        readFailures,
        missing: reading.error.kind,
        update: updateFailureOf(r),
      },
      update: null,
    };
  }

  const read: Reading = ctx.readout ?? { ...demandOnly(reading.demand.demand), due: reading.demand.due };
  const { dueSoon } = reading.demand;
  const input: Reading = dueSoon === undefined ? read : { ...read, dueSoon };
  const { state, decision } = evaluate(memory.state, { ok: true, reading: input }, current, policy, now);
  Object.assign(memory, { state, decision, reading: reading.demand, nextAt: decision.nextAt });
  sayGraceWarning(log, memory, graceWarning(policy, decision, r.stopGraceMs));
  const fields = {
    ...decisionFields(decision),
    due: reading.demand.due,
    notDue: reading.demand.notDue,
    scheduledOnline: reading.demand.scheduledOnline,
    stuckOffline: reading.demand.stuckOffline,
    demand: reading.demand.demand,
    nextInS: round1((decision.nextAt - now) / 1000),
    dryRun: ctx.dryRun,
  };
  const text = describeDecision(decision);
  const update = updateFailureOf(r);
  if (decision.desired === current) {
    log.info({ ...fields, explanation: text }, LOG.decision);
    if (update !== null) updateFailureOver(log, r.name, update, 'no change is needed any more');
    return { record: { ...base, status: 'managed' }, update: null };
  }
  if (ctx.dryRun) {
    log.info({ ...fields, explanation: text }, LOG.dryRun);
    const lastAction = { action: `would ${decision.action} to ${decision.desired}`, reason: text, at: now };
    return { record: { ...base, lastAction, status: 'managed' }, update: null };
  }
  // Until the update is answered, the service keeps the status it had (an update failure goes on).
  const record: ServiceRecord =
    update === null ? { ...base, status: 'managed' } : { ...base, status: 'update-failing', update };
  return { record, update: { id: r.id, decision, fields, log } };
}

/** The stop_grace_period warning: one line when it appears or changes, kept for `status`. */
function sayGraceWarning(log: Logger, memory: EvaluatedRecord['memory'], warning: string | null): void {
  if (warning === (memory.graceWarning ?? null)) return;
  memory.graceWarning = warning;
  if (warning !== null) log.warn({ warning: 'stop-grace-period', explanation: warning }, LOG.stopGraceShort);
}

/** The one line that ends an update failure of a service. */
export function updateFailureOver(log: Logger, name: string, update: { kind: string; failures: number }, why: string) {
  log.info(
    {
      kind: update.kind,
      failures: update.failures,
      explanation: `Docker: updates of service ${name} are no longer failing (${why}) after ${update.failures} failed attempt(s)`,
    },
    LOG.scaleWorksAgain,
  );
}

export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
