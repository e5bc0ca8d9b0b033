// The what-if model: MASS's dispatch and the replicas' work as arithmetic tables, determinism,
// and proof that the simulator decides with the daemon's own decision code.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIONS, parseDefaults } from '../../config';
import { decide, initialState, type Decision } from '../../src/core/decision';
import { floorDecision, MASS_ONLINE_WINDOW_MS, type InstanceReading } from '../../src/core/liveness';
import type { Policy } from '../../src/core/policy';
import { parseLabels, SYSTEM_LABEL } from '../../src/labels';
import {
  decisionStep,
  DEFAULT_OPTIONS,
  mulberry32,
  percentile,
  readSimulated,
  simulate,
  type Control,
  type SimOptions,
  type TracePoint,
} from '../../src/sim/model';
import { simulateRuns, simulateSets } from '../../src/sim/runs';
import { parseTrace } from '../../src/sim/trace';

/** A policy exactly as the daemon would build it from labels (short names) and the defaults. */
function policyOf(short: Record<string, string> = {}): Policy {
  const problems: string[] = [];
  const defaults = parseDefaults({}, problems);
  assert.ok(defaults, problems.join('; '));
  const labels: Record<string, string> = { [SYSTEM_LABEL]: 'simulated' };
  for (const [k, v] of Object.entries(short)) labels[`com.mass.${k}`] = v;
  const parsed = parseLabels(labels, defaults);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.policy;
}

const fixed = (n: number): Policy => policyOf({ min_inst: String(n), max_inst: String(n) });
const options = (over: Partial<SimOptions> = {}): SimOptions => ({ ...DEFAULT_OPTIONS, ...over });

function exampleTrace(name: string): TracePoint[] {
  const parsed = parseTrace(readFileSync(join(__dirname, '../../examples', name), 'utf8'));
  assert.ok(parsed.ok);
  return parsed.points;
}

describe('queue model: waits from arrival until the analysis starts (fixed replicas)', () => {
  const cases: {
    why: string;
    replicas: number;
    trace: TracePoint[];
    over?: Partial<SimOptions>;
    waits: { mean: number; p95: number; max: number };
    end: number;
    replicaSeconds: number;
  }[] = [
    {
      why: 'one replica, 3 at t=0: all assigned to it at the first dispatch, worked one at a time (0, 30, 60 s)',
      replicas: 1,
      trace: [{ t: 0, arrivals: 3 }],
      waits: { mean: 30, p95: 60, max: 60 },
      end: 90,
      replicaSeconds: 90,
    },
    {
      why: 'arrival at 10 s waits for the dispatch run at 30 s; arrival at 45 s for the run at 60 s',
      replicas: 1,
      trace: [
        { t: 10, arrivals: 1 },
        { t: 45, arrivals: 1 },
      ],
      waits: { mean: 17.5, p95: 20, max: 20 },
      end: 90,
      replicaSeconds: 90,
    },
    {
      why: 'arrival at the very moment of a dispatch run is dispatched by it',
      replicas: 1,
      trace: [{ t: 30, arrivals: 1 }],
      waits: { mean: 0, p95: 0, max: 0 },
      end: 60,
      replicaSeconds: 60,
    },
    {
      why: 'arrival 1 s after a dispatch run waits 29 s',
      replicas: 1,
      trace: [{ t: 31, arrivals: 1 }],
      waits: { mean: 29, p95: 29, max: 29 },
      end: 90,
      replicaSeconds: 90,
    },
    {
      why: 'a longer dispatch interval adds to the wait (dispatch every 60 s, arrival at 1 s)',
      replicas: 1,
      trace: [{ t: 1, arrivals: 1 }],
      over: { dispatchInterval: 60 },
      waits: { mean: 59, p95: 59, max: 59 },
      end: 90,
      replicaSeconds: 90,
    },
    {
      why: 'two replicas: the fewest-assigned one gets the next request (2 + 1), so waits 0, 0, 30',
      replicas: 2,
      trace: [{ t: 0, arrivals: 3 }],
      waits: { mean: 10, p95: 30, max: 30 },
      end: 60,
      replicaSeconds: 120,
    },
    {
      why: 'service time 10 s: one replica works 4 at t=0 back to back (0, 10, 20, 30)',
      replicas: 1,
      trace: [{ t: 0, arrivals: 4 }],
      over: { serviceTime: 10 },
      waits: { mean: 15, p95: 30, max: 30 },
      end: 40,
      replicaSeconds: 40,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const { summary } = simulate(c.trace, fixed(c.replicas), options(c.over));
      assert.deepEqual(
        {
          mean: summary.meanWait,
          p95: summary.p95Wait,
          max: summary.maxWait,
          end: summary.end,
          replicaSeconds: summary.replicaSeconds,
        },
        { ...c.waits, end: c.end, replicaSeconds: c.replicaSeconds },
      );
      assert.equal(summary.completed, summary.arrived);
      assert.equal(summary.aborted, 0);
    });
  }
});

