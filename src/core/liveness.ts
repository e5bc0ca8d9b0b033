// Which MASS instances are alive, from what the daemon can observe (docs/mass-api.md, "How workers
// really behave"): `is_online` alone is wrong for a worker that is busy with a long batch, because
// its last_seen is refreshed only between batches. Pure arithmetic; `now` is passed in (ms).
//
// The rule, per analysis system, at each reading:
// 1. online: last_seen younger than the online window (MASS's own is_online).
// 2. working (busy but offline): offline, holds scheduled analyses, and either its scheduled count
//    fell within the last `progressWindowMs` (reports are arriving), or it went offline less than
//    `progressWindowMs` ago (it may be inside one long analysis) — and there is a running Swarm
//    task to account for it: instances judged alive never outnumber the system's running tasks
//    (when that count is known); the ones with the freshest evidence are kept.
// 3. dead: every other instance. Its scheduled analyses are stuck: not demand (adding replicas
//    does not move them); on MASS 0.2/0.3 deleting the instance requeues them.
// Demand = due requests + scheduled analyses on online and working instances. The service must
// not be scaled below the number of instances that are working on something (`floor`): Swarm
// picks the replicas a scale-down kills, and a killed worker loses its work.

import type { Decision } from './decision';

/** MASS's own online window: an instance is online while its last poll is under 10 minutes old. */
export const MASS_ONLINE_WINDOW_MS = 10 * 60_000;

export interface InstanceReading {
  uuid: string;
  /** ms since the epoch; null = registered, never polled */
  lastSeen: number | null;
  /** scheduled_analyses_count */
  scheduled: number;
}

/** What is remembered of one instance between readings. */
export interface InstanceMemory {
  scheduled: number;
  /** the last time its scheduled count was seen to fall (ms), or null */
  lastProgressAt: number | null;
  /** the verdict of the last reading */
  verdict: Verdict;
  /** when it was first judged dead (ms), or null */
  deadSince: number | null;
}

export type LivenessState = ReadonlyMap<string, InstanceMemory>;

export type Verdict = 'online' | 'working' | 'dead';

export interface LivenessParams {
  /** MASS's online window (10 minutes on the real server), ms */
  onlineWindowMs: number;
  /** how long without a report an offline instance with work still counts as working, ms */
  progressWindowMs: number;
}

export interface InstanceVerdict {
  uuid: string;
  verdict: Verdict;
  scheduled: number;
  /** for dead instances: since when (ms) */
  deadSince: number | null;
}

export interface LivenessResult {
  instances: InstanceVerdict[];
  /** scheduled analyses on online and working instances */
  liveWork: number;
  /** scheduled analyses on dead instances */
  stuck: number;
  /** instances judged dead that hold work */
  stuckInstances: number;
  /** instances (online or working) that hold work: the service must not go below this */
  floor: number;
  /**
   * analyses estimated lost since the last reading: one per instance that held work, was alive
   * and is now dead (its analysis in progress died with it)
   */
  abortedSinceLast: number;
  next: Map<string, InstanceMemory>;
}

/**
 * Judges every instance of one system. `runningTasks` is the number of running Swarm tasks of
 * the system's services, or null when unknown (then only the time rules apply).
 */
