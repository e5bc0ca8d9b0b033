// The liveness rule (src/core/liveness.ts): busy-but-offline instances are working, not dead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Decision } from '../../src/core/decision';
import {
  floorDecision,
  instancesToRecover,
  judgeInstances,
  protectWorking,
  type InstanceMemory,
  type InstanceReading,
  type Verdict,
} from '../../src/core/liveness';

const MIN = 60_000;
const NOW = 1_800_000_000_000;
const params = { onlineWindowMs: 10 * MIN, progressWindowMs: 5 * MIN };

const inst = (uuid: string, seenMinAgo: number | null, scheduled: number): InstanceReading => ({
  uuid,
  lastSeen: seenMinAgo === null ? null : NOW - seenMinAgo * MIN,
  scheduled,
});
const memory = (scheduled: number, verdict: Verdict = 'online', deadMinAgo: number | null = null): InstanceMemory => ({
  scheduled,
  lastProgressAt: null,
  verdict,
  deadSince: deadMinAgo === null ? null : NOW - deadMinAgo * MIN,
});

describe('liveness: one verdict per instance', () => {
  const cases: {
    why: string;
    reading: InstanceReading;
    before?: InstanceMemory;
    tasks?: number | null;
    verdict: Verdict;
  }[] = [
    { why: 'polled 2 min ago: online', reading: inst('a', 2, 5), verdict: 'online' },
    { why: 'idle, last poll an hour ago: dead', reading: inst('a', 60, 0), verdict: 'dead' },
    { why: 'registered, never polled: dead (not yet alive)', reading: inst('a', null, 0), verdict: 'dead' },
    {
      why: 'offline 12 min with work, count fell since the last reading: working (reports arrive)',
      reading: inst('a', 12, 7),
      before: memory(8),
      verdict: 'working',
    },
    {
      why: 'offline 11 min with work, just went offline (inside a long analysis): working',
      reading: inst('a', 11, 7),
      before: memory(7),
      verdict: 'working',
    },
    {
      why: 'offline 30 min with work, count unchanged: dead, its work is stuck',
      reading: inst('a', 30, 7),
      before: memory(7, 'working'),
      verdict: 'dead',
    },
    {
      why: 'offline and reporting, but no running task of the service left: dead',
      reading: inst('a', 12, 7),
      before: memory(8),
      tasks: 0,
      verdict: 'dead',
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const before = new Map(c.before === undefined ? [] : [[c.reading.uuid, c.before]]);
      const r = judgeInstances([c.reading], before, c.tasks ?? null, params, NOW);
      assert.equal(r.instances[0]!.verdict, c.verdict);
    });
  }
});

describe('liveness: demand, stuck work and the floor of one system', () => {
  test('work on online and working instances is demand; work on dead ones is stuck', () => {
    const readings = [inst('on', 1, 3), inst('busy', 12, 9), inst('gone', 40, 4), inst('idle', 1, 0)];
    const before = new Map([
      ['busy', memory(10)],
      ['gone', memory(4, 'dead', 20)],
    ]);
    const r = judgeInstances(readings, before, 3, params, NOW);
    assert.deepEqual([r.liveWork, r.stuck, r.stuckInstances, r.floor, r.abortedSinceLast], [12, 4, 1, 2, 0]);
  });

  test('more offline instances with work than running tasks: the freshest are working, the rest dead', () => {
    // 1 online instance + 2 offline ones with work, 2 running tasks: room for one working instance.
    const readings = [inst('on', 1, 0), inst('older', 14, 5), inst('fresher', 11, 5)];
    const r = judgeInstances(readings, new Map(), 2, params, NOW);
    assert.deepEqual(
      r.instances.map((i) => [i.uuid, i.verdict]),
      [
        ['on', 'online'],
        ['older', 'dead'],
        ['fresher', 'working'],
      ],
    );
  });

  test('an instance that held work and was alive, now dead: one analysis counted as aborted', () => {
    const r = judgeInstances([inst('a', 12, 5)], new Map([['a', memory(5, 'working')]]), 0, params, NOW);
    assert.deepEqual([r.abortedSinceLast, r.instances[0]!.deadSince], [1, NOW]);
    const again = judgeInstances([inst('a', 13, 5)], r.next, 0, params, NOW + MIN);
    assert.deepEqual(
      [again.abortedSinceLast, again.instances[0]!.deadSince],
      [0, NOW],
      'counted once; dead since stays',
    );
  });
});