describe('queue model: the scheduler skips replicas with more than 100 scheduled analyses', () => {
  // The first decision runs at t=0 right after the first dispatch run, so its step shows what
  // the dispatch left due.
  const cases: { why: string; replicas: number; arrivals: number; queue: number }[] = [
    {
      why: 'one replica takes 101 of 150 (eligible while at most 100); 49 stay due',
      replicas: 1,
      arrivals: 150,
      queue: 49,
    },
    { why: 'one replica takes exactly 101', replicas: 1, arrivals: 101, queue: 0 },
    { why: 'two replicas take 75 each', replicas: 2, arrivals: 150, queue: 0 },
    { why: 'two replicas take 101 each of 250; 48 stay due', replicas: 2, arrivals: 250, queue: 48 },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const { steps, summary } = simulate(
        [{ t: 0, arrivals: c.arrivals }],
        fixed(c.replicas),
        options({ serviceTime: 1 }),
      );
      assert.equal(steps[0]!.t, 0);
      assert.equal(steps[0]!.queue, c.queue);
      assert.equal(steps[0]!.demand, c.arrivals, 'demand counts due requests and assigned analyses');
      assert.equal(summary.completed, c.arrivals);
    });
  }

  test('the capped remainder is assigned at later dispatch runs as the replica works its list down', () => {
    // One replica, 1 s per analysis: 101 at t=0; by t=30 it finished 30, so 30 more go; at t=60 the last 19.
    const { steps } = simulate([{ t: 0, arrivals: 150 }], fixed(1), options({ serviceTime: 1 }));
    const expected = (t: number): number => (t < 30 ? 49 : t < 60 ? 19 : 0);
    assert.ok(
      steps.some((s) => s.t > 30 && s.t < 60),
      'a step falls between the 30 s and 60 s runs',
    );
    for (const s of steps) assert.equal(s.queue, expected(s.t), `queue at ${s.t}s`);
  });
});

describe('queue model: startup delay of new replicas', () => {
  // No replica at t=0, min=max=1: the decision at t=0 adds one; it is online `startup` seconds
  // later and gets work at the first dispatch run after that.
  const cases: { startup: number; wait: number }[] = [
    { startup: 0, wait: 30 }, // online at once, but the t=0 dispatch ran before the decision
    { startup: 20, wait: 30 },
    { startup: 30, wait: 30 }, // online exactly at the 30 s run
    { startup: 31, wait: 60 },
    { startup: 75, wait: 90 },
  ];
  for (const c of cases) {
    test(`startup ${c.startup}s → first analysis starts at ${c.wait}s`, () => {
      const { summary, steps } = simulate(
        [{ t: 0, arrivals: 1 }],
        fixed(1),
        options({ startup: c.startup, initialReplicas: 0 }),
      );
      assert.equal(steps[0]!.action, 'up');
      assert.equal(summary.maxWait, c.wait);
      assert.equal(summary.scaleUps, 1);
    });
  }
});

