// The wake-up's pure rule (src/core/wakeup.ts): what a jump is, when the next count is due, and
// which services are brought forward. `now` is passed in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  afterFailedReading,
  afterSweep,
  isJump,
  observeDueCount,
  toBringForward,
  wakeUpDueAt,
  WAKE_UP_START,
  type WakeUpState,
} from '../../src/core/wakeup';

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('isJump: a rise above the floor by more than threshold × max(floor, 1)', () => {
  const rows: [floor: number, count: number, threshold: number, jump: boolean][] = [
    [0, 0, 0.3, false],
    [0, 1, 0.3, true], // one request after a quiet spell
    [1, 1, 0.3, false],
    [1, 2, 0.3, true],
    [10, 13, 0.3, false], // exactly 30 %: not more
    [10, 14, 0.3, true],
    [100, 130, 0.3, false],
    [100, 131, 0.3, true],
    [50, 0, 0.3, false], // a fall is never a jump
    [0, 1, 0, true], // threshold 0: any rise
    [5, 5, 0, false],
    [0, 2, 1.5, true],
    [0, 1, 1, false], // 1 is not more than 1 × 1
    [4, 10, 1.5, false], // 6 is not more than 6
    [4, 11, 1.5, true],
  ];
  for (const [floor, count, threshold, jump] of rows) {
    test(`floor ${floor} → ${count}, threshold ${threshold}: ${jump ? 'jump' : 'no jump'}`, () =>
      assert.equal(isJump(floor, count, threshold), jump));
  }
});

describe('observeDueCount over a sequence of readings', () => {
  // Each row: a series of counts, read 10 s apart; the readings that jump, and the floor after.
  const rows: { name: string; counts: number[]; jumps: number[]; floors: number[] }[] = [
    { name: 'the first reading only sets the floor', counts: [40], jumps: [], floors: [40] },
    { name: 'quiet, then a burst', counts: [0, 0, 0, 25], jumps: [3], floors: [0, 0, 0, 25] },
    {
      name: 'after a jump the floor starts from the count that jumped, then follows the scheduler down',
      counts: [0, 25, 30, 5, 0, 12],
      jumps: [1, 5],
      floors: [0, 25, 25, 5, 0, 12],
    },
    {
      name: 'a backlog growing slowly is caught against the lowest count, not the previous one',
      counts: [10, 12, 13, 14],
      jumps: [3],
      floors: [10, 10, 10, 14],
    },
    {
      name: 'a busy queue going up and down within the threshold never jumps',
      counts: [100, 120, 90, 110, 117],
      jumps: [],
      floors: [100, 100, 90, 90, 90],
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      let state: WakeUpState = WAKE_UP_START;
      const jumps: number[] = [];
      const floors: (number | null)[] = [];
      row.counts.forEach((count, i) => {
        const now = T0 + i * 10_000;
        const seen = observeDueCount(state, count, 0.3, now);
        if (seen.jump) jumps.push(i);
        assert.equal(seen.state.lastAt, now);
        assert.equal(seen.from, state.floor);
        state = seen.state;
        floors.push(state.floor);
      });
      assert.deepEqual(jumps, row.jumps);
      assert.deepEqual(floors, row.floors);
    });
  }
});

describe('when the next count is due', () => {
  test('at once before any reading, then an interval after the last one', () => {
    assert.equal(wakeUpDueAt(WAKE_UP_START, 10_000), -Infinity);
    const read = observeDueCount(WAKE_UP_START, 0, 0.3, T0).state;
    assert.equal(wakeUpDueAt(read, 10_000), T0 + 10_000);
  });

  test('a round that evaluated every service moves it an interval past that round, never back', () => {
    const read = observeDueCount(WAKE_UP_START, 3, 0.3, T0).state;
    const swept = afterSweep(read, T0 + 7_000);
    assert.equal(wakeUpDueAt(swept, 10_000), T0 + 17_000);
    assert.equal(swept.floor, 3, 'a sweep keeps the floor');
    assert.equal(wakeUpDueAt(afterSweep(swept, T0 + 1_000), 10_000), T0 + 17_000);
    assert.equal(wakeUpDueAt(afterSweep(WAKE_UP_START, T0), 10_000), T0 + 10_000);
  });

  test('a failed count waits an interval and keeps the floor', () => {
    const read = observeDueCount(WAKE_UP_START, 4, 0.3, T0).state;
    const failed = afterFailedReading(read, T0 + 10_000);
    assert.deepEqual(failed, { floor: 4, lastAt: T0 + 10_000 });
    assert.equal(wakeUpDueAt(failed, 10_000), T0 + 20_000);
  });
});

describe('toBringForward', () => {
  test('the services whose next evaluation is later than now, and only those', () => {
    const services = [
      { name: 'later', nextAt: T0 + 20_000 },
      { name: 'now', nextAt: T0 },
      { name: 'overdue', nextAt: T0 - 1 },
      { name: 'just later', nextAt: T0 + 1 },
    ];
    assert.deepEqual(
      toBringForward(services, (s) => s.nextAt, T0).map((s) => s.name),
      ['later', 'just later'],
    );
  });
});
