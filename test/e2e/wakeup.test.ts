// The wake-up after a quiet period with the whole daemon (`node dist/autoscaler.js`), the MASS
// stand-in (0.2) and the real swarm: a burst that arrives just after a steady evaluation, whose
// next evaluation is max_schedule_interval (60 s) away, is acted on within min_schedule_interval
// (2 s) plus one round. One round is given 5 s here, far above what it takes (see BENCHMARKS.md)
// and far below the 60 s the burst would wait without the wake-up, so the test tells the two apart
// on a slow machine too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { startFakeMass } from '../fakes/mass-server';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { fastLabels, startDaemon, type Daemon } from './harness';

const API_KEY = 'e2e-wakeup-key-5d21c0aa';
const MIN_INTERVAL_S = 2;
const MAX_INTERVAL_S = 60;
const ONE_ROUND_MS = 5000;

describe('daemon end to end: a burst after a quiet period', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  let daemon: Daemon;
  const prefix = uniquePrefix('wake');
  const service = `${prefix}-svc`;
  const system = `${prefix}-sys`;
  const labels = fastLabels(system, {
    'com.mass.min_schedule_interval': String(MIN_INTERVAL_S),
    'com.mass.max_schedule_interval': String(MAX_INTERVAL_S),
  });

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.setDemand(system, { due: 0, scheduledOnline: 1 });
    mass.addSystem('not-managed');
    await createTestService(docker, { name: service, replicas: 1, labels });
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test(`acted on within min_schedule_interval ${MIN_INTERVAL_S} s + one round, not max_schedule_interval ${MAX_INTERVAL_S} s`, async () => {
    daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl });
    // Steady: demand 1 on 1 replica; the next evaluation is max_schedule_interval away.
    const steady = await daemon.waitForLog(
      'a steady evaluation',
      (l) => l.service === service && l.action === 'none' && l.nextInS === MAX_INTERVAL_S,
    );
    // The wake-up has read the quiet count at least once since.
    await waitFor('a wake-up count', async () =>
      mass.requests.some(
        (r) => r.url.startsWith('/api/analysis_request/?schedule_after__lte=') && r.url.endsWith('&count'),
      ),
    );
    const burstAt = Date.now();
    assert.ok(
      burstAt - (steady.time as number) < (MAX_INTERVAL_S * 1000) / 2,
      'the burst comes long before the next evaluation',
    );
    mass.setDemand(system, { due: 3, scheduledOnline: 1 });
    mass.addRequests('not-managed', 2, Date.now() - 1000);

    const woke = await daemon.waitForLog(
      'the wake-up line',
      (l) =>
        l.msg === 'wake-up: due requests rose' && String(l.explanation).startsWith('wake-up: due requests over all'),
    );
    assert.deepEqual([woke.from, woke.count], [0, 5]);
    assert.ok((woke.services as string[]).includes(service), JSON.stringify(woke));
    const scaled = await daemon.waitForLog('the scale-up', (l) => l.service === service && l.action === 'up');
    const reaction = (scaled.time as number) - burstAt;
    assert.ok(
      reaction <= MIN_INTERVAL_S * 1000 + ONE_ROUND_MS,
      `reaction ${reaction} ms > ${MIN_INTERVAL_S} s + one round (${ONE_ROUND_MS} ms)`,
    );
    await waitFor(`${service} at 4 replicas`, async () => (await desiredReplicas(docker, service)) === 4);
    // The wake-up's count carries no system filter: one request whatever the number of systems.
    const counts = mass.requests.filter((r) => r.url.startsWith('/api/analysis_request/?schedule_after__lte='));
    assert.ok(counts.length > 0 && counts.every((r) => !r.url.includes('analysis_system=')));
  });
});
