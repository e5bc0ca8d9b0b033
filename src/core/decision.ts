// The decision for one service: pure arithmetic over the policy, the state, one reading and
// `now` (milliseconds). No I/O, no clock of its own.
import type { Policy } from './policy';
import type { WorkFigures, WorkState } from './work';
import { addReading, smoothedValue, startSmoothing, type SmoothingParams, type SmoothingState } from './smoothing';

export interface TargetRecord {
  at: number;
  target: number;
}

export interface ServiceState {
  smoothing: SmoothingState;
  /** the last smoothed demand, to tell moving demand from steady demand (the raw demand under the work policy) */
  smoothed: number;
  /** targets computed during the last scale_down_delay seconds, oldest first */
  recentTargets: TargetRecord[];
  /** what the work policy learns between readings (src/core/work.ts); absent under classic */
  work?: WorkState;
}

export type Action = 'up' | 'down' | 'hold' | 'none';

/**
 * Which rule bound the desired count. Classic: the rule that made it differ from the
 * recommendation ('none': it did not). Work policy: also which sizing rule set it — `target-wait`
 * (replicas for the due work and arrivals within the target wait), `work-held` (the instances
 * holding work already carry it), `scale-in-hold` (a lower count waits until no instance holds work).
 */
export type Limit =
  | 'none'
  | 'min_inst'
  | 'max_inst'
  | 'due-work'
  | 'stabilization'
  | 'working'
  | 'target-wait'
  | 'work-held'
  | 'scale-in-hold';

/** Why the decision is what it is: a stable code for logs, status and alerts; the sentence is built from it. */
export type ReasonCode =
  | 'scale-up' // the demand asks for more replicas
  | 'scale-up-to-min-inst' // fewer replicas than min_inst
  | 'scale-down' // a lower count held for the whole stabilization window
  | 'scale-down-to-max-inst' // more replicas than max_inst
  | 'hold-stabilization' // a lower count, but a higher one was needed within the window
  | 'steady' // the demand matches the replicas
  | 'hold-no-reading' // no demand reading this round
  | 'hold-working' // a lower count, but more instances than that are working (Swarm would kill one)
  | 'scale-down-idle' // work policy, scale_in=idle: fewer replicas do, and no instance holds work
  | 'hold-work-held' // work policy, scale_in=idle: fewer replicas would do, but instances hold work
  | 'scale-down-longest-hold'; // work policy, scale_in=idle: held for longest_hold, one replica goes anyway

/**
 * One evaluation as data. The pipeline, as in the Kubernetes HPA:
 * reading → `recommendation` (the smoothed demand alone) → `bounded` (within min_inst/max_inst,
 * at least 1 while work is due) → `desired` (after the stabilization window; up at once).
 */
export interface Decision {
  action: Action;
  reason: ReasonCode;
  limitedBy: Limit;
  /** replicas the smoothed demand asks for: ceil(smoothed / requests_per_instance − 0.1) */
  recommendation: number;
  /** the recommendation within the bounds */
  bounded: number;
  /** the highest bounded count of the stabilization window */
  stabilized: number;
  /** the replica count to set (equal to `current` unless action is up or down) */
  desired: number;
  current: number;
  smoothed: number;
  /** when to evaluate next (ms) */
  nextAt: number;
  /** what the sentence of the decision quotes from the policy */
  rules: { minInst: number; maxInst: number; requestsPerInstance: number; scaleDownDelay: number };
  /** the kind of failure, when there was no reading */
  missing?: string;
  /** instances working on something, when that floor raised `desired` (src/core/liveness.ts) */
  working?: number;
  /** the work policy's figures (absent under classic) */
  work?: WorkFigures;
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
  return boundedReplicas(recommendedReplicas(smoothed, policy), rawDemand, policy);
}

/** Replicas the smoothed demand alone asks for, before any bound. */
export function recommendedReplicas(smoothed: number, policy: Policy): number {
  return Math.max(0, Math.ceil(smoothed / policy.requestsPerInstance - 0.1));
}

export function boundedReplicas(recommendation: number, rawDemand: number, policy: Policy): number {
  const bounded = clamp(recommendation, policy.minInst, policy.maxInst);
  return rawDemand > 0 && bounded === 0 ? Math.min(1, policy.maxInst) : bounded;
}

