import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initialState, type Decision, type ServiceState } from '../../src/core/decision';
import { evaluate } from '../../src/core/evaluation';
import type { Policy } from '../../src/core/policy';
import type { Reading } from '../../src/core/reading';
import {
  decideWork,
  dueSoonHorizons,
  graceWarning,
  initialWorkState,
  learn,
  serviceTimeOf,
  sizeForWait,
  SERVICE_TIME_PRIOR_S,
  type SizingInput,
  type WorkState,
} from '../../src/core/work';
import { policy } from '../fakes/policy';
import { reading, seen } from '../fakes/work-reading';

const idle = (n: number) => seen(Object.fromEntries(Array.from({ length: n }, (_, i) => [`i${i}`, 0])));

const work = (over: Partial<Policy> = {}) =>
  policy({
    policy: 'work',
    minInst: 1,
    maxInst: 20,
    serviceTime: 30,
    startupTime: 45,
    targetWait: 120,
    scaleDownDelay: 120,
    ...over,
  });

type Row = { at: number; r: Reading };
function run(p: Policy, start: number, rows: Row[]) {
  let state: ServiceState = initialState(p, start, 0);
  let current = start;
  return rows.map((row) => {
    const { state: next, decision } = decideWork(state, row.r, current, p, row.at * 1000);
    state = next;
    current = decision.desired;
    return { decision, state: next };
  });
}

/** The decision of one evaluation at 10 s. */
function once(p: Policy, current: number, r: Reading): Decision {
  return run(p, current, [{ at: 10, r }])[0]!.decision;
}

describe('graceWarning: the exact warning, naming the rule that removes workers with SIGTERM', () => {
  const p = work();
  const decision = decideWork(initialState(p, 2, 0), reading(0, []), 2, p, 0).decision;
  const { work: _work, ...classicDecision } = decision;
  const tail =
    'a removed worker is killed before it can finish its analysis (raise stop_grace_period, or use com.mass.policy=work with scale_in=idle)';
  const cases: { why: string; p: Policy; d: Decision; graceMs: number; want: string | null }[] = [
    {
      why: 'classic with a service_time label',
      p: policy({ policy: 'classic', serviceTime: 30 }),
      d: classicDecision as Decision,
      graceMs: 10_000,
      want: `stop_grace_period 10s is shorter than the service time 30s under com.mass.policy=classic: ${tail}`,
    },
    {
      why: 'work with scale_in=window',
      p: work({ scaleIn: 'window' }),
      d: decision,
      graceMs: 12_500,
      want: `stop_grace_period 12.5s is shorter than the service time 30s under com.mass.scale_in=window: ${tail}`,
    },
    { why: 'work with scale_in=idle: none, whatever the grace', p: work(), d: decision, graceMs: 0, want: null },
    {
      why: 'window with a grace longer than the service time: none',
      p: work({ scaleIn: 'window' }),
      d: decision,
      graceMs: 31_000,
      want: null,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      assert.equal(graceWarning(c.p, c.d, c.graceMs), c.want);
    });
  }
});

describe('serviceTimeOf: from MIN_SAMPLES (5) samples on, the median alone', () => {
  const cases: { why: string; samples: number[]; want: number }[] = [
    { why: 'four samples: weighed with the 60 s prior', samples: [10, 20, 30, 40], want: (100 + 120) / 6 },
    { why: 'five samples: their median, the prior no longer weighs', samples: [90, 10, 40, 20, 30], want: 30 },
    { why: 'seven samples: the middle one', samples: [7, 1, 6, 2, 5, 3, 4], want: 4 },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const got = serviceTimeOf(work({ serviceTime: 'auto' }), { ...initialWorkState(), samples: c.samples });
      assert.deepEqual(got, { seconds: c.want, source: 'learned' });
    });
  }
});

