// Runs the test files under test/ with node's built-in runner (Node.js 20 has no glob in
// `node --test`). `node scripts/test.mjs unit contract` limits the run to those folders.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return find(path);
      return name.endsWith('.test.ts') ? [path] : [];
    });
}

const suites = process.argv.slice(2);
const roots = suites.length > 0 ? suites.map((s) => join('test', s)) : ['test'];
const files = roots.flatMap(find);
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
// One file at a time: the Docker-backed suites share one swarm, and this machine has 2 cores.
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-timeout=300000', '--import', 'tsx', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
