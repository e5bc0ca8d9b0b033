// The loop: one round at a time, list the services (inventory), read the demand of those due
// (evaluation), send the changes (updates). Depends on the MASS client and the swarm adapter
// only through interfaces; the clock and randomness are passed in.
import type { Logger } from 'pino';
import { LOG } from '../log-messages';
import { backoffDelay } from '../core/backoff';
import type { PolicyDefaults } from '../labels';
import type { Clock, DemandSource, ManagedService, MassErrorKind, SwarmTarget, SystemReading } from '../types';
import { evaluateService, type PlannedUpdate } from './evaluation';
import { FailureBook } from './failures';
import { syncInventory, type ServiceTable } from './inventory';
import { isEvaluated, type EvaluatedRecord } from './record';
import { healthOf, snapshotOf, type HealthSnapshot, type ServiceSnapshot } from './status-view';
import { applyUpdates, errorKind, errorMessage, UPDATE_CONCURRENCY } from './updates';
import { LivenessBook, type InstanceRemover, type LivenessOptions, type SystemLiveness } from './liveness';
import { MASS_ONLINE_WINDOW_MS } from '../core/liveness';
import { dueSoonHorizons } from '../core/work';
import { WakeUpBook, type WakeUpOptions, type WakeUpOutcome } from './wakeup';

export interface ReconcilerOptions {
  dryRun: boolean;
  defaults: PolicyDefaults;
  discoveryIntervalMs: number;
  retryMaxDelayMs: number;
  /** service updates in flight at once; default UPDATE_CONCURRENCY */
  updateConcurrency?: number;
  /** the liveness rule's settings (default: MASS's 10-minute window, 10 minutes' grace, no recovery) */
  liveness?: Partial<LivenessOptions>;
  /** what deletes instances for RECOVER_STUCK_AFTER (the MASS client) */
  remover?: InstanceRemover;
  /** the wake-up after quiet periods (src/loop/wakeup.ts); none when absent */
  wakeUp?: WakeUpOptions;
}

/** Counters for /metrics; the reconciler reports events, the metrics module counts them. */
export interface ReconcileEvents {
  scaled(service: string, direction: 'up' | 'down'): void;
  massError(kind: MassErrorKind): void;
  dockerError(kind: string): void;
  round(durationMs: number): void;
  /** analyses estimated lost to instances that died or vanished with work */
  aborted?(system: string, analyses: number): void;
  /** an instance deleted so MASS requeues its stuck work */
  recovered?(system: string): void;
}

const noEvents: ReconcileEvents = { scaled() {}, massError() {}, dockerError() {}, round() {} };

export class Reconciler {
  private readonly table: ServiceTable = new Map();
  private readonly failures: FailureBook;
  private readonly liveness: LivenessBook;
  private readonly wakeUp: WakeUpBook | null;
  private wakeUpInFlight = false;
  /** cuts the loop's sleep short (a wake-up has finished) */
  private nudge: () => void = () => {};
  private nextDiscoveryAt = 0;

  constructor(
    private readonly demand: DemandSource,
    private readonly swarm: SwarmTarget,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions,
    private readonly events: ReconcileEvents = noEvents,
    private readonly random: () => number = Math.random,
  ) {
    this.failures = new FailureBook(log);
    this.liveness = new LivenessBook(
      {
        onlineWindowMs: options.liveness?.onlineWindowMs ?? MASS_ONLINE_WINDOW_MS,
        workingGraceMs: options.liveness?.workingGraceMs ?? MASS_ONLINE_WINDOW_MS,
        recoverStuckAfterMs: options.liveness?.recoverStuckAfterMs ?? null,
        dryRun: options.dryRun,
      },
      log,
      {
        aborted: (system, n) => this.events.aborted?.(system, n),
        recovered: (system) => this.events.recovered?.(system),
      },
    );
    this.wakeUp = options.wakeUp === undefined ? null : new WakeUpBook(options.wakeUp, log);
  }

