// `npm run demo` as a person runs it: watch the replicas follow the demand, then Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireDocker, waitFor } from '../support/docker';

const root = join(__dirname, '..', '..');

test('the demo shows replicas following the demand, and Ctrl-C removes what it created', async () => {
  const docker = await requireDocker();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'demo.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const rows = () =>
    [...out.matchAll(/^\s+\d+s\s+(\d+)\s+(\d+)\/(\d+)/gm)].map((m) => ({
      demand: Number(m[1]),
      desired: Number(m[2]),
      running: Number(m[3]),
    }));
  try {
    await waitFor(
      'a row with the demo service grown past 1 replica',
      async () => rows().some((r) => r.desired >= 2 && r.running >= 2),
      120_000,
    );
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, out);
  const service = /Created service (mass-demo-[0-9a-f]+)/.exec(out)?.[1];
  assert.ok(service, out);
  assert.match(out, /time\s+demand\s+replicas \(desired\/running\)\s+last decision/);
  assert.match(out, /Ctrl-C: stopping the autoscaler, removing mass-demo-[0-9a-f]+/);
  assert.match(out, /Everything the demo created is gone\./);
  const left = await docker.listServices({ filters: { name: [service] } });
  assert.equal(left.length, 0, `${service} is still there`);
});