describe('--notice: requests made before they are due, sized for ahead under size_ahead=on', () => {
  // 18 requests due at 110 s; the work policy evaluates every 30 s while nothing moves.
  const burst: TracePoint[] = [
    { t: 0, arrivals: 0 },
    { t: 110, arrivals: 18 },
  ];
  const work = (sizeAhead: string) =>
    policyOf({
      policy: 'work',
      min_inst: '1',
      max_inst: '20',
      service_time: '30',
      target_wait: '60',
      startup_time: '45',
      size_ahead: sizeAhead,
    });
  const firstUp = (r: ReturnType<typeof simulate>) => r.steps.find((s) => s.action === 'up')!.t;

  const cases: { why: string; notice: number; sizeAhead: string; from: number; to: number }[] = [
    {
      why: 'size_ahead=off: replicas are added once the burst is due',
      notice: 60,
      sizeAhead: 'off',
      from: 110,
      to: 140,
    },
    {
      why: 'notice 60 s, startup_time 45 s: added within 45 s of the burst',
      notice: 60,
      sizeAhead: 'on',
      from: 65,
      to: 109,
    },
    { why: 'notice 30 s: added within 30 s of the burst', notice: 30, sizeAhead: 'on', from: 80, to: 109 },
    { why: 'no notice: nothing is known ahead', notice: 0, sizeAhead: 'on', from: 110, to: 140 },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const t = firstUp(simulate(burst, work(c.sizeAhead), options({ notice: c.notice })));
      assert.ok(t >= c.from && t <= c.to, `first scale-up at ${t}s, expected ${c.from}–${c.to}s`);
    });
  }

  test('sized ahead, the burst is spread over new replicas; without, MASS hands it all to the one online', () => {
    const off = simulate(burst, work('off'), options({ notice: 60 })).summary;
    const on = simulate(burst, work('on'), options({ notice: 60 })).summary;
    // Without: all 18 go to the one replica at the 120 s run, the last starting 17 × 30 s later.
    assert.equal(off.maxWait, 10 + 17 * 30);
    assert.ok(on.maxWait! <= 60, `max wait ${on.maxWait}s sized ahead`);
    assert.deepEqual([on.completed, on.stuck, on.aborted], [18, 0, 0]);
  });

  test('without --notice (the default) size_ahead changes nothing', () => {
    const trace = exampleTrace('step.csv');
    assert.equal(DEFAULT_OPTIONS.notice, 0);
    assert.deepEqual(simulate(trace, work('on'), options()), simulate(trace, work('off'), options()));
  });
});

describe('queue model: removed replicas', () => {
  // 3 replicas get one analysis of 100 s each at t=0; min=max=1. MASS calls them offline from
  // 10 s, and with a working grace of 5 s the daemon judges them dead from 15 s (no report came):
  // the decision at 30 s removes 2 of them although they are busy. (With the default grace the
  // working floor keeps all 3 until their work is done: see "the working floor" below.)
  const short = { initialReplicas: 3, serviceTime: 100, onlineWindow: 10, workingGrace: 5 };
  const firstDown = (steps: { action: string }[]) => steps.findIndex((s) => s.action === 'down');

  test('without delete_instance_on_exit their work stays on the dead instances: aborted and stuck', () => {
    const { summary, steps } = simulate([{ t: 0, arrivals: 3 }], fixed(1), options(short));
    assert.deepEqual(
      steps.slice(0, 2).map((s) => [s.t, s.action, s.floor, s.replicas, s.queue]),
      [
        [0, 'hold', 3, 3, 0],
        [30, 'down', 0, 1, 0],
      ],
      'held by the working floor at 0 s; judged dead, so removed, at 30 s; nothing returns to the queue',
    );
    assert.deepEqual([summary.aborted, summary.stuck, summary.completed, summary.unfinished], [2, 2, 1, 2]);
  });

  test('with delete_instance_on_exit their unfinished work returns as due requests and the analyses in progress are aborted', () => {
    // The survivor polls again at 100 s; the 120 s scheduler run gives it the 2 returned ones:
    // waits 0, 120, 220.
    const { summary, steps } = simulate([{ t: 0, arrivals: 3 }], fixed(1), options({ ...short, deleteOnExit: true }));
    const down = steps[firstDown(steps)]!;
    assert.deepEqual([down.t, down.replicas, down.queue], [30, 1, 2], 'the removed replicas’ analyses are due again');
    assert.equal(summary.aborted, 2);
    assert.deepEqual(
      [summary.completed, summary.stuck, summary.meanWait, summary.maxWait, summary.end],
      [3, 0, 113.333, 220, 320],
    );
  });

  const slots: { why: string; arrivals: number; kept: number }[] = [
    // Least loaded first, the older instance on a tie: slots 1, 2, 3 hold 2, 2, 1 of 5 and 2, 1, 1 of 4.
    { why: '5 requests on slots 1-3 (2, 2, 1): slot 1 stays, with 2', arrivals: 5, kept: 2 },
    { why: '4 requests on slots 1-3 (2, 1, 1): slot 1 stays, with 2', arrivals: 4, kept: 2 },
  ];
  for (const c of slots) {
    test(`Swarm removes the replicas in the highest slots: ${c.why}`, () => {
      // The 30 s decision removes 2 of 3; what stays scheduled (arrivals − queue) is the survivor's.
      for (const seed of [1, 2, 3]) {
        const { steps } = simulate(
          [{ t: 0, arrivals: c.arrivals }],
          fixed(1),
          options({ ...short, seed, deleteOnExit: true }),
        );
        assert.equal(c.arrivals - steps[firstDown(steps)]!.queue, c.kept, `seed ${seed}`);
      }
    });
  }

  test('the seeded PRNG (of the jitter) is fixed by the seed', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const c = mulberry32(2);
    const seqA = [a(), a(), a()];
    assert.deepEqual(seqA, [b(), b(), b()]);
    assert.notDeepEqual(seqA, [c(), c(), c()]);
    for (const v of seqA) assert.ok(v >= 0 && v < 1);
  });
});

