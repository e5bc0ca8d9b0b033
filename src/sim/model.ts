// The what-if model: a virtual clock, MASS's own dispatch, replicas working through their
// analyses, and the daemon's own reading and decision (src/core/liveness.ts: each instance judged
// online, working or dead; demand = due + live work; the shared evaluation step with the working
// floor) deciding the replica count.
// Pure: no I/O, no wall clock; the only randomness (the service-time jitter) is seeded.
import type { Decision, ServiceState } from '../core/decision';
import { evaluate } from '../core/evaluation';
import { demandOnly, type Reading } from '../core/reading';
import {
  MASS_ONLINE_WINDOW_MS,
  readSystem,
  type InstanceReading,
  type LivenessState,
  type SystemReadout,
} from '../core/liveness';
import type { Policy } from '../core/policy';

/**
 * One line of a trace: `arrivals` analysis requests become due at `t` seconds (they exist from
 * `t − notice`, SimOptions.notice, until then not due).
 */
export interface TracePoint {
  t: number;
  arrivals: number;
}

/** MASS's scheduler skips instances with more than this many scheduled analyses: one can reach 101. */
export const MAX_SCHEDULED_PER_INSTANCE = 100;

export interface SimOptions {
  /** seconds MASS's scheduler sleeps between runs */
  dispatchInterval: number;
  /** seconds each scheduler run itself takes, so runs are dispatchInterval + schedulerDrift apart */
  schedulerDrift: number;
  /** seconds from the start to the scheduler's first run (its phase) */
  schedulerPhase: number;
  /** seconds one analysis takes */
  serviceTime: number;
  /** each analysis takes serviceTime × (1 ± jitter), uniform, seeded; 0: exactly serviceTime */
  jitter: number;
  /** seconds from adding a replica until its instance is online (registered and polled) */
  startup: number;
  /**
   * seconds an instance stays online after its last poll (MASS: 10 minutes); the daemon's
   * MASS_ONLINE_WINDOW is taken to be the same
   */
  onlineWindow: number;
  /**
   * the daemon's WORKING_GRACE: seconds an offline instance holding work still counts as working
   * without a report (src/core/liveness.ts)
   */
  workingGrace: number;
  /**
   * seconds an idle worker sleeps after a poll that brought no work; 0: idle workers notice new
   * work at the scheduler run that assigns it
   */
  pollSleep: number;
  /**
   * true: a removed replica deletes its instance on exit (delete_instance_on_exit), so MASS 0.2
   * requeues its scheduled analyses as due now; false: they stay on the dead instance (stuck)
   */
  deleteOnExit: boolean;
  /**
   * seconds before it becomes due that each request exists in MASS (a sample's time_schedule
   * offset, a retry): the daemon's reading counts those due within the service's startup_time
   * (dueSoon, for com.mass.size_ahead=on); 0: each request is due when it is made
   */
  notice: number;
  /** seed of the PRNG of the service-time jitter */
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
  schedulerDrift: 0,
  schedulerPhase: 0,
  serviceTime: 30,
  jitter: 0,
  startup: 20,
  // The daemon's defaults (config.ts MASS_ONLINE_WINDOW and WORKING_GRACE).
  onlineWindow: MASS_ONLINE_WINDOW_MS / 1000,
  workingGrace: MASS_ONLINE_WINDOW_MS / 1000,
  pollSleep: 0,
  deleteOnExit: false,
  notice: 0,
  seed: 1,
  drainCap: 24 * 3600,
};

