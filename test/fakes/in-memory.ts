// In-memory stand-ins for the reconciler's edges, for tests of the loop logic with a moved clock.
// The real parts are tested against a real HTTP server and a real swarm elsewhere.
import pino, { type Logger } from 'pino';
import { SYSTEM_LABEL, type PolicyDefaults } from '../../src/labels';
import { Reconciler, type ReconcilerOptions } from '../../src/loop/reconciler';
import { policy } from './policy';
import type {
  Clock,
  DemandSource,
  ManagedService,
  MassInstance,
  ScaleOutcome,
  SwarmTarget,
  SystemDemand,
  SystemReading,
} from '../../src/types';

export class ManualClock implements Clock {
  constructor(public time = Date.parse('2026-01-01T00:00:00Z')) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.time += ms;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export function demandOf(system: string, demand: number, instances: MassInstance[] = []): SystemDemand {
  return {
    system,
    due: demand,
    notDue: 0,
    scheduledOnline: 0,
    stuckOffline: 0,
    onlineInstances: 0,
    offlineInstances: 0,
    demand,
    instances: instances.map((i) => ({ ...i })),
  };
}

export class FakeDemand implements DemandSource {
  readonly demand = new Map<string, number>();
  /** each system's instance records (none unless set) */
  readonly instances = new Map<string, MassInstance[]>();
  /** a failure for every system, or per system */
  failAll: SystemReading | null = null;
  readonly failing = new Map<string, SystemReading>();
  calls = 0;
  /** requests due soon per system, given when a round asks for that system with a horizon */
  readonly dueSoon = new Map<string, number>();
  /** the horizons each round asked for */
  readonly horizonsAsked: ReadonlyMap<string, number>[] = [];
  async readDemand(
    systems: readonly string[],
    _now?: Date,
    horizons: ReadonlyMap<string, number> = new Map(),
  ): Promise<Map<string, SystemReading>> {
    this.calls += 1;
    this.horizonsAsked.push(horizons);
    const out = new Map<string, SystemReading>();
    for (const s of systems) {
      const failure = this.failAll ?? this.failing.get(s);
      if (failure) out.set(s, failure);
      else if (this.demand.has(s)) {
        const demand = demandOf(s, this.demand.get(s)!, this.instances.get(s));
        const soon = horizons.has(s) ? { dueSoon: this.dueSoon.get(s) ?? 0 } : {};
        out.set(s, { ok: true, demand: { ...demand, ...soon } });
      } else
        out.set(s, {
          ok: false,
          error: { kind: 'unknown-system', message: `analysis system ${s} is not registered in MASS` },
        });
    }
    return out;
  }
}

export class FakeSwarm implements SwarmTarget {
  readonly services = new Map<string, ManagedService>();
  readonly scaleCalls: { id: string; replicas: number; at: number }[] = [];
  /** the clock scale calls are stamped with */
  now: () => number = () => 0;
  listError: Error | null = null;
  listCalls = 0;
  /** refuses every update with this error while set */
  updateError: Error | null = null;
  add(name: string, labels: Record<string, string>, replicas: number | null = 3): ManagedService {
    const service: ManagedService = {
      id: `id-${name}`,
      name,
      labels,
      mode: replicas === null ? 'global' : 'replicated',
      replicas,
      operation: null,
      version: 1,
    };
    this.services.set(service.id, service);
    return service;
  }
  async listManaged(): Promise<ManagedService[]> {
    this.listCalls += 1;
    if (this.listError) throw this.listError;
    return [...this.services.values()].map((s) => ({ ...s, labels: { ...s.labels } }));
  }
  async scale(id: string, replicas: number): Promise<ScaleOutcome> {
    this.scaleCalls.push({ id, replicas, at: this.now() });
    const service = this.services.get(id);
    if (!service) return { kind: 'gone' };
    if (service.replicas === null) {
      return { kind: 'not-replicated', mode: service.mode === 'replicated' ? 'global' : service.mode };
    }
    if (service.replicas === replicas) return { kind: 'unchanged', replicas };
    if (service.operation !== null) return { kind: 'in-operation', state: service.operation };
    if (this.updateError) throw this.updateError;
    const from = service.replicas;
    service.replicas = replicas;
    service.version += 1;
    return { kind: 'updated', from, to: replicas, attempts: 1 };
  }
}

export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** the fixed message (`msg`) of every line */
  messages(): string[];
  /** the sentence (field `explanation`) of every line with the message `msg` */
  said(msg: string): string[];
  /** the sentence of every line: its `explanation`, or its message when the line has none */
  texts(): string[];
}

export function captureLogger(level = 'debug'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return {
    logger,
    lines,
    messages: () => lines.map((l) => String(l.msg)),
    said: (msg) => lines.filter((l) => l.msg === msg).map((l) => String(l.explanation)),
    texts: () => lines.map((l) => String(l.explanation ?? l.msg)),
  };
}

/** The label defaults of SPEC.md (the policy fixture without its system). */
export function specDefaults(): PolicyDefaults {
  const { system: _system, ...defaults } = policy();
  return defaults;
}

/** Labels that make a fake service follow the newest reading (moving average over 1). */
export function followingLabels(system: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    [SYSTEM_LABEL]: system,
    'com.mass.calculation_technique': 'moving average',
    'com.mass.m_a_sensitivity': '1',
    ...extra,
  };
}

export interface LoopOptions<M extends FakeDemand> {
  dryRun?: boolean;
  discoveryIntervalMs?: number;
  retryMaxDelayMs?: number;
  random?: () => number;
  demand?: (clock: ManualClock) => M;
  liveness?: ReconcilerOptions['liveness'];
  remover?: ReconcilerOptions['remover'];
}

/** A Reconciler on fakes and a manual clock, and `runFor` to move virtual time through its rounds. */
export function loopUnderTest<M extends FakeDemand = FakeDemand>(opts: LoopOptions<M> = {}) {
  const clock = new ManualClock();
  const mass = opts.demand ? opts.demand(clock) : (new FakeDemand() as M);
  const swarm = new FakeSwarm();
  swarm.now = () => clock.now();
  const log = captureLogger();
  const reconciler = new Reconciler(
    mass,
    swarm,
    clock,
    log.logger,
    {
      dryRun: opts.dryRun ?? false,
      defaults: specDefaults(),
      discoveryIntervalMs: opts.discoveryIntervalMs ?? 2000,
      retryMaxDelayMs: opts.retryMaxDelayMs ?? 30_000,
      liveness: opts.liveness,
      remover: opts.remover,
    },
    undefined,
    opts.random ?? (() => 0.5),
  );
  /** runs rounds, jumping the clock to each wake-up, until `seconds` of virtual time have passed */
  async function runFor(seconds: number) {
    const end = clock.now() + seconds * 1000;
    while (clock.now() < end) {
      await reconciler.round();
      clock.time = Math.max(clock.now() + 1, Math.min(end, reconciler.wakeAt()));
    }
  }
  return { clock, mass, swarm, log, reconciler, runFor };
}
