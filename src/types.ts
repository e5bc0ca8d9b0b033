// Domain types shared by the pure core and the edges. Nothing here does I/O.

/** What the MASS API says about one analysis system in one round. */
export interface SystemDemand {
  /** identifier_name of the analysis system in MASS */
  system: string;
  /** analysis requests with schedule_after <= now (or without schedule_after) */
  due: number;
  /** analysis requests that become due later; null when this round did not count them */
  notDue: number | null;
  /**
   * requests that become due within the horizon asked for this system (now < schedule_after ≤
   * now + horizon); absent when none was asked (readDemand's `horizons`)
   */
  dueSoon?: number;
  /** sum of scheduled_analyses_count over the online instances */
  scheduledOnline: number;
  /** sum of scheduled_analyses_count over the offline instances: fixed by deleting them, not by replicas */
  stuckOffline: number;
  onlineInstances: number;
  offlineInstances: number;
  /** due + scheduledOnline: what replicas are needed for now (before the liveness rule) */
  demand: number;
  /** every instance record of the system, for the liveness rule (src/core/liveness.ts) */
  instances: MassInstance[];
}

/** One instance record as read this round. */
export interface MassInstance {
  /** the instance's uuid (or its URL when the server sends no uuid) */
  uuid: string;
  /** ms since the epoch; null = registered, never polled */
  lastSeen: number | null;
  /** scheduled_analyses_count */
  scheduled: number;
}

/** Why MASS gave no reading for a system this round. One kind per distinct operator action. */
export type MassErrorKind =
  | 'unreachable' // connection refused, DNS failure, reset
  | 'timeout' // no answer within the request timeout
  | 'forbidden' // 403: the API key was rejected
  | 'server-error' // 5xx
  | 'not-json' // HTML or malformed JSON where JSON was expected
  | 'bad-shape' // JSON, but not the shape the API documents
  | 'paging' // a paging loop, or a page that vanished while paging
  | 'unknown-system' // the system is not registered in MASS
  | 'http-error'; // any other unexpected HTTP status

export interface MassFailure {
  kind: MassErrorKind;
  /** one line for the operator; never contains the API key */
  message: string;
}

export type SystemReading = { ok: true; demand: SystemDemand } | { ok: false; error: MassFailure };

/** Reads the demand of the named systems in one round. Never throws: failures are per system. */
export interface DemandSource {
  /** `horizons`: for the systems named, also count the requests due within that many ms (dueSoon) */
  readDemand(
    systems: readonly string[],
    now: Date,
    horizons?: ReadonlyMap<string, number>,
  ): Promise<Map<string, SystemReading>>;
}

/** The wake-up's reading: every due request of every system, in one request. */
export interface DueCounter {
  /** the dialect of the latest round; only '0.2' can count (`?count`) */
  readonly lastDialect: '0.2' | 'legacy' | undefined;
  countDue(now: Date): Promise<{ ok: true; count: number } | { ok: false; error: MassFailure }>;
}

/** How Swarm runs a service; only `replicated` services are scaled. */
export type ServiceMode = 'replicated' | 'global' | 'replicated-job' | 'global-job';

/**
 * `UpdateStatus.State` values of an operation an operator started and that is not over: an
 * update or rollback rolling out or paused. Such a service is not the autoscaler's to touch.
 */
export const OPERATION_STATES: ReadonlySet<string> = new Set([
  'updating',
  'paused',
  'rollback_started',
  'rollback_paused',
]);

/** Docker's stop grace period when a service spec gives none, ms. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** A Swarm service carrying the com.mass.anal_system label. */
export interface ManagedService {
  id: string;
  name: string;
  labels: Record<string, string>;
  mode: ServiceMode;
  /** desired replicas; null unless the mode is replicated (such a service is left alone) */
  replicas: number | null;
  /** the UpdateStatus.State of an operation in progress (one of OPERATION_STATES), else null */
  operation: string | null;
  version: number;
  /** tasks running now, over all nodes; null when the tasks could not be listed */
  running?: number | null;
  /** how long Swarm waits after SIGTERM before it kills a removed replica (stop_grace_period), ms */
  stopGraceMs?: number;
}

export type ScaleOutcome =
  | { kind: 'updated'; from: number; to: number; attempts: number }
  | { kind: 'unchanged'; replicas: number }
  | { kind: 'gone' }
  | { kind: 'not-replicated'; mode: Exclude<ServiceMode, 'replicated'> }
  /** an update or rollback of the operator's is in progress or paused: nothing was sent */
  | { kind: 'in-operation'; state: string };

/** Reads and writes the workload. */
export interface SwarmTarget {
  /** Services with the com.mass.anal_system label (one list call). */
  listManaged(): Promise<ManagedService[]>;
  /** Sets Mode.Replicated.Replicas to `replicas`, keeping the rest of the spec. */
  scale(serviceId: string, replicas: number): Promise<ScaleOutcome>;
}

export interface Clock {
  now(): number; // milliseconds since the epoch
  /** resolves after ms, or early when the signal aborts */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
