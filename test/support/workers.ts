// Worker containers on the real swarm for the e2e tests of the work cycle: a service whose
// replicas run test/fakes/worker.sh (mass_api_client 0.2's process_analyses) against the MASS
// stand-in on 127.0.0.1, over the host network.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { WorkCycle } from '../fakes/work-cycle';
import { TEST_IMAGE, waitFor } from './docker';

export interface WorkerService {
  name: string;
  labels: Record<string, string>;
  replicas: number;
  massUrl: string;
  apiKey: string;
  system: string;
  /** seconds each analysis takes */
  serviceTimeS: number;
}

/** Creates the service of worker replicas (host network, 1 s stop grace period). */
export async function createWorkerService(docker: Docker, w: WorkerService): Promise<void> {
  const hostNet = (await docker.listNetworks({ filters: { name: ['host'] } })).find((n) => n.Name === 'host');
  assert.ok(hostNet, 'the Engine has a host network');
  await docker.createService({
    Name: w.name,
    Labels: w.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: TEST_IMAGE,
        Command: ['sh', '-c', readFileSync(join(__dirname, '..', 'fakes', 'worker.sh'), 'utf8')],
        Env: [
          `MASS_URL=${w.massUrl}`,
          `MASS_KEY=${w.apiKey}`,
          `SYSTEM=${w.system}`,
          `SERVICE_TIME=${w.serviceTimeS}`,
          'SLEEP_TIME=0.5',
        ],
        StopGracePeriod: 1_000_000_000,
      },
      Networks: [{ Target: hostNet.Id }],
    },
    Mode: { Replicated: { Replicas: w.replicas } },
  } as unknown as Docker.ServiceSpec);
}

/** Waits until `count` workers have registered and polled (and not exited). */
export async function waitForPollingWorkers(cycle: WorkCycle, count: number): Promise<void> {
  const polling = () => [...cycle.instances.values()].filter((i) => i.firstPollAt !== null && i.exitedAt === null);
  await waitFor(`${count} workers registered and polling`, async () => polling().length >= count, 120_000);
}
