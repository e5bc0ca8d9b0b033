import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addReading, smoothedValue, startSmoothing, type SmoothingParams } from '../../src/core/smoothing';

function run(start: number, readings: number[], params: SmoothingParams): number {
  let state = startSmoothing(start);
  for (const r of readings) state = addReading(state, r, params);
  return smoothedValue(state, params);
}

const ma = (window: number): SmoothingParams => ({ technique: 'moving average', window, weight: 0.3 });
const ema = (weight: number): SmoothingParams => ({ technique: 'exponential moving average', window: 15, weight });

describe('smoothing', () => {
  const cases: { name: string; start: number; readings: number[]; params: SmoothingParams; want: number }[] = [
    { name: 'moving average before any reading is the start value', start: 3, readings: [], params: ma(3), want: 3 },
    {
      name: 'moving average includes the start value until the window is full',
      start: 3,
      readings: [9],
      params: ma(3),
      want: 6,
    },
    {
      name: 'moving average forgets readings older than the window',
      start: 3,
      readings: [10, 20, 30, 40],
      params: ma(3),
      want: 30,
    },
    { name: 'moving average with window 1 is the last reading', start: 3, readings: [5, 8], params: ma(1), want: 8 },
    { name: 'EMA weights the newest reading by w', start: 10, readings: [20], params: ema(0.3), want: 13 },
    { name: 'EMA two steps', start: 0, readings: [10, 10], params: ema(0.5), want: 7.5 },
    { name: 'EMA with w = 1 is the last reading', start: 3, readings: [7, 2], params: ema(1), want: 2 },
    {
      name: 'EMA state is unclamped: it follows demand far above any max_inst',
      start: 0,
      readings: [1000],
      params: ema(1),
      want: 1000,
    },
  ];
  for (const c of cases) {
    test(c.name, () =>
      assert.ok(
        Math.abs(run(c.start, c.readings, c.params) - c.want) < 1e-9,
        `got ${run(c.start, c.readings, c.params)}, want ${c.want}`,
      ),
    );
  }

  test('both averages are kept, so switching technique needs no cold start', () => {
    let state = startSmoothing(0);
    for (const r of [4, 4, 4, 4]) state = addReading(state, r, ema(0.5));
    assert.equal(smoothedValue(state, ma(4)), 4);
    assert.equal(smoothedValue(state, ema(0.5)), 4 - 4 / 16);
  });

  test('moving-average state stays bounded by the window', () => {
    let state = startSmoothing(0);
    for (let i = 0; i < 10_000; i++) state = addReading(state, i, ma(15));
    assert.equal(state.recent.length, 15);
  });
});
