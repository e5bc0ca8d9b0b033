import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { describeDecision, initialState, type Decision, type ServiceState } from '../../src/core/decision';
import { evaluate } from '../../src/core/evaluation';
import type { Policy } from '../../src/core/policy';
import { demandOnly, type InstanceSeen, type Reading } from '../../src/core/reading';
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

describe('sizeForWait: replicas for the due work and arrivals within the target wait', () => {
  // W 120 s, S 30 s, U 45 s: an idle replica starts 4 analyses within W, a new one 2.5,
  // one holding h analyses max(0, 120 − 30h)/30.
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
  const cases: { why: string; over: Partial<SizingInput>; need: number; idle: number; added: number; want: number }[] =
    [
      { why: 'no work: no replica', over: {}, need: 0, idle: 0, added: 0, want: 0 },
      { why: 'idle running replicas first', over: { due: 10, idleReady: 3 }, need: 10, idle: 3, added: 0, want: 3 },
      {
        why: 'only as many idle replicas as the work needs',
        over: { due: 8, idleReady: 5 },
        need: 8,
        idle: 2,
        added: 0,
        want: 2,
      },
      {
        why: 'then new replicas, each starting (W − U)/S',
        over: { due: 20, idleReady: 3 },
        need: 20,
        idle: 3,
        added: 4,
        want: 7,
      },
      {
        why: 'work locked on instances is not helped: holders count, without capacity',
        over: { due: 12, held: [5, 5, 5] },
        need: 12,
        idle: 0,
        added: 5,
        want: 8,
      },
      {
        why: 'holders with room carry the due work themselves',
        over: { due: 4, held: [1, 2] },
        need: 4,
        idle: 0,
        added: 0,
        want: 2,
      },
      {
        why: 'arrivals within W count: 3/min × 120 s',
        over: { arrivalRate: 0.05, idleReady: 1 },
        need: 6,
        idle: 1,
        added: 1,
        want: 2,
      },
      {
        why: 'a start-up longer than W still starts one analysis per new replica',
        over: { due: 5, startupTime: 200 },
        need: 5,
        idle: 0,
        added: 5,
        want: 5,
      },
      {
        why: 'a longer target wait needs fewer replicas',
        over: { due: 20, targetWait: 300 },
        need: 20,
        idle: 0,
        added: 3,
        want: 3,
      },
    ];
  for (const c of cases) {
    test(c.why, () => {
      const s = sizeForWait({ ...base, ...c.over });
      assert.equal(Math.round(s.need * 1000) / 1000, c.need);
      assert.deepEqual([s.idleUsed, s.added, s.replicas], [c.idle, c.added, c.want]);
    });
  }
});

