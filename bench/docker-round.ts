// Docker side of a round on the real Engine: 200 managed services whose tasks can never be placed
// (no containers), Reconciler rounds with the real DockerSwarm adapter, Engine API calls counted
// on the dockerode instance. Demand comes from the in-memory DemandSource, so only Docker is measured.
// Every service this creates is removed again, also on failure or Ctrl-C.
import { performance } from 'node:perf_hooks';
import type Docker from 'dockerode';
import pino from 'pino';
import { SYSTEM_LABEL, type PolicyDefaults } from '../src/labels';
import { Reconciler } from '../src/loop/reconciler';
import { UPDATE_CONCURRENCY } from '../src/loop/updates';
import { DockerSwarm } from '../src/swarm/docker-swarm';
import type { ManagedService, ScaleOutcome, SwarmTarget } from '../src/types';
import { FakeDemand, ManualClock, specDefaults } from '../test/fakes/in-memory';
import { requireDocker, TEST_IMAGE, uniquePrefix } from '../test/support/docker';

export interface EngineCalls {
  list: number;
  inspect: number;
  update: number;
  other: number;
}

export interface DockerRound {
  wallMs: number;
  calls: EngineCalls;
  scaleCalls: number;
  updated: number;
}

export type DockerBenchResult =
  | { skipped: string }
  | {
      services: number;
      needing: number;
      engineVersion: string;
      createConcurrency: number;
      setupMs: number;
      cleanupMs: number;
      /** first round: discovers all services, evaluates all, scales those with demand */
      first: DockerRound;
      /** a later round with unchanged demand: what every steady round costs */
      steady: DockerRound;
      /** every service needs a change, updates sent UPDATE_CONCURRENCY at a time */
      all: DockerRound;
      /** every service needs a change, one update at a time (as before updates were sent in parallel) */
      allSequential: DockerRound;
      updateConcurrency: number;
      /** labelled services of others on this Engine, listed too but left alone */
      foreign: number;
      cleanupError?: string;
    };

export interface DockerBenchOptions {
  services: number;
  needing: number;
  concurrency: number;
  log: (line: string) => void;
}