describe('recovery and the scale-down guard', () => {
  const dead = {
    instances: [
      { uuid: 'long', verdict: 'dead' as const, scheduled: 3, deadSince: NOW - 20 * MIN },
      { uuid: 'recent', verdict: 'dead' as const, scheduled: 3, deadSince: NOW - 2 * MIN },
      { uuid: 'empty', verdict: 'dead' as const, scheduled: 0, deadSince: NOW - 60 * MIN },
      { uuid: 'busy', verdict: 'working' as const, scheduled: 9, deadSince: null },
    ],
  };
  test('0.2: only instances dead with work for at least the delay are deleted', () => {
    assert.deepEqual(instancesToRecover(dead, '0.2', 10 * MIN, NOW), ['long']);
  });
  test('the older server: nothing is deleted (it would orphan the work)', () => {
    assert.deepEqual(instancesToRecover(dead, 'legacy', 10 * MIN, NOW), []);
  });
  const guard: [number, number, number, number][] = [
    // desired, current, floor → result
    [2, 8, 5, 5],
    [6, 8, 5, 6],
    [2, 4, 9, 4],
    [10, 8, 9, 10],
  ];
  for (const [desired, current, floor, want] of guard) {
    test(`scale-down to ${desired} from ${current} with ${floor} working → ${want}`, () => {
      assert.equal(protectWorking(desired, current, floor), want);
    });
  }
});

