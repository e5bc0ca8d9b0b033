// `npm run twin`: a short time-scaled replay through the stand-in's work cycle, worker containers
// on the real swarm and the real daemon; bad input; cleanup on a signal.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { requireDocker, waitFor } from '../support/docker';
import { ENTRY } from './harness';

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'twin-test-'));
const children = new Set<ChildProcess>();
let docker: Docker | undefined;

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (docker) await removeTwinServices(docker);
  rmSync(dir, { recursive: true, force: true });
});

/** Services the twin made (labelled com.mass.twin); a run cleans its own, this is the safety net. */
async function twinServices(d: Docker): Promise<string[]> {
  const services = await d.listServices({ filters: { label: ['com.mass.twin'] } });
  return services.map((s) => s.Spec?.Name ?? s.ID);
}
async function removeTwinServices(d: Docker): Promise<void> {
  const services = await d.listServices({ filters: { label: ['com.mass.twin'] } });
  await Promise.all(
    services.map((s) =>
      d
        .getService(s.ID)
        .remove()
        .catch(() => undefined),
    ),
  );
}

function twin(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'twin.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

function traceFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('twin: bad input exits 2 naming the fault', () => {
  const cases: { why: string; args: () => string[]; says: RegExp }[] = [
    {
      why: 'a malformed trace row names its line',
      args: () => ['--trace', traceFile('bad.csv', 't,arrivals\n0,1\n5,x\n'), '--out', join(dir, 'o1')],
      says: /bad\.csv line 3: arrivals "x" is not a whole number/,
    },
    {
      why: 'a missing trace file names the file',
      args: () => ['--trace', join(dir, 'none.csv'), '--out', join(dir, 'o2')],
      says: /cannot read the trace file .*none\.csv.*no such file/,
    },
    {
      why: 'a bad --time-scale names the option',
      args: () => ['--trace', traceFile('ok.csv', 't,arrivals\n0,1\n'), '--out', join(dir, 'o3'), '--time-scale', '0'],
      says: /--time-scale "0" must be greater than 0/,
    },
    {
      why: 'an unknown label names the label',
      args: () => ['--trace', traceFile('ok2.csv', 't,arrivals\n0,1\n'), '--out', join(dir, 'o4'), '--labels', 'max=3'],
      says: /unknown label "com\.mass\.max"/,
    },
    {
      why: 'a missing --out says so',
      args: () => ['--trace', traceFile('ok3.csv', 't,arrivals\n0,1\n')],
      says: /missing --out DIR/,
    },
  ];
  for (const c of cases) {
    test(c.why, async () => {
      const run = twin(c.args());
      assert.equal(await run.exited, 2, run.output());
      assert.match(run.output(), c.says);
    });
  }
});

describe('twin: a short replay on the real swarm', () => {
  test('replays the trace with the daemon scaling worker services, writes the comparison and removes its services', async () => {
    docker = await requireDocker();
    assert.ok(readFileSync(ENTRY), 'dist/autoscaler.js is built');
    // 24 analyses of 10 s over 2 minutes, 10× faster: about half a minute of real time.
    const trace = traceFile('short.csv', 't,arrivals\n0,0\n5,8\n40,8\n80,8\n120,0\n');
    const out = join(dir, 'short');
    const run = twin([
      '--trace',
      trace,
      '--labels',
      'min_inst=1,max_inst=4,scale_down_delay=60,min_schedule_interval=10,max_schedule_interval=20',
      '--out',
      out,
      '--time-scale',
      '10',
      '--service-time',
      '10',
      '--sleep-time',
      '5',
      '--runs',
      '4',
    ]);
    assert.equal(await run.exited, 0, run.output());
    assert.match(run.output(), /twin: 0:0\d:\d\d of 0:02:00 · A: \d+ replicas/, 'progress lines');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.timeScale, 10);
    const set = summary.labelSets[0];
    assert.equal(set.twin.arrived, 24);
    assert.equal(set.twin.completed + set.twin.stuck, 24, 'every analysis is done or stuck on a dead instance');
    assert.ok(set.twin.completed > 0);
    assert.ok(set.twin.peakReplicas > 1, 'the daemon scaled the workers up');
    assert.ok(set.twin.replicaSeconds > 0 && set.twin.p95Wait !== null);
    assert.ok(set.predicted.replicaSeconds.mean > 0, 'the simulator predicts the same trace');
    assert.equal(typeof set.ratio.replicaSeconds, 'number');
    assert.equal(set.labelsOnService['com.mass.scale_down_delay'], '6', 'label delays are time-scaled');
    assert.equal(set.labelsOnService['com.mass.target_wait'], '18', "the work policy's time labels are time-scaled");
    const records = readFileSync(join(out, 'records.csv'), 'utf8').trim().split('\n');
    assert.equal(records.length, 25);
    assert.deepEqual(await twinServices(docker), [], 'the replay removed its services');
  });

  test('a Docker failure mid-replay (its service removed under it) stops it, cleans up and exits 1 with the reason', async () => {
    docker = await requireDocker();
    const trace = traceFile('long2.csv', 't,arrivals\n0,0\n5,5\n3600,5\n');
    const run = twin(['--trace', trace, '--out', join(dir, 'long2'), '--time-scale', '10', '--labels', 'min_inst=1']);
    await waitFor('a progress line', async () => / of 1:00:00 · A: /.test(run.output()) || undefined, 120_000);
    await removeTwinServices(docker);
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.output(), /Docker failed mid-replay: .*(no such service|not found)/i);
    assert.deepEqual(await twinServices(docker), []);
  });

  test('SIGTERM mid-replay stops, removes every service it made and exits 143', async () => {
    docker = await requireDocker();
    const trace = traceFile('long.csv', 't,arrivals\n0,0\n5,5\n3600,5\n');
    const run = twin(['--trace', trace, '--out', join(dir, 'long'), '--time-scale', '10', '--labels', 'min_inst=2']);
    await waitFor('a progress line', async () => / of 1:00:00 · A: /.test(run.output()) || undefined, 120_000);
    assert.ok((await twinServices(docker)).length > 0, 'the replay made a service');
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 143, run.output());
    assert.match(run.output(), /SIGTERM: stopping and removing what the replay made/);
    assert.deepEqual(await twinServices(docker), []);
  });
});