describe('sizeForWait with requests due soon: need = D + λ·W + max(0, dueSoon − λ·min(U, W))', () => {
  // W 120 s, S 30 s: a new replica starts (W − U)/S analyses within W.
  const base: SizingInput = {
    due: 0,
    held: [],
    idleReady: 0,
    arrivalRate: 0,
    dueSoon: 0,
    serviceTime: 30,
    startupTime: 40,
    targetWait: 120,
  };
  const cases: { why: string; over: Partial<SizingInput>; need: number; ahead: number; want: number }[] = [
    { why: 'none due soon, no arrivals: nothing to size for', over: {}, need: 0, ahead: 0, want: 0 },
    {
      why: 'none due soon: the arrivals within W alone (6/min × 120 s)',
      over: { arrivalRate: 0.1 },
      need: 12,
      ahead: 0,
      want: 5,
    },
    {
      why: 'due soon without arrivals: each counts, as if due (10 ÷ (120 − 40)/30)',
      over: { dueSoon: 10 },
      need: 10,
      ahead: 10,
      want: 4,
    },
    {
      why: 'due soon on top of the due ones',
      over: { due: 5, dueSoon: 3 },
      need: 8,
      ahead: 3,
      want: 3,
    },
    {
      why: 'fewer due soon than the arrivals expected within U (λ·U = 4): nothing added',
      over: { arrivalRate: 0.1, dueSoon: 3 },
      need: 12,
      ahead: 0,
      want: 5,
    },
    {
      why: 'exactly the arrivals expected within U: nothing added',
      over: { arrivalRate: 0.1, dueSoon: 4 },
      need: 12,
      ahead: 0,
      want: 5,
    },
    {
      why: 'one more than expected within U: one added',
      over: { arrivalRate: 0.1, dueSoon: 5 },
      need: 13,
      ahead: 1,
      want: 5,
    },
    {
      why: 'a burst announced ahead: what exceeds λ·U is added',
      over: { arrivalRate: 0.1, dueSoon: 24 },
      need: 32,
      ahead: 20,
      want: 12,
    },
    {
      why: 'U longer than W: compared with the arrivals within W (λ·W = 6), not within U',
      over: { arrivalRate: 0.05, dueSoon: 10, startupTime: 200 },
      need: 10,
      ahead: 4,
      want: 10,
    },
    {
      why: 'held work keeps its place: holders count, due-soon work goes to the others',
      over: { held: [4], dueSoon: 5, idleReady: 1 },
      need: 5,
      ahead: 5,
      want: 3,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const s = sizeForWait({ ...base, ...c.over });
      assert.deepEqual(
        [Math.round(s.need * 1000) / 1000, Math.round(s.ahead * 1000) / 1000, s.replicas],
        [c.need, c.ahead, c.want],
      );
    });
  }
});

describe('dueSoonHorizons: which systems a round counts the requests due soon of, and how far ahead', () => {
  const p = (system: string, over: Partial<Policy>) =>
    policy({ system, policy: 'work', sizeAhead: 'on', startupTime: 45, ...over });
  const cases: { why: string; policies: Policy[]; want: [string, number][] }[] = [
    { why: 'none', policies: [], want: [] },
    { why: 'classic: never', policies: [p('a', { policy: 'classic' })], want: [] },
    { why: 'work, size_ahead=off: never', policies: [p('a', { sizeAhead: 'off' })], want: [] },
    { why: 'work, size_ahead=on: startup_time in ms', policies: [p('a', {})], want: [['a', 45_000]] },
    { why: 'startup_time 0: nothing can be due within it', policies: [p('a', { startupTime: 0 })], want: [] },
    {
      why: 'a start-up of a fraction of a second still counts',
      policies: [p('a', { startupTime: 0.5 })],
      want: [['a', 500]],
    },
    {
      why: 'two services of one system: the longer start-up',
      policies: [p('a', { startupTime: 30 }), p('a', { startupTime: 90 }), p('a', { startupTime: 60 })],
      want: [['a', 90_000]],
    },
    {
      why: 'per system; a classic service of the same system changes nothing',
      policies: [p('a', {}), p('a', { policy: 'classic', startupTime: 300 }), p('b', { startupTime: 20 })],
      want: [
        ['a', 45_000],
        ['b', 20_000],
      ],
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      assert.deepEqual([...dueSoonHorizons(c.policies)], c.want);
    });
  }
});

