// The `work` policy (com.mass.policy=work): replicas from work time. Pure arithmetic over the
// policy, the state, one reading and `now` (ms).
//
// Within the target wait W, an instance that holds h analyses (S seconds each) can start about
// max(0, W − h·S)/S more: work locked on an instance never moves, and new replicas do not help it.
// An idle running replica can start W/S, a new one max(0, W − U)/S (U: start-up until MASS hands
// it work; at least one). Replicas are added, least loaded first, until the due work plus the
// arrivals expected within W fit; never below min_inst, never above max_inst, at least one while
// work is due. The instances holding work are part of the count: removing one would lose work.
//
// Sizing ahead (size_ahead=on): a request that becomes due in t ≤ U seconds can be started by a
// replica added now, once it is up; waiting until it is due to add one makes it wait U more. So
// the requests known to become due within U (dueSoon) are sized for now. The arrival estimate λ
// already expects about λ·min(U, W) of them within W (they count as arrivals once due), so only
// what the known ones exceed it by is added:
//   need = D + λ·W + max(0, dueSoon − λ·min(U, W))
// Without requests announced ahead (dueSoon 0) this is D + λ·W, the sizing without it. Once
// replicas are sized ahead (the added term above 0), scale_in=idle holds a scale-in as it does
// for held work, until no request is due any more (see decideWork).
//
// Scale-in (scale_in): `idle` removes replicas only while no live instance of the system holds
// work — Swarm picks the replicas a scale-down removes, and a MASS worker exits at once on SIGTERM,
// so only then can no analysis be lost; with longest_hold, a scale-in held that long removes one
// replica anyway (one per longest_hold). `window` is the classic stabilization window
// (scale_down_delay), for workers that drain on SIGTERM. Either way no scale-down goes below the
// live instances holding work (src/core/liveness.ts, applied by the evaluation step).
//
// Learned between readings: the service time (com.mass.service_time=auto), from the analyses live
// instances finish as their scheduled counts fall; and the arrival rate, from the change of the
// work in the system plus what was finished.
import {
  boundedReplicas,
  boundLimit,
  clamp,
  demandMoved,
  nextEvaluation,
  rulesOf,
  windowTargets,
  type Action,
  type Decision,
  type Limit,
  type ReasonCode,
  type ServiceState,
} from './decision';
import type { Policy } from './policy';
import type { Reading } from './reading';
import { startSmoothing } from './smoothing';

/** The service time assumed under service_time=auto until enough completions are seen, seconds. */
export const SERVICE_TIME_PRIOR_S = 60;
/** How many samples the prior weighs while fewer than MIN_SAMPLES are seen. */
export const PRIOR_WEIGHT = 2;
/** From this many samples on, the estimate is their median (robust to missed completions). */
export const MIN_SAMPLES = 5;
/** The estimate keeps this many of the latest samples. */
export const SERVICE_TIME_MEMORY = 101;
/** Time constant of the arrival-rate average, seconds. */
export const ARRIVAL_TIME_CONSTANT_S = 120;

/** What is remembered of one live instance between evaluations. */
export interface InstanceTrack {
  scheduled: number;
  /** when its current analysis is taken to have started (ms): its last observed completion, or when it got work; null while it holds none */
  since: number | null;
}

export interface WorkState {
  /** each live instance at the last evaluation */
  instances: ReadonlyMap<string, InstanceTrack>;
  /** due requests at the last evaluation */
  due: number;
  /** when the last evaluation was (ms), or null before the first */
  lastAt: number | null;
  /** seconds per analysis, one sample per observed fall of a scheduled count, newest last */
  samples: readonly number[];
  /** arrivals per second, averaged */
  arrivalRate: number;
  /** since when a scale-in has been held by held work (ms), or null */
  holdSince: number | null;
  /** replicas were sized ahead for requests due soon, and those may still wait for MASS's scheduler */
  sizedAhead: boolean;
}

/** The work policy's figures of one decision (for the sentence, the log line and `status`). */
export interface WorkFigures {
  due: number;
  /** live instances holding work, and the analyses they hold */
  holders: number;
  heldAnalyses: number;
  /** arrivals per minute, estimated */
  arrivalsPerMin: number;
  /** seconds per analysis used, and whether it was learned (auto) or given by the label */
  serviceTime: number;
  serviceTimeSource: 'label' | 'learned' | 'prior';
  targetWait: number;
  startupTime: number;
  /** requests that become due within startupTime, when size_ahead=on (else null) */
  dueSoon: number | null;
  /** analyses to start within the target wait: due + arrivals expected within it (+ due soon beyond those) */
  need: number;
  scaleIn: 'idle' | 'window';
  longestHold: number | 'off';
  /** seconds a scale-in has been held by held work, when it is */
  heldForS?: number;
}