/** One evaluation of the decision, as the daemon would log it (times in seconds). */
export interface Step {
  t: number;
  /** what the daemon reads: due requests + analyses on instances judged online or working */
  demand: number;
  /** live instances holding work: the decision does not scale below this */
  floor: number;
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
  /** analyses in progress on a replica when Swarm removed it */
  aborted: number;
  /**
   * analyses left on removed replicas' instances (the aborted ones included) and never requeued:
   * MASS keeps them on the dead instance unless the worker deleted it on exit (deleteOnExit)
   */
  stuck: number;
  arrived: number;
  completed: number;
  /** arrived but not finished when the simulation ended (stuck ones included) */
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

/**
 * One evaluation through the daemon's own step (`evaluate`: the service's policy, then the
 * working floor), with the reading (or only a demand and a floor). `now` is in milliseconds.
 */
export function decisionStep(
  control: Control,
  reading: Reading | number,
  policy: Policy,
  now: number,
  floor = 0,
): { control: Control; decision: Decision } {
  const input = typeof reading === 'number' ? demandOnly(reading, floor) : reading;
  const { state, decision } = evaluate(control.state, { ok: true, reading: input }, control.replicas, policy, now);
  return { control: { state, replicas: decision.desired }, decision };
}

/** A simulated instance as MASS reports it: uuids sort as the instances registered. */
export function simulatedUuid(id: number): string {
  return `instance-${String(id).padStart(8, '0')}`;
}

/** What the simulated MASS and Swarm show the daemon at one decision. */
export interface SimulatedView {
  /** due requests */
  due: number;
  /** instance records: MASS's last_seen (ms) and scheduled count, live replicas' and removed ones' */
  instances: InstanceReading[];
  /** running Swarm tasks of the service */
  runningTasks: number;
}

/**
 * The daemon's reading of the simulated system (`readSystem`, as the loop reads it), with the
 * liveness memory it keeps between readings.
 */
export function readSimulated(
  view: SimulatedView,
  previous: LivenessState,
  options: Pick<SimOptions, 'onlineWindow' | 'workingGrace'>,
  now: number,
): SystemReadout {
  const params = { onlineWindowMs: ms(options.onlineWindow), progressWindowMs: ms(options.workingGrace) };
  return readSystem(view.due, view.instances, previous, view.runningTasks, params, now);
}

interface Analysis {
  /** ms */
  arrivedAt: number;
  /** ms; set when an attempt starts, reset by a new attempt after an abort */
  startedAt: number;
}

/**
 * One replica and its worker, as mass_api_client 0.2's process_analyses behaves: it fetches all
 * of its scheduled analyses in one poll (the batch), works through them one after another and
 * polls again only when the batch is done. Its instance is online while that poll is younger
 * than the online window, so a long batch makes it "busy but offline".
 */
interface Replica {
  id: number;
  /** its Swarm task slot: a new replica takes the lowest free slot, a scale-down removes the highest */
  slot: number;
  /** when its instance registers and first polls (added + startup) */
  onlineAt: number;
  /** scheduled analyses, oldest first; the first `batch` of them were fetched by the last poll */
  work: Analysis[];
  batch: number;
  /** the last poll (ms), or null before the first */
  lastPoll: number | null;
  /** end of the analysis in progress, or null when idle */
  busyUntil: number | null;
  /** when an idle worker polls next (pollSleep > 0), or null */
  nextPoll: number | null;
}

/** A removed replica's instance record (without delete on exit): its last poll and the work it holds. */
interface Ghost {
  id: number;
  lastPoll: number;
  work: number;
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
 * Order of events at one instant: analyses finish (a worker whose batch is done polls at once),
 * idle workers' polls, arrivals, the scheduler run, then the decision, whose new replicas only
 * get work at a later scheduler run.
 */
export function simulate(trace: readonly TracePoint[], policy: Policy, options: SimOptions): SimResult {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const dispatchEvery = ms(o.dispatchInterval + o.schedulerDrift);
  const serviceTime = ms(o.serviceTime);
  const startup = ms(o.startup);
  const onlineWindow = ms(o.onlineWindow);
  const pollSleep = ms(o.pollSleep);
  // Requests due within this horizon that already exist: what the daemon counts as due soon.
  const aheadHorizon = ms(Math.min(o.notice, policy.startupTime));
  const jitterRandom = mulberry32((o.seed ^ 0x9e3779b9) >>> 0);
  const lastArrival = trace.length > 0 ? ms(trace[trace.length - 1]!.t) : 0;
  const fixedEnd = o.until === undefined ? null : ms(o.until);
  const end = fixedEnd ?? lastArrival + ms(o.drainCap);
  const initial = o.initialReplicas ?? policy.minInst;
  const floor = policy.autoscale ? policy.minInst : initial;

  let nextId = 0;
  const replicas: Replica[] = [];
  /** instance records MASS holds for the system (removed replicas' stay unless deleted) */
  let instanceRecords = 0;
  const addReplica = (onlineAt: number): void => {
    let slot = 1;
    while (replicas.some((r) => r.slot === slot)) slot += 1;
    replicas.push({
      id: nextId++,
      slot,
      onlineAt,
      work: [],
      batch: 0,
      lastPoll: null,
      busyUntil: null,
      nextPoll: null,
    });
  };
  for (let i = 0; i < initial; i++) addReplica(0);

  /**
   * Instances of removed replicas (without delete on exit): MASS still counts one as online
   * until its last poll is older than the online window, so its scheduler may give it work,
   * which is stuck from the start; its scheduled count is read as demand while it looks online.
   */
  const ghosts: Ghost[] = [];
  const due = new Queue<Analysis>();
  let assigned = 0;
  let control: Control = { state: null, replicas: initial };
  /** what the daemon remembers of each instance between readings */
  let liveness: LivenessState = new Map();
  const steps: Step[] = [];
  const waits: number[] = [];
  let arrivalIndex = 0;
  let arrived = 0;
  let nextDispatch = ms(o.schedulerPhase);
  let nextDecision = 0;
  let decided = false;
  let now = 0;
  let replicaMs = 0;
  let busyMs = 0;
  let peak = initial;
  let ups = 0;
  let downs = 0;
  let aborted = 0;
  let stuck = 0;

  const duration = (): number =>
    o.jitter === 0 ? serviceTime : Math.max(0, Math.round(serviceTime * (1 + o.jitter * (2 * jitterRandom() - 1))));

  /** The worker polls at `at`: it takes all its scheduled analyses as its batch, or sleeps. */
  const poll = (r: Replica, at: number): void => {
    if (r.lastPoll === null) instanceRecords += 1;
    r.lastPoll = at;
    r.batch = r.work.length;
    r.nextPoll = null;
    if (r.batch > 0) {
      r.work[0]!.startedAt = at;
      r.busyUntil = at + duration();
    } else if (pollSleep > 0) r.nextPoll = at + pollSleep;
  };
  const registered = (r: Replica): boolean => r.lastPoll !== null;
  const ghostOnline = (g: Ghost): boolean => now - g.lastPoll < onlineWindow;
  /** MASS's last_seen: an idle worker that polls all the time (pollSleep 0) is seen now. */
  const lastSeen = (r: Replica): number | null =>
    r.lastPoll === null ? null : r.busyUntil === null && pollSleep === 0 ? now : r.lastPoll;
  /** What MASS's is_online says: the last poll is younger than the online window. */
  const online = (r: Replica): boolean => {
    const seen = lastSeen(r);
    return seen !== null && now - seen < onlineWindow;
  };
  /** What the daemon is shown: MASS's instance records and the running tasks (started replicas). */
  const view = (): SimulatedView => {
    const records: { id: number; reading: InstanceReading }[] = [];
    for (const r of replicas)
      if (registered(r))
        records.push({
          id: r.id,
          reading: { uuid: simulatedUuid(r.id), lastSeen: lastSeen(r), scheduled: r.work.length },
        });
    for (const g of ghosts)
      records.push({ id: g.id, reading: { uuid: simulatedUuid(g.id), lastSeen: g.lastPoll, scheduled: g.work } });
    records.sort((a, b) => a.id - b.id);
    return {
      due: due.length,
      instances: records.map((x) => x.reading),
      runningTasks: replicas.filter(registered).length,
    };
  };

  const dispatch = (): void => {
    if (due.length === 0) return;
    // MASS 0.2/0.3: a system with due requests and no instance records stops the whole run.
    if (instanceRecords === 0) return;
    const eligible = replicas.filter(online);
    const haunted = ghosts.filter(ghostOnline);
    while (due.length > 0) {
      // Least loaded first; among equals the older instance (MASS lists instances by registration).
      let best: Replica | undefined;
      for (const r of eligible) {
        if (r.work.length > MAX_SCHEDULED_PER_INSTANCE) continue;
        if (best === undefined || r.work.length < best.work.length) best = r;
      }
      let ghost: Ghost | undefined;
      for (const g of haunted) {
        if (g.work > MAX_SCHEDULED_PER_INSTANCE) continue;
        if (ghost === undefined || g.work < ghost.work) ghost = g;
      }
      if (
        ghost !== undefined &&
        (best === undefined || ghost.work < best.work.length || (ghost.work === best.work.length && ghost.id < best.id))
      ) {
        due.shift();
        ghost.work += 1;
        stuck += 1;
        continue;
      }
      if (best === undefined) break;
      best.work.push(due.shift()!);
      assigned += 1;
    }
    // Idle workers that poll all the time (pollSleep 0) take their new work at once.
    if (pollSleep === 0) for (const r of eligible) if (r.busyUntil === null && r.work.length > 0) poll(r, now);
  };

  const remove = (count: number): void => {
    // Swarm keeps running tasks before those not running yet, then the lowest slots, and removes
    // the rest (one node; docs/mass-api.md): the replicas added last go first.
    const keep = [...replicas].sort((a, b) => Number(registered(b)) - Number(registered(a)) || a.slot - b.slot);
    for (const gone of keep.slice(Math.max(0, keep.length - count))) {
      replicas.splice(replicas.indexOf(gone), 1);
      if (gone.busyUntil !== null) aborted += 1;
      assigned -= gone.work.length;
      if (o.deleteOnExit) {
        if (registered(gone)) instanceRecords -= 1;
        for (const a of gone.work) due.push(a);
      } else {
        stuck += gone.work.length;
        if (gone.lastPoll !== null) {
          // An idle worker that polls all the time (pollSleep 0) was last seen now.
          const lastPoll = gone.busyUntil === null && pollSleep === 0 ? now : gone.lastPoll;
          ghosts.push({ id: gone.id, lastPoll, work: gone.work.length });
        }
      }
    }
  };

  /** Requests that exist (made `notice` ahead) and become due in (now, now + aheadHorizon]. */
  const dueSoon = (): number => {
    let n = 0;
    for (let i = arrivalIndex; i < trace.length && ms(trace[i]!.t) <= now + aheadHorizon; i++) n += trace[i]!.arrivals;
    return n;
  };

  const settled = (): boolean =>
    decided && arrivalIndex >= trace.length && due.length === 0 && assigned === 0 && replicas.length === floor;

  for (;;) {
    let next = Infinity;
    if (arrivalIndex < trace.length) next = Math.min(next, ms(trace[arrivalIndex]!.t));
    next = Math.min(next, nextDispatch, nextDecision);
    for (const r of replicas) {
      if (r.busyUntil !== null) next = Math.min(next, r.busyUntil);
      if (r.lastPoll === null) next = Math.min(next, r.onlineAt);
      else if (r.nextPoll !== null) next = Math.min(next, r.nextPoll);
    }

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
        r.batch -= 1;
        assigned -= 1;
        waits.push(done.startedAt - done.arrivedAt);
        r.busyUntil = null;
        if (r.batch > 0) {
          r.work[0]!.startedAt = finishedAt;
          r.busyUntil = finishedAt + duration();
        } else poll(r, finishedAt);
      }
      if (r.lastPoll === null && r.onlineAt <= now) poll(r, r.onlineAt);
      else if (r.nextPoll !== null && r.nextPoll <= now) poll(r, r.nextPoll);
    }
    while (arrivalIndex < trace.length && ms(trace[arrivalIndex]!.t) <= now) {
      const point = trace[arrivalIndex++]!;
      for (let i = 0; i < point.arrivals; i++) due.push({ arrivedAt: ms(point.t), startedAt: -1 });
      arrived += point.arrivals;
    }
    if (nextDispatch <= now) {
      dispatch();
      nextDispatch += dispatchEvery;
    }
    if (nextDecision <= now) {
      // What the daemon reads: each instance judged online, working or dead; demand = due +
      // work on live instances; no scale-down below the live instances holding work.
      const readout = readSimulated(view(), liveness, o, now);
      liveness = readout.liveness.next;
      const { demand, floor: working } = readout;
      const current = replicas.length;
      let decision: Decision;
      if (policy.autoscale) {
        ({ control, decision } = decisionStep(control, { ...readout, dueSoon: dueSoon() }, policy, now));
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
        floor: working,
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
      stuck,
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

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