describe('learn: service time from falling scheduled counts, arrivals from the work in the system', () => {
  // The last evaluation at 0 s, this one at 30 s: a change seen now happened at 15 s.
  const at0 = (instances: Record<string, [number, number | null]>, due = 0, samples: number[] = []): WorkState => ({
    ...initialWorkState(),
    instances: new Map(Object.entries(instances).map(([k, [scheduled, since]]) => [k, { scheduled, since }])),
    due,
    lastAt: 0,
    samples,
  });
  const cases: {
    why: string;
    before: WorkState;
    now: Reading;
    samples: number[];
    since: Record<string, number | null>;
    arrivals: number;
  }[] = [
    {
      why: 'a fall is one sample: time since the last completion ÷ the fall',
      before: at0({ a: [5, -45_000], b: [3, -15_000] }),
      now: reading(0, seen({ a: 4, b: 1 })),
      samples: [60, 15],
      since: { a: 15_000, b: 15_000 },
      arrivals: 0,
    },
    {
      why: 'work taken up by an idle instance starts its clock; nothing is learned yet',
      before: at0({ a: [0, null] }),
      now: reading(0, seen({ a: 2 })),
      samples: [],
      since: { a: 15_000 },
      arrivals: 2,
    },
    {
      why: 'an instance seen for the first time with work gives no sample at its first fall',
      before: at0({}),
      now: reading(0, seen({ a: 3 })),
      samples: [],
      since: { a: null },
      arrivals: 3,
    },
    {
      why: 'an instance that emptied gives its last sample and stops its clock',
      before: at0({ a: [1, -15_000] }),
      now: reading(0, seen({ a: 0 })),
      samples: [30],
      since: { a: null },
      arrivals: 0,
    },
    {
      why: 'a count that rose keeps the clock (the analysis in progress goes on); dt/S is taken as finished',
      before: at0({ a: [2, -10_000] }),
      now: reading(0, seen({ a: 5 })),
      samples: [],
      since: { a: -10_000 },
      arrivals: 3.5,
    },
    {
      why: 'new due requests are arrivals; work dispatched from due to an instance is not',
      before: at0({ a: [0, null] }, 6),
      now: reading(10, seen({ a: 6 })),
      samples: [],
      since: { a: 15_000 },
      arrivals: 10,
    },
    {
      why: 'instances judged dead teach nothing and are forgotten',
      before: at0({ a: [3, 0] }),
      now: reading(0, seen({ a: 1 }, 'dead')),
      samples: [],
      since: {},
      arrivals: 0,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const after = learn(c.before, c.now, SERVICE_TIME_PRIOR_S, 30_000);
      assert.deepEqual(after.samples, c.samples);
      assert.deepEqual(Object.fromEntries([...after.instances].map(([k, v]) => [k, v.since])), c.since);
      const alpha = 1 - Math.exp(-30 / 120);
      assert.ok(Math.abs(after.arrivalRate - (alpha * c.arrivals) / 30) < 1e-9, `${after.arrivalRate}`);
      assert.equal(after.lastAt, 30_000);
    });
  }

  const estimates: { why: string; samples: number[]; want: number; source: string }[] = [
    { why: 'no sample: the prior', samples: [], want: SERVICE_TIME_PRIOR_S, source: 'prior' },
    { why: 'a few samples: weighed with the prior', samples: [30, 30], want: (60 + 2 * 60) / 4, source: 'learned' },
    {
      why: 'enough samples: their median, whatever a hidden completion doubled',
      samples: [30, 29, 60, 31, 30, 90, 30],
      want: 30,
      source: 'learned',
    },
    {
      why: 'an even number of samples: the middle two averaged',
      samples: [20, 30, 40, 50, 60, 70],
      want: 45,
      source: 'learned',
    },
  ];
  for (const c of estimates) {
    test(`service_time=auto: ${c.why}`, () => {
      const got = serviceTimeOf(policy({ policy: 'work' }), { ...initialWorkState(), samples: c.samples });
      assert.deepEqual(got, { seconds: c.want, source: c.source });
    });
  }

  test('a service_time label is used as it is', () => {
    const learnt = { ...initialWorkState(), samples: [30, 30, 30, 30, 30] };
    assert.deepEqual(serviceTimeOf(policy({ policy: 'work', serviceTime: 45 }), learnt), {
      seconds: 45,
      source: 'label',
    });
  });

  test('the estimate keeps the latest samples only, so a changed service time is learned again', () => {
    const old = Array.from({ length: 101 }, () => 10);
    const after = learn(at0({ a: [10, -15_000] }, 0, old), reading(0, seen({ a: 9 })), 10, 30_000);
    assert.equal(after.samples.length, 101);
    assert.equal(after.samples[100], 30);
  });
});

