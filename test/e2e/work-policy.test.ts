// The work policy's scale-in on the real swarm (com.mass.policy=work, scale_in=idle): worker
// containers (test/fakes/worker.sh) run the real work cycle against the MASS stand-in; one of
// them holds an analysis while the others are idle. One replica would do, but Swarm picks which
// replica a scale-down removes, so the daemon refuses to scale in while the analysis is held, and
// does it once no instance holds work. No analysis is lost.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { desiredReplicas, removeServicesWithPrefix, requireDocker, uniquePrefix, waitFor } from '../support/docker';
import { startFakeMass, type FakeMass } from '../fakes/mass-server';
import { attachWorkCycle, type WorkCycle } from '../fakes/work-cycle';
import { fastLabels, startDaemon, type Daemon } from './harness';
import { createWorkerService, waitForPollingWorkers } from '../support/workers';

const KEY = 'work-policy-e2e-key';
const prefix = uniquePrefix('workpolicy');
const SYSTEM = `${prefix}-sys`;
/** long enough for the daemon to start and hold the scale-in at least once */
const SERVICE_TIME_S = 15;
const WORKERS = 3;

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

describe('work policy on the real swarm', () => {
  test('scale_in=idle: a scale-in is refused while an instance holds work, and done once none does', async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: KEY });
    cycle = attachWorkCycle(mass, KEY, { schedulerIntervalMs: 500, onlineWindowMs: 60_000 });
    mass.addSystem(SYSTEM);
    const service = `${prefix}-workers`;
    await createWorkerService(docker, {
      name: service,
      labels: fastLabels(SYSTEM, {
        'com.mass.policy': 'work',
        'com.mass.scale_in': 'idle',
        'com.mass.min_inst': '1',
        'com.mass.max_inst': String(WORKERS),
        'com.mass.service_time': String(SERVICE_TIME_S),
        'com.mass.target_wait': '60',
        'com.mass.startup_time': '5',
      }),
      replicas: WORKERS,
      massUrl: mass.baseUrl,
      apiKey: KEY,
      system: SYSTEM,
      serviceTimeS: SERVICE_TIME_S,
    });
    await waitForPollingWorkers(cycle, WORKERS);

    // One analysis: one worker fetches it and works on it; the other two stay idle.
    cycle.arrive(SYSTEM, 1);
    await waitFor('the analysis fetched by a worker', async () => cycle!.records[0]?.fetchedAt != null, 60_000);

    daemon = startDaemon({ API_KEY: KEY, MASS_SERVER_ADDRESS: mass.baseUrl, MASS_ONLINE_WINDOW: '60' });
    const held = () => daemon!.lines.find((l) => l.service === service && l.reason === 'hold-work-held');
    await waitFor('a scale-in held by the work', async () => held() !== undefined, 60_000);
    const hold = held()!;
    assert.equal(hold.limitedBy, 'scale-in-hold');
    assert.equal(hold.recommendation, 1, 'one replica would carry the work');
    assert.equal(hold.desired, WORKERS);
    assert.deepEqual((hold.work as { holders: number }).holders, 1, 'one instance holds the work');
    assert.equal(cycle.records[0]!.endedAt, null, 'the analysis was still in progress when the scale-in was held');
    assert.equal(await desiredReplicas(docker, service), WORKERS);

    // Once the analysis is reported, no instance holds work: the scale-in is done.
    await waitFor('the service scaled in to 1', async () => (await desiredReplicas(docker!, service)) === 1, 90_000);
    const done = daemon.lines.find((l) => l.service === service && l.reason === 'scale-down-idle');
    assert.ok(done, 'the scale-in was made because no instance held work');
    assert.ok(daemon.lines.indexOf(done) > daemon.lines.indexOf(hold), 'the scale-in came after the hold');
    assert.ok(cycle.records[0]!.endedAt !== null, 'the analysis was finished before the scale-in');
    assert.equal(cycle.totals().aborted, 0, 'no analysis lost to the scale-in');
    assert.equal(cycle.totals().completed, 1);
  });
});