/** The bound that moved the recommendation, if any. */
export function boundLimit(recommendation: number, bounded: number, policy: Policy): Limit {
  if (bounded < recommendation) return 'max_inst';
  if (bounded > recommendation) return bounded === policy.minInst ? 'min_inst' : 'due-work';
  return 'none';
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
  const recommendation = recommendedReplicas(smoothed, policy);
  const bounded = boundedReplicas(recommendation, rawDemand, policy);
  const bound = boundLimit(recommendation, bounded, policy);
  const recentTargets = windowTargets(state.recentTargets, { at: now, target: bounded }, policy.scaleDownDelay);
  // A lower count only wins once it has held for the whole window; bounds always apply.
  const stabilized = clamp(Math.max(...recentTargets.map((r) => r.target)), policy.minInst, policy.maxInst);
  const nextAt = nextEvaluation(now, demandMoved(state.smoothed, smoothed, policy.demandDeltaThreshold), policy);
  const next: ServiceState = { smoothing, smoothed, recentTargets };

  let action: Action;
  let desired: number;
  let reason: ReasonCode;
  let limitedBy: Limit = bound;
  if (bounded > current) {
    action = 'up';
    desired = bounded;
    reason = bound === 'min_inst' ? 'scale-up-to-min-inst' : 'scale-up';
  } else if (stabilized < current) {
    action = 'down';
    desired = stabilized;
    // capped by max_inst, the window's highest count is max_inst too (stabilized is clamped to it)
    reason = bound === 'max_inst' ? 'scale-down-to-max-inst' : 'scale-down';
    if (stabilized > bounded) limitedBy = 'stabilization';
  } else if (bounded < current) {
    action = 'hold';
    desired = current;
    reason = 'hold-stabilization';
    limitedBy = 'stabilization';
  } else {
    action = 'none';
    desired = current;
    reason = 'steady';
  }
  return {
    state: next,
    decision: {
      action,
      reason,
      limitedBy,
      recommendation,
      bounded,
      stabilized,
      desired,
      current,
      smoothed,
      nextAt,
      rules: rulesOf(policy),
    },
  };
}

export function rulesOf(policy: Policy): Decision['rules'] {
  return {
    minInst: policy.minInst,
    maxInst: policy.maxInst,
    requestsPerInstance: policy.requestsPerInstance,
    scaleDownDelay: policy.scaleDownDelay,
  };
}

/** A round without a reading: nothing changes, the service keeps its replicas. */
export function holdWithoutReading(
  current: number,
  why: string,
  now: number,
  retryAfterMs: number,
  state: ServiceState,
  policy: Policy,
): Decision {
  return {
    action: 'hold',
    reason: 'hold-no-reading',
    limitedBy: 'none',
    recommendation: current,
    bounded: current,
    stabilized: current,
    desired: current,
    current,
    smoothed: state.smoothed,
    nextAt: now + retryAfterMs,
    rules: rulesOf(policy),
    missing: why,
  };
}

/** The one sentence of a decision, for the log line and `status`. */
export function describeDecision(d: Decision): string {
  if (d.work !== undefined && d.reason !== 'hold-no-reading') return describeWorkDecision(d, d.work);
  const demand = d.smoothed.toFixed(1);
  const per = d.rules.requestsPerInstance === 1 ? '' : ` (${d.rules.requestsPerInstance} per replica)`;
  const window = d.rules.scaleDownDelay;
  let text: string;
  switch (d.reason) {
    case 'scale-up':
      text = `scale up: demand ${demand}${per} > ${d.current} replicas`;
      break;
    case 'scale-up-to-min-inst':
      text = `scale up: min_inst ${d.rules.minInst} > ${d.current} replicas`;
      break;
    case 'scale-down':
      text = `scale down: demand ${demand}${per} held below ${d.current} replicas for ${window}s`;
      break;
    case 'scale-down-to-max-inst':
      text = `scale down: max_inst ${d.rules.maxInst} < ${d.current} replicas`;
      break;
    case 'hold-stabilization':
      text = `hold: demand ${demand}${per} wants ${d.bounded}, but ${d.stabilized} was needed within the last ${window}s`;
      break;
    case 'steady':
      text = `steady: demand ${demand}${per} matches ${d.current} replicas`;
      break;
    case 'hold-no-reading':
      return `hold: no demand reading (${d.missing ?? 'unknown'}); keeping ${d.current} replicas`;
    case 'hold-working':
      return d.desired === d.current
        ? `hold: demand ${demand}${per} wants ${d.stabilized}, but ${d.working ?? d.current} instances are working`
        : `scale down to ${d.desired}, not ${d.stabilized}: ${d.working ?? d.desired} instances are working`;
    default:
      // the work policy's own codes; its decisions carry `work` and are described above
      return `${d.action}: ${d.reason}`;
  }
  if (d.bounded === d.rules.maxInst && d.recommendation > d.rules.maxInst && d.action !== 'down') {
    text += ` (capped at max_inst ${d.rules.maxInst})`;
  }
  return text;
}

