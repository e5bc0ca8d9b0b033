// The liveness rule (src/core/liveness.ts): busy-but-offline instances are working, not dead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
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