// Boundaries and the order of the rule, one assertion per clause of judgeInstances and its helpers.
describe('liveness: boundaries of the windows and the order of the evidence', () => {
  const judgeOne = (reading: InstanceReading, before?: InstanceMemory, tasks: number | null = null) =>
    judgeInstances([reading], new Map(before === undefined ? [] : [[reading.uuid, before]]), tasks, params, NOW);
  const progressed = (scheduled: number, minAgo: number): InstanceMemory => ({
    ...memory(scheduled, 'working'),
    lastProgressAt: NOW - minAgo * MIN,
  });
  const verdicts = (r: { instances: { uuid: string; verdict: Verdict }[] }) =>
    r.instances.map((i) => `${i.uuid}:${i.verdict}`).join(' ');

  const cases: { why: string; reading: InstanceReading; before?: InstanceMemory; verdict: Verdict }[] = [
    { why: 'last_seen exactly 10 minutes old: no longer online', reading: inst('a', 10, 0), verdict: 'dead' },
    { why: 'last_seen just under 10 minutes old: online', reading: inst('a', 9.99, 0), verdict: 'online' },
    { why: 'offline 11 min without work: dead, however recently it left', reading: inst('a', 11, 0), verdict: 'dead' },
    {
      why: 'never polled, with work whose count fell: dead (no poll, no life)',
      reading: inst('a', null, 3),
      before: memory(5),
      verdict: 'dead',
    },
    {
      why: 'offline 30 min, its count fell at this reading: working',
      reading: inst('a', 30, 6),
      before: memory(7, 'working'),
      verdict: 'working',
    },
    {
      why: 'offline 30 min, its count fell 2 min ago: working',
      reading: inst('a', 30, 6),
      before: progressed(6, 2),
      verdict: 'working',
    },
    {
      why: 'offline 30 min, its count fell exactly the progress window ago: dead',
      reading: inst('a', 30, 6),
      before: progressed(6, 5),
      verdict: 'dead',
    },
    {
      why: 'offline 30 min, its count fell 20 min ago: dead',
      reading: inst('a', 30, 6),
      before: progressed(6, 20),
      verdict: 'dead',
    },
    {
      why: 'offline exactly online window + progress window (15 min), no report: dead',
      reading: inst('a', 15, 6),
      before: memory(6, 'working'),
      verdict: 'dead',
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      assert.equal(judgeOne(c.reading, c.before).instances[0]!.verdict, c.verdict);
    });
  }

  test('the time of the last fall is remembered: now when it fell, the earlier time when not', () => {
    const fell = judgeOne(inst('a', 30, 6), memory(7, 'working'));
    assert.equal(fell.next.get('a')!.lastProgressAt, NOW);
    const kept = judgeOne(inst('a', 30, 6), progressed(6, 2));
    assert.equal(kept.next.get('a')!.lastProgressAt, NOW - 2 * MIN);
    assert.equal(judgeOne(inst('a', 30, 6), memory(6)).next.get('a')!.lastProgressAt, null);
  });

  test('one task for two offline instances: the fresher last_seen wins, whatever the names', () => {
    const r = judgeInstances([inst('a', 14, 5), inst('b', 11, 5)], new Map(), 1, params, NOW);
    assert.equal(verdicts(r), 'a:dead b:working');
  });

  test('one task for two offline instances: a recent fall of the count beats a fresher last_seen', () => {
    const before = new Map([['a', progressed(5, 3)]]);
    const r = judgeInstances([inst('a', 14, 5), inst('b', 11, 5)], before, 1, params, NOW);
    assert.equal(verdicts(r), 'a:working b:dead');
  });

  test('one task, last_seen fresher than an old fall: the fresher evidence of the two wins', () => {
    // a: last seen 14 min ago, fell 13 min ago (evidence 13 min); b: last seen 11 min ago.
    const before = new Map([['a', progressed(5, 13)]]);
    const r = judgeInstances([inst('a', 14, 5), inst('b', 11, 5)], before, 1, params, NOW);
    assert.equal(verdicts(r), 'a:dead b:working');
  });

  test('one task, two offline instances with the same evidence: the first uuid wins, in any order', () => {
    const a = inst('a', 12, 5);
    const b = inst('b', 12, 5);
    assert.equal(verdicts(judgeInstances([a, b], new Map(), 1, params, NOW)), 'a:working b:dead');
    assert.equal(verdicts(judgeInstances([b, a], new Map(), 1, params, NOW)), 'b:dead a:working');
  });

  test('only dead instances carry a death time', () => {
    const r = judgeInstances(
      [inst('on', 1, 2), inst('busy', 11, 3), inst('gone', 40, 1)],
      new Map(),
      null,
      params,
      NOW,
    );
    assert.deepEqual(
      r.instances.map((i) => [i.uuid, i.deadSince]),
      [
        ['on', null],
        ['busy', null],
        ['gone', NOW],
      ],
    );
  });

  test('a dead instance without work is not stuck', () => {
    const r = judgeInstances([inst('idle', 40, 0), inst('gone', 40, 2)], new Map(), null, params, NOW);
    assert.deepEqual([r.stuck, r.stuckInstances, r.floor, r.liveWork], [2, 1, 0, 0]);
  });

  test('no analysis counted as aborted when the instance held no work while alive, or holds none now', () => {
    const emptyBefore = judgeOne(inst('a', 30, 5), memory(0, 'online'));
    assert.equal(emptyBefore.instances[0]!.verdict, 'dead');
    assert.equal(emptyBefore.abortedSinceLast, 0);
    const emptyNow = judgeOne(inst('a', 30, 0), memory(5, 'working'));
    assert.equal(emptyNow.instances[0]!.verdict, 'dead');
    assert.equal(emptyNow.abortedSinceLast, 0);
  });

  test('recovery: exactly the delay is enough; no death time or no dead verdict, no deletion', () => {
    const at = (uuid: string, verdict: Verdict, deadSince: number | null) => ({
      uuid,
      verdict,
      scheduled: 2,
      deadSince,
    });
    const instances = [
      at('exact', 'dead', NOW - 10 * MIN),
      at('unknown', 'dead', null),
      at('back', 'working', NOW - 30 * MIN),
      at('up', 'online', NOW - 30 * MIN),
    ];
    assert.deepEqual(instancesToRecover({ instances }, '0.2', 10 * MIN, NOW), ['exact']);
  });

  test('the working floor turns a scale-down into a hold or a smaller scale-down, named so', () => {
    const down = { action: 'down', reason: 'scale-down', limitedBy: 'none', desired: 2, current: 8 };
    const asDecision = (d: typeof down) => d as unknown as Decision;
    const held = floorDecision(asDecision(down), 8);
    assert.deepEqual(
      [held.action, held.desired, held.reason, held.limitedBy, held.working],
      ['hold', 8, 'hold-working', 'working', 8],
    );
    const smaller = floorDecision(asDecision(down), 5);
    assert.deepEqual([smaller.action, smaller.desired], ['down', 5]);
    const free = asDecision(down);
    assert.equal(floorDecision(free, 1), free, 'unchanged when the floor does not bind');
  });
});
