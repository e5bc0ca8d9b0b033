// The demo's live view: fits the terminal, labels its columns, shows a decision once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEADER, row } from '../../scripts/demo';

const decisions = [
  null,
  'steady: demand 1.5 matches 2 replicas',
  'scale up: demand 13.4 > 12 replicas',
  'hold: demand 3.9 wants 2, but 4 was needed within the last 15s',
  'scale down: demand 0.4 held below 4 replicas for 15s',
  'hold: no demand reading (MASS API: GET analysis_system/: MASS unreachable (ECONNREFUSED)); keeping 4 replicas',
];

test('every row fits the terminal, from 40 to 200 columns, whatever the decision', () => {
  for (const cols of [40, 60, 80, 120, 200])
    for (const decision of decisions)
      for (const [desired, running] of [
        [1, 0],
        [12, 9],
        [40, 40],
      ] as const) {
        const lines = row(cols, { t: 12345, due: 1234, smoothed: 123.45, desired, running, decision });
        for (const line of lines) assert.ok(line.length <= cols - 1, `${cols} columns, ${line.length}: ${line}`);
        if (decision !== null && cols >= 80)
          assert.ok(lines.join(' ').replace(/\s+/g, ' ').includes(decision), `${decision} shown whole at ${cols}`);
      }
  assert.ok(HEADER.length < 80);
});

test('the columns are due, smoothed demand and replicas, and a row without a decision shows none', () => {
  assert.match(HEADER, /^\s+time\s+due\s+smoothed\s+replicas\s+decision \(when made\)$/);
  const [line] = row(80, { t: 36, due: 5, smoothed: 3.9, desired: 4, running: 3, decision: null });
  assert.equal(line, '   36s    5      3.9    4/3 ███░');
  const [made] = row(80, {
    t: 38,
    due: 5,
    smoothed: 3.9,
    desired: 4,
    running: 4,
    decision: 'steady: demand 3.9 matches 4 replicas',
  });
  assert.equal(made, '   38s    5      3.9    4/4 ████         steady: demand 3.9 matches 4 replicas');
  assert.equal(
    row(80, { t: 0, due: 2, smoothed: null, desired: 1, running: 0, decision: null })[0],
    '    0s    2        -    1/0 ░',
  );
});