/** Runs fn over items with at most `width` at once; collects every error, throws the first after all settled. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/** Counts the Engine API calls the adapter makes, by wrapping the dockerode instance. */
function countingDocker(docker: Docker, calls: EngineCalls): Docker {
  const bindAll = <O extends object>(target: O, counted: Record<string, keyof EngineCalls>) =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const kind = typeof prop === 'string' ? counted[prop] : undefined;
        return (...args: unknown[]) => {
          if (kind !== undefined) calls[kind] += 1;
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return new Proxy(docker, {
    get(t, prop, receiver) {
      if (prop === 'getService') {
        return (id: string) => bindAll(t.getService(id), { inspect: 'inspect', update: 'update', remove: 'other' });
      }
      const value = Reflect.get(t, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop === 'listServices') calls.list += 1;
        else calls.other += 1;
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/** The swarm as the daemon sees it, narrowed to this run's services: others may share the Engine. */
class OwnServices implements SwarmTarget {
  scaleCalls = 0;
  updated = 0;
  foreign = 0;
  constructor(
    private readonly inner: SwarmTarget,
    private readonly prefix: string,
  ) {}
  async listManaged(): Promise<ManagedService[]> {
    const all = await this.inner.listManaged();
    const own = all.filter((s) => s.name.startsWith(`${this.prefix}-`));
    this.foreign = all.length - own.length;
    return own;
  }
  async scale(serviceId: string, replicas: number): Promise<ScaleOutcome> {
    this.scaleCalls += 1;
    const outcome = await this.inner.scale(serviceId, replicas);
    if (outcome.kind === 'updated') this.updated += 1;
    return outcome;
  }
}

const DEFAULTS: PolicyDefaults = { ...specDefaults(), minInst: 0, startDemand: 0 };

async function removeOwn(docker: Docker, prefix: string, width: number): Promise<void> {
  const services = await docker.listServices({ filters: { name: [prefix] } });
  const mine = services.filter((s) => s.Spec?.Name?.startsWith(`${prefix}-`));
  await pool(mine, width, async (s) => {
    try {
      await docker.getService(s.ID).remove();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  });
}

export async function runDockerBench(opts: DockerBenchOptions): Promise<DockerBenchResult> {
  let docker: Docker;
  try {
    docker = await requireDocker();
  } catch (err) {
    return { skipped: (err as Error).message };
  }
  let engineVersion = 'unknown';
  try {
    engineVersion = (await docker.version()).Version;
  } catch {
    // only for the report
  }
  const prefix = uniquePrefix('bench');
  const systemOf = (i: number) => `bench-sys-${String(i).padStart(3, '0')}`;
  const onSignal = (signal: NodeJS.Signals) => {
    opts.log(`  ${signal}: removing the ${prefix}-* services first`);
    // Twice: a create that was in flight during the first pass may have landed since.
    void removeOwn(docker, prefix, opts.concurrency)
      .then(() => removeOwn(docker, prefix, opts.concurrency))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal); // a closed terminal

  let measured:
    | {
        setupMs: number;
        first: DockerRound;
        steady: DockerRound;
        all: DockerRound;
        allSequential: DockerRound;
        foreign: number;
      }
    | undefined;
  let cleanupMs: number;
  let cleanupError: string | undefined;
  try {
    opts.log(`  creating ${opts.services} services ${prefix}-* at 0 replicas, ${opts.concurrency} at a time ...`);
    const t0 = performance.now();
    await pool(
      Array.from({ length: opts.services }, (_, i) => i),
      opts.concurrency,
      async (i) => {
        // A constraint no node meets: tasks stay pending, so no container is started whatever the count.
        await docker.createService({
          Name: `${prefix}-${String(i).padStart(3, '0')}`,
          Labels: { [SYSTEM_LABEL]: systemOf(i), 'com.mass.min_inst': '0', 'com.mass.start_demand': '0' },
          TaskTemplate: {
            ContainerSpec: { Image: TEST_IMAGE },
            Placement: { Constraints: ['node.labels.mass-autoscaler-bench == never'] },
          },
          Mode: { Replicated: { Replicas: 0 } },
        });
      },
    );
    const setupMs = performance.now() - t0;

    const demand = new FakeDemand();
    for (let i = 0; i < opts.services; i += 1) demand.demand.set(systemOf(i), i < opts.needing ? 1 : 0);
    const calls: EngineCalls = { list: 0, inspect: 0, update: 0, other: 0 };
    const swarm = new OwnServices(new DockerSwarm(countingDocker(docker, calls)), prefix);
    const clock = new ManualClock(Date.now());
    const reconciler = new Reconciler(demand, swarm, clock, pino({ level: 'silent' }), {
      dryRun: false,
      defaults: DEFAULTS,
      discoveryIntervalMs: 2000,
      retryMaxDelayMs: 30_000,
    });

    const measureRound = async (loop = reconciler): Promise<DockerRound> => {
      Object.assign(calls, { list: 0, inspect: 0, update: 0, other: 0 });
      swarm.scaleCalls = 0;
      swarm.updated = 0;
      const t = performance.now();
      await loop.round();
      return {
        wallMs: performance.now() - t,
        calls: { ...calls },
        scaleCalls: swarm.scaleCalls,
        updated: swarm.updated,
      };
    };
    opts.log(`  round 1: ${opts.needing} of ${opts.services} services need 1 replica ...`);
    const first = await measureRound();
    // Every service is due again once max_schedule_interval has passed; demand is unchanged.
    clock.advance(DEFAULTS.maxScheduleInterval * 1000);
    opts.log('  round 2: same demand ...');
    const steady = await measureRound();
    const tracked = reconciler.trackedCount();
    if (tracked !== opts.services)
      throw new Error(`the reconciler tracks ${tracked} services, expected ${opts.services}`);
    // Every service needs a change: demand 10 everywhere (3 replicas or more for each).
    for (let i = 0; i < opts.services; i += 1) demand.demand.set(systemOf(i), 10);
    clock.advance(DEFAULTS.maxScheduleInterval * 1000);
    opts.log(`  round 3: all ${opts.services} services need a change, ${UPDATE_CONCURRENCY} updates at a time ...`);
    const all = await measureRound();
    // The same with one update at a time, side by side: a new loop, demand 20 (more replicas again).
    for (let i = 0; i < opts.services; i += 1) demand.demand.set(systemOf(i), 20);
    const sequential = new Reconciler(demand, swarm, clock, pino({ level: 'silent' }), {
      dryRun: false,
      defaults: DEFAULTS,
      discoveryIntervalMs: 2000,
      retryMaxDelayMs: 30_000,
      updateConcurrency: 1,
    });
    opts.log(`  round 4: all ${opts.services} services need a change, one update at a time ...`);
    const allSequential = await measureRound(sequential);
    measured = { setupMs, first, steady, all, allSequential, foreign: swarm.foreign };
  } finally {
    opts.log(`  removing the ${prefix}-* services ...`);
    const tc = performance.now();
    try {
      await removeOwn(docker, prefix, opts.concurrency);
    } catch (err) {
      cleanupError = `${(err as Error).message}; remove the ${prefix}-* services by hand`;
      opts.log(`  cleanup failed: ${cleanupError}`);
    }
    cleanupMs = performance.now() - tc;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  return {
    services: opts.services,
    needing: opts.needing,
    engineVersion,
    createConcurrency: opts.concurrency,
    updateConcurrency: UPDATE_CONCURRENCY,
    cleanupMs,
    ...measured,
    ...(cleanupError !== undefined && { cleanupError }),
  };
}
