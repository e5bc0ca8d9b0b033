// The status view: what `status`, /status and the per-service metrics show of each record, and
// the facts /healthz judges. Read-only over the table.
import type { Limit, ReasonCode } from '../core/decision';
import { describeDecision } from '../core/decision';
import type { WorkFigures } from '../core/work';
import { describeProblem } from '../labels';
import type { ServiceMode } from '../types';
import type { FailureBook } from './failures';
import { isEvaluated, updateFailureOf, type ServiceRecord } from './record';
import { round1 } from './evaluation';

export type ServiceStatus =
  | 'managed'
  | 'paused'
  | 'invalid-labels'
  | 'global-mode'
  | 'replicated-job-mode'
  | 'global-job-mode'
  | 'in-operation'
  | 'no-reading'
  | 'update-failing';

export interface ServiceSnapshot {
  id: string;
  name: string;
  system: string | null;
  status: ServiceStatus;
  mode: ServiceMode;
  replicas: number | null;
  /** tasks running now over all nodes (replicas is what is wanted); null when unknown */
  running: number | null;
  /** the replica count the last decision set or holds: after bounds and stabilization */
  desired: number | null;
  /** the replica count the last reading alone asked for, before bounds and stabilization */
  recommendation: number | null;
  /** which rule made `desired` differ from `recommendation` */
  limitedBy: Limit | null;
  /** the stable code of the last decision's reason */
  reason: ReasonCode | null;
  /** the last decision's reason in words */
  reasonText: string | null;
  /** the work policy's figures of the last decision (due, held, arrivals, service time, target wait…) */
  work: WorkFigures | null;
  /** a warning about the service's setup (stop_grace_period shorter than the service time under a windowed scale-in) */
  warning: string | null;
  rawDemand: number | null;
  smoothedDemand: number | null;
  due: number | null;
  notDue: number | null;
  stuckOffline: number | null;
  nextEvaluation: string | null;
  lastAction: string | null;
  lastActionAt: string | null;
  /** the UpdateStatus.State of an operator's operation that holds the service */
  operation: string | null;
  /** the Engine's answer to the updates that keep failing */
  updateError: string | null;
  problems: string[];
}

export interface HealthSnapshot {
  lastMassOkAt: number | null;
  lastDockerOkAt: number | null;
  /** true while no service needs a MASS reading */
  massIdle: boolean;
  massError: string | null;
  dockerError: string | null;
  /** since when every service update sent has failed (ms); null while none is failing */
  updatesFailingSince: number | null;
  updateError: string | null;
}

function statusOf(r: ServiceRecord): ServiceStatus {
  return r.status === 'other-mode' ? `${r.mode}-mode` : r.status;
}

export function snapshotOf(r: ServiceRecord): ServiceSnapshot {
  const evaluated = r.status !== 'invalid-labels' && r.status !== 'other-mode' ? r : null;
  const memory = evaluated?.memory ?? null;
  const decision = memory?.decision ?? null;
  const reading = memory?.reading ?? null;
  return {
    id: r.id,
    name: r.name,
    system: r.status === 'invalid-labels' ? null : r.policy.system,
    status: statusOf(r),
    mode: r.mode,
    replicas: evaluated?.replicas ?? null,
    running: evaluated?.running ?? null,
    desired: decision?.desired ?? null,
    recommendation: decision?.recommendation ?? null,
    limitedBy: decision?.limitedBy ?? null,
    reason: decision?.reason ?? null,
    reasonText: decision === null ? null : describeDecision(decision),
    warning: memory?.graceWarning ?? null,
    work: decision?.work ?? null,
    rawDemand: reading?.demand ?? null,
    smoothedDemand: decision ? round1(decision.smoothed) : null,
    due: reading?.due ?? null,
    notDue: reading?.notDue ?? null,
    stuckOffline: reading?.stuckOffline ?? null,
    nextEvaluation: isEvaluated(r) ? new Date(r.memory.nextAt).toISOString() : null,
    lastAction: r.lastAction?.action ?? null,
    lastActionAt: r.lastAction ? new Date(r.lastAction.at).toISOString() : null,
    operation: r.status === 'in-operation' ? r.operation : null,
    updateError: updateFailureOf(r)?.message ?? null,
    problems: r.status === 'invalid-labels' ? r.problems.map(describeProblem) : [],
  };
}

export function healthOf(records: Iterable<ServiceRecord>, failures: FailureBook): HealthSnapshot {
  let massIdle = true;
  let failingSince: number | null = null;
  let updateError: string | null = null;
  for (const r of records) {
    if (isEvaluated(r)) massIdle = false;
    const update = updateFailureOf(r);
    if (update !== null && (failingSince === null || update.since < failingSince)) {
      failingSince = update.since;
      updateError = update.message;
    }
  }
  // An update accepted since then shows that updates do work: count from it.
  if (failingSince !== null && failures.lastUpdateOkAt !== null)
    failingSince = Math.max(failingSince, failures.lastUpdateOkAt);
  return {
    lastMassOkAt: failures.lastMassOkAt,
    lastDockerOkAt: failures.lastDockerOkAt,
    massIdle,
    massError: failures.massError(),
    dockerError: failures.dockerFailingKind,
    updatesFailingSince: failingSince,
    updateError,
  };
}
