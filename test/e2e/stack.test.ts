// deploy/stack.yml as an operator uses it: `docker stack deploy` on the manager, the key from a
// Docker secret, the Docker socket mounted — and the autoscaler, running as a Swarm service,
// scales a MASS service. No registry is reachable here, so the image is assembled from this
// machine's node binary and the built project instead of `docker build` (the Dockerfile's
// base image cannot be pulled); the stack file itself is used as shipped, with the changes
// listed in `derive()`. With a registry at hand, test the Dockerfile's image instead:
//   docker build -t mass-autoscaler:latest . && STACK_TEST_IMAGE=mass-autoscaler:latest node --test --import tsx test/e2e/stack.test.ts
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { startFakeMass } from '../fakes/mass-server';
import {
  createTestService,
  desiredReplicas,
  dockerCli,
  removeServicesWithPrefix,
  requireDocker,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { assembleImageTar, deriveStack, importImage } from '../support/stack';
import { ENTRY } from './harness';

/** An image built from the Dockerfile (`docker build -t mass-autoscaler:latest .`) can be tested instead. */
const IMAGE = process.env.STACK_TEST_IMAGE ?? 'mass-autoscaler:stack-test';
const API_KEY = 'stack-secret-key-27c9e1';

/** A runnable image of the project without a registry (test/support/stack.ts), imported as IMAGE. */
async function assembleImage(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mass-autoscaler-image-'));
  try {
    await importImage(assembleImageTar(dir), IMAGE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** deploy/stack.yml with the test's image, MASS address, secret name, metrics port and debug logs. */
function derive(massUrl: string, secretName: string, metricsPort: number): string {
  return deriveStack({ image: IMAGE, massUrl, secretName }, [
    [/METRICS_PORT: ["']9464["']/, `METRICS_PORT: "${metricsPort}"\n      LOG_LEVEL: debug`],
    [/ *LOG_LEVEL: info\n/, ''],
  ]);
}

/** A port free on loopback now: the service shares the host's network, and its health check asks that port. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const docker = (...args: string[]) => dockerCli(args);

describe('deploy/stack.yml: the autoscaler as a Swarm service', () => {
  let engine: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  const prefix = uniquePrefix('stack');
  const stack = prefix;
  const secret = `${prefix}-key`;
  const svc = `${prefix}-worker`;
  const sys = `${prefix}-sys`;
  let dir: string | undefined;
  let assembled = false;

  before(async () => {
    engine = await requireDocker();
    assert.ok(readFileSync(ENTRY, 'utf8').length > 0, 'run npm run build first');
    if (process.env.STACK_TEST_IMAGE === undefined) {
      assembled = true;
      await assembleImage();
    }
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sys);
    mass.setDemand(sys, { due: 1 });
    spawnSync('docker', ['secret', 'create', secret, '-'], { input: API_KEY });
  });

  after(async () => {
    spawnSync('docker', ['stack', 'rm', stack]);
    await waitFor(
      'stack removed',
      async () => !docker('service', 'ls', '--format', '{{.Name}}').includes(`${stack}_autoscaler`),
    ).catch(() => undefined);
    spawnSync('docker', ['secret', 'rm', secret]);
    spawnSync('docker', ['config', 'rm', 'mass-autoscaler-lease']); // the stack's daemon keeps its lease there
    await removeServicesWithPrefix(engine, prefix);
    await mass?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (assembled) {
      // The image assembled for this test goes too, once the stack's containers are gone.
      await waitFor(
        `no container left from ${IMAGE}`,
        async () => docker('ps', '-aq', '--filter', `ancestor=${IMAGE}`).trim() === '',
      ).catch(() => undefined);
      docker('image', 'rm', IMAGE);
    }
  });

  test('docker stack deploy runs the autoscaler, which reads the key from the secret and scales a service', async () => {
    await createTestService(engine, {
      name: svc,
      replicas: 1,
      labels: {
        'com.mass.anal_system': sys,
        'com.mass.min_inst': '1',
        'com.mass.calculation_technique': 'moving average',
        'com.mass.m_a_sensitivity': '1',
        'com.mass.min_schedule_interval': '1',
        'com.mass.max_schedule_interval': '2',
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'stack-'));
    writeFileSync(join(dir, 'stack.yml'), derive(mass.baseUrl, secret, await freePort()));
    docker('stack', 'deploy', '--resolve-image', 'never', '-c', join(dir, 'stack.yml'), stack);
    mass.setDemand(sys, { due: 3 });
    await waitFor(
      `${svc} scaled to 3 by the autoscaler service`,
      async () => (await desiredReplicas(engine, svc)) === 3,
      90_000,
    );
    const spec = (await engine.getService(`${stack}_autoscaler`).inspect()) as {
      Spec: {
        Mode: { Replicated?: { Replicas: number } };
        TaskTemplate: { Placement?: { Constraints?: string[] }; ContainerSpec: { Secrets?: { SecretName: string }[] } };
      };
    };
    assert.equal(spec.Spec.Mode.Replicated?.Replicas, 1);
    assert.deepEqual(spec.Spec.TaskTemplate.Placement?.Constraints, ['node.role == manager']);
    assert.equal(spec.Spec.TaskTemplate.ContainerSpec.Secrets?.[0]?.SecretName, secret);
    // Service logs reach the Engine's log endpoint a little after the process writes them.
    const logs = await waitFor('the scale-up line in the service logs', async () => {
      const text = docker('service', 'logs', '--raw', `${stack}_autoscaler`);
      return /scale up: demand 3\.0 > 1 replicas/.test(text) ? text : undefined;
    });
    assert.ok(!logs.includes(API_KEY), 'the key is not in the service logs');
    assert.ok(
      mass.requests.length > 0 && mass.requests.every((r) => r.authOk),
      'every request carried the key from the secret',
    );
  });
});
