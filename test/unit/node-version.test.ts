// The entry point refuses a Node.js older than 20 (Debian 12's own `nodejs` is 18).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeVersionProblem } from '../../src/node-version';

test('Node.js 20 and later run the daemon; older ones, or a version that cannot be read, are refused', () => {
  const cases: [string, boolean][] = [
    ['20.0.0', true],
    ['20.20.2', true],
    ['22.11.0', true],
    ['v24.1.0', true],
    ['100.0.0', true],
    ['19.9.0', false],
    ['18.19.0', false],
    ['12.22.12', false],
    ['2.0.0', false],
    ['', false],
    ['twenty', false],
  ];
  for (const [version, runs] of cases) {
    const problem = nodeVersionProblem(version, '/usr/bin/node');
    assert.equal(problem === null, runs, `${version}: ${problem}`);
  }
});

test('the refusal is one line naming the node found, its path and the version needed', () => {
  const problem = nodeVersionProblem('18.19.0', '/usr/bin/node');
  assert.equal(
    problem,
    'mass-autoscaler: needs Node.js 20 or later, but /usr/bin/node is Node.js 18.19.0; install Node.js 20 ' +
      '(README: "Node.js 20 on Debian and Ubuntu") and run the daemon with it',
  );
  assert.doesNotMatch(problem!, /\n/);
});