/**
 * Under a windowed scale-in (classic, or scale_in=window) Swarm stops a removed worker with SIGTERM
 * and kills it stop_grace_period later: shorter than one analysis, and the analysis in progress
 * is lost even by a worker that drains. The warning, or null. The service time is the label's,
 * else the work policy's estimate; unknown under classic with service_time=auto.
 */
export function graceWarning(policy: Policy, decision: Decision, stopGraceMs: number): string | null {
  const windowed = policy.policy === 'classic' || policy.scaleIn === 'window';
  const serviceTime = decision.work?.serviceTime ?? (policy.serviceTime === 'auto' ? null : policy.serviceTime);
  if (!windowed || serviceTime === null || stopGraceMs >= serviceTime * 1000) return null;
  const rule = policy.policy === 'classic' ? 'com.mass.policy=classic' : 'com.mass.scale_in=window';
  return (
    `stop_grace_period ${stopGraceMs / 1000}s is shorter than the service time ${Math.round(serviceTime)}s under ${rule}: ` +
    `a removed worker is killed before it can finish its analysis (raise stop_grace_period, or use com.mass.policy=work with scale_in=idle)`
  );
}

export function initialWorkState(): WorkState {
  return {
    instances: new Map(),
    due: 0,
    lastAt: null,
    samples: [],
    arrivalRate: 0,
    holdSince: null,
    sizedAhead: false,
  };
}

/**
 * The systems whose requests due soon are to be counted, each with its horizon in ms: the
 * longest startup_time of its services that size ahead (work policy, size_ahead=on, a start-up
 * above 0). A system without such a service is not in the map: its round counts what it did.
 */
export function dueSoonHorizons(policies: Iterable<Policy>): Map<string, number> {
  const horizons = new Map<string, number>();
  for (const p of policies) {
    if (p.policy !== 'work' || p.sizeAhead !== 'on' || p.startupTime <= 0) continue;
    horizons.set(p.system, Math.max(horizons.get(p.system) ?? 0, p.startupTime * 1000));
  }
  return horizons;
}

/** The service time to size with, seconds: the label's, or under auto the learned one (the prior until then). */
export function serviceTimeOf(
  policy: Policy,
  state: WorkState,
): { seconds: number; source: WorkFigures['serviceTimeSource'] } {
  if (policy.serviceTime !== 'auto') return { seconds: policy.serviceTime, source: 'label' };
  const n = state.samples.length;
  if (n === 0) return { seconds: SERVICE_TIME_PRIOR_S, source: 'prior' };
  if (n < MIN_SAMPLES) {
    const sum = state.samples.reduce((a, b) => a + b, 0);
    return { seconds: (sum + PRIOR_WEIGHT * SERVICE_TIME_PRIOR_S) / (n + PRIOR_WEIGHT), source: 'learned' };
  }
  const sorted = [...state.samples].sort((a, b) => a - b);
  const mid = Math.floor(n / 2);
  return { seconds: n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, source: 'learned' };
}

/**
 * What the readings since the last evaluation teach. Service time: a worker works through its
 * analyses one after another, so while a live instance holds work, the time from one observed
 * fall of its scheduled count (or from when it got work) to the next, divided by the fall, is one
 * sample; work added in between does not change the analysis in progress. A completion and a new
 * assignment between two readings hide a fall (a sample twice too long): the median of the
 * samples is robust to that. Instances that never progress (stuck work) give no sample. Arrivals:
 * the change of the work in the system (due + live instances' counts) plus what was finished
 * (the falls, and for counts that rose an estimate of dt/S).
 */
