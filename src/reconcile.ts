// One round at a time: look at the services, read the demand of those due for evaluation,
// decide, act. Depends on the MASS client and the swarm adapter only through interfaces.
import type { Logger } from 'pino';
import { backoffDelay } from './core/backoff';
import { decide, holdWithoutReading, initialState, type Decision, type ServiceState } from './core/decision';
import type { Policy } from './core/policy';
import { describeProblem, parseLabels, type LabelProblem, type PolicyDefaults } from './labels';
import type { Clock, DemandSource, MassErrorKind, ManagedService, SwarmTarget, SystemDemand } from './types';

export interface ReconcilerOptions {
  dryRun: boolean;
  defaults: PolicyDefaults;
  discoveryIntervalMs: number;
  retryMaxDelayMs: number;
}

/** Counters for /metrics; the reconciler reports events, the metrics module counts them. */
export interface ReconcileEvents {
  scaled(service: string, direction: 'up' | 'down'): void;
  massError(kind: MassErrorKind): void;
  dockerError(kind: string): void;
  round(durationMs: number): void;
}

export type ServiceStatus = 'managed' | 'paused' | 'invalid-labels' | 'global-mode' | 'no-reading';

export interface ServiceSnapshot {
  id: string;
  name: string;
  system: string | null;
  status: ServiceStatus;
  replicas: number | null;
  /** tasks running now over all nodes (replicas is what is wanted); null when unknown */
  running: number | null;
  target: number | null;
  rawDemand: number | null;
  smoothedDemand: number | null;
  due: number | null;
  notDue: number | null;
  stuckOffline: number | null;
  nextEvaluation: string | null;
  lastAction: string | null;
  lastReason: string | null;
  lastActionAt: string | null;
  problems: string[];
}

export interface HealthSnapshot {
  lastMassOkAt: number | null;
  lastDockerOkAt: number | null;
  /** true while no service needs a MASS reading */
  massIdle: boolean;
  massError: string | null;
  dockerError: string | null;
}

interface Tracked {
  id: string;
  name: string;
  labelsKey: string;
  replicas: number | null;
  running: number | null;
  policy: Policy | null;
  problems: LabelProblem[];
  state: ServiceState | null;
  nextAt: number;
  failures: number;
  reading: SystemDemand | null;
  decision: Decision | null;
  decidedAt: number | null;
  lastAction: { action: string; reason: string; at: number } | null;
  noReading: boolean;
}

const noEvents: ReconcileEvents = { scaled() {}, massError() {}, dockerError() {}, round() {} };

export class Reconciler {
  private readonly services = new Map<string, Tracked>();
  private nextDiscoveryAt = 0;
  private dockerFailures = 0;
  /** the kind of the Docker failure in progress (logged once), null while listing works */
  private dockerFailingKind: string | null = null;
  /** systems currently failing, by failure kind: one log line when a kind starts and when it ends */
  private readonly massFailing = new Map<MassErrorKind, Set<string>>();
  private lastMassOkAt: number | null = null;
  private lastDockerOkAt: number | null = null;
  private lastMassError: string | null = null;

  constructor(
    private readonly demand: DemandSource,
    private readonly swarm: SwarmTarget,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions,
    private readonly events: ReconcileEvents = noEvents,
    private readonly random: () => number = Math.random,
  ) {}

  /** Runs rounds until the signal aborts; a round under way is finished first, unless it is still waiting for MASS or Docker. */
  async run(signal: AbortSignal): Promise<void> {
    let crashes = 0;
    while (!signal.aborted) {
      try {
        await this.round(signal);
        crashes = 0;
      } catch (error) {
        // A defect must not stop the scaling of every service: log it, wait, try again.
        crashes += 1;
        this.log.error({ err: errorMessage(error) }, `round failed unexpectedly: ${errorMessage(error)}; retrying`);
        await this.clock.sleep(backoffDelay(crashes, 1000, this.options.retryMaxDelayMs, this.random()), signal);
        continue;
      }
      if (signal.aborted) break;
      await this.clock.sleep(Math.max(0, this.wakeAt() - this.clock.now()), signal);
    }
  }

  /** When the next round has something to do. */
  wakeAt(): number {
    let at = this.nextDiscoveryAt;
    if (this.dockerFailingKind !== null) return at;
    for (const t of this.services.values()) if (this.evaluable(t)) at = Math.min(at, t.nextAt);
    return at;
  }