describe('learn: the edges of the service-time clock and the arrival rate', () => {
  // The last evaluation at `lastAt` ms, this one 30 s later; S 60 s.
  const state = (instances: Record<string, [number, number | null]>, over: Partial<WorkState> = {}): WorkState => ({
    ...initialWorkState(),
    instances: new Map(Object.entries(instances).map(([k, [scheduled, since]]) => [k, { scheduled, since }])),
    lastAt: 0,
    ...over,
  });
  const alpha = 1 - Math.exp(-30 / 120);
  const cases: {
    why: string;
    before: WorkState;
    now: Reading;
    samples: number[];
    since: Record<string, number | null>;
    rate: number;
  }[] = [
    {
      why: 'a fall while new requests come in: the finished ones and the new ones are both arrivals',
      before: state({ a: [3, -15_000] }),
      now: reading(5, seen({ a: 2 })),
      samples: [30],
      since: { a: 15_000 },
      rate: (alpha * 5) / 30,
    },
    {
      why: 'a fall of an instance whose clock never started gives no sample',
      before: state({ a: [3, null] }),
      now: reading(0, seen({ a: 1 })),
      samples: [],
      since: { a: 15_000 },
      rate: 0,
    },
    {
      why: 'an instance that stays idle keeps no clock',
      before: state({ a: [0, null] }),
      now: reading(0, seen({ a: 0 })),
      samples: [],
      since: { a: null },
      rate: 0,
    },
    {
      why: 'a count that did not change: nothing taken as finished, the clock goes on',
      before: state({ a: [2, -10_000] }),
      now: reading(0, seen({ a: 2 })),
      samples: [],
      since: { a: -10_000 },
      rate: 0,
    },
    {
      why: 'the rate moves from its last value towards the arrivals over the time between (not since 0)',
      before: state({}, { lastAt: 60_000, arrivalRate: 0.1 }),
      now: reading(6, []),
      samples: [],
      since: {},
      rate: 0.1 + alpha * (6 / 30 - 0.1),
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const now = (c.before.lastAt ?? 0) + 30_000;
      const after = learn(c.before, c.now, SERVICE_TIME_PRIOR_S, now);
      assert.deepEqual(after.samples, c.samples);
      assert.deepEqual(Object.fromEntries([...after.instances].map(([k, v]) => [k, v.since])), c.since);
      assert.ok(Math.abs(after.arrivalRate - c.rate) < 1e-12, `${after.arrivalRate} != ${c.rate}`);
    });
  }

  test('two readings at the same instant: the rate is kept as it was (no division by no time)', () => {
    const before = state({ a: [1, 0] }, { lastAt: 30_000, arrivalRate: 0.1 });
    const after = learn(before, reading(5, seen({ a: 3 })), SERVICE_TIME_PRIOR_S, 30_000);
    assert.equal(after.arrivalRate, 0.1);
    assert.equal(after.due, 5);
    assert.equal(after.lastAt, 30_000);
  });
});

describe('sizeForWait: held capacity, the slack, and the size_ahead boundaries', () => {
  // W 120 s, S 30 s, U 45 s: an idle replica starts 4 analyses within W, a new one 2.5.
  const base: SizingInput = {
    due: 0,
    held: [],
    idleReady: 0,
    arrivalRate: 0,
    dueSoon: 0,
    serviceTime: 30,
    startupTime: 45,
    targetWait: 120,
  };
  const cases: {
    why: string;
    over: Partial<SizingInput>;
    need: number;
    ahead: number;
    heldCapacity: number;
    replicas: number;
  }[] = [
    {
      why: 'one holding 3 analyses can start (120 − 90)/30 = 1 more: the other two due need a replica',
      over: { due: 3, held: [3] },
      need: 3,
      ahead: 0,
      heldCapacity: 1,
      replicas: 2,
    },
    {
      why: 'a need within the slack (1e-6) takes no idle replica',
      over: { arrivalRate: 1e-6, targetWait: 1, idleReady: 2 },
      need: 0.000001,
      ahead: 0,
      heldCapacity: 0,
      replicas: 0,
    },
    {
      why: 'startup_time 0: no arrival is expected within it, every request due soon is added',
      over: { arrivalRate: 0.1, dueSoon: 5, startupTime: 0 },
      need: 17,
      ahead: 5,
      heldCapacity: 0,
      replicas: 5,
    },
    {
      why: 'U longer than W, due soon exactly λ·W: nothing added',
      over: { arrivalRate: 0.05, dueSoon: 6, startupTime: 200 },
      need: 6,
      ahead: 0,
      heldCapacity: 0,
      replicas: 6,
    },
    {
      why: 'U longer than W, two more than λ·W: two added (compared with λ·W = 6, not λ·U = 10)',
      over: { arrivalRate: 0.05, dueSoon: 8, startupTime: 200 },
      need: 8,
      ahead: 2,
      heldCapacity: 0,
      replicas: 8,
    },
    {
      why: 'U shorter than W, due soon exactly λ·U: nothing added',
      over: { arrivalRate: 0.2, dueSoon: 9 },
      need: 24,
      ahead: 0,
      heldCapacity: 0,
      replicas: 10,
    },
    {
      why: 'U shorter than W, one more than λ·U: one added',
      over: { arrivalRate: 0.2, dueSoon: 10 },
      need: 25,
      ahead: 1,
      heldCapacity: 0,
      replicas: 10,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const s = sizeForWait({ ...base, ...c.over });
      const r = (x: number) => Math.round(x * 1e9) / 1e9;
      assert.deepEqual(
        [r(s.need), r(s.ahead), r(s.heldCapacity), s.replicas],
        [c.need, c.ahead, c.heldCapacity, c.replicas],
      );
    });
  }
});