export function judgeInstances(
  readings: readonly InstanceReading[],
  previous: LivenessState,
  runningTasks: number | null,
  params: LivenessParams,
  now: number,
): LivenessResult {
  const memo = new Map<string, { reading: InstanceReading; lastProgressAt: number | null; evidence: number }>();
  for (const r of readings) {
    const before = previous.get(r.uuid);
    const fell = before !== undefined && r.scheduled < before.scheduled;
    const lastProgressAt = fell ? now : (before?.lastProgressAt ?? null);
    memo.set(r.uuid, {
      reading: r,
      lastProgressAt,
      evidence: Math.max(r.lastSeen ?? -Infinity, lastProgressAt ?? -Infinity),
    });
  }
  const online = (r: InstanceReading): boolean => r.lastSeen !== null && now - r.lastSeen < params.onlineWindowMs;

  const verdicts = new Map<string, Verdict>();
  const candidates: string[] = [];
  for (const [uuid, m] of memo) {
    const r = m.reading;
    if (online(r)) verdicts.set(uuid, 'online');
    else if (r.scheduled > 0 && r.lastSeen !== null) {
      const recentReport = m.lastProgressAt !== null && now - m.lastProgressAt < params.progressWindowMs;
      const recentlyOffline = now - (r.lastSeen + params.onlineWindowMs) < params.progressWindowMs;
      if (recentReport || recentlyOffline) candidates.push(uuid);
      else verdicts.set(uuid, 'dead');
    } else verdicts.set(uuid, 'dead');
  }
  const onlineCount = [...verdicts.values()].filter((v) => v === 'online').length;
  const room = runningTasks === null ? Infinity : Math.max(0, runningTasks - onlineCount);
  candidates.sort((a, b) => memo.get(b)!.evidence - memo.get(a)!.evidence || (a < b ? -1 : 1));
  candidates.forEach((uuid, i) => verdicts.set(uuid, i < room ? 'working' : 'dead'));

  const instances: InstanceVerdict[] = [];
  const next = new Map<string, InstanceMemory>();
  let liveWork = 0;
  let stuck = 0;
  let stuckInstances = 0;
  let floor = 0;
  let abortedSinceLast = 0;
  for (const r of readings) {
    const verdict = verdicts.get(r.uuid)!;
    const before = previous.get(r.uuid);
    const deadSince = verdict === 'dead' ? (before?.verdict === 'dead' ? before.deadSince : now) : null;
    if (verdict === 'dead') {
      stuck += r.scheduled;
      if (r.scheduled > 0) stuckInstances += 1;
      if (before !== undefined && before.verdict !== 'dead' && before.scheduled > 0 && r.scheduled > 0)
        abortedSinceLast += 1;
    } else {
      liveWork += r.scheduled;
      if (r.scheduled > 0) floor += 1;
    }
    instances.push({ uuid: r.uuid, verdict, scheduled: r.scheduled, deadSince });
    next.set(r.uuid, { scheduled: r.scheduled, lastProgressAt: memo.get(r.uuid)!.lastProgressAt, verdict, deadSince });
  }
  return { instances, liveWork, stuck, stuckInstances, floor, abortedSinceLast, next };
}

/**
 * What one decision reads of a system: the due requests and every instance judged, with the
 * demand and the working floor that follow from them. The daemon's loop (src/loop/liveness.ts)
 * and the simulator (src/sim/model.ts) both build it with `readSystem` and hand it to the
 * evaluation step (src/core/evaluation.ts) as its Reading.
 */
export interface SystemReadout {
  /** due requests (not yet scheduled on any instance) */
  due: number;
  /** each instance's verdict and scheduled count; `liveness.next` is the memory for the next reading */
  liveness: LivenessResult;
  /** scheduled analyses held by each live (online or working) instance that holds work, in reading order */
  held: number[];
  /** due + scheduled analyses on online and working instances */
  demand: number;
  /** live instances holding work: no scale-down goes below this */
  floor: number;
}

/** Judges the instances (judgeInstances) and derives demand, held work and floor from the verdicts. */
export function readSystem(
  due: number,
  readings: readonly InstanceReading[],
  previous: LivenessState,
  runningTasks: number | null,
  params: LivenessParams,
  now: number,
): SystemReadout {
  const liveness = judgeInstances(readings, previous, runningTasks, params, now);
  const held = liveness.instances.filter((i) => i.verdict !== 'dead' && i.scheduled > 0).map((i) => i.scheduled);
  return { due, liveness, held, demand: due + liveness.liveWork, floor: liveness.floor };
}

/**
 * The dead instances to delete so that MASS 0.2/0.3 requeues their work: dead and holding work
 * for at least `afterMs`. Never on the older server (deleting there orphans the work).
 */
export function instancesToRecover(
  result: Pick<LivenessResult, 'instances'>,
  dialect: '0.2' | 'legacy',
  afterMs: number,
  now: number,
): string[] {
  if (dialect !== '0.2') return [];
  return result.instances
    .filter((i) => i.verdict === 'dead' && i.scheduled > 0 && i.deadSince !== null && now - i.deadSince >= afterMs)
    .map((i) => i.uuid);
}

/** Never lower a service below the instances that are working: the desired count, raised if needed. */
export function protectWorking(desired: number, current: number, floor: number): number {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: desired >= current: the max below is desired too
  if (desired >= current) return desired;
  return Math.max(desired, Math.min(current, floor));
}

/**
 * The decision with the working floor applied: a scale-down never goes below the instances that
 * are working (protectWorking). Unchanged when the floor does not bind.
 */
export function floorDecision(d: Decision, floor: number): Decision {
  const desired = protectWorking(d.desired, d.current, floor);
  if (desired === d.desired) return d;
  return {
    ...d,
    desired,
    action: desired === d.current ? 'hold' : 'down',
    reason: 'hold-working',
    limitedBy: 'working',
    working: floor,
  };
}
