// Reaction time with the real loop and the real clock: the Reconciler's run(), the real
// MassClient against the MASS stand-in (0.2), and an in-memory swarm that notes when scale() is
// called. Demand is changed on the stand-in right after a reading was taken (the worst moment:
// the change just missed an evaluation), and the time until the service update call is measured.
//
// 1. steady: demand has not moved, so the next evaluation is max_schedule_interval away.
// 2. moving: right after a scale-up (smoothed demand moved), the next evaluation is
//    min_schedule_interval away.
// 3. quiet, with the wake-up (a second loop, WAKE_UP_INTERVAL auto): the same change as in 1,
//    after two max_schedule_intervals of quiet; the wake-up's count of every due request, one
//    request per min_schedule_interval, sees the jump. Its requests during the quiet period are
//    counted: what the wake-up costs the MASS server per minute.
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { systemClock } from '../src/clock';
import { SYSTEM_LABEL, type PolicyDefaults } from '../src/labels';
import { MassClient } from '../src/mass/client';
import { Reconciler, type ReconcileEvents } from '../src/loop/reconciler';
import type { DemandSource, DueCounter, ScaleOutcome, SwarmTarget, SystemReading } from '../src/types';
import { FakeSwarm, specDefaults } from '../test/fakes/in-memory';
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

/** The quiet-period trial with the wake-up on, and what the wake-up cost. */
export interface WakeUpTrial {
  /** the wake-up's interval: min_schedule_interval (s) */
  intervalS: number;
  /** demand change → scale() called, ms */
  reactionMs: number;
  /** demand change → start of the wake-up count that saw the jump, ms */
  waitMs: number;
  /** that count's own duration (one request), ms */
  countMs: number;
  /** end of that count → scale() called (the round it brought forward), ms */
  inRoundMs: number;
  /** the longest wake-up count of the run, ms */
  longestCountMs: number;
  from: number;
  to: number;
  replicas: number;
  /** the quiet period before the change, s */
  quietS: number;
  /** wake-up requests during the quiet period, and per minute */
  wakeUpRequests: number;
  wakeUpPerMinute: number;
  /** the evaluation rounds' requests during the quiet period, per minute */
  roundRequestsPerMinute: number;
}

export interface ReactionResult {
  minScheduleIntervalS: number;
  maxScheduleIntervalS: number;
  discoveryIntervalS: number;
  latencyMs: number;
  /** the longest round the loop ran in this measurement (its first one included), ms */
  longestRoundMs: number;
  trials: ReactionTrial[];
  /** null when the wake-up loop was not measured */
  wakeUp: WakeUpTrial | null;
}

const SYSTEM = 'reaction';

interface Options {
  latencyMs: number;
  pageConcurrency: number;
  minScheduleIntervalS: number;
  maxScheduleIntervalS: number;
  log: (line: string) => void;
}

interface LoopRun {
  changes: { at: number; from: number; to: number }[];
  scales: { at: number; replicas: number }[];
  rounds: { start: number; end: number }[];
  counts: { start: number; end: number }[];
  /** every request the stand-in received, when */
  requests: { at: number; url: string }[];
}

const DISCOVERY_INTERVAL_S = 2;

/**
 * One run of the real loop. `steps[0]` is the due backlog at the start; after the n-th reading
 * (1-based) it becomes steps[n] when that is given and different. Stops after `scales` scale calls.
 */
