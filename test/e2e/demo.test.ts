// `npm run demo` as a person runs it: watch the replicas follow the demand, then Ctrl-C — or
// close the terminal (SIGHUP), also when its output went through `| tee log`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { desiredReplicas, requireDocker, waitFor } from '../support/docker';

const root = join(__dirname, '..', '..');

function startDemo() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'demo.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { out: '', err: '' };
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output.out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output.err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, output, exited };
}

const rowPattern = /^\s+\d+s\s+(\d+)\s+(\S+)\s+(\d+)\/(\d+)/gm;

test('the demo shows replicas following the demand, and Ctrl-C removes what it created', async () => {
  const docker = await requireDocker();
  const { child, output, exited } = startDemo();
  const rows = () =>
    [...output.out.matchAll(rowPattern)].map((m) => ({
      due: Number(m[1]),
      smoothed: m[2],
      desired: Number(m[3]),
      running: Number(m[4]),
    }));
  try {
    // Several rows (the demand holds at 2 for the first 15 s, so evaluations slow to every 5 s while
    // rows come every 2 s): a decision repeated on every row would be seen below.
    await waitFor(
      'a row with the demo service grown past 1 replica, and at least 6 rows',
      async () => rows().some((r) => r.desired >= 2 && r.running >= 2) && rows().length >= 6,
      120_000,
    );
  } finally {
    child.kill('SIGINT');
  }
  const all = `${output.out}\n${output.err}`;
  assert.equal(await exited, 0, all);
  const service = /Created service (mass-demo-[0-9a-f]+)/.exec(output.out)?.[1];
  assert.ok(service, all);
  assert.match(output.out, /time\s+due\s+smoothed\s+replicas\s+decision \(when made\)/);
  // fits an 80-column terminal (stdout is a pipe here, so the demo assumes 80)
  for (const line of output.out.split('\n')) assert.ok(line.length < 80, `${line.length} columns: ${line}`);
  // a decision is shown on the row after it was made, not repeated on every row
  const decisions = output.out.split('\n').filter((l) => /(scale up|scale down|steady|hold): /.test(l));
  assert.ok(decisions.length > 0, output.out);
  assert.ok(rows().length > decisions.length, `${rows().length} rows, ${decisions.length} decisions`);
  assert.ok(
    rows().some((r) => r.smoothed !== '-' && Number.isFinite(Number(r.smoothed))),
    'the smoothed demand is shown',
  );
  assert.match(output.err, /Ctrl-C: stopping the autoscaler, removing mass-demo-[0-9a-f]+/);
  assert.match(output.err, /Everything the demo created is gone\./);
  const left = await docker.listServices({ filters: { name: [service] } });
  assert.equal(left.length, 0, `${service} is still there`);
});

test('SIGHUP with its stdout pipe gone (`| tee log`, then the terminal closed) still removes what it created', async () => {
  const docker = await requireDocker();
  const { child, output, exited } = startDemo();
  // The reader of the pipe is gone from the start (as when tee ended): every row fails with EPIPE.
  child.stdout.destroy();
  const demoServices = async () =>
    ((await docker.listServices({ filters: { name: ['mass-demo-'] } })) as { Spec?: { Name?: string } }[]).map(
      (s) => s.Spec!.Name!,
    );
  let service: string | undefined;
  try {
    service = await waitFor('the demo service', async () => (await demoServices())[0], 120_000);
    // scaled by the autoscaler: the demo has been running (and writing rows into the closed pipe)
    await waitFor(`${service} at 2 replicas`, async () => (await desiredReplicas(docker, service!)) === 2, 120_000);
    assert.equal(child.exitCode, null, `the demo died of its closed stdout: ${output.err}`);
  } finally {
    child.kill('SIGHUP');
  }
  assert.equal(await exited, 0, output.err);
  assert.match(
    output.err,
    new RegExp(`SIGHUP \\(the terminal was closed\\): stopping the autoscaler, removing ${service}`),
  );
  assert.match(output.err, /Everything the demo created is gone\./);
  assert.deepEqual(await demoServices(), [], 'no demo service left');
});