describe('decideWork: sizing, bounds and the scale-in rules', () => {
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
  const idle = (n: number) => seen(Object.fromEntries(Array.from({ length: n }, (_, i) => [`i${i}`, 0])));

  type Row = { at: number; r: Reading; current?: number };
  function run(p: Policy, start: number, rows: Row[]) {
    let state: ServiceState = initialState(p, start, 0);
    let current = start;
    return rows.map((row) => {
      const { state: next, decision } = decideWork(state, row.r, row.current ?? current, p, row.at * 1000);
      state = next;
      current = decision.desired;
      return decision;
    });
  }

  const cases: {
    why: string;
    over?: Partial<Policy>;
    current: number;
    r: Reading;
    want: { action: string; reason: string; limitedBy: string; recommendation: number; desired: number };
  }[] = [
    {
      why: 'due work beyond the replicas: up at once, bound by the target wait',
      current: 3,
      r: reading(20, idle(3)),
      want: { action: 'up', reason: 'scale-up', limitedBy: 'target-wait', recommendation: 7, desired: 7 },
    },
    {
      why: 'more than max_inst: capped',
      current: 3,
      r: reading(500, idle(3)),
      want: { action: 'up', reason: 'scale-up', limitedBy: 'max_inst', recommendation: 199, desired: 20 },
    },
    {
      why: 'below min_inst: up to it',
      over: { minInst: 4 },
      current: 2,
      r: reading(0, idle(2)),
      want: { action: 'up', reason: 'scale-up-to-min-inst', limitedBy: 'min_inst', recommendation: 0, desired: 4 },
    },
    {
      why: 'idle: fewer replicas do and no instance holds work: down at once',
      current: 6,
      r: reading(0, idle(6)),
      want: { action: 'down', reason: 'scale-down-idle', limitedBy: 'min_inst', recommendation: 0, desired: 1 },
    },
    {
      why: 'idle: fewer replicas would do, but an instance holds work: held',
      current: 6,
      r: reading(0, [...seen({ busy: 2 }), ...idle(5)]),
      want: { action: 'hold', reason: 'hold-work-held', limitedBy: 'scale-in-hold', recommendation: 1, desired: 6 },
    },
    {
      why: 'the holders carry the work: bound by the work held',
      current: 2,
      r: reading(0, seen({ a: 1, b: 1 })),
      want: { action: 'none', reason: 'steady', limitedBy: 'work-held', recommendation: 2, desired: 2 },
    },
    {
      why: 'instances holding work beyond the replicas (a removed replica MASS still takes for online) are not kept',
      current: 3,
      r: reading(0, seen({ a: 1, b: 1, c: 1, ghost: 1 })),
      want: { action: 'none', reason: 'steady', limitedBy: 'work-held', recommendation: 3, desired: 3 },
    },
    {
      why: 'a lowered max_inst applies at once, even with work held',
      over: { maxInst: 4 },
      current: 6,
      r: reading(0, seen({ a: 3 })),
      want: { action: 'down', reason: 'scale-down-to-max-inst', limitedBy: 'max_inst', recommendation: 1, desired: 4 },
    },
    {
      why: 'at least one replica while work is due, with min_inst 0',
      over: { minInst: 0 },
      current: 0,
      r: reading(1, []),
      want: { action: 'up', reason: 'scale-up', limitedBy: 'target-wait', recommendation: 1, desired: 1 },
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const [d] = run(work(c.over), c.current, [{ at: 10, r: c.r }]);
      const { action, reason, limitedBy, recommendation, desired } = d!;
      assert.deepEqual({ action, reason, limitedBy, recommendation, desired }, c.want);
    });
  }

  describe('size_ahead: the requests due within startup_time', () => {
    const soon = (due: number, dueSoon: number | undefined): Reading => ({
      ...reading(due, idle(1)),
      ...(dueSoon === undefined ? {} : { dueSoon }),
    });
    const rows: { why: string; sizeAhead: 'on' | 'off'; r: Reading; want: number; dueSoon: number | null }[] = [
      { why: 'off: ignored', sizeAhead: 'off', r: soon(0, 20), want: 1, dueSoon: null },
      { why: 'on: sized for (20 ÷ 2.5 per new replica)', sizeAhead: 'on', r: soon(0, 20), want: 8, dueSoon: 20 },
      { why: 'on, with due work: both', sizeAhead: 'on', r: soon(6, 6), want: 5, dueSoon: 6 },
      { why: 'on, none due soon', sizeAhead: 'on', r: soon(6, 0), want: 2, dueSoon: 0 },
      { why: 'on, a reading that did not count them: 0', sizeAhead: 'on', r: soon(6, undefined), want: 2, dueSoon: 0 },
    ];
    for (const c of rows) {
      test(c.why, () => {
        const [d] = run(work({ minInst: 1, sizeAhead: c.sizeAhead }), 1, [{ at: 10, r: c.r }]);
        assert.equal(d!.desired, c.want);
        assert.equal(d!.work!.dueSoon, c.dueSoon);
      });
    }

    test('replicas sized ahead are not scaled in before MASS hands them the requests', () => {
      const ahead = (due: number, dueSoon: number, instances: InstanceSeen[]): Reading => ({
        ...reading(due, instances),
        dueSoon,
      });
      const rows = [
        { at: 10, r: ahead(0, 18, idle(17)) }, // sized ahead: 5 idle replicas would do, held
        { at: 40, r: ahead(18, 0, idle(17)) }, // due now, not handed out yet: still held
        { at: 70, r: ahead(0, 0, [...seen({ busy: 2 }), ...idle(16)]) }, // handed out: held by held work
        { at: 100, r: ahead(0, 0, idle(17)) }, // done: down, to what the arrivals learnt need
      ];
      const on = run(work({ sizeAhead: 'on' }), 17, rows);
      assert.deepEqual(
        on.map((d) => [d.reason, d.desired]),
        [
          ['hold-work-held', 17],
          ['hold-work-held', 17],
          ['hold-work-held', 17],
          ['scale-down-idle', 3],
        ],
      );
      assert.equal(on[0]!.limitedBy, 'scale-in-hold');
      assert.match(
        describeDecision(on[0]!),
        /^hold: 5 replicas would do, but replicas were sized ahead for requests due soon \(18 within 45s, 0 due\)/,
      );
      // size_ahead=off: the same readings do not hold the scale-in.
      const off = run(work({ sizeAhead: 'off' }), 17, rows.slice(0, 1));
      assert.deepEqual([off[0]!.reason, off[0]!.desired], ['scale-down-idle', 1]);
      // Due requests alone (none sized ahead) do not hold it either.
      const dueOnly = run(work({ sizeAhead: 'on' }), 17, [{ at: 10, r: ahead(18, 0, idle(17)) }]);
      assert.deepEqual([dueOnly[0]!.reason, dueOnly[0]!.desired], ['scale-down-idle', 5]);
    });

    test('the sentence names the requests due soon when sizing ahead, and only then', () => {
      const [on] = run(work({ sizeAhead: 'on' }), 1, [{ at: 10, r: soon(0, 20) }]);
      assert.equal(
        describeDecision(on!),
        'scale up: 20 analyses to start within 120s (0 due, 20 due within 45s, 0/min arriving, 30s each): 8 replicas, not 1',
      );
      const [off] = run(work({ sizeAhead: 'off' }), 1, [{ at: 10, r: soon(0, 20) }]);
      assert.doesNotMatch(describeDecision(off!), /due within/);
    });
  });

  test('idle with longest_hold: after that long one replica goes anyway, then one per longest_hold', () => {
    const held = reading(0, [...seen({ busy: 2 }), ...idle(5)]);
    const rows = [0, 200, 300, 310, 590, 600].map((at) => ({ at, r: held }));
    const ds = run(work({ longestHold: 300 }), 6, rows);
    assert.deepEqual(
      ds.map((d) => [d.reason, d.desired]),
      [
        ['hold-work-held', 6],
        ['hold-work-held', 6],
        ['scale-down-longest-hold', 5],
        ['hold-work-held', 5],
        ['hold-work-held', 5],
        ['scale-down-longest-hold', 4],
      ],
    );
    assert.equal(ds[1]!.work?.heldForS, 200);
    assert.match(
      describeDecision(ds[2]!),
      /^scale down by one: a scale-in to 1 was held by work for longest_hold 300s/,
    );
  });

  test('idle without longest_hold: held for as long as work is held, then down at once when none is', () => {
    const held = reading(0, [...seen({ busy: 2 }), ...idle(5)]);
    const rows = [0, 3600, 7200].map((at) => ({ at, r: held }));
    rows.push({ at: 7210, r: reading(0, idle(6)) });
    const ds = run(work(), 6, rows);
    assert.deepEqual(
      ds.map((d) => [d.reason, d.desired]),
      [
        ['hold-work-held', 6],
        ['hold-work-held', 6],
        ['hold-work-held', 6],
        ['scale-down-idle', 1],
      ],
    );
  });

  test('window: a lower count waits for scale_down_delay, whatever the work held', () => {
    const rows = [0, 60, 119, 121].map((at) => ({ at, r: reading(0, [...seen({ busy: 1 }), ...idle(5)]) }));
    const ds = run(work({ scaleIn: 'window' }), 6, rows);
    assert.deepEqual(
      ds.map((d) => [d.reason, d.limitedBy, d.desired]),
      [
        ['hold-stabilization', 'stabilization', 6],
        ['hold-stabilization', 'stabilization', 6],
        ['hold-stabilization', 'stabilization', 6],
        ['scale-down', 'work-held', 1],
      ],
    );
  });

  test('a held scale-in is evaluated again soon (min_schedule_interval), a steady one late', () => {
    const [held] = run(work(), 6, [{ at: 10, r: reading(0, [...seen({ busy: 2 }), ...idle(5)]) }]);
    assert.equal(held!.nextAt, 20_000);
    const steady = run(work(), 1, [
      { at: 10, r: reading(0, idle(1)) },
      { at: 40, r: reading(0, idle(1)) },
    ]);
    assert.equal(steady[1]!.reason, 'steady');
    assert.equal(steady[1]!.nextAt, 70_000);
  });

  test('through evaluate: the working floor of the reading applies to the work policy too', () => {
    const p = work({ scaleIn: 'window', scaleDownDelay: 0 });
    const r = reading(0, [...seen({ a: 1, b: 1, c: 1 }), ...idle(3)]);
    const { decision } = evaluate(initialState(p, 6, 0), { ok: true, reading: { ...r, held: [1] } }, 6, p, 1000);
    assert.equal(decision.reason, 'hold-working');
    assert.equal(decision.limitedBy, 'working');
    assert.equal(decision.desired, 3);
  });

  const sentences: { why: string; over?: Partial<Policy>; current: number; r: Reading; text: string }[] = [
    {
      why: 'scale up',
      current: 3,
      r: reading(20, idle(3)),
      text: 'scale up: 20 analyses to start within 120s (20 due, 0/min arriving, 30s each): 7 replicas, not 3',
    },
    {
      why: 'scale-in held by work',
      current: 6,
      r: reading(0, [...seen({ busy: 2 }), ...idle(5)]),
      text: 'hold: 1 replicas would do, but 1 instances hold work and Swarm picks which replica goes (scale_in=idle, held for 0s); 0 analyses to start within 120s (0 due, 0/min arriving, 30s each); 1 instances hold 2',
    },
    {
      why: 'scale down when idle',
      current: 6,
      r: reading(0, idle(6)),
      text: 'scale down: no instance holds work; 0 analyses to start within 120s (0 due, 0/min arriving, 30s each): 1 replicas',
    },
    {
      why: 'service time assumed until learned',
      over: { serviceTime: 'auto' },
      current: 3,
      r: reading(20, idle(3)),
      text: 'scale up: 20 analyses to start within 120s (20 due, 0/min arriving, 60s each assumed): 15 replicas, not 3',
    },
  ];
  for (const c of sentences) {
    test(`the sentence: ${c.why}`, () => {
      const [d] = run(work(c.over), c.current, [{ at: 10, r: c.r }]);
      assert.equal(describeDecision(d!), c.text);
    });
  }
});

