// The what-if model: a virtual clock, MASS's own dispatch, replicas working through their
// analyses, and the daemon's evaluation step (src/core/evaluation.ts) deciding the replica count.
// Pure: no I/O, no wall clock; the only randomness (which replicas Swarm removes) is seeded.
import type { Decision, ServiceState } from '../core/decision';
import { evaluate } from '../core/evaluation';
import type { Policy } from '../core/policy';

/** One line of a trace: `arrivals` analysis requests become due at `t` seconds. */
export interface TracePoint {
  t: number;
  arrivals: number;
}

/** MASS's scheduler skips instances with this many scheduled analyses or more (docs/MASS_API.md). */
export const MAX_SCHEDULED_PER_INSTANCE = 100;

export interface SimOptions {
  /** seconds between runs of MASS's scheduler */
  dispatchInterval: number;
  /** seconds one analysis takes */
  serviceTime: number;
  /** seconds from adding a replica until its instance is online */
  startup: number;
  /** seed of the PRNG that plays Swarm choosing which replicas to remove */
  seed: number;
  /** replicas at t=0, all online; undefined: the label set's min_inst */
  initialReplicas?: number;
  /**
   * Fixed end of the simulation in seconds. Undefined: run until the work is done and the
   * replicas have settled at their floor, but at most `drainCap` seconds after the last arrival.
   */
  until?: number;
  drainCap: number;
}

export const DEFAULT_OPTIONS: SimOptions = {
  dispatchInterval: 30,
  serviceTime: 30,
  startup: 20,
  seed: 1,
  drainCap: 24 * 3600,
};

/** One evaluation of the decision, as the daemon would log it (times in seconds). */
export interface Step {
  t: number;
  /** what the daemon reads: due requests + analyses assigned to online replicas */
  demand: number;
  smoothed: number;
  /** the decision's recommendation within min_inst/max_inst, before the stabilization window */
  target: number;
  /** replicas after this decision (the count Swarm is told) */
  replicas: number;
  /** due requests not yet assigned to a replica */
  queue: number;
  action: Decision['action'];
}

export interface Summary {
  /** integral of the replica count (starting replicas included) over the run */
  replicaSeconds: number;
  /** from arrival until the start of the attempt that finished; null when nothing finished */
  meanWait: number | null;
  p95Wait: number | null;
  maxWait: number | null;
  peakReplicas: number;
  /** decisions that changed the replica count */
  scaleActions: number;
  scaleUps: number;
  scaleDowns: number;
  /** analyses in progress on a replica when Swarm removed it (they start over elsewhere) */
  aborted: number;
  arrived: number;
  completed: number;
  /** arrived but not finished when the simulation ended */
  unfinished: number;
  /** time spent analysing ÷ replica-seconds */
  utilization: number;
  /** end of the simulation, seconds */
  end: number;
}

export interface SimResult {
  steps: Step[];
  summary: Summary;
}

/** mulberry32: a small, well-known 32-bit seeded PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The daemon's view of one service: its decision state and replica count. */
export interface Control {
  state: ServiceState | null;
  replicas: number;
}

/** One evaluation through the daemon's own step (`evaluate`), with the demand read. `now` is in milliseconds. */
export function decisionStep(
  control: Control,
  demand: number,
  policy: Policy,
  now: number,
): { control: Control; decision: Decision } {
  const { state, decision } = evaluate(control.state, { ok: true, demand }, control.replicas, policy, now);
  return { control: { state, replicas: decision.desired }, decision };
}

interface Analysis {
  /** ms */
  arrivedAt: number;
  /** ms; set when an attempt starts, reset by a new attempt after an abort */
  startedAt: number;
}

interface Replica {
  id: number;
  onlineAt: number;
  /** scheduled analyses, oldest first; the first is in progress when busyUntil is set */
  work: Analysis[];
  busyUntil: number | null;
}

/** First in, first out; returned work goes to the back, as new requests would in MASS. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const ms = (seconds: number): number => Math.round(seconds * 1000);

/**
 * Simulates one label set over the trace (times must not decrease; trace.ts checks that).
 * Order of events at one instant: analyses finish (and the next one starts), arrivals, the
 * dispatch run, then the decision, whose new replicas only get work at a later dispatch run.
 */