describe('determinism', () => {
  test('a fixed trace and label set give the same summary and steps every run', () => {
    const trace = exampleTrace('burst.csv');
    const policies = [policyOf(), policyOf({ max_inst: '40', scale_down_delay: '600' })];
    const first = simulateSets(trace, policies, options());
    const second = simulateSets(trace, policies, options());
    assert.deepEqual(second, first);
    assert.ok(first[0]!.summary.scaleActions > 0, 'the run exercised scaling');
    assert.equal(first[0]!.summary.end, first[1]!.summary.end, 'label sets are compared over one span');
  });

  test('the drain ends once the work is done and the replicas are back at min_inst', () => {
    const { summary, steps } = simulate(
      [{ t: 0, arrivals: 40 }],
      policyOf({ min_inst: '1' }),
      options({ deleteOnExit: true }),
    );
    assert.equal(summary.unfinished, 0);
    assert.equal(steps[steps.length - 1]!.replicas, 1);
    assert.ok(summary.end > 0 && summary.end < 3600, `ended at ${summary.end}s`);
  });

  test('a run to a fixed end where a drained run stopped gives the same result (so sets compare over one span)', () => {
    const trace = exampleTrace('burst.csv');
    const policy = policyOf({ scale_down_delay: '300' });
    const drained = simulate(trace, policy, options());
    const fixedEnd = simulate(trace, policy, options({ until: drained.summary.end }));
    assert.deepEqual(fixedEnd, drained);
  });

  test('--until cuts the run and reports unfinished work', () => {
    const { summary } = simulate([{ t: 0, arrivals: 10 }], fixed(1), options({ until: 100 }));
    assert.equal(summary.end, 100);
    assert.equal(summary.completed, 3, 'finished at 30, 60 and 90 s; the one started at 90 s is still running');
    assert.equal(summary.unfinished, 7);
    assert.equal(summary.replicaSeconds, 100);
  });
});