/** The sentence of a work-policy decision (see describeDecision). */
function describeWorkDecision(d: Decision, w: WorkFigures): string {
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  const took = w.serviceTimeSource === 'label' ? '' : w.serviceTimeSource === 'learned' ? ' learned' : ' assumed';
  const work =
    `${fmt(w.need)} analyses to start within ${w.targetWait}s (${w.due} due, ` +
    (w.dueSoon === null ? '' : `${w.dueSoon} due within ${w.startupTime}s, `) +
    `${fmt(w.arrivalsPerMin)}/min arriving, ` +
    `${Math.round(w.serviceTime)}s each${took})` +
    (w.holders > 0 ? `; ${w.holders} instances hold ${w.heldAnalyses}` : '');
  switch (d.reason) {
    case 'scale-up':
      return `scale up: ${work}: ${d.bounded} replicas, not ${d.current}${capped(d)}`;
    case 'scale-up-to-min-inst':
      return `scale up: min_inst ${d.rules.minInst} > ${d.current} replicas`;
    case 'scale-down-to-max-inst':
      return `scale down: max_inst ${d.rules.maxInst} < ${d.current} replicas`;
    case 'scale-down-idle':
      return `scale down: no instance holds work; ${work}: ${d.bounded} replicas`;
    case 'hold-work-held': {
      const held = w.heldForS === undefined ? '' : ` for ${Math.round(w.heldForS)}s`;
      const longest = w.longestHold === 'off' ? '' : ` of longest_hold ${w.longestHold}s`;
      if (w.holders === 0)
        return `hold: ${d.bounded} replicas would do, but replicas were sized ahead for requests due soon (${w.dueSoon ?? 0} within ${w.startupTime}s, ${w.due} due) and MASS would hand some to a removed replica's instance (size_ahead=on, held${held}${longest}); ${work}`;
      return `hold: ${d.bounded} replicas would do, but ${w.holders} instances hold work and Swarm picks which replica goes (scale_in=idle, held${held}${longest}); ${work}`;
    }
    case 'scale-down-longest-hold':
      return `scale down by one: a scale-in to ${d.bounded} was held by work for longest_hold ${String(w.longestHold)}s; ${work}`;
    case 'scale-down':
      return d.limitedBy === 'stabilization'
        ? `scale down to ${d.desired}, the most needed within the last ${d.rules.scaleDownDelay}s (scale_in=window); ${work}`
        : `scale down: ${d.bounded} replicas have done for ${d.rules.scaleDownDelay}s (scale_in=window); ${work}`;
    case 'hold-stabilization':
      return `hold: the work wants ${d.bounded}, but ${d.stabilized} were needed within the last ${d.rules.scaleDownDelay}s (scale_in=window); ${work}`;
    case 'hold-working':
      return d.desired === d.current
        ? `hold: the work wants ${d.stabilized}, but ${d.working ?? d.current} instances are working`
        : `scale down to ${d.desired}, not ${d.stabilized}: ${d.working ?? d.desired} instances are working`;
    default:
      if (d.limitedBy === 'min_inst') return `steady: min_inst ${d.rules.minInst} replicas; ${work}`;
      return `steady: ${d.current} replicas; ${work}${capped(d)}`;
  }
}

function capped(d: Decision): string {
  return d.limitedBy === 'max_inst' ? ` (capped at max_inst ${d.rules.maxInst})` : '';
}
