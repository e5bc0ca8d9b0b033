import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decide,
  demandMoved,
  describeDecision,
  initialState,
  nextEvaluation,
  targetReplicas,
  type Decision,
  type ServiceState,
} from '../../src/core/decision';
import { evaluate } from '../../src/core/evaluation';
import { backoffDelay } from '../../src/core/backoff';
import { policy } from '../fakes/policy';

describe('targetReplicas: ceil(smoothed / requests_per_instance − 0.1), clamped', () => {
  const cases: { why: string; smoothed: number; raw: number; over?: Parameters<typeof policy>[0]; want: number }[] = [
    { why: 'exact demand', smoothed: 7, raw: 7, want: 7 },
    { why: 'a little over a whole number rounds down (the −0.1 slack)', smoothed: 7.05, raw: 7, want: 7 },
    { why: 'more than 0.1 over rounds up', smoothed: 7.2, raw: 7, want: 8 },
    { why: 'just past the slack rounds up', smoothed: 7.15, raw: 7, want: 8 },
    { why: 'below min_inst is raised to min_inst', smoothed: 1, raw: 1, want: 3 },
    { why: 'above max_inst is capped at max_inst', smoothed: 40, raw: 40, want: 15 },
    {
      why: 'requests_per_instance divides demand',
      smoothed: 10,
      raw: 10,
      over: { requestsPerInstance: 4, minInst: 0 },
      want: 3,
    },
    { why: 'min_inst 0 and no demand: zero replicas', smoothed: 0.05, raw: 0, over: { minInst: 0 }, want: 0 },
    {
      why: 'min_inst 0 and due demand: at least one replica even while smoothed is tiny',
      smoothed: 0.05,
      raw: 2,
      over: { minInst: 0 },
      want: 1,
    },
    { why: 'min_inst 0, smoothed large: formula wins', smoothed: 5, raw: 2, over: { minInst: 0 }, want: 5 },
  ];
  for (const c of cases) {
    test(c.why, () => assert.equal(targetReplicas(c.smoothed, c.raw, policy(c.over)), c.want));
  }
});

describe('initialState', () => {
  const cases: { why: string; start: number; replicas: number; rpi: number; want: number }[] = [
    { why: 'start_demand when replicas carry less', start: 3, replicas: 1, rpi: 1, want: 3 },
    { why: 'current replicas × requests_per_instance when larger', start: 3, replicas: 8, rpi: 1, want: 8 },
    { why: 'requests_per_instance scales the replica term', start: 3, replicas: 4, rpi: 2.5, want: 10 },
  ];
  for (const c of cases) {
    test(c.why, () =>
      assert.equal(
        initialState(policy({ startDemand: c.start, requestsPerInstance: c.rpi }), c.replicas, 0).smoothed,
        c.want,
      ),
    );
  }

  test('a restart does not shrink a service whose replicas match its demand', () => {
    const p = policy({ minInst: 0, technique: 'moving average', window: 5 });
    const state = initialState(p, 9, 0);
    const { decision } = decide(state, 9, 9, p, 1000);
    assert.equal(decision.desired, 9);
    assert.equal(decision.action, 'none');
  });
});