export function learn(state: WorkState, reading: Reading, serviceTime: number, now: number): WorkState {
  const live = reading.liveness.instances.filter((i) => i.verdict !== 'dead');
  const first = state.lastAt === null || now <= state.lastAt;
  const dt = first ? 0 : (now - state.lastAt!) / 1000;
  const instances = new Map<string, InstanceTrack>();
  const samples = [...state.samples];
  let finished = 0;
  let estimatedFinished = 0;
  let change = reading.due - state.due;
  for (const i of live) {
    const before = state.instances.get(i.uuid);
    const was = before?.scheduled ?? 0;
    change += i.scheduled - was;
    // A change seen now happened between the readings: at their midpoint, as well as can be told.
    const between = first ? now : (state.lastAt! + now) / 2;
    let since = before?.since ?? null;
    // Stryker disable next-line EqualityOperator,ConditionalExpression: scheduled counts are never negative, so was > 0 only restates scheduled < was
    if (was > 0 && i.scheduled < was) {
      finished += was - i.scheduled;
      if (since !== null) samples.push((between - since) / 1000 / (was - i.scheduled));
      since = i.scheduled > 0 ? between : null;
    } else if (was === 0 && i.scheduled > 0) since = before === undefined || first ? null : between;
    else if (i.scheduled > was) estimatedFinished += Math.min(was, dt / serviceTime);
    instances.set(i.uuid, { scheduled: i.scheduled, since });
  }
  const base = {
    ...state,
    instances,
    due: reading.due,
    lastAt: now,
    samples: samples.slice(Math.max(0, samples.length - SERVICE_TIME_MEMORY)),
  };
  if (first) return base;
  const arrivals = Math.max(0, change + finished + estimatedFinished);
  const alpha = 1 - Math.exp(-dt / ARRIVAL_TIME_CONSTANT_S);
  return { ...base, arrivalRate: state.arrivalRate + alpha * (arrivals / dt - state.arrivalRate) };
}

export interface SizingInput {
  /** due requests */
  due: number;
  /** analyses held by each live instance that holds work */
  held: readonly number[];
  /** running replicas whose instance is live and idle (ready to take work now) */
  idleReady: number;
  /** arrivals per second */
  arrivalRate: number;
  /** requests that become due within the start-up time, sized for ahead (0: not sizing ahead) */
  dueSoon: number;
  /** seconds: service time S, start-up U, target wait W */
  serviceTime: number;
  startupTime: number;
  targetWait: number;
}

export interface Sizing {
  /** analyses to start within W: due + arrivals within W + ahead */
  need: number;
  /** the requests due soon beyond the arrivals expected within the start-up (0 when none) */
  ahead: number;
  /** analyses the instances holding work can still start within W */
  heldCapacity: number;
  /** idle running replicas counted */
  idleUsed: number;
  /** replicas to add (or starting) */
  added: number;
  /** replicas: holders + idle used + added */
  replicas: number;
}

/** A little slack so that 4.0000001 needed analyses do not ask for one more replica. */
const EPSILON = 1e-6;

/** Replicas for the due work and arrivals within the target wait, counting held work where it is. */
export function sizeForWait(i: SizingInput): Sizing {
  const { serviceTime: s, startupTime: u, targetWait: w } = i;
  const ahead = Math.max(0, i.dueSoon - i.arrivalRate * Math.min(u, w));
  const need = i.due + i.arrivalRate * w + ahead;
  const heldCapacity = i.held.reduce((sum, h) => sum + Math.max(0, w - h * s) / s, 0);
  let rest = need - heldCapacity;
  const perIdle = w / s;
  const idleUsed = rest <= EPSILON ? 0 : Math.min(i.idleReady, Math.ceil(rest / perIdle - EPSILON));
  rest -= idleUsed * perIdle;
  // A new replica starts at least one analysis, even when the start-up is longer than the target wait.
  const perNew = Math.max(1, Math.max(0, w - u) / s);
  // Stryker disable next-line EqualityOperator: perNew >= 1, so at rest = EPSILON ceil(rest / perNew − EPSILON) is 0 too
  const added = rest <= EPSILON ? 0 : Math.ceil(rest / perNew - EPSILON);
  return { need, ahead, heldCapacity, idleUsed, added, replicas: i.held.length + idleUsed + added };
}

