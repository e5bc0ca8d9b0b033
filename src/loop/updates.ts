// Updates: sends the planned replica changes to Swarm, a bounded number at a time (each one is
// still inspected and version-checked by the adapter), and records each outcome. A refused
// update backs off like every other failure: doubling from DISCOVERY_INTERVAL to RETRY_MAX_DELAY.
import { backoffDelay } from '../core/backoff';
import { describeDecision } from '../core/decision';
import { LOG } from '../log-messages';
import type { SwarmTarget } from '../types';
import type { PlannedUpdate } from './evaluation';
import { updateFailureOver } from './evaluation';
import type { FailureBook } from './failures';
import { inOperationText, type ServiceTable } from './inventory';
import { evaluatedBase, isEvaluated, updateFailureOf, type UpdateFailure } from './record';

export interface UpdateContext {
  swarm: SwarmTarget;
  failures: FailureBook;
  discoveryIntervalMs: number;
  retryMaxDelayMs: number;
  random: () => number;
  events: { scaled(service: string, direction: 'up' | 'down'): void; dockerError(kind: string): void };
  now: () => number;
}

/** Updates in flight at once: enough that a round scaling hundreds of services ends in seconds. */
export const UPDATE_CONCURRENCY = 8;

/** Runs `work` over the items with at most `width` at once. */
export async function inPool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, width), items.length) }, worker));
}

export async function applyUpdates(
  table: ServiceTable,
  plans: readonly PlannedUpdate[],
  ctx: UpdateContext,
  concurrency = UPDATE_CONCURRENCY,
  signal?: AbortSignal,
): Promise<void> {
  await inPool(plans, concurrency, async (plan) => {
    if (signal?.aborted) return;
    await applyOne(table, plan, ctx);
  });
}

async function applyOne(table: ServiceTable, plan: PlannedUpdate, ctx: UpdateContext): Promise<void> {
  const { decision, fields, log } = plan;
  const text = describeDecision(decision);
  let outcome: Awaited<ReturnType<SwarmTarget['scale']>> | undefined;
  let failure: unknown;
  try {
    outcome = await ctx.swarm.scale(plan.id, decision.desired);
  } catch (error) {
    failure = error;
  }
  const now = ctx.now();
  // The record as it is now: the answer may come after the service was forgotten.
  const r = table.get(plan.id);
  if (r === undefined || !isEvaluated(r)) return;
  const base = evaluatedBase(r);
  const previous = updateFailureOf(r);

  if (outcome === undefined) {
    const kind = errorKind(failure);
    const message = errorMessage(failure);
    ctx.events.dockerError(kind);
    const update: UpdateFailure =
      previous === null || previous.kind !== kind
        ? { kind, message, failures: 1, since: previous?.since ?? now }
        : { ...previous, message, failures: previous.failures + 1 };
    const retryAfterMs = backoffDelay(update.failures, ctx.discoveryIntervalMs, ctx.retryMaxDelayMs, ctx.random());
    r.memory.nextAt = now + retryAfterMs;
    const line = { ...fields, kind, err: message, failures: update.failures, retryInS: retryAfterMs / 1000 };
    if (previous === null || previous.kind !== kind) {
      const explanation = `Docker: could not scale ${r.name} to ${decision.desired}: ${message}; retrying with backoff up to RETRY_MAX_DELAY`;
      log.error({ ...line, explanation }, LOG.scaleFailed);
    } else {
      const explanation = `Docker: could not scale ${r.name} to ${decision.desired} (attempt ${update.failures})`;
      log.debug({ ...line, explanation }, LOG.scaleFailed);
    }
    table.set(r.id, { ...base, status: 'update-failing', update });
    return;
  }

  if (previous !== null) updateFailureOver(log, r.name, previous, 'the Engine answered');
  switch (outcome.kind) {
    case 'updated':
      ctx.failures.lastUpdateOkAt = now;
      log.info({ ...fields, from: outcome.from, attempts: outcome.attempts, explanation: text }, LOG.scaled);
      ctx.events.scaled(r.name, outcome.to > outcome.from ? 'up' : 'down');
      table.set(r.id, {
        ...base,
        replicas: outcome.to,
        lastAction: { action: `${decision.action} ${outcome.from} → ${outcome.to}`, reason: text, at: now },
        status: 'managed',
      });
      break;
    case 'unchanged':
      log.info(
        { ...fields, replicas: outcome.replicas, explanation: `${text} (already at ${outcome.replicas} replicas)` },
        LOG.alreadyScaled,
      );
      table.set(r.id, { ...base, replicas: outcome.replicas, status: 'managed' });
      break;
    case 'gone':
      log.warn(
        { ...fields, explanation: `service ${r.name} was removed while being updated; forgetting it` },
        LOG.removedWhileUpdating,
      );
      table.delete(r.id);
      break;
    case 'not-replicated':
      log.warn(
        {
          ...fields,
          mode: outcome.mode,
          explanation: `service ${r.name} now runs in ${outcome.mode} mode; left alone`,
        },
        LOG.otherMode,
      );
      table.set(r.id, { ...base, mode: outcome.mode, status: 'other-mode' });
      break;
    case 'in-operation':
      log.warn(
        { ...fields, operation: outcome.state, explanation: inOperationText(r.name, outcome.state) },
        LOG.inOperation,
      );
      table.set(r.id, { ...base, status: 'in-operation', operation: outcome.state });
      break;
  }
}

export function errorKind(error: unknown): string {
  const kind = (error as { kind?: unknown })?.kind;
  return typeof kind === 'string' ? kind : 'api-error';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