export function simulate(trace: readonly TracePoint[], policy: Policy, options: SimOptions): SimResult {
  const dispatchEvery = ms(options.dispatchInterval);
  const serviceTime = ms(options.serviceTime);
  const startup = ms(options.startup);
  const random = mulberry32(options.seed);
  const lastArrival = trace.length > 0 ? ms(trace[trace.length - 1]!.t) : 0;
  const fixedEnd = options.until === undefined ? null : ms(options.until);
  const end = fixedEnd ?? lastArrival + ms(options.drainCap);
  const initial = options.initialReplicas ?? policy.minInst;
  const floor = policy.autoscale ? policy.minInst : initial;

  let nextId = 0;
  const replicas: Replica[] = [];
  const addReplica = (onlineAt: number): void => {
    replicas.push({ id: nextId++, onlineAt, work: [], busyUntil: null });
  };
  for (let i = 0; i < initial; i++) addReplica(0);

  const due = new Queue<Analysis>();
  let assigned = 0;
  let control: Control = { state: null, replicas: initial };
  const steps: Step[] = [];
  const waits: number[] = [];
  let arrivalIndex = 0;
  let arrived = 0;
  let dispatchRuns = 0;
  let nextDecision = 0;
  let decided = false;
  let now = 0;
  let replicaMs = 0;
  let busyMs = 0;
  let peak = initial;
  let ups = 0;
  let downs = 0;
  let aborted = 0;

  const start = (r: Replica, at: number): void => {
    const a = r.work[0];
    if (a === undefined) return;
    a.startedAt = at;
    r.busyUntil = at + serviceTime;
  };

  const dispatch = (): void => {
    const online = replicas.filter((r) => r.onlineAt <= now);
    while (due.length > 0) {
      let best: Replica | undefined;
      for (const r of online) {
        if (r.work.length >= MAX_SCHEDULED_PER_INSTANCE) continue;
        if (best === undefined || r.work.length < best.work.length) best = r;
      }
      if (best === undefined) return;
      best.work.push(due.shift()!);
      assigned += 1;
      if (best.busyUntil === null) start(best, now);
    }
  };

  const remove = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const index = Math.floor(random() * replicas.length);
      const [gone] = replicas.splice(index, 1);
      if (gone === undefined) continue;
      if (gone.busyUntil !== null) aborted += 1;
      for (const a of gone.work) due.push(a);
      assigned -= gone.work.length;
    }
  };

  const settled = (): boolean =>
    decided && arrivalIndex >= trace.length && due.length === 0 && assigned === 0 && replicas.length === floor;

  for (;;) {
    let next = Infinity;
    if (arrivalIndex < trace.length) next = Math.min(next, ms(trace[arrivalIndex]!.t));
    next = Math.min(next, dispatchRuns * dispatchEvery);
    next = Math.min(next, nextDecision);
    for (const r of replicas) if (r.busyUntil !== null) next = Math.min(next, r.busyUntil);

    const busy = replicas.reduce((n, r) => n + (r.busyUntil === null ? 0 : 1), 0);
    const until = Math.min(next, end);
    replicaMs += replicas.length * (until - now);
    busyMs += busy * (until - now);
    now = until;
    if (next > end) break;

    for (const r of replicas) {
      while (r.busyUntil !== null && r.busyUntil <= now) {
        const finishedAt = r.busyUntil;
        const done = r.work.shift()!;
        assigned -= 1;
        waits.push(done.startedAt - done.arrivedAt);
        r.busyUntil = null;
        start(r, finishedAt);
      }
    }
    while (arrivalIndex < trace.length && ms(trace[arrivalIndex]!.t) <= now) {
      const point = trace[arrivalIndex++]!;
      for (let i = 0; i < point.arrivals; i++) due.push({ arrivedAt: ms(point.t), startedAt: -1 });
      arrived += point.arrivals;
    }
    if (dispatchRuns * dispatchEvery <= now) {
      dispatch();
      dispatchRuns += 1;
    }
    if (nextDecision <= now) {
      const demand = due.length + assigned;
      const current = replicas.length;
      let decision: Decision;
      if (policy.autoscale) {
        ({ control, decision } = decisionStep(control, demand, policy, now));
      } else {
        // com.mass.autoscale=false: the daemon leaves the service alone; the steps still record demand.
        const nextAt = now + ms(policy.maxScheduleInterval);
        decision = {
          action: 'none',
          reason: 'steady',
          limitedBy: 'none',
          recommendation: current,
          bounded: current,
          stabilized: current,
          desired: current,
          current,
          smoothed: demand,
          nextAt,
          rules: { minInst: policy.minInst, maxInst: policy.maxInst, requestsPerInstance: 1, scaleDownDelay: 0 },
        };
      }
      decided = true;
      nextDecision = decision.nextAt;
      if (decision.desired > current) {
        for (let i = current; i < decision.desired; i++) addReplica(now + startup);
        ups += 1;
      } else if (decision.desired < current) {
        remove(current - decision.desired);
        downs += 1;
      }
      peak = Math.max(peak, replicas.length);
      steps.push({
        t: now / 1000,
        demand,
        smoothed: decision.smoothed,
        target: decision.bounded,
        replicas: replicas.length,
        queue: due.length,
        action: decision.action,
      });
    }
    if (now >= end || (fixedEnd === null && settled())) break;
  }

  const sorted = [...waits].sort((a, b) => a - b);
  const seconds = (v: number | undefined): number | null => (v === undefined ? null : v / 1000);
  const completed = waits.length;
  return {
    steps,
    summary: {
      replicaSeconds: replicaMs / 1000,
      meanWait: completed === 0 ? null : round3(sorted.reduce((s, w) => s + w, 0) / completed / 1000),
      p95Wait: seconds(percentile(sorted, 0.95)),
      maxWait: seconds(sorted[sorted.length - 1]),
      peakReplicas: peak,
      scaleActions: ups + downs,
      scaleUps: ups,
      scaleDowns: downs,
      aborted,
      arrived,
      completed,
      unfinished: arrived - completed,
      utilization: replicaMs === 0 ? 0 : round3(busyMs / replicaMs),
      end: now / 1000,
    },
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * Several label sets side by side over one common span, so that replica-seconds compare: each
 * runs until it has drained and settled, then all are run again to the latest of those ends.
 */
export function simulateSets(
  trace: readonly TracePoint[],
  policies: readonly Policy[],
  options: SimOptions,
): SimResult[] {
  const first = policies.map((p) => simulate(trace, p, options));
  if (options.until !== undefined || first.length < 2) return first;
  const until = Math.max(...first.map((r) => r.summary.end));
  return first.map((r, i) => (r.summary.end === until ? r : simulate(trace, policies[i]!, { ...options, until })));
}