  async round(signal?: AbortSignal): Promise<void> {
    const started = this.clock.now();
    if (started >= this.nextDiscoveryAt) await this.discover(started, signal);
    // What we know of the services is stale while Docker cannot be listed: act on nothing.
    if (this.dockerFailingKind !== null) {
      this.events.round(this.clock.now() - started);
      return;
    }
    const due = [...this.services.values()].filter((t) => this.evaluable(t) && t.nextAt <= started);
    if (due.length > 0 && !signal?.aborted) await this.evaluate(due, signal);
    this.events.round(this.clock.now() - started);
  }

  private evaluable(t: Tracked): boolean {
    return t.policy !== null && t.policy.autoscale && t.replicas !== null;
  }

  private async discover(now: number, signal?: AbortSignal): Promise<void> {
    let listed: ManagedService[] | typeof ABANDONED;
    try {
      listed = await unlessAborted(this.swarm.listManaged(), signal);
      if (listed === ABANDONED) return;
    } catch (error) {
      this.dockerFailures += 1;
      const kind = errorKind(error);
      this.events.dockerError(kind);
      const message = errorMessage(error);
      if (this.dockerFailingKind !== kind) {
        this.log.error(
          { kind, err: message },
          `Docker: cannot list services (${message}); holding every service as it is and retrying`,
        );
        this.dockerFailingKind = kind;
      }
      this.nextDiscoveryAt =
        now +
        backoffDelay(
          this.dockerFailures,
          this.options.discoveryIntervalMs,
          this.options.retryMaxDelayMs,
          this.random(),
        );
      return;
    }
    if (this.dockerFailingKind !== null) {
      this.log.info(`Docker: reachable again after ${this.dockerFailures} failed attempt(s); resuming`);
      this.dockerFailingKind = null;
    }
    this.dockerFailures = 0;
    this.lastDockerOkAt = now;
    this.nextDiscoveryAt = now + this.options.discoveryIntervalMs;

    const seen = new Set<string>();
    for (const service of listed) {
      seen.add(service.id);
      this.sync(service, now);
    }
    for (const [id, t] of this.services) {
      if (!seen.has(id)) {
        this.services.delete(id);
        this.log.info({ service: t.name }, `service ${t.name} is gone or no longer labelled; forgetting it`);
      }
    }
    this.forgetUnreadFailures();
  }

  /**
   * A failing system that no managed service reads any more (services removed, paused or
   * relabelled) gets no reading that could end its failure: forget it, so the bookkeeping
   * stays bounded and health does not report a failure nobody is affected by.
   */
  private forgetUnreadFailures(): void {
    if (this.massFailing.size === 0) return;
    const read = new Set<string>();
    for (const t of this.services.values()) if (this.evaluable(t)) read.add(t.policy!.system);
    for (const [kind, systems] of this.massFailing) {
      for (const system of systems) if (!read.has(system)) systems.delete(system);
      if (systems.size === 0) {
        this.massFailing.delete(kind);
        this.log.info({ kind }, `MASS API: ${kind} no longer affects any managed service`);
      }
    }
  }

  /** Brings one listed service into the table; reports label problems once per change. */
  private sync(service: ManagedService, now: number): void {
    const labelsKey = JSON.stringify(
      Object.entries(service.labels)
        .filter(([k]) => k.startsWith('com.mass.'))
        .sort(),
    );
    let t = this.services.get(service.id);
    const isNew = t === undefined;
    if (t === undefined) {
      t = {
        id: service.id,
        name: service.name,
        labelsKey: '',
        replicas: service.replicas,
        running: null,
        policy: null,
        problems: [],
        state: null,
        nextAt: now,
        failures: 0,
        reading: null,
        decision: null,
        decidedAt: null,
        lastAction: null,
        noReading: false,
      };
      this.services.set(service.id, t);
    }
    const wasReplicated = t.replicas !== null;
    t.name = service.name;
    t.replicas = service.replicas;
    t.running = service.running ?? null;
    const log = this.log.child({ service: t.name });
    if (service.replicas === null && (isNew || wasReplicated)) {
      log.warn(`service ${t.name} runs in global mode; it is left alone (only replicated services are scaled)`);
    }
    if (t.labelsKey === labelsKey && !isNew) return;
    t.labelsKey = labelsKey;

    const parsed = parseLabels(service.labels, this.options.defaults);
    const previous = t.policy;
    if (!parsed.ok) {
      t.policy = null;
      t.problems = parsed.problems;
      t.state = null;
      log.error(
        { problems: parsed.problems.map(describeProblem) },
        `service ${t.name} has bad labels and is left alone until they are fixed: ${parsed.problems.map(describeProblem).join('; ')}`,
      );
      return;
    }
    t.problems = [];
    t.policy = parsed.policy;
    if (previous?.system !== parsed.policy.system) t.state = null;
    t.nextAt = Math.min(t.nextAt, now);
    if (!parsed.policy.autoscale) {
      log.info(`service ${t.name} is paused (com.mass.autoscale=false); it is left as it is`);
    } else if (isNew) {
      log.info(
        { system: parsed.policy.system, policy: parsed.policy },
        `managing service ${t.name} for analysis system ${parsed.policy.system}`,
      );
    } else if (previous === null || !previous.autoscale) {
      log.info({ system: parsed.policy.system, policy: parsed.policy }, `service ${t.name} is managed again`);
    } else {
      log.info(
        { system: parsed.policy.system, policy: parsed.policy },
        `labels of service ${t.name} changed; they apply from this evaluation`,
      );
    }
  }