/** One evaluation under the work policy. */
export function decideWork(
  state: ServiceState,
  reading: Reading,
  current: number,
  policy: Policy,
  now: number,
): { state: ServiceState; decision: Decision } {
  const before = state.work ?? initialWorkState();
  const estimate = serviceTimeOf(policy, before);
  const learnt = learn(before, reading, estimate.seconds, now);
  const { seconds: serviceTime, source } = serviceTimeOf(policy, learnt);
  // Instances holding work beyond the replicas (a removed replica's instance that MASS still takes
  // for online, another service's) are not this service's to keep: the least loaded count.
  const held = [...reading.held].sort((a, b) => a - b).slice(0, Math.max(current, 0));
  const holders = held.length;
  const liveIdle = reading.liveness.instances.filter((i) => i.verdict !== 'dead' && i.scheduled === 0).length;
  const dueSoon = policy.sizeAhead === 'on' ? (reading.dueSoon ?? 0) : null;
  const sizing = sizeForWait({
    due: reading.due,
    held,
    idleReady: Math.max(0, Math.min(liveIdle, current - holders)),
    arrivalRate: learnt.arrivalRate,
    dueSoon: dueSoon ?? 0,
    serviceTime,
    startupTime: policy.startupTime,
    targetWait: policy.targetWait,
  });
  // Sized ahead now, or earlier for requests that may still be due (not yet handed out).
  const sizedAhead = sizing.ahead > 0 || (before.sizedAhead && reading.due > 0);
  const recommendation = sizing.replicas;
  const bounded = boundedReplicas(recommendation, reading.due, policy);
  const bound = boundLimit(recommendation, bounded, policy);
  const sizedBy: Limit =
    bound !== 'none'
      ? bound
      : holders > 0 && sizing.need <= sizing.heldCapacity + EPSILON
        ? 'work-held'
        : 'target-wait';
  const recentTargets = windowTargets(state.recentTargets, { at: now, target: bounded }, policy.scaleDownDelay);
  const stabilized = clamp(Math.max(...recentTargets.map((r) => r.target)), policy.minInst, policy.maxInst);

  let action: Action;
  let desired: number;
  let reason: ReasonCode;
  let limitedBy: Limit = sizedBy;
  let holdSince: number | null = null;
  if (bounded > current) {
    action = 'up';
    desired = bounded;
    reason = bound === 'min_inst' ? 'scale-up-to-min-inst' : 'scale-up';
  } else if (bounded === current) {
    action = 'none';
    desired = current;
    reason = 'steady';
  } else if (current > policy.maxInst) {
    // An operator's lower max_inst applies at once, as under classic.
    action = 'down';
    desired = policy.maxInst;
    reason = 'scale-down-to-max-inst';
    limitedBy = 'max_inst';
  } else if (policy.scaleIn === 'window') {
    if (stabilized < current) {
      action = 'down';
      desired = stabilized;
      reason = 'scale-down';
      if (stabilized > bounded) limitedBy = 'stabilization';
    } else {
      action = 'hold';
      desired = current;
      reason = 'hold-stabilization';
      limitedBy = 'stabilization';
    }
  } else if (reading.held.length === 0 && !sizedAhead) {
    // Replicas sized ahead are idle until MASS's scheduler hands them the requests, after they
    // become due: a scale-in then would remove them, and MASS, taking a removed replica's instance
    // for online for minutes, would hand it part of that work, which then sticks. So requests
    // sized ahead hold it too, until none is due any more (then held work does).
    action = 'down';
    desired = bounded;
    reason = 'scale-down-idle';
  } else {
    holdSince = learnt.holdSince ?? now;
    const longest = policy.longestHold;
    // Stryker disable next-line ConditionalExpression,StringLiteral: with longest_hold off, longest * 1000 is NaN and the comparison false anyway
    if (longest !== 'off' && now - holdSince >= longest * 1000) {
      action = 'down';
      desired = current - 1;
      reason = 'scale-down-longest-hold';
      limitedBy = 'scale-in-hold';
      holdSince = now;
    } else {
      action = 'hold';
      desired = current;
      reason = 'hold-work-held';
      limitedBy = 'scale-in-hold';
    }
  }

  const demand = reading.demand;
  // Evaluate soon while the work moves, or while a scale-in waits for a moment without held work.
  const moved = demandMoved(state.smoothed, demand, policy.demandDeltaThreshold) || reason === 'hold-work-held';
  const work: WorkFigures = {
    due: reading.due,
    holders: reading.held.length,
    heldAnalyses: reading.held.reduce((a, b) => a + b, 0),
    arrivalsPerMin: learnt.arrivalRate * 60,
    serviceTime,
    serviceTimeSource: source,
    targetWait: policy.targetWait,
    startupTime: policy.startupTime,
    dueSoon,
    need: sizing.need,
    scaleIn: policy.scaleIn,
    longestHold: policy.longestHold,
    ...(holdSince !== null && reason === 'hold-work-held' ? { heldForS: (now - holdSince) / 1000 } : {}),
  };
  return {
    state: {
      smoothing: startSmoothing(demand),
      smoothed: demand,
      recentTargets,
      work: { ...learnt, holdSince, sizedAhead },
    },
    decision: {
      action,
      reason,
      limitedBy,
      recommendation,
      bounded,
      stabilized,
      desired,
      current,
      smoothed: demand,
      nextAt: nextEvaluation(now, moved, policy),
      rules: rulesOf(policy),
      work,
    },
  };
}
