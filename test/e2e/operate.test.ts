// What an operator sees and does: /metrics, /healthz, `status`, dry run, pause by label.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { startFakeMass } from '../fakes/mass-server';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  setServiceLabels,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { allOutput, fastLabels, runCli, startDaemon, type Daemon } from './harness';

const API_KEY = 'operate-secret-key-5b1e7a';

function labels(system: string, extra: Record<string, string> = {}): Record<string, string> {
  return fastLabels(system, {
    'com.mass.max_inst': '4',
    'com.mass.max_schedule_interval': '1',
    'com.mass.scale_down_delay': '0',
    ...extra,
  });
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** The value of one series in Prometheus text, e.g. series('mass_autoscaler_demand_raw', {service: 'x'}). */
function series(text: string, name: string, labelsWanted: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labelsWanted).every(([k, v]) => labelText.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('operating the daemon', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  const prefix = uniquePrefix('ops');
  const svc = `${prefix}-main`;
  const sys = `${prefix}-sys`;
  let daemon: Daemon;
  let base: string;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sys);
    mass.setDemand(sys, { due: 2, notDue: 5, scheduledOnline: 1, stuckOffline: 4 });
    await createTestService(docker, { name: svc, replicas: 1, labels: labels(sys) });
    daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl, HEALTH_MAX_AGE: '3' });
    base = `http://127.0.0.1:${await daemon.httpPort()}`;
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('/metrics shows the demand set on MASS and the replica count in the swarm', async () => {
    await waitFor(`${svc} at 3 replicas`, async () => (await desiredReplicas(docker, svc)) === 3);
    const text = await waitFor('metrics with the scaled service', async () => {
      const { body } = await get(`${base}/metrics`);
      return series(body, 'mass_autoscaler_replicas_current', { service: svc }) === 3 ? body : undefined;
    });
    const labelsOf = { service: svc, system: sys };
    assert.equal(series(text, 'mass_autoscaler_demand_raw', labelsOf), 3);
    assert.equal(series(text, 'mass_autoscaler_requests_due', labelsOf), 2);
    assert.equal(series(text, 'mass_autoscaler_requests_not_due', labelsOf), 5);
    assert.equal(series(text, 'mass_autoscaler_analyses_stuck_offline', labelsOf), 4);
    assert.equal(series(text, 'mass_autoscaler_replicas_desired', labelsOf), 3);
    assert.equal(series(text, 'mass_autoscaler_replicas_recommended', labelsOf), 3);
    assert.equal(series(text, 'mass_autoscaler_scale_actions_total', { service: svc, direction: 'up' }), 1);
    assert.equal(series(text, 'mass_autoscaler_service_info', { service: svc, status: 'managed' }), 1);
    assert.match(text, /^mass_autoscaler_round_duration_seconds_count \d+/m);
    assert.match(text, /^mass_autoscaler_process_cpu_seconds_total /m);
    assert.match(text, /^mass_autoscaler_dry_run 0$/m);
  });

  test('every metric the Grafana dashboard uses is exported', async () => {
    const dashboard = readFileSync(join(__dirname, '..', '..', 'deploy', 'grafana-dashboard.json'), 'utf8');
    const used = new Set(
      [...dashboard.matchAll(/mass_autoscaler_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')),
    );
    const { body } = await get(`${base}/metrics`);
    for (const name of used) assert.match(body, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is not exported`);
  });

  test('/healthz is 200 while rounds succeed, 503 with the reason when MASS fails, 200 again after', async () => {
    await waitFor('healthz 200', async () => (await get(`${base}/healthz`)).status === 200);
    mass.fault = { kind: 'status', code: 502, body: '<html>bad gateway</html>', contentType: 'text/html' };
    const down = await waitFor('healthz 503', async () => {
      const r = await get(`${base}/healthz`);
      return r.status === 503 ? r : undefined;
    });
    assert.match(down.body, /no successful MASS reading for \d+s/);
    assert.equal(await desiredReplicas(docker, svc), 3, 'replicas kept while MASS fails');
    mass.fault = null;
    await waitFor('healthz 200 again', async () => (await get(`${base}/healthz`)).status === 200);
  });

  test('`status` prints the service in a table, and JSON with --json', async () => {
    const table = await runCli(['status', '--url', base]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^health: ok/);
    assert.match(
      lines[1]!,
      /^SERVICE\s+SYSTEM\s+STATUS\s+REPLICAS\s+RUNNING\s+DESIRED\s+RECOMMENDED\s+LIMITED BY\s+DEMAND raw\/smooth\s+DUE\s+NOT DUE\s+STUCK\s+NEXT\s+LAST ACTION\s+REASON$/,
    );
    const row = lines.find((l) => l.startsWith(svc));
    assert.ok(row, table.stdout);
    assert.match(
      row,
      new RegExp(
        `^${svc}\\s+${sys}\\s+managed\\s+3\\s+\\d+\\s+3\\s+3\\s+none\\s+3/3\\s+2\\s+5\\s+4\\s+\\d+s\\s+up 1 → 3\\s+steady: demand 3.0 matches 3 replicas`,
      ),
    );

    const json = await runCli(['status', '--json'], {
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: base.split(':').pop()!,
    });
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { services: { name: string; replicas: number; due: number }[] };
    const entry = doc.services.find((s) => s.name === svc);
    assert.equal(entry?.replicas, 3);
    assert.equal(entry?.due, 2);
  });

  test('pausing by label leaves the service alone; removing the label resumes it', async () => {
    await setServiceLabels(docker, svc, { 'com.mass.autoscale': 'false' });
    await daemon.waitForLog(
      'paused',
      (l) =>
        l.msg === 'service paused' &&
        l.explanation === `service ${svc} is paused (com.mass.autoscale=false); it is left as it is`,
    );
    mass.setDemand(sys, { due: 1 });
    await waitFor('paused in metrics', async () => {
      const r = await get(`${base}/metrics`);
      return series(r.body, 'mass_autoscaler_service_info', { service: svc, status: 'paused' }) === 1;
    });
    // Several rounds later (each would evaluate it every second if it were managed), it is still at 3.
    const rounds = async () =>
      Number(/^mass_autoscaler_round_duration_seconds_count (\d+)/m.exec((await get(`${base}/metrics`)).body)?.[1]);
    const before = await rounds();
    await waitFor('five more rounds', async () => (await rounds()) >= before + 5);
    assert.ok(
      !daemon.lines.some((l) => l.service === svc && String(l.explanation).startsWith('scale down')),
      'no scale-down while paused',
    );
    const status = await runCli(['status', '--url', base]);
    assert.match(status.stdout, new RegExp(`^${svc}\\s+${sys}\\s+paused\\s+3`, 'm'));
    assert.equal(await desiredReplicas(docker, svc), 3);
    await setServiceLabels(docker, svc, { 'com.mass.autoscale': undefined });
    await daemon.waitForLog(
      'managed again',
      (l) => l.msg === 'service managed again' && l.explanation === `service ${svc} is managed again`,
    );
    await waitFor(`${svc} down to 1 after resuming`, async () => (await desiredReplicas(docker, svc)) === 1);
  });

  test('no line printed contains the API key', () => {
    for (const line of allOutput) assert.ok(!line.includes(API_KEY), line.slice(0, 200));
  });
});

describe('dry run', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  const prefix = uniquePrefix('dry');
  const svc = `${prefix}-svc`;
  const sys = `${prefix}-sys`;
  let daemon: Daemon;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sys);
    mass.setDemand(sys, { due: 4 });
    await createTestService(docker, { name: svc, replicas: 1, labels: labels(sys) });
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('DRY_RUN=true logs the decision, leaves the replicas, and says so in metrics and status', async () => {
    daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl, DRY_RUN: 'true' });
    await daemon.waitForLog(
      'start line says dry run',
      (l) => l.msg === 'mass-autoscaler starting' && String(l.explanation).includes('DRY RUN mode'),
    );
    const decision = await daemon.waitForLog(
      'dry-run decision',
      (l) =>
        l.service === svc && l.msg === 'dry run: not applied' && l.explanation === 'scale up: demand 4.0 > 1 replicas',
    );
    assert.equal(decision.desired, 4);
    // a second evaluation proves the first one did not apply anything either
    const count = daemon.lines.length;
    await daemon.waitForLog(
      'second dry-run decision',
      (l) => daemon.lines.indexOf(l) >= count && l.service === svc && l.msg === 'dry run: not applied',
    );
    assert.equal(await desiredReplicas(docker, svc), 1);
    const port = await daemon.httpPort();
    const metrics = await get(`http://127.0.0.1:${port}/metrics`);
    assert.match(metrics.body, /^mass_autoscaler_dry_run 1$/m);
    assert.doesNotMatch(metrics.body, /^mass_autoscaler_scale_actions_total\{/m);
    const status = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);
    assert.match(status.stdout, /DRY RUN/);
    assert.match(status.stdout, new RegExp(`^${svc}.*would up to 4`, 'm'));
  });
});