describe('decide: up at once, down only after the stabilization window', () => {
  const p = policy({ minInst: 1, maxInst: 20, technique: 'moving average', window: 1, scaleDownDelay: 120 });

  function steps(readings: { at: number; demand: number }[], startReplicas: number) {
    let state: ServiceState = initialState(p, startReplicas, 0);
    let replicas = startReplicas;
    const out: { at: number; action: string; replicas: number; reason: string }[] = [];
    for (const r of readings) {
      const result = decide(state, r.demand, replicas, p, r.at * 1000);
      state = result.state;
      replicas = result.decision.desired;
      out.push({ at: r.at, action: result.decision.action, replicas, reason: describeDecision(result.decision) });
    }
    return out;
  }

  test('demand above the replicas scales up in the same evaluation', () => {
    const [first] = steps([{ at: 10, demand: 7 }], 4);
    assert.equal(first?.action, 'up');
    assert.equal(first?.replicas, 7);
    assert.equal(first?.reason, 'scale up: demand 7.0 > 4 replicas');
  });

  test('a dip shorter than scale_down_delay removes no replica', () => {
    const out = steps(
      [
        { at: 10, demand: 8 },
        { at: 40, demand: 2 },
        { at: 70, demand: 2 },
        { at: 100, demand: 8 },
      ],
      8,
    );
    assert.deepEqual(
      out.map((o) => o.replicas),
      [8, 8, 8, 8],
    );
    assert.deepEqual(
      out.map((o) => o.action),
      ['none', 'hold', 'hold', 'none'],
    );
  });

  test('a lower target that holds for the whole window scales down to the highest target in it', () => {
    const out = steps(
      [
        { at: 10, demand: 8 },
        { at: 40, demand: 5 },
        { at: 100, demand: 2 },
        { at: 131, demand: 2 }, // t=10 has left the window: highest left is 5 (t=40)
        { at: 161, demand: 2 }, // t=40 has left: 2
      ],
      8,
    );
    assert.deepEqual(
      out.map((o) => o.replicas),
      [8, 8, 8, 5, 2],
    );
    assert.equal(out[3]?.action, 'down');
    assert.match(out[3]!.reason, /^scale down: demand 2\.0 held below 8 replicas for 120s$/);
  });

  test('a target exactly scale_down_delay old has left the window', () => {
    const q = policy({ minInst: 1, technique: 'moving average', window: 1, scaleDownDelay: 120 });
    const high = decide(initialState(q, 8, 0), 8, 8, q, 0);
    const justInside = decide(high.state, 2, 8, q, 119_999);
    assert.equal(justInside.decision.desired, 8);
    const atEdge = decide(high.state, 2, 8, q, 120_000);
    assert.equal(atEdge.decision.desired, 2);
  });

  test('scale_down_delay 0 scales down at once', () => {
    const q = policy({ minInst: 0, technique: 'moving average', window: 1, scaleDownDelay: 0 });
    const state = initialState(q, 6, 0);
    const { decision } = decide(state, 2, 6, q, 1000);
    assert.equal(decision.desired, 2);
  });

  test('a lowered max_inst applies at once, without waiting for the window', () => {
    const q = policy({ maxInst: 5, technique: 'moving average', window: 1 });
    const state = initialState(q, 10, 0);
    const { decision } = decide(state, 10, 10, q, 1000);
    assert.equal(decision.action, 'down');
    assert.equal(decision.desired, 5);
    assert.match(describeDecision(decision), /max_inst 5/);
    assert.equal(decision.reason, 'scale-down-to-max-inst');
    assert.equal(decision.limitedBy, 'max_inst');
  });

  test('a raised min_inst scales up at once', () => {
    const q = policy({ minInst: 6, technique: 'moving average', window: 1 });
    const { decision } = decide(initialState(q, 2, 0), 0, 2, q, 1000);
    assert.equal(decision.desired, 6);
    assert.match(describeDecision(decision), /min_inst 6/);
    assert.equal(decision.reason, 'scale-up-to-min-inst');
    assert.equal(decision.limitedBy, 'min_inst');
  });

  test('remembered targets stay bounded whatever the clock does', () => {
    const q = policy({ scaleDownDelay: 86_400 });
    let state = initialState(q, 3, 0);
    for (let i = 1; i <= 5000; i++) state = decide(state, 3, 3, q, i).state;
    assert.ok(state.recentTargets.length <= 1000);
  });
});

describe('decision as data: recommendation, desired count, the rule that limited it, a reason code', () => {
  // one evaluation from `replicas` replicas, with a window of 1 reading so smoothed = the reading
  const cases: {
    why: string;
    over?: Parameters<typeof policy>[0];
    replicas: number;
    /** an earlier reading inside the window, 10 s before */
    before?: number;
    demand: number;
    want: Partial<Decision>;
    text: string;
  }[] = [
    {
      why: 'up for demand: nothing limits it',
      replicas: 4,
      demand: 7,
      want: { action: 'up', reason: 'scale-up', limitedBy: 'none', recommendation: 7, bounded: 7, desired: 7 },
      text: 'scale up: demand 7.0 > 4 replicas',
    },
    {
      why: 'up, capped by max_inst',
      over: { maxInst: 5 },
      replicas: 3,
      demand: 9,
      want: { action: 'up', reason: 'scale-up', limitedBy: 'max_inst', recommendation: 9, bounded: 5, desired: 5 },
      text: 'scale up: demand 9.0 > 3 replicas (capped at max_inst 5)',
    },
    {
      why: 'up to min_inst',
      over: { minInst: 4 },
      replicas: 1,
      demand: 0,
      want: { reason: 'scale-up-to-min-inst', limitedBy: 'min_inst', recommendation: 0, desired: 4 },
      text: 'scale up: min_inst 4 > 1 replicas',
    },
    {
      why: 'min_inst 0 and due work keeps one replica',
      over: { minInst: 0, requestsPerInstance: 20 },
      replicas: 0,
      demand: 1,
      want: { reason: 'scale-up', limitedBy: 'due-work', recommendation: 0, bounded: 1, desired: 1 },
      text: 'scale up: demand 1.0 (20 per replica) > 0 replicas',
    },
    {
      why: 'a lower count within the window holds',
      replicas: 8,
      before: 8,
      demand: 2,
      want: { action: 'hold', reason: 'hold-stabilization', limitedBy: 'stabilization', recommendation: 2, desired: 8 },
      text: 'hold: demand 2.0 wants 3, but 8 was needed within the last 120s',
    },
    {
      why: 'down only to the highest count of the window',
      over: { scaleDownDelay: 15, minInst: 0 },
      replicas: 8,
      before: 5,
      demand: 2,
      want: { action: 'down', reason: 'scale-down', limitedBy: 'stabilization', recommendation: 2, desired: 5 },
      text: 'scale down: demand 2.0 held below 8 replicas for 15s',
    },
    {
      why: 'steady',
      replicas: 5,
      demand: 5,
      want: { action: 'none', reason: 'steady', limitedBy: 'none', recommendation: 5, desired: 5 },
      text: 'steady: demand 5.0 matches 5 replicas',
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const q = policy({ technique: 'moving average', window: 1, ...c.over });
      let state = initialState(q, c.replicas, -3_600_000);
      if (c.before !== undefined) state = decide(state, c.before, c.replicas, q, 0).state;
      const { decision } = decide(state, c.demand, c.replicas, q, 10_000);
      assert.deepEqual(Object.fromEntries(Object.keys(c.want).map((k) => [k, decision[k as keyof Decision]])), c.want);
      assert.equal(describeDecision(decision), c.text);
    });
  }

  test('without a reading: held, with its own code and sentence', () => {
    const q = policy();
    const { decision, state } = evaluate(null, { ok: false, why: 'timeout', retryAfterMs: 5000 }, 4, q, 1000);
    assert.equal(state, null, 'no state is made without a reading');
    assert.deepEqual(
      [decision.action, decision.reason, decision.desired, decision.nextAt],
      ['hold', 'hold-no-reading', 4, 6000],
    );
    assert.equal(describeDecision(decision), 'hold: no demand reading (timeout); keeping 4 replicas');
  });
});

