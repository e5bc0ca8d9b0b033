// The invariant of the liveness rule on the real swarm (issue 14 item 4): worker containers
// (test/fakes/worker.sh) fetch long batches and go quiet for longer than MASS's online window
// (busy but offline), the demand the daemon reads drops, and yet the daemon never sets their
// service below the number of its instances that are working; no analysis is lost to a scale-in.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { desiredReplicas, removeServicesWithPrefix, requireDocker, uniquePrefix, waitFor } from '../support/docker';
import { startFakeMass, type FakeMass } from '../fakes/mass-server';
import { attachWorkCycle, type WorkCycle } from '../fakes/work-cycle';
import { fastLabels, startDaemon, type Daemon } from './harness';
import { createWorkerService, waitForPollingWorkers } from '../support/workers';

const KEY = 'liveness-e2e-key';
const prefix = uniquePrefix('liveness');
const SYSTEM = `${prefix}-sys`;
/** the stand-in's online window, shrunk from MASS's 10 minutes */
const WINDOW_S = 5;
const SERVICE_TIME_S = 3;
const WORKERS = 3;
/** analyses per worker: a batch of 18 s, more than three online windows */
const BATCH = 6;

let docker: Docker | undefined;
let mass: FakeMass | undefined;
let cycle: WorkCycle | undefined;
let daemon: Daemon | undefined;

after(async () => {
  await daemon?.stop();
  if (docker) await removeServicesWithPrefix(docker, prefix);
  cycle?.stop();
  await mass?.close();
});

describe('liveness on the real swarm', () => {
  test('busy-but-offline workers: demand drops, the service is never set below the instances that are working', async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: KEY });
    cycle = attachWorkCycle(mass, KEY, { schedulerIntervalMs: 500, onlineWindowMs: WINDOW_S * 1000 });
    mass.addSystem(SYSTEM);
    const service = `${prefix}-workers`;
    await createWorkerService(docker, {
      name: service,
      // 100 analyses per replica: any demand here asks for one replica, so only the floor keeps three.
      labels: fastLabels(SYSTEM, {
        'com.mass.min_inst': '1',
        'com.mass.max_inst': String(WORKERS),
        'com.mass.requests_per_instance': '100',
        'com.mass.scale_down_delay': '2',
      }),
      replicas: WORKERS,
      massUrl: mass.baseUrl,
      apiKey: KEY,
      system: SYSTEM,
      serviceTimeS: SERVICE_TIME_S,
    });
    await waitForPollingWorkers(cycle, WORKERS);

    // The work arrives, is scheduled evenly (least-loaded) and fetched as one batch per worker.
    cycle.arrive(SYSTEM, WORKERS * BATCH);
    await waitFor(
      'every analysis fetched by a worker',
      async () => cycle!.records.every((r) => r.fetchedAt !== null),
      60_000,
    );
    const working = () => [...cycle!.instances.values()].filter((i) => i.exitedAt === null && i.queue.length > 0);
    assert.equal(working().length, WORKERS, 'every worker holds a batch');

    daemon = startDaemon({
      API_KEY: KEY,
      MASS_SERVER_ADDRESS: mass.baseUrl,
      MASS_ONLINE_WINDOW: String(WINDOW_S),
      WORKING_GRACE: String(2 * SERVICE_TIME_S),
    });

    // Until the batches are done: sample the service's replicas against the instances working.
    let sawOffline = false;
    let samples = 0;
    const violations: string[] = [];
    await waitFor(
      'every analysis reported',
      async () => {
        const now = Date.now();
        const busy = working();
        const replicas = (await desiredReplicas(docker!, service)) ?? 0;
        samples += 1;
        if (busy.some((i) => i.fake.lastSeen !== null && now - i.fake.lastSeen >= WINDOW_S * 1000)) sawOffline = true;
        if (replicas < busy.length) violations.push(`${replicas} replicas while ${busy.length} instances work`);
        // A scale below the working count ends the wait at once (and fails below), not at the deadline.
        return violations.length > 0 || cycle!.records.every((r) => r.endedAt !== null);
      },
      120_000,
    );
    assert.ok(samples > 10, `sampled ${samples} times`);
    assert.ok(sawOffline, 'the workers were busy but offline for MASS at some point');
    assert.deepEqual(violations, []);
    assert.equal(cycle.totals().aborted, 0, 'no analysis lost to a scale-in');
    assert.equal(cycle.totals().completed, WORKERS * BATCH);
    assert.ok(
      daemon.lines.some((l) => l.reason === 'hold-working'),
      'the working floor is what held the service (the demand alone asked for 1)',
    );
    // With the work done the floor is gone: the daemon scales the idle workers in.
    await waitFor(
      'the service scaled in once idle',
      async () => (await desiredReplicas(docker!, service)) === 1,
      60_000,
    );
  });
});
