// The whole daemon (`node dist/autoscaler.js`) against the fake MASS server and the real swarm.
import assert from 'node:assert/strict';
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
import { allOutput, fastLabels, startDaemon, type Daemon } from './harness';

const API_KEY = 'e2e-secret-key-9f2c41d7';

describe('daemon end to end: demand on MASS becomes replicas in a real swarm', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  let daemon: Daemon;
  const prefix = uniquePrefix('e2e');
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  const sysA = `${prefix}-sys-a`;
  const sysB = `${prefix}-sys-b`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sysA);
    mass.addSystem(sysB);
    mass.setDemand(sysA, { due: 1 });
    await createTestService(docker, { name: a, replicas: 1, labels: fastLabels(sysA) });
    daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl });
    await daemon.waitForLog(
      `managing ${a}`,
      (l) => l.msg === 'service managed' && l.explanation === `managing service ${a} for analysis system ${sysA}`,
    );
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('demand set on the server becomes the replica count', async () => {
    mass.setDemand(sysA, { due: 2, scheduledOnline: 1 });
    await waitFor(`${a} at 3 replicas`, async () => (await desiredReplicas(docker, a)) === 3);
    const line = await daemon.waitForLog(
      'scale up line',
      (l) => l.service === a && l.msg === 'scaled' && l.explanation === 'scale up: demand 3.0 > 1 replicas',
    );
    assert.equal(line.due, 2);
    assert.equal(line.scheduledOnline, 1);
  });

  test('the count is clamped at max_inst', async () => {
    mass.setDemand(sysA, { due: 40 });
    await waitFor(`${a} at 5 replicas`, async () => (await desiredReplicas(docker, a)) === 5);
    await daemon.waitForLog(
      'capped reason',
      (l) => l.service === a && String(l.explanation).includes('(capped at max_inst 5)'),
    );
    // still 5 on the next evaluations, never above
    const evaluated = daemon.lines.length;
    await waitFor(
      'two more evaluations of a',
      async () => daemon.lines.slice(evaluated).filter((l) => l.service === a && l.action !== undefined).length >= 2,
    );
    assert.equal(await desiredReplicas(docker, a), 5);
  });

  test('a lower demand removes replicas only after the stabilization window', async () => {
    mass.setDemand(sysA, { due: 2 });
    const hold = await daemon.waitForLog(
      'hold while the window runs',
      (l) => l.service === a && l.msg === 'decision' && String(l.explanation).startsWith('hold: demand 2.0 wants 2'),
    );
    assert.equal(hold.current, 5);
    assert.equal(hold.desired, 5, 'held during the window');
    await waitFor(`${a} down to 2`, async () => (await desiredReplicas(docker, a)) === 2);
    const down = await daemon.waitForLog(
      'scale down reason',
      (l) =>
        l.service === a &&
        l.msg === 'scaled' &&
        l.explanation === 'scale down: demand 2.0 held below 5 replicas for 4s',
    );
    // Measured on the daemon's own clock: from its last evaluation that still wanted 5 replicas
    // to the scale-down, the whole 4 s window passed (less the moment between a decision and
    // its log line), however fast or slow this machine is.
    const evaluationsOfA = daemon.lines.filter((l) => l.service === a && typeof l.bounded === 'number');
    const lastHigh = evaluationsOfA.filter((l) => (l.time as number) < (hold.time as number) && l.bounded === 5).pop();
    assert.ok(lastHigh, 'an evaluation wanting 5 replicas came before the hold');
    assert.ok(
      (down.time as number) - (lastHigh.time as number) >= 4000 - 50,
      `scaled down ${(down.time as number) - (lastHigh.time as number)} ms after the last high target`,
    );
  });

  test('a service created while the daemon runs is picked up', async () => {
    mass.setDemand(sysB, { due: 4 });
    await createTestService(docker, { name: b, replicas: 1, labels: fastLabels(sysB) });
    await waitFor(`${b} at 4 replicas`, async () => (await desiredReplicas(docker, b)) === 4);
  });

  test('a label change applies at the next evaluation', async () => {
    mass.setDemand(sysB, { due: 4 });
    await setServiceLabels(docker, b, { 'com.mass.max_inst': '2' });
    await daemon.waitForLog(
      'labels changed',
      (l) =>
        l.service === b &&
        l.msg === 'labels changed' &&
        String(l.explanation).startsWith(`labels of service ${b} changed`),
    );
    await waitFor(`${b} at 2 replicas`, async () => (await desiredReplicas(docker, b)) === 2);
  });

  test('a removed service is forgotten', async () => {
    await docker.getService(b).remove();
    await daemon.waitForLog(
      'forgotten',
      (l) =>
        l.msg === 'service forgotten' && l.explanation === `service ${b} is gone or no longer labelled; forgetting it`,
    );
  });

  test('SIGINT (Ctrl-C): exit 0 within 5 s', async () => {
    const other = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl, METRICS_PORT: 'off' });
    await other.waitForLog('second daemon running', (l) => l.msg === 'service managed');
    const result = await other.stop('SIGINT');
    assert.equal(result.code, 0);
    assert.ok(result.ms < 5000, `took ${result.ms} ms`);
    assert.ok(
      other.lines.some(
        (l) =>
          l.msg === 'signal received: stopping' &&
          l.explanation === 'SIGINT received; finishing the current round and stopping',
      ),
    );
  });

  test('SIGTERM: exit 0 within 5 s', async () => {
    const result = await daemon.stop('SIGTERM');
    assert.equal(result.code, 0);
    assert.ok(result.ms < 5000, `took ${result.ms} ms`);
  });

  test('the API key appears in no line the daemon printed', () => {
    assert.ok(allOutput.length > 10);
    for (const line of allOutput) assert.ok(!line.includes(API_KEY), `key leaked in: ${line.slice(0, 200)}`);
  });
});
