// The decision for one service: pure arithmetic over the policy, the state, one reading and
// `now` (milliseconds). No I/O, no clock of its own.
import type { Policy } from './policy';
import { addReading, smoothedValue, startSmoothing, type SmoothingParams, type SmoothingState } from './smoothing';

export interface TargetRecord {
  at: number;
  target: number;
}

export interface ServiceState {
  smoothing: SmoothingState;
  /** the last smoothed demand, to tell moving demand from steady demand */
  smoothed: number;
  /** targets computed during the last scale_down_delay seconds, oldest first */
  recentTargets: TargetRecord[];
}

export type Action = 'up' | 'down' | 'hold' | 'none';

export interface Decision {
  action: Action;
  /** the replica count to set (equal to `current` unless action is up or down) */
  desired: number;
  /** the target from this reading alone, before the stabilization window */
  target: number;
  smoothed: number;
  current: number;
  /** when to evaluate next (ms) */
  nextAt: number;
  reason: string;
}

/** Cap on remembered targets, whatever the clock does. */
const MAX_RECENT_TARGETS = 1000;

export function smoothingParams(policy: Policy): SmoothingParams {
  return { technique: policy.technique, window: policy.window, weight: policy.weight };
}

/**
 * The state of a service seen for the first time. The start demand is at least what the current
 * replicas carry, and the current count is remembered as a recent target, so that starting or
 * restarting the daemon never shrinks a service before scale_down_delay has passed.
 */
export function initialState(policy: Policy, currentReplicas: number, now: number): ServiceState {
  const start = Math.max(policy.startDemand, currentReplicas * policy.requestsPerInstance);
  return {
    smoothing: startSmoothing(start),
    smoothed: start,
    recentTargets: [{ at: now, target: clamp(currentReplicas, policy.minInst, policy.maxInst) }],
  };
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * Replicas for a smoothed demand: ceil(smoothed / requests_per_instance − 0.1) within the bounds;
 * with min_inst 0, any demand in the reading keeps at least one replica so the work is picked up.
 */
export function targetReplicas(smoothed: number, rawDemand: number, policy: Policy): number {
  const wanted = Math.max(0, Math.ceil(smoothed / policy.requestsPerInstance - 0.1));
  const bounded = clamp(wanted, policy.minInst, policy.maxInst);
  return rawDemand > 0 && bounded === 0 ? Math.min(1, policy.maxInst) : bounded;
}

/** Whether smoothed demand moved by more than the threshold, relative to the previous value (at least 1). */
export function demandMoved(previous: number, current: number, threshold: number): boolean {
  return Math.abs(current - previous) / Math.max(Math.abs(previous), 1) > threshold;
}

export function nextEvaluation(now: number, moved: boolean, policy: Policy): number {
  return now + 1000 * (moved ? policy.minScheduleInterval : policy.maxScheduleInterval);
}

/** Targets still inside the stabilization window ending at `now`, plus the newest one. */
export function windowTargets(recent: TargetRecord[], record: TargetRecord, delaySeconds: number): TargetRecord[] {
  const since = record.at - delaySeconds * 1000;
  const kept = recent.filter((r) => r.at > since && r.at <= record.at);
  kept.push(record);
  return kept.slice(Math.max(0, kept.length - MAX_RECENT_TARGETS));
}

/** One evaluation with a fresh demand reading. */
export function decide(
  state: ServiceState,
  rawDemand: number,
  current: number,
  policy: Policy,
  now: number,
): { state: ServiceState; decision: Decision } {
  const params = smoothingParams(policy);
  const smoothing = addReading(state.smoothing, rawDemand, params);
  const smoothed = smoothedValue(smoothing, params);
  const target = targetReplicas(smoothed, rawDemand, policy);
  const recentTargets = windowTargets(state.recentTargets, { at: now, target }, policy.scaleDownDelay);
  // A lower target only wins once it has held for the whole window; bounds always apply.
  const stabilized = clamp(Math.max(...recentTargets.map((r) => r.target)), policy.minInst, policy.maxInst);
  const nextAt = nextEvaluation(now, demandMoved(state.smoothed, smoothed, policy.demandDeltaThreshold), policy);
  const next: ServiceState = { smoothing, smoothed, recentTargets };
  const demand = smoothed.toFixed(1);
  const per = policy.requestsPerInstance === 1 ? '' : ` (${policy.requestsPerInstance} per replica)`;

  let action: Action;
  let desired: number;
  let reason: string;
  if (target > current) {
    action = 'up';
    desired = target;
    reason =
      target === policy.minInst && wantedWithoutBounds(smoothed, policy) < target
        ? `scale up: min_inst ${policy.minInst} > ${current} replicas`
        : `scale up: demand ${demand}${per} > ${current} replicas`;
  } else if (stabilized < current) {
    action = 'down';
    desired = stabilized;
    reason =
      wantedWithoutBounds(smoothed, policy) > policy.maxInst && stabilized === policy.maxInst
        ? `scale down: max_inst ${policy.maxInst} < ${current} replicas`
        : `scale down: demand ${demand}${per} held below ${current} replicas for ${policy.scaleDownDelay}s`;
  } else if (target < current) {
    action = 'hold';
    desired = current;
    reason = `hold: demand ${demand}${per} wants ${target}, but ${stabilized} was needed within the last ${policy.scaleDownDelay}s`;
  } else {
    action = 'none';
    desired = current;
    reason = `steady: demand ${demand}${per} matches ${current} replicas`;
  }
  if (target === policy.maxInst && wantedWithoutBounds(smoothed, policy) > policy.maxInst && action !== 'down') {
    reason += ` (capped at max_inst ${policy.maxInst})`;
  }
  return { state: next, decision: { action, desired, target, smoothed, current, nextAt, reason } };
}

function wantedWithoutBounds(smoothed: number, policy: Policy): number {
  return Math.max(0, Math.ceil(smoothed / policy.requestsPerInstance - 0.1));
}

/** A round without a reading: nothing changes, the service keeps its replicas. */
export function holdWithoutReading(
  current: number,
  why: string,
  now: number,
  retryAfterMs: number,
  state: ServiceState,
): Decision {
  return {
    action: 'hold',
    desired: current,
    target: current,
    smoothed: state.smoothed,
    current,
    nextAt: now + retryAfterMs,
    reason: `hold: no demand reading (${why}); keeping ${current} replicas`,
  };
}