  private async evaluate(due: Tracked[], signal?: AbortSignal): Promise<void> {
    const systems = [...new Set(due.map((t) => t.policy!.system))];
    const readings = await unlessAborted(this.demand.readDemand(systems, new Date(this.clock.now())), signal);
    if (readings === ABANDONED) return;
    const now = this.clock.now();
    this.noteMassHealth(readings, now);

    for (const t of due) {
      if (signal?.aborted) return;
      // The service may have been forgotten or relabelled while MASS was being read.
      if (this.services.get(t.id) !== t || t.policy === null || t.replicas === null) continue;
      const policy = t.policy;
      const current = t.replicas;
      const log = this.log.child({ service: t.name, system: policy.system });
      const reading = readings.get(policy.system) ?? {
        ok: false as const,
        error: { kind: 'bad-shape' as const, message: 'no reading returned' },
      };

      if (!reading.ok) {
        t.failures += 1;
        t.noReading = true;
        const state = t.state ?? initialState(policy, current, now);
        const retry = backoffDelay(
          t.failures,
          policy.minScheduleInterval * 1000,
          Math.max(this.options.retryMaxDelayMs, 1000),
          this.random(),
        );
        const decision = holdWithoutReading(current, reading.error.kind, now, retry, state);
        t.decision = decision;
        t.decidedAt = now;
        t.nextAt = decision.nextAt;
        log.debug({ action: decision.action, current, retryInS: round1(retry / 1000) }, decision.reason);
        continue;
      }

      t.failures = 0;
      t.noReading = false;
      t.reading = reading.demand;
      const state = t.state ?? initialState(policy, current, now);
      const { state: next, decision } = decide(state, reading.demand.demand, current, policy, now);
      t.state = next;
      t.decision = decision;
      t.decidedAt = now;
      t.nextAt = decision.nextAt;

      const inputs = {
        action: decision.action,
        due: reading.demand.due,
        notDue: reading.demand.notDue,
        scheduledOnline: reading.demand.scheduledOnline,
        stuckOffline: reading.demand.stuckOffline,
        demand: reading.demand.demand,
        smoothed: round1(decision.smoothed),
        target: decision.target,
        current,
        desired: decision.desired,
        nextInS: round1((decision.nextAt - now) / 1000),
        dryRun: this.options.dryRun,
      };
      if (decision.desired === current) {
        log.info(inputs, decision.reason);
        continue;
      }
      if (this.options.dryRun) {
        log.info(inputs, `dry run, not applied: ${decision.reason}`);
        t.lastAction = { action: `would ${decision.action} to ${decision.desired}`, reason: decision.reason, at: now };
        continue;
      }
      await this.apply(t, decision, inputs, log, now);
    }
  }