describe('the simulator decides with the daemon’s decision code', () => {
  test('same readings → same decisions, fed to decide() directly and through the simulator’s decision step', () => {
    const policy = policyOf({ scale_down_delay: '60' });
    const readings = [0, 2, 9, 25, 25, 18, 4, 0, 0, 0, 0, 0, 0, 7, 1, 0, 0, 0, 0, 0];
    const direct: Decision[] = [];
    let state = initialState(policy, 3, 0);
    let current = 3;
    let now = 0;
    for (const r of readings) {
      const out = decide(state, r, current, policy, now);
      direct.push(out.decision);
      state = out.state;
      current = out.decision.desired;
      now = out.decision.nextAt;
    }
    const simulated: Decision[] = [];
    let control: Control = { state: null, replicas: 3 };
    now = 0;
    for (const r of readings) {
      const out = decisionStep(control, r, policy, now);
      simulated.push(out.decision);
      control = out.control;
      now = out.decision.nextAt;
    }
    assert.deepEqual(simulated, direct);
    assert.ok(
      direct.some((d) => d.action === 'up') && direct.some((d) => d.action === 'down'),
      'the sequence exercised both directions',
    );
  });

  test('every step of a whole simulation is what decide() and the working floor give for the demand and floor the step read, at the time decide() scheduled', () => {
    const trace = exampleTrace('step.csv');
    const policy = policyOf({ requests_per_instance: '2', min_inst: '0' });
    const { steps } = simulate(trace, policy, options());
    let state = initialState(policy, policy.minInst, 0);
    let current = policy.minInst;
    let expectedAt = 0;
    let heldByFloor = 0;
    for (const step of steps) {
      assert.equal(step.t * 1000, expectedAt, `evaluated at the time decide() scheduled`);
      const out = decide(state, step.demand, current, policy, step.t * 1000);
      const next = out.state;
      const decision = floorDecision(out.decision, step.floor);
      if (decision !== out.decision) heldByFloor += 1;
      assert.deepEqual(
        { smoothed: step.smoothed, target: step.target, replicas: step.replicas, action: step.action },
        { smoothed: decision.smoothed, target: decision.bounded, replicas: decision.desired, action: decision.action },
        `step at ${step.t}s`,
      );
      state = next;
      current = decision.desired;
      expectedAt = decision.nextAt;
    }
    assert.ok(steps.length > 100);
    assert.ok(heldByFloor > 0, 'the working floor held some scale-downs');
  });
});

describe('percentile (nearest rank)', () => {
  const cases: { values: number[]; p: number; want: number | undefined }[] = [
    { values: [], p: 0.95, want: undefined },
    { values: [5], p: 0.95, want: 5 },
    { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p: 0.95, want: 10 },
    { values: Array.from({ length: 100 }, (_, i) => i + 1), p: 0.95, want: 95 },
  ];
  for (const c of cases)
    test(`p${c.p * 100} of ${c.values.length} values`, () => assert.equal(percentile(c.values, c.p), c.want));
});

describe('queue model: how MASS really runs', () => {
  test('a replica busy for longer than the online window is offline for MASS but working: its work stays demand', () => {
    // 25 analyses of 30 s on one replica: a batch of 750 s, fetched at t=0; offline from 600 s,
    // but a report every 30 s: the daemon judges it working, and reads its work as demand.
    const { steps, summary } = simulate([{ t: 0, arrivals: 25 }], fixed(1), options());
    const offline = steps.filter((s) => s.t >= 600 && s.t < 750);
    assert.ok(offline.length > 0);
    for (const s of offline) {
      assert.equal(s.demand, s.queue + Math.ceil((750 - s.t) / 30), `at ${s.t}s: its unfinished work is demand`);
      assert.equal(s.floor, 1, `at ${s.t}s: one live instance holds work`);
    }
    assert.equal(summary.completed, 25);
  });

  const timing: { why: string; over: Partial<SimOptions>; wait: number }[] = [
    { why: 'scheduler runs 30 s apart from t=0: a request at 1 s starts at 30 s', over: {}, wait: 29 },
    { why: 'drift 5 s: runs at 0, 35, 70 s', over: { schedulerDrift: 5 }, wait: 34 },
    { why: 'phase 10 s: runs at 10, 40 s', over: { schedulerPhase: 10 }, wait: 9 },
    {
      why: 'idle workers poll every 10 s (0, 10, 20, 30 before the 30 s run): found at 40 s',
      over: { pollSleep: 10 },
      wait: 39,
    },
  ];
  for (const c of timing) {
    test(c.why, () => {
      const { summary } = simulate([{ t: 1, arrivals: 1 }], fixed(1), options(c.over));
      assert.equal(summary.maxWait, c.wait);
    });
  }

  test('service-time jitter varies each analysis within ± jitter, fixed by the seed', () => {
    const trace = [{ t: 0, arrivals: 10 }];
    const a = simulate(trace, fixed(1), options({ jitter: 0.5, seed: 3 }));
    const b = simulate(trace, fixed(1), options({ jitter: 0.5, seed: 3 }));
    const c = simulate(trace, fixed(1), options({ jitter: 0.5, seed: 4 }));
    assert.deepEqual(a, b);
    assert.notEqual(a.summary.end, c.summary.end);
    assert.ok(a.summary.end >= 150 && a.summary.end <= 450 && a.summary.end !== 300, `ended at ${a.summary.end}`);
  });
});

