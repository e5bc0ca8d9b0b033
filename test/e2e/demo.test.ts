// `npm run demo` as a person runs it, bounded by --duration instead of Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireDocker } from '../support/docker';

const root = join(__dirname, '..', '..');

test('the demo shows replicas following the demand and removes what it created', async () => {
  const docker = await requireDocker();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'demo.ts'), '--duration', '14'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, out);
  const service = /Created service (mass-demo-[0-9a-f]+)/.exec(out)?.[1];
  assert.ok(service, out);
  assert.match(out, /time\s+demand\s+replicas \(desired\/running\)\s+last decision/);
  const rows = [...out.matchAll(/^\s+\d+s\s+(\d+)\s+(\d+)\/(\d+)/gm)].map((m) => ({ demand: Number(m[1]), desired: Number(m[2]) }));
  assert.ok(rows.length >= 3, out);
  assert.ok(rows.some((r) => r.desired >= 2), `the demo service never grew past 1 replica:\n${out}`);
  assert.match(out, /Everything the demo created is gone\./);
  const left = await docker.listServices({ filters: { name: [service] } });
  assert.equal(left.length, 0, `${service} is still there`);
});