describe('decideWork: which instances count, and what limits the count', () => {
  const cases: {
    why: string;
    over?: Partial<Policy>;
    current: number;
    r: Reading;
    want: { action: string; reason: string; limitedBy: string; recommendation: number; desired: number };
  }[] = [
    {
      why: 'holders beyond the replicas: the least loaded are counted (1 and 3 of 5, 1, 3), and they carry the 4 due',
      current: 2,
      r: reading(4, seen({ a: 5, b: 1, c: 3 })),
      want: { action: 'none', reason: 'steady', limitedBy: 'work-held', recommendation: 2, desired: 2 },
    },
    {
      why: 'only live idle instances are ready: dead ones and busy ones are not',
      current: 4,
      r: reading(10, [...seen({ a: 0, b: 2 }), ...seen({ x: 0, y: 0 }, 'dead')]),
      want: { action: 'none', reason: 'steady', limitedBy: 'target-wait', recommendation: 4, desired: 4 },
    },
    {
      why: 'idle instances beyond the replicas not holding work are not ready replicas',
      current: 3,
      r: reading(14, seen({ a: 0, b: 0, c: 0, d: 2 })),
      want: { action: 'up', reason: 'scale-up', limitedBy: 'target-wait', recommendation: 5, desired: 5 },
    },
    {
      why: 'holders that carry exactly the due work: bound by the work held',
      current: 2,
      r: reading(6, seen({ a: 1, b: 1 })),
      want: { action: 'none', reason: 'steady', limitedBy: 'work-held', recommendation: 2, desired: 2 },
    },
    {
      why: 'no work and no holder, min_inst 0: bound by the target wait, not by held work',
      over: { minInst: 0 },
      current: 0,
      r: reading(0, []),
      want: { action: 'none', reason: 'steady', limitedBy: 'target-wait', recommendation: 0, desired: 0 },
    },
    {
      why: 'at max_inst and idle: the idle scale-in, not a cap',
      over: { maxInst: 6 },
      current: 6,
      r: reading(0, idle(6)),
      want: { action: 'down', reason: 'scale-down-idle', limitedBy: 'min_inst', recommendation: 0, desired: 1 },
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const d = once(work(c.over), c.current, c.r);
      const { action, reason, limitedBy, recommendation, desired } = d;
      assert.deepEqual({ action, reason, limitedBy, recommendation, desired }, c.want);
    });
  }

  test('a need above the held capacity by no more than the slack is still carried by the holders', () => {
    // S 1 s, W 2 s: the holder of one analysis starts one more; 1 due + λ·W = 1e-6 arriving.
    const p = work({ serviceTime: 1, targetWait: 2, startupTime: 0 });
    const state: ServiceState = { ...initialState(p, 1, 0), work: { ...initialWorkState(), arrivalRate: 5e-7 } };
    const { decision: d } = decideWork(state, reading(1, seen({ a: 1 })), 1, p, 10_000);
    assert.deepEqual([d.reason, d.limitedBy, d.recommendation], ['steady', 'work-held', 1]);
  });

  test('scale_in=window: held while a higher target is in the window, then down to it, limited by stabilization', () => {
    const ds = run(work({ scaleIn: 'window' }), 6, [
      { at: 10, r: reading(10, idle(6)) },
      { at: 125, r: reading(0, idle(6)) },
    ]).map((x) => x.decision);
    assert.deepEqual(
      ds.map((d) => [d.action, d.reason, d.limitedBy, d.bounded, d.desired]),
      [
        ['hold', 'hold-stabilization', 'stabilization', 3, 6],
        ['down', 'scale-down', 'stabilization', 1, 3],
      ],
    );
  });

  test('longest_hold: the scale-in by one is a down limited by the hold, and reports no held time', () => {
    const held = reading(0, [...seen({ busy: 2 }), ...idle(5)]);
    const ds = run(work({ longestHold: 300 }), 6, [
      { at: 0, r: held },
      { at: 120, r: held },
      { at: 300, r: held },
    ]).map((x) => x.decision);
    assert.deepEqual(
      ds.map((d) => [d.action, d.reason, d.limitedBy, d.desired, d.work?.heldForS]),
      [
        ['hold', 'hold-work-held', 'scale-in-hold', 6, 0],
        ['hold', 'hold-work-held', 'scale-in-hold', 6, 120],
        ['down', 'scale-down-longest-hold', 'scale-in-hold', 5, undefined],
      ],
    );
    assert.equal('heldForS' in ds[2]!.work!, false);
  });

  test('an idle scale-in reports no held time', () => {
    const d = once(work(), 6, reading(0, idle(6)));
    assert.equal(d.reason, 'scale-down-idle');
    assert.equal('heldForS' in d.work!, false);
  });

  test('next evaluation: soon while a scale-in is held, even with the demand unchanged; soon when the demand moved', () => {
    const held = reading(0, [...seen({ busy: 2 }), ...idle(5)]);
    const holds = run(work(), 6, [
      { at: 10, r: held },
      { at: 20, r: held },
    ]).map((x) => x.decision);
    assert.deepEqual(
      holds.map((d) => [d.reason, d.nextAt]),
      [
        ['hold-work-held', 20_000],
        ['hold-work-held', 30_000],
      ],
    );
    const up = once(work(), 3, reading(20, idle(3)));
    assert.deepEqual([up.reason, up.nextAt], ['scale-up', 20_000]);
  });

  test('the arrival rate is reported per minute', () => {
    const ds = run(work(), 1, [
      { at: 0, r: reading(0, idle(1)) },
      { at: 60, r: reading(6, idle(1)) },
    ]).map((x) => x.decision);
    const alpha = 1 - Math.exp(-60 / 120);
    assert.ok(Math.abs(ds[1]!.work!.arrivalsPerMin - alpha * 6) < 1e-9, `${ds[1]!.work!.arrivalsPerMin}`);
  });
});