describe('schedule', () => {
  const p = policy({ minScheduleInterval: 10, maxScheduleInterval: 30, demandDeltaThreshold: 0.3 });
  const cases: { why: string; prev: number; cur: number; moved: boolean }[] = [
    { why: 'steady demand', prev: 10, cur: 10, moved: false },
    { why: 'change within the threshold', prev: 10, cur: 12.9, moved: false },
    { why: 'change above the threshold', prev: 10, cur: 13.5, moved: true },
    { why: 'a fall counts too', prev: 10, cur: 6, moved: true },
    { why: 'from zero, relative to 1', prev: 0, cur: 0.2, moved: false },
    { why: 'below 1 the change is still taken relative to 1', prev: 0.5, cur: 0.7, moved: false },
    { why: 'from zero to 1', prev: 0, cur: 1, moved: true },
  ];
  for (const c of cases) {
    test(`${c.why}: moved=${c.moved}`, () => {
      assert.equal(demandMoved(c.prev, c.cur, 0.3), c.moved);
      assert.equal(nextEvaluation(1000, c.moved, p), 1000 + (c.moved ? 10_000 : 30_000));
    });
  }

  test('the schedule follows the smoothed demand, not the raw reading', () => {
    const q = policy({ weight: 0.5 });
    // raw 4 is a 33% jump over 3, but the EMA moves only to 3.5 (17%): steady
    const one = decide(initialState(q, 3, 0), 4, 3, q, 0);
    assert.equal(one.decision.smoothed, 3.5);
    assert.equal(one.decision.nextAt, 30_000);
  });

  test('each evaluation compares with the previous smoothed demand', () => {
    const q = policy({ weight: 0.5 });
    const first = decide(initialState(q, 3, 0), 10, 3, q, 0);
    assert.equal(first.state.smoothed, 6.5);
    assert.equal(first.decision.nextAt, 10_000, 'moved from 3 to 6.5');
    const second = decide(first.state, 6.5, first.decision.desired, q, 10_000);
    assert.equal(second.decision.nextAt, 40_000, '6.5 again: steady');
  });

  test('decide schedules soon when smoothed demand moved, late when steady', () => {
    const q = policy({ technique: 'moving average', window: 1 });
    const state = initialState(q, 3, 0);
    assert.equal(decide(state, 10, 3, q, 5000).decision.nextAt, 15_000);
    assert.equal(decide(state, 3, 3, q, 5000).decision.nextAt, 35_000);
  });
});

describe('backoffDelay', () => {
  const cases: { failures: number; random: number; want: number }[] = [
    { failures: 1, random: 0, want: 5_000 },
    { failures: 1, random: 0.999, want: 9_995 },
    { failures: 2, random: 0, want: 10_000 },
    { failures: 3, random: 1, want: 30_000 }, // 40 s capped at 30 s
    { failures: 50, random: 0.5, want: 22_500 },
  ];
  for (const c of cases) {
    test(`failure ${c.failures}, jitter ${c.random} → ${c.want} ms`, () =>
      assert.equal(backoffDelay(c.failures, 10_000, 30_000, c.random), c.want));
  }
});