  /**
   * Runs rounds until the signal aborts; a round under way is finished first, unless it is still
   * waiting for MASS or Docker. The wake-up runs beside the rounds: a slow or failing count never
   * holds a round up, and a jump cuts the sleep short.
   */
  async run(signal: AbortSignal): Promise<void> {
    let crashes = 0;
    while (!signal.aborted) {
      if (this.clock.now() >= this.wakeAt()) {
        try {
          await this.round(signal);
          crashes = 0;
        } catch (error) {
          // A defect must not stop the scaling of every service: log it, wait, try again.
          crashes += 1;
          const err = errorMessage(error);
          this.log.error({ err, explanation: `round failed unexpectedly: ${err}; retrying` }, LOG.roundFailed);
          await this.clock.sleep(backoffDelay(crashes, 1000, this.options.retryMaxDelayMs, this.random()), signal);
          continue;
        }
      }
      if (signal.aborted) break;
      this.launchWakeUp();
      await this.sleepUntil(Math.min(this.wakeAt(), this.wakeUpAt()), signal);
    }
  }

  private async sleepUntil(at: number, signal: AbortSignal): Promise<void> {
    const wake = new AbortController();
    const stop = () => wake.abort();
    signal.addEventListener('abort', stop, { once: true });
    this.nudge = stop;
    try {
      await this.clock.sleep(Math.max(0, at - this.clock.now()), wake.signal);
    } finally {
      this.nudge = () => {};
      signal.removeEventListener('abort', stop);
    }
  }

  private launchWakeUp(): void {
    if (this.wakeUpInFlight || this.clock.now() < this.wakeUpAt()) return;
    this.wakeUpInFlight = true;
    this.wakeUpNow()
      .catch((error: unknown) =>
        this.log.error(
          { err: errorMessage(error), explanation: `wake-up failed unexpectedly: ${errorMessage(error)}` },
          LOG.wakeUpFailed,
        ),
      )
      .finally(() => {
        this.wakeUpInFlight = false;
        this.nudge();
      });
  }

  /** When the next round has something to do. */
  wakeAt(): number {
    let at = this.nextDiscoveryAt;
    if (this.failures.dockerFailingKind !== null) return at;
    for (const r of this.table.values()) if (isEvaluated(r)) at = Math.min(at, r.memory.nextAt);
    return at;
  }

  /** When the next wake-up count is due (Infinity: none, one in flight, or Docker cannot be listed). */
  wakeUpAt(): number {
    if (this.wakeUp === null || this.wakeUpInFlight || this.failures.dockerFailingKind !== null) return Infinity;
    return this.wakeUp.dueAt(this.evaluated());
  }

  /** One wake-up count now; on a jump the managed services are due at once (see src/core/wakeup.ts). */
  async wakeUpNow(): Promise<WakeUpOutcome> {
    if (this.wakeUp === null) return { kind: 'off' };
    return this.wakeUp.wake(this.clock.now(), () => this.evaluated());
  }

  /** wake-up counts made (each one request to MASS) */
  wakeUpReadings(): number {
    return this.wakeUp?.readings ?? 0;
  }

  private evaluated(): EvaluatedRecord[] {
    return [...this.table.values()].filter(isEvaluated);
  }

  async round(signal?: AbortSignal): Promise<void> {
    const started = this.clock.now();
    if (started >= this.nextDiscoveryAt) await this.discover(started, signal);
    // What we know of the services is stale while Docker cannot be listed: act on nothing.
    if (this.failures.dockerFailingKind === null) {
      const evaluated = this.evaluated();
      const due = evaluated.filter((r) => r.memory.nextAt <= started);
      if (due.length > 0 && !signal?.aborted) {
        const decidedAt = await this.evaluate(due, signal);
        // Every service has just been read: the wake-up's next count is an interval after the
        // moment their next evaluations are counted from, so it never comes just before one.
        if (decidedAt !== null && due.length === evaluated.length) this.wakeUp?.sweep(decidedAt);
      }
    }
    this.events.round(this.clock.now() - started);
  }

  private async discover(now: number, signal?: AbortSignal): Promise<void> {
    let listed: ManagedService[] | typeof ABANDONED;
    try {
      listed = await unlessAborted(this.swarm.listManaged(), signal);
      if (listed === ABANDONED) return;
    } catch (error) {
      const kind = errorKind(error);
      this.events.dockerError(kind);
      const failures = this.failures.listFailed(kind, errorMessage(error));
      const { discoveryIntervalMs, retryMaxDelayMs } = this.options;
      this.nextDiscoveryAt = now + backoffDelay(failures, discoveryIntervalMs, retryMaxDelayMs, this.random());
      return;
    }
    this.failures.listOk(now);
    this.nextDiscoveryAt = now + this.options.discoveryIntervalMs;
    syncInventory(this.table, listed, this.options.defaults, now, this.log);
    const read = new Set<string>();
    for (const r of this.table.values()) if (isEvaluated(r)) read.add(r.policy.system);
    this.failures.forgetUnread(read);
    this.liveness.keepOnly(read);
  }