describe('queue model: a removed replica’s instance still looks online', () => {
  test('until its last poll is older than the online window, MASS may give it work, which is stuck', () => {
    // 2 idle replicas, min=max=1: one goes at t=0. Two requests at 1 s, run at 30 s: one lands on
    // the dead instance (both hold 0; the older instance wins a tie, or the dead one after the first).
    const { summary } = simulate([{ t: 1, arrivals: 2 }], fixed(1), options({ initialReplicas: 2, pollSleep: 10 }));
    assert.deepEqual([summary.completed, summary.stuck, summary.aborted], [1, 1, 0]);
  });

  test('with delete_instance_on_exit the instance is gone and gets nothing', () => {
    const { summary } = simulate(
      [{ t: 1, arrivals: 2 }],
      fixed(1),
      options({ initialReplicas: 2, pollSleep: 10, deleteOnExit: true }),
    );
    assert.deepEqual([summary.completed, summary.stuck], [2, 0]);
  });
});

describe('--runs: seeds × scheduler phases', () => {
  test('N runs spread the scheduler phase over one interval and report mean and spread', () => {
    const r = simulateRuns([{ t: 1, arrivals: 1 }], fixed(1), options(), 3);
    assert.deepEqual(
      r.runs.map((x) => [x.seed, x.schedulerPhase, x.summary.maxWait]),
      [
        [1, 0, 29],
        [2, 10, 9],
        [3, 20, 19],
      ],
    );
    assert.deepEqual(r.figures.maxWait, { mean: 19, sd: 10, min: 9, max: 29 });
  });
});