  private async apply(t: Tracked, decision: Decision, inputs: object, log: Logger, now: number): Promise<void> {
    try {
      const outcome = await this.swarm.scale(t.id, decision.desired);
      switch (outcome.kind) {
        case 'updated':
          log.info({ ...inputs, from: outcome.from, attempts: outcome.attempts }, decision.reason);
          t.replicas = outcome.to;
          t.lastAction = {
            action: `${decision.action} ${outcome.from} → ${outcome.to}`,
            reason: decision.reason,
            at: now,
          };
          this.events.scaled(t.name, outcome.to > outcome.from ? 'up' : 'down');
          break;
        case 'unchanged':
          log.info(
            { ...inputs, replicas: outcome.replicas },
            `${decision.reason} (already at ${outcome.replicas} replicas)`,
          );
          t.replicas = outcome.replicas;
          break;
        case 'gone':
          log.warn(inputs, `service ${t.name} was removed while being updated; forgetting it`);
          this.services.delete(t.id);
          break;
        case 'not-replicated':
          log.warn(inputs, `service ${t.name} is no longer replicated; left alone`);
          t.replicas = null;
          break;
      }
    } catch (error) {
      const kind = errorKind(error);
      this.events.dockerError(kind);
      t.failures += 1;
      t.nextAt =
        now + backoffDelay(t.failures, this.options.discoveryIntervalMs, this.options.retryMaxDelayMs, this.random());
      log.error(
        { ...inputs, kind, err: errorMessage(error) },
        `Docker: could not scale ${t.name} to ${decision.desired}: ${errorMessage(error)}; will retry`,
      );
    }
  }

  private noteMassHealth(
    readings: Map<string, { ok: true } | { ok: false; error: { kind: MassErrorKind; message: string } }>,
    now: number,
  ): void {
    let anyReached = false;
    for (const [system, reading] of readings) {
      if (reading.ok || reading.error.kind === 'unknown-system') anyReached = true;
      for (const [kind, systems] of this.massFailing) {
        if ((reading.ok || reading.error.kind !== kind) && systems.delete(system) && systems.size === 0) {
          this.massFailing.delete(kind);
          const now = reading.ok ? 'readings are back' : `now failing with ${reading.error.kind}`;
          this.log.info({ kind }, `MASS API: ${kind} is over; ${now}`);
        }
      }
      if (reading.ok) continue;
      this.events.massError(reading.error.kind);
      const failing = this.massFailing.get(reading.error.kind);
      if (failing === undefined) {
        this.massFailing.set(reading.error.kind, new Set([system]));
        const advice =
          reading.error.kind === 'unknown-system'
            ? 'its services are left as they are'
            : 'affected services keep their replicas; retrying with backoff';
        this.log.error({ kind: reading.error.kind, system }, `MASS API: ${reading.error.message} (${advice})`);
      } else {
        failing.add(system);
      }
      this.lastMassError = reading.error.message;
    }
    if (anyReached) this.lastMassOkAt = now;
  }

  health(): HealthSnapshot {
    const massIdle = ![...this.services.values()].some((t) => this.evaluable(t));
    return {
      lastMassOkAt: this.lastMassOkAt,
      lastDockerOkAt: this.lastDockerOkAt,
      massIdle,
      massError: this.massFailing.size > 0 ? this.lastMassError : null,
      dockerError: this.dockerFailingKind,
    };
  }

  snapshot(): ServiceSnapshot[] {
    return [...this.services.values()]
      .map((t): ServiceSnapshot => {
        const status: ServiceStatus =
          t.policy === null
            ? 'invalid-labels'
            : t.replicas === null
              ? 'global-mode'
              : !t.policy.autoscale
                ? 'paused'
                : t.noReading
                  ? 'no-reading'
                  : 'managed';
        return {
          id: t.id,
          name: t.name,
          system: t.policy?.system ?? null,
          status,
          replicas: t.replicas,
          running: t.running,
          target: t.decision?.desired ?? null,
          rawDemand: t.reading?.demand ?? null,
          smoothedDemand: t.decision ? round1(t.decision.smoothed) : null,
          due: t.reading?.due ?? null,
          notDue: t.reading?.notDue ?? null,
          stuckOffline: t.reading?.stuckOffline ?? null,
          nextEvaluation: status === 'managed' || status === 'no-reading' ? new Date(t.nextAt).toISOString() : null,
          lastAction: t.lastAction?.action ?? null,
          lastReason: t.decision?.reason ?? null,
          lastActionAt: t.lastAction ? new Date(t.lastAction.at).toISOString() : null,
          problems: t.problems.map(describeProblem),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Number of services with state held in memory (for the soak test). */
  trackedCount(): number {
    return this.services.size;
  }

  /** Number of systems remembered as failing, over all failure kinds (for the soak test). */
  failingSystemsCount(): number {
    let n = 0;
    for (const systems of this.massFailing.values()) n += systems.size;
    return n;
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

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function errorKind(error: unknown): string {
  const kind = (error as { kind?: unknown })?.kind;
  return typeof kind === 'string' ? kind : 'api-error';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