describe('size_ahead: what the state remembers, and where it does not apply', () => {
  test('the state remembers sizing ahead while requests are due, and forgets it once none is', () => {
    const steps = run(work({ sizeAhead: 'on' }), 17, [
      { at: 10, r: reading(0, idle(17), 18) },
      { at: 40, r: reading(18, idle(17), 0) },
      { at: 70, r: reading(0, idle(17), 0) },
    ]);
    assert.deepEqual(
      steps.map((s) => [s.state.work!.sizedAhead, s.decision.reason, s.decision.desired]),
      [
        [true, 'hold-work-held', 17],
        [true, 'hold-work-held', 17],
        [false, 'scale-down-idle', 4],
      ],
    );
  });

  test('size_ahead=off: never remembered as sized ahead', () => {
    const [s] = run(work({ sizeAhead: 'off' }), 17, [{ at: 10, r: reading(0, idle(17), 18) }]);
    assert.deepEqual(
      [s!.state.work!.sizedAhead, s!.decision.reason, s!.decision.desired],
      [false, 'scale-down-idle', 1],
    );
  });

  test('due soon no more than the arrivals expected: not sized ahead, the scale-in goes on', () => {
    // λ learnt 0 at the first reading: then even one due soon is sized ahead; with startup_time 0 none is.
    const [one] = run(work({ sizeAhead: 'on' }), 6, [{ at: 10, r: reading(0, idle(6), 1) }]);
    assert.deepEqual([one!.state.work!.sizedAhead, one!.decision.reason], [true, 'hold-work-held']);
    const [none] = run(work({ sizeAhead: 'on' }), 6, [{ at: 10, r: reading(0, idle(6), 0) }]);
    assert.deepEqual([none!.state.work!.sizedAhead, none!.decision.reason], [false, 'scale-down-idle']);
  });

  test('a scale-in held by requests sized ahead still ends after longest_hold', () => {
    const ds = run(work({ sizeAhead: 'on', longestHold: 60 }), 10, [
      { at: 0, r: reading(0, idle(10), 12) },
      { at: 60, r: reading(12, idle(10), 0) },
    ]).map((x) => x.decision);
    assert.deepEqual(
      ds.map((d) => [d.reason, d.desired]),
      [
        ['hold-work-held', 10],
        ['scale-down-longest-hold', 9],
      ],
    );
  });

  test('classic with size_ahead=on: the requests due soon change nothing', () => {
    const p = policy({ policy: 'classic', sizeAhead: 'on', minInst: 1, scaleDownDelay: 0 });
    const a = evaluate(null, { ok: true, reading: reading(2, idle(2), 30) }, 2, p, 1000).decision;
    const b = evaluate(null, { ok: true, reading: reading(2, idle(2)) }, 2, p, 1000).decision;
    assert.deepEqual(a, b);
    assert.equal(a.work, undefined);
    assert.deepEqual([...dueSoonHorizons([p])], []);
  });

  test('dueSoonHorizons: startup_time 0 and size_ahead=off add no horizon, next to a service that sizes ahead', () => {
    const on = (startupTime: number) => work({ sizeAhead: 'on', startupTime });
    assert.deepEqual([...dueSoonHorizons([on(0), on(30)])], [['ssdeep', 30_000]]);
    assert.deepEqual([...dueSoonHorizons([on(30), on(0)])], [['ssdeep', 30_000]]);
    assert.deepEqual([...dueSoonHorizons([on(0)])], []);
    assert.deepEqual([...dueSoonHorizons([on(90), on(30)])], [['ssdeep', 90_000]]);
    assert.deepEqual([...dueSoonHorizons([work({ sizeAhead: 'off', startupTime: 30 }), on(20)])], [['ssdeep', 20_000]]);
  });
});