describe('classic reproduces the recorded decisions', () => {
  interface Step {
    now: number;
    ok: boolean;
    demand: number;
    floor: number;
    current: number;
    decision: Record<string, unknown> & { text: string };
  }
  const recorded = JSON.parse(readFileSync(new URL('../fixtures/classic-decisions.json', import.meta.url), 'utf8')) as {
    set: string;
    labels: Partial<Policy>;
    steps: Step[];
  }[];

  for (const r of recorded) {
    test(`${r.set}: ${r.steps.length} readings, each decision as recorded`, () => {
      const p = policy({ ...r.labels, policy: 'classic' });
      let state: ServiceState | null = null;
      for (const s of r.steps) {
        const input = s.ok
          ? { ok: true as const, reading: demandOnly(s.demand, s.floor) }
          : { ok: false as const, why: 'timeout', retryAfterMs: 7000 };
        const e = evaluate(state, input, s.current, p, s.now);
        const d = e.decision;
        const got = {
          action: d.action,
          reason: d.reason,
          limitedBy: d.limitedBy,
          recommendation: d.recommendation,
          bounded: d.bounded,
          stabilized: d.stabilized,
          desired: d.desired,
          smoothed: d.smoothed,
          nextAt: d.nextAt,
          text: describeDecision(d),
        };
        assert.deepEqual(got, s.decision, `at ${s.now} ms`);
        assert.equal(d.work, undefined);
        state = e.state;
      }
    });
  }
});