  /** Reads and decides for the due services; returns the time the decisions were made at (null: abandoned). */
  private async evaluate(due: EvaluatedRecord[], signal?: AbortSignal): Promise<number | null> {
    const systems = [...new Set(due.map((r) => r.policy.system))];
    const horizons = dueSoonHorizons(due.map((r) => r.policy));
    const read = await unlessAborted(this.demand.readDemand(systems, new Date(this.clock.now()), horizons), signal);
    if (read === ABANDONED) return null;
    const now = this.clock.now();
    this.failures.massReadings(read, now, (kind) => this.events.massError(kind));
    // Demand = due + work on live instances; the floor keeps working instances from being killed.
    const readings = this.liveness.observe(read, this.runningBySystem(), now);

    const updates: PlannedUpdate[] = [];
    const ctx = { dryRun: this.options.dryRun, retryMaxDelayMs: this.options.retryMaxDelayMs, random: this.random };
    for (const r of due) {
      if (signal?.aborted) return null;
      // The service may have been forgotten or relabelled while MASS was being read.
      if (this.table.get(r.id) !== r) continue;
      const reading: SystemReading = readings.get(r.policy.system) ?? {
        ok: false,
        error: { kind: 'bad-shape', message: 'no reading returned' },
      };
      const readout = this.liveness.readoutOf(r.policy.system);
      const { record, update } = evaluateService(r, reading, now, { ...ctx, readout, log: this.log });
      this.table.set(r.id, record);
      if (update !== null) updates.push(update);
    }
    await applyUpdates(
      this.table,
      updates,
      {
        swarm: this.swarm,
        failures: this.failures,
        discoveryIntervalMs: this.options.discoveryIntervalMs,
        retryMaxDelayMs: this.options.retryMaxDelayMs,
        random: this.random,
        events: this.events,
        now: () => this.clock.now(),
      },
      this.options.updateConcurrency ?? UPDATE_CONCURRENCY,
      signal,
    );
    if (this.options.remover !== undefined && !signal?.aborted)
      await this.liveness.recover(this.options.remover, this.clock.now());
    return now;
  }

  /** Running Swarm tasks of each system's services; null for a system when any count is unknown. */
  private runningBySystem(): Map<string, number | null> {
    const out = new Map<string, number | null>();
    for (const r of this.table.values()) {
      if (r.status === 'invalid-labels' || r.status === 'other-mode') continue;
      const system = r.policy.system;
      const sum = out.has(system) ? out.get(system)! : 0;
      out.set(system, sum === null || r.running === null ? null : sum + r.running);
    }
    return out;
  }

  /** Per analysis system: live, working and dead instances, stuck and lost work. */
  systemsSnapshot(): SystemLiveness[] {
    return this.liveness.reports();
  }

  health(): HealthSnapshot {
    return healthOf(this.table.values(), this.failures);
  }

  snapshot(): ServiceSnapshot[] {
    return [...this.table.values()].map(snapshotOf).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Number of services with state held in memory (for the soak test). */
  trackedCount(): number {
    return this.table.size;
  }

  /** Number of systems remembered as failing, over all failure kinds (for the soak test). */
  failingSystemsCount(): number {
    return this.failures.failingSystemsCount();
  }
}

const ABANDONED = Symbol('abandoned');

/**
 * Stops waiting for `work` when the signal aborts. On SIGTERM a round still waiting for MASS or
 * for the list of services has changed nothing yet, so it is abandoned at once instead of
 * holding the exit up until a request timeout; the request itself ends with the process.
 */
function unlessAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T | typeof ABANDONED> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.resolve(ABANDONED);
  }
  return new Promise((resolve, reject) => {
    const abandon = () => resolve(ABANDONED);
    signal.addEventListener('abort', abandon, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abandon);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abandon);
        reject(error);
      },
    );
  });
}