describe('the daemon’s reading of the simulated system (readSimulated → readSystem)', () => {
  const NOW = 2_000_000;
  const S = 1000;
  const inst = (uuid: string, seenSecondsAgo: number | null, scheduled: number): InstanceReading => ({
    uuid,
    lastSeen: seenSecondsAgo === null ? null : NOW - seenSecondsAgo * S,
    scheduled,
  });
  const cases: {
    why: string;
    due: number;
    instances: InstanceReading[];
    running: number;
    want: { demand: number; floor: number; held: number[]; stuck: number; verdicts: string[] };
  }[] = [
    {
      why: 'online replicas: their work is demand; the one holding work sets the floor',
      due: 4,
      instances: [inst('a', 5, 3), inst('b', 5, 0)],
      running: 2,
      want: { demand: 7, floor: 1, held: [3], stuck: 0, verdicts: ['online', 'online'] },
    },
    {
      why: 'busy but offline (its batch began 700 s ago), a running task for it: working, counted',
      due: 2,
      instances: [inst('a', 700, 20), inst('b', 5, 1)],
      running: 2,
      want: { demand: 23, floor: 2, held: [20, 1], stuck: 0, verdicts: ['working', 'online'] },
    },
    {
      why: 'a removed replica’s instance and a busy one, one task: the fresher evidence is working, the other dead (stuck)',
      due: 0,
      instances: [inst('ghost', 900, 5), inst('busy', 650, 20)],
      running: 1,
      want: { demand: 20, floor: 1, held: [20], stuck: 5, verdicts: ['dead', 'working'] },
    },
    {
      why: 'a removed replica last seen 60 s ago is online for MASS: its work is read as demand (no task needed)',
      due: 0,
      instances: [inst('ghost', 60, 2)],
      running: 0,
      want: { demand: 2, floor: 1, held: [2], stuck: 0, verdicts: ['online'] },
    },
    {
      why: 'offline for longer than the window plus the grace, no report: dead, not demand, no floor',
      due: 1,
      instances: [inst('a', 1300, 8)],
      running: 1,
      want: { demand: 1, floor: 0, held: [], stuck: 8, verdicts: ['dead'] },
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const r = readSimulated(
        { due: c.due, instances: c.instances, runningTasks: c.running },
        new Map(),
        options(),
        NOW,
      );
      assert.deepEqual(
        {
          demand: r.demand,
          floor: r.floor,
          held: r.held,
          stuck: r.liveness.stuck,
          verdicts: r.liveness.instances.map((i) => i.verdict),
        },
        c.want,
      );
      assert.equal(r.due, c.due);
    });
  }

  test('the memory is kept between readings: a falling count keeps an old batch working', () => {
    const first = readSimulated(
      { due: 0, instances: [inst('a', 1100, 9)], runningTasks: 1 },
      new Map(),
      options(),
      NOW - 30 * S,
    );
    assert.equal(first.liveness.instances[0]!.verdict, 'working', 'offline 470 s: within the grace');
    const later = { due: 0, instances: [inst('a', 1300, 8)], runningTasks: 1 };
    assert.equal(readSimulated(later, first.liveness.next, options(), NOW).liveness.instances[0]!.verdict, 'working');
    assert.equal(readSimulated(later, new Map(), options(), NOW).liveness.instances[0]!.verdict, 'dead');
  });

  test('the online window and working grace default to the daemon’s MASS_ONLINE_WINDOW and WORKING_GRACE', () => {
    assert.equal(DEFAULT_OPTIONS.onlineWindow * 1000, MASS_ONLINE_WINDOW_MS);
    assert.equal(DEFAULT_OPTIONS.onlineWindow, Number(OPTIONS.MASS_ONLINE_WINDOW.default));
    assert.equal(DEFAULT_OPTIONS.workingGrace, Number(OPTIONS.WORKING_GRACE.default));
  });
});

describe('the working floor: busy replicas are not removed', () => {
  const cases: { why: string; over: Partial<SimOptions>; lost: number; completed: number }[] = [
    { why: 'default grace: all 3 held until their 100 s of work is done', over: {}, lost: 0, completed: 3 },
    {
      why: 'grace 5 s, window 10 s: judged dead at 15 s, 2 removed with their work',
      over: { onlineWindow: 10, workingGrace: 5 },
      lost: 2,
      completed: 1,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const { steps, summary } = simulate(
        [{ t: 0, arrivals: 3 }],
        fixed(1),
        options({ initialReplicas: 3, serviceTime: 100, ...c.over }),
      );
      assert.deepEqual([summary.aborted, summary.stuck, summary.completed], [c.lost, c.lost, c.completed]);
      for (const s of steps)
        assert.ok(s.replicas >= Math.min(3, s.floor), `at ${s.t}s: ${s.replicas} ≥ floor ${s.floor}`);
    });
  }

  test('burst.csv with max_inst=8 (replicas hold more than the online window): no scale-down below the working count, nothing lost', () => {
    const { steps, summary } = simulate(exampleTrace('burst.csv'), policyOf({ max_inst: '8' }), options());
    // The burst starts at 1:00; its batches are fetched by 1:02 and last well over 10 minutes, so
    // from 1:12 MASS calls the replicas offline while they work: their work must stay demand.
    const busy = steps.filter((s) => s.t >= 4320 && s.t <= 4800);
    assert.ok(busy.length > 0);
    for (const s of busy) {
      assert.ok(s.demand > s.queue + 100, `at ${s.t}s: demand ${s.demand}, due ${s.queue}`);
      assert.equal(s.floor, 8, `at ${s.t}s: all 8 replicas are working`);
    }
    for (const s of steps)
      if (s.action === 'down')
        assert.ok(s.replicas >= s.floor, `at ${s.t}s: down to ${s.replicas}, ${s.floor} working`);
    assert.deepEqual([summary.aborted, summary.stuck, summary.unfinished], [0, 0, 0]);
  });
});