describe('graceWarning: stop_grace_period against the service time under a windowed scale-in', () => {
  const base = decideWork(
    initialState(policy({ policy: 'work', serviceTime: 30 }), 2, 0),
    demandOnly(0),
    2,
    policy({ policy: 'work', serviceTime: 30 }),
    0,
  ).decision;
  const { work: _work, ...classicDecision } = base;
  const cases: { why: string; over: Partial<Policy>; graceMs: number; classic?: boolean; warns: boolean }[] = [
    { why: 'work, scale_in=window, grace 10 s < 30 s', over: { scaleIn: 'window' }, graceMs: 10_000, warns: true },
    { why: 'work, scale_in=window, grace 30 s = 30 s', over: { scaleIn: 'window' }, graceMs: 30_000, warns: false },
    { why: 'work, scale_in=idle: removals happen only without work', over: {}, graceMs: 0, warns: false },
    {
      why: 'classic with a service_time label',
      over: { policy: 'classic' },
      graceMs: 10_000,
      classic: true,
      warns: true,
    },
    {
      why: 'classic with service_time=auto: unknown, no warning',
      over: { policy: 'classic', serviceTime: 'auto' },
      graceMs: 10_000,
      classic: true,
      warns: false,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const p = policy({ policy: 'work', serviceTime: 30, ...c.over });
      const w = graceWarning(p, c.classic ? (classicDecision as Decision) : base, c.graceMs);
      assert.equal(w !== null, c.warns, String(w));
    });
  }
});