async function runLoop(opts: Options, steps: number[], scalesWanted: number, wakeUp: boolean): Promise<LoopRun> {
  const mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY, latencyMs: opts.latencyMs });
  const run: LoopRun = { changes: [], scales: [], rounds: [], counts: [], requests: [] };
  mass.onRequest = (entry) => run.requests.push({ at: performance.now(), url: entry.url });
  const client = new MassClient({
    baseUrl: mass.baseUrl,
    apiKey: API_KEY,
    timeoutMs: 10_000,
    pageConcurrency: opts.pageConcurrency,
  });
  mass.setDemand(SYSTEM, { due: steps[0]! });

  let reads = 0;
  let current = steps[0]!;
  const demand: DemandSource = {
    async readDemand(systems, now): Promise<Map<string, SystemReading>> {
      const readings = await client.readDemand(systems, now);
      reads += 1;
      const next = steps[reads];
      if (next !== undefined && next !== current) {
        mass.setDemand(SYSTEM, { due: next });
        run.changes.push({ at: performance.now(), from: current, to: next });
        current = next;
      }
      return readings;
    },
  };
  const counter: DueCounter = {
    get lastDialect() {
      return client.lastDialect;
    },
    async countDue(now) {
      const start = performance.now();
      const answer = await client.countDue(now);
      run.counts.push({ start, end: performance.now() });
      return answer;
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
  let scaled: () => void = () => {};
  const swarm: SwarmTarget = {
    listManaged: () => fake.listManaged(),
    async scale(id, replicas): Promise<ScaleOutcome> {
      run.scales.push({ at: performance.now(), replicas });
      scaled();
      return fake.scale(id, replicas);
    },
  };
  const events: ReconcileEvents = {
    scaled() {},
    massError() {},
    dockerError() {},
    round(durationMs) {
      const end = performance.now();
      run.rounds.push({ start: end - durationMs, end });
    },
  };
  const defaults: PolicyDefaults = {
    ...specDefaults(),
    minInst: 0,
    maxInst: 100,
    startDemand: 0,
    minScheduleInterval: opts.minScheduleIntervalS,
    maxScheduleInterval: opts.maxScheduleIntervalS,
  };
  const reconciler = new Reconciler(
    demand,
    swarm,
    systemClock,
    pino({ level: 'silent' }),
    {
      dryRun: false,
      defaults,
      discoveryIntervalMs: DISCOVERY_INTERVAL_S * 1000,
      retryMaxDelayMs: 30_000,
      ...(wakeUp && { wakeUp: { counter, interval: 'auto' as const } }),
    },
    events,
  );

  const stop = new AbortController();
  const expectedS = steps.length * opts.maxScheduleIntervalS + opts.minScheduleIntervalS;
  const deadline = expectedS * 1000 + 30_000;
  opts.log(
    `  running the loop${wakeUp ? ' with the wake-up' : ''} until ${scalesWanted} scale call(s) (about ${expectedS} s at most) ...`,
  );
  const running = reconciler.run(stop.signal);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no scale call ${scalesWanted} within ${deadline} ms`)),
        deadline,
      );
      scaled = () => {
        if (run.scales.length >= scalesWanted) {
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
  return run;
}

export async function runReactionBench(opts: Options & { wakeUp: boolean }): Promise<ReactionResult> {
  const plain = await runLoop(opts, [0, 5, 40], 2, false);
  const roundOf = (at: number) => plain.rounds.find((r) => r.start <= at && at <= r.end);
  const trials: ReactionTrial[] = (['steady', 'moving'] as const).map((name, i) => {
    const change = plain.changes[i]!;
    const scale = plain.scales[i]!;
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
  let longestRoundMs = Math.max(...plain.rounds.map((r) => r.end - r.start));
  let wakeUp: WakeUpTrial | null = null;
  if (opts.wakeUp) {
    // Quiet for two steady evaluations after the first (readings 1 to 3), then the same change as 'steady'.
    const woke = await runLoop(opts, [0, 0, 0, 5], 1, true);
    const change = woke.changes[0]!;
    const scale = woke.scales[0]!;
    const count = [...woke.counts].reverse().find((c) => c.end <= scale.at && c.start >= change.at);
    const quietStart = woke.rounds[0]!.end;
    const quietMs = change.at - quietStart;
    const countUrl = (url: string) => url.startsWith('/api/analysis_request/?schedule_after__lte=');
    const quiet = woke.requests.filter((r) => r.at >= quietStart && r.at < change.at);
    const wakeUpRequests = quiet.filter((r) => countUrl(r.url)).length;
    longestRoundMs = Math.max(longestRoundMs, ...woke.rounds.map((r) => r.end - r.start));
    wakeUp = {
      intervalS: opts.minScheduleIntervalS,
      reactionMs: scale.at - change.at,
      waitMs: count ? count.start - change.at : NaN,
      countMs: count ? count.end - count.start : NaN,
      inRoundMs: count ? scale.at - count.end : NaN,
      longestCountMs: Math.max(...woke.counts.map((c) => c.end - c.start)),
      from: change.from,
      to: change.to,
      replicas: scale.replicas,
      quietS: quietMs / 1000,
      wakeUpRequests,
      wakeUpPerMinute: (wakeUpRequests * 60_000) / quietMs,
      roundRequestsPerMinute: ((quiet.length - wakeUpRequests) * 60_000) / quietMs,
    };
  }
  return {
    minScheduleIntervalS: opts.minScheduleIntervalS,
    maxScheduleIntervalS: opts.maxScheduleIntervalS,
    discoveryIntervalS: DISCOVERY_INTERVAL_S,
    latencyMs: opts.latencyMs,
    longestRoundMs,
    trials,
    wakeUp,
  };
}
