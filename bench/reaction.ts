// Reaction time with the real loop and the real clock: the Reconciler's run(), the real
// MassClient against the MASS stand-in (0.2), and an in-memory swarm that notes when scale() is
// called. Demand is changed on the stand-in right after a reading was taken (the worst moment:
// the change just missed an evaluation), and the time until the service update call is measured.
//
// 1. steady: demand has not moved, so the next evaluation is max_schedule_interval away.
// 2. moving: right after a scale-up (smoothed demand moved), the next evaluation is
//    min_schedule_interval away.
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { systemClock } from '../src/clock';
import { SYSTEM_LABEL, type PolicyDefaults } from '../src/labels';
import { MassClient } from '../src/mass/client';
import { Reconciler, type ReconcileEvents } from '../src/loop/reconciler';
import type { DemandSource, ScaleOutcome, SwarmTarget, SystemReading } from '../src/types';
import { FakeSwarm } from '../test/fakes/in-memory';
import { startFakeMass } from '../test/fakes/mass-server';
import { API_KEY } from './mass-rounds';

export interface ReactionTrial {
  name: 'steady' | 'moving';
  /** the interval that applies: max_schedule_interval when steady, min when moving (s) */
  intervalS: number;
  /** demand change on the stand-in → scale() called, ms */
  reactionMs: number;
  /** demand change → start of the round that made the scale call: waiting for the evaluation, ms */
  waitMs: number;
  /** start of that round → scale() called: reading MASS and deciding, ms */
  inRoundMs: number;
  /** duration of the round that made the scale call, ms */
  roundMs: number;
  /** demand before and after the change, and the replicas asked for */
  from: number;
  to: number;
  replicas: number;
}

export interface ReactionResult {
  minScheduleIntervalS: number;
  maxScheduleIntervalS: number;
  discoveryIntervalS: number;
  latencyMs: number;
  /** the longest round the loop ran in this measurement (its first one included), ms */
  longestRoundMs: number;
  trials: ReactionTrial[];
}

const SYSTEM = 'reaction';

export async function runReactionBench(opts: {
  latencyMs: number;
  pageConcurrency: number;
  minScheduleIntervalS: number;
  maxScheduleIntervalS: number;
  log: (line: string) => void;
}): Promise<ReactionResult> {
  const mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY, latencyMs: opts.latencyMs });
  const client = new MassClient({
    baseUrl: mass.baseUrl,
    apiKey: API_KEY,
    timeoutMs: 10_000,
    pageConcurrency: opts.pageConcurrency,
  });
  const steps = [0, 5, 40];
  mass.setDemand(SYSTEM, { due: steps[0]! });

  // After the n-th reading (1-based), the demand on the stand-in becomes steps[n].
  const changes: { at: number; from: number; to: number }[] = [];
  let reads = 0;
  const demand: DemandSource = {
    async readDemand(systems, now): Promise<Map<string, SystemReading>> {
      const readings = await client.readDemand(systems, now);
      reads += 1;
      const next = steps[reads];
      if (next !== undefined) {
        mass.setDemand(SYSTEM, { due: next });
        changes.push({ at: performance.now(), from: steps[reads - 1]!, to: next });
      }
      return readings;
    },
  };

  const fake = new FakeSwarm();
  fake.add(
    'reaction-svc',
    {
      [SYSTEM_LABEL]: SYSTEM,
      'com.mass.min_inst': '0',
      'com.mass.max_inst': '100',
      'com.mass.start_demand': '0',
      'com.mass.min_schedule_interval': String(opts.minScheduleIntervalS),
      'com.mass.max_schedule_interval': String(opts.maxScheduleIntervalS),
    },
    0,
  );
  const scales: { at: number; replicas: number }[] = [];
  let scaled: () => void = () => {};
  const swarm: SwarmTarget = {
    listManaged: () => fake.listManaged(),
    async scale(id, replicas): Promise<ScaleOutcome> {
      scales.push({ at: performance.now(), replicas });
      scaled();
      return fake.scale(id, replicas);
    },
  };
  const rounds: { start: number; end: number }[] = [];
  const events: ReconcileEvents = {
    scaled() {},
    massError() {},
    dockerError() {},
    round(durationMs) {
      const end = performance.now();
      rounds.push({ start: end - durationMs, end });
    },
  };
  const defaults: PolicyDefaults = {
    minInst: 0,
    maxInst: 100,
    startDemand: 0,
    technique: 'exponential moving average',
    window: 15,
    weight: 0.3,
    minScheduleInterval: opts.minScheduleIntervalS,
    maxScheduleInterval: opts.maxScheduleIntervalS,
    demandDeltaThreshold: 0.3,
    requestsPerInstance: 1,
    scaleDownDelay: 120,
    autoscale: true,
    policy: 'classic',
    targetWait: 180,
    serviceTime: 'auto',
    startupTime: 45,
    scaleIn: 'idle',
    longestHold: 'off',
  };
  const discoveryIntervalS = 2;
  const reconciler = new Reconciler(
    demand,
    swarm,
    systemClock,
    pino({ level: 'silent' }),
    {
      dryRun: false,
      defaults,
      discoveryIntervalMs: discoveryIntervalS * 1000,
      retryMaxDelayMs: 30_000,
    },
    events,
  );

  const stop = new AbortController();
  const deadline = (opts.maxScheduleIntervalS + opts.minScheduleIntervalS) * 1000 + 30_000;
  opts.log(
    `  running the loop until two scale calls (about ${opts.maxScheduleIntervalS + opts.minScheduleIntervalS} s) ...`,
  );
  const running = reconciler.run(stop.signal);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no second scale call within ${deadline} ms`)), deadline);
      scaled = () => {
        if (scales.length >= 2) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
  } finally {
    stop.abort();
    await running;
    await mass.close();
  }

  const roundOf = (at: number) => rounds.find((r) => r.start <= at && at <= r.end);
  const trials: ReactionTrial[] = (['steady', 'moving'] as const).map((name, i) => {
    const change = changes[i]!;
    const scale = scales[i]!;
    const round = roundOf(scale.at);
    return {
      name,
      intervalS: name === 'steady' ? opts.maxScheduleIntervalS : opts.minScheduleIntervalS,
      reactionMs: scale.at - change.at,
      waitMs: round ? round.start - change.at : NaN,
      inRoundMs: round ? scale.at - round.start : NaN,
      roundMs: round ? round.end - round.start : NaN,
      from: change.from,
      to: change.to,
      replicas: scale.replicas,
    };
  });
  return {
    minScheduleIntervalS: opts.minScheduleIntervalS,
    maxScheduleIntervalS: opts.maxScheduleIntervalS,
    discoveryIntervalS,
    latencyMs: opts.latencyMs,
    longestRoundMs: Math.max(...rounds.map((r) => r.end - r.start)),
    trials,
  };
}
