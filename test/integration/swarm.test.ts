// The dockerode adapter against the real Docker Engine in swarm mode (see scripts/setup-docker.sh).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { createDocker, DockerSwarm, SwarmError } from '../../src/swarm/docker-swarm';
import type { ManagedService } from '../../src/types';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  TEST_IMAGE,
  uniquePrefix,
  waitFor,
} from '../support/docker';

const prefix = uniquePrefix('swarm');
let docker: Docker;

before(async () => {
  docker = await requireDocker();
});

after(async () => {
  if (docker !== undefined) await removeServicesWithPrefix(docker, prefix);
});

/** Service names get a per-test suffix so tests never see each other's services. */
function named(suffix: string): string {
  return `${prefix}-${suffix}`;
}

// The whole Engine spec is compared as the Engine sends it; its shape is dockerode's, not ours.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function inspectService(idOrName: string): Promise<{ ID: string; Version: { Index: number }; Spec: any }> {
  return docker.getService(idOrName).inspect();
}

/** Another client's change: adds an env var, as `docker service update --env-add` would. */
/**
 * Another client's change to the service. It is out of sequence itself when Swarm updates the new
 * service in between (as it does right after creating one): like any client, it reads again and
 * retries, so that its change lands.
 */
async function addEnv(serviceId: string, entry: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await inspectService(serviceId);
    const spec = structuredClone(current.Spec);
    spec.TaskTemplate.ContainerSpec.Env = [...(spec.TaskTemplate.ContainerSpec.Env ?? []), entry];
    try {
      await docker.getService(serviceId).update({ _query: { version: current.Version.Index }, _body: spec });
      return;
    } catch (err) {
      if (attempt >= 10 || !String((err as Error).message).includes('update out of sequence')) throw err;
    }
  }
}

async function rejectsWithSwarmError(
  promise: Promise<unknown>,
  kind: SwarmError['kind'],
  messagePart: string,
): Promise<SwarmError> {
  const err = await promise.then(
    () => assert.fail(`expected a SwarmError of kind ${kind}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SwarmError, `expected a SwarmError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  assert.ok(err.message.includes(messagePart), `message "${err.message}" should name "${messagePart}"`);
  return err;
}

describe('listManaged', () => {
  test('lists labelled services only, global ones with replicas null', async () => {
    const swarm = new DockerSwarm(docker);
    const replicated = await createTestService(docker, {
      name: named('list-rep'),
      replicas: 0,
      labels: { 'com.mass.anal_system': 'sys-a', 'com.mass.max_inst': '4', team: 'x' },
    });
    const global = await createTestService(docker, {
      name: named('list-glob'),
      global: true,
      labels: { 'com.mass.anal_system': 'sys-g' },
    });
    const unlabelled = await createTestService(docker, {
      name: named('list-plain'),
      replicas: 0,
      labels: { team: 'x' },
    });

    // Other test files may run services on the same swarm: look at ours only.
    const ours = (await swarm.listManaged()).filter((s) => s.name.startsWith(prefix));
    const byName = new Map(ours.map((s) => [s.name, s]));

    const rep = await inspectService(replicated.id);
    assert.deepEqual(byName.get(replicated.name), {
      id: replicated.id,
      name: replicated.name,
      labels: { 'com.mass.anal_system': 'sys-a', 'com.mass.max_inst': '4', team: 'x' },
      mode: 'replicated',
      replicas: 0,
      operation: null,
      version: rep.Version.Index,
      running: 0,
      stopGraceMs: 1000,
    } satisfies ManagedService);

    const glob = await inspectService(global.id);
    // Its one task may or may not be running yet: counted, whatever it is.
    const { running: globalRunning, ...globalRest } = byName.get(global.name)!;
    assert.equal(typeof globalRunning, 'number');
    assert.deepEqual(globalRest, {
      id: global.id,
      name: global.name,
      labels: { 'com.mass.anal_system': 'sys-g' },
      mode: 'global',
      replicas: null,
      operation: null,
      version: glob.Version.Index,
      stopGraceMs: 1000,
    } satisfies ManagedService);

    assert.equal(byName.has(unlabelled.name), false, 'an unlabelled service must not be listed');
    assert.equal(ours.length, 2);
  });

  test("stop_grace_period: the spec's StopGracePeriod in ms, Docker's 10 s when the spec has none", async () => {
    const swarm = new DockerSwarm(docker);
    const create = async (suffix: string, grace: number | undefined) => {
      const name = named(suffix);
      await docker.createService({
        Name: name,
        Labels: { 'com.mass.anal_system': `sys-${suffix}` },
        TaskTemplate: { ContainerSpec: { Image: TEST_IMAGE, ...(grace !== undefined && { StopGracePeriod: grace }) } },
        Mode: { Replicated: { Replicas: 0 } },
      });
      return name;
    };
    const long = await create('grace-45', 45_000_000_000);
    const unset = await create('grace-unset', undefined);
    const byName = new Map((await swarm.listManaged()).map((s) => [s.name, s]));
    assert.equal(byName.get(long)?.stopGraceMs, 45_000);
    assert.equal(byName.get(unset)?.stopGraceMs, 10_000);
  });
});

describe('scale', () => {
  test('changes only Spec.Mode.Replicated.Replicas, keeping the rest of the spec', async () => {
    const svc = await createTestService(docker, {
      name: named('keep'),
      replicas: 1,
      labels: { 'com.mass.anal_system': 'sys-keep', 'com.mass.min_inst': '1', owner: 'ops' },
      containerLabels: { 'com.example.role': 'worker' },
      env: ['MASS_URL=http://mass.example/api/', 'API_KEY=not-a-real-secret'],
      limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 250_000_000 },
    });
    const before = await inspectService(svc.id);

    const outcome = await new DockerSwarm(docker).scale(svc.id, 2);

    assert.deepEqual(outcome, { kind: 'updated', from: 1, to: 2, attempts: 1 });
    const after = await inspectService(svc.id);
    const expected = structuredClone(before.Spec);
    expected.Mode.Replicated.Replicas = 2;
    assert.deepEqual(after.Spec, expected);
    assert.ok(after.Version.Index > before.Version.Index);
    // The fields the brief names, spelled out so a failure points at the one lost.
    assert.equal(after.Spec.TaskTemplate.ContainerSpec.Image, TEST_IMAGE);
    assert.equal(after.Spec.TaskTemplate.ContainerSpec.StopGracePeriod, 1_000_000_000);
    assert.deepEqual(after.Spec.TaskTemplate.ContainerSpec.Env, [
      'MASS_URL=http://mass.example/api/',
      'API_KEY=not-a-real-secret',
    ]);
    assert.deepEqual(after.Spec.TaskTemplate.ContainerSpec.Labels, { 'com.example.role': 'worker' });
    assert.deepEqual(after.Spec.TaskTemplate.Resources.Limits, {
      MemoryBytes: 64 * 1024 * 1024,
      NanoCPUs: 250_000_000,
    });
    assert.equal(after.Spec.Labels.owner, 'ops');
    // The spec sent back is one the Engine can run.
    await waitFor('2 running tasks of the scaled service', async () => {
      const tasks = await docker.listTasks({ filters: { service: [svc.id], 'desired-state': ['running'] } });
      const running = tasks.filter((task) => task.Status?.State === 'running').length;
      return running === 2 ? running : undefined;
    });
  });

  test('scales to zero and back up', async () => {
    const svc = await createTestService(docker, {
      name: named('zero'),
      replicas: 1,
      labels: { 'com.mass.anal_system': 's' },
    });
    const swarm = new DockerSwarm(docker);

    assert.deepEqual(await swarm.scale(svc.id, 0), { kind: 'updated', from: 1, to: 0, attempts: 1 });
    assert.equal(await desiredReplicas(docker, svc.id), 0);
    assert.deepEqual(await swarm.scale(svc.id, 1), { kind: 'updated', from: 0, to: 1, attempts: 1 });
    assert.equal(await desiredReplicas(docker, svc.id), 1);
  });

  test('the same count is unchanged and sends no update', async () => {
    const svc = await createTestService(docker, {
      name: named('same'),
      replicas: 2,
      labels: { 'com.mass.anal_system': 's' },
    });
    const before = await inspectService(svc.id);

    const outcome = await new DockerSwarm(docker).scale(svc.id, 2);

    assert.deepEqual(outcome, { kind: 'unchanged', replicas: 2 });
    const after = await inspectService(svc.id);
    assert.equal(after.Version.Index, before.Version.Index);
  });

  test('a global-mode service is left alone', async () => {
    const svc = await createTestService(docker, {
      name: named('glob'),
      global: true,
      labels: { 'com.mass.anal_system': 's' },
    });
    const before = await inspectService(svc.id);

    const outcome = await new DockerSwarm(docker).scale(svc.id, 3);

    assert.deepEqual(outcome, { kind: 'not-replicated', mode: 'global' });
    const after = await inspectService(svc.id);
    assert.equal(after.Version.Index, before.Version.Index);
    assert.deepEqual(after.Spec, before.Spec);
  });

  test('an update by another client between inspect and update survives, and ours is retried', async () => {
    const svc = await createTestService(docker, {
      name: named('race'),
      replicas: 1,
      labels: { 'com.mass.anal_system': 's' },
      env: ['A=1'],
    });
    let interleaved = 0;
    const swarm = new DockerSwarm(docker, {
      hooks: {
        afterInspect: async (id) => {
          if (interleaved++ === 0) await addEnv(id, 'OTHER_CLIENT=was-here');
        },
      },
    });

    const outcome = await swarm.scale(svc.id, 3);

    assert.equal(outcome.kind, 'updated');
    assert.ok(outcome.kind === 'updated' && outcome.attempts > 1, `attempts should be > 1: ${JSON.stringify(outcome)}`);
    const after = await inspectService(svc.id);
    assert.equal(after.Spec.Mode.Replicated.Replicas, 3);
    assert.deepEqual(after.Spec.TaskTemplate.ContainerSpec.Env, ['A=1', 'OTHER_CLIENT=was-here']);
  });

  test('gives up with a conflict when every attempt is out of sequence', async () => {
    const svc = await createTestService(docker, {
      name: named('conflict'),
      replicas: 1,
      labels: { 'com.mass.anal_system': 's' },
    });
    let interleaved = 0;
    const swarm = new DockerSwarm(docker, {
      maxUpdateAttempts: 2,
      hooks: { afterInspect: async (id) => addEnv(id, `ROUND=${++interleaved}`) },
    });

    await rejectsWithSwarmError(swarm.scale(svc.id, 2), 'conflict', `update service ${svc.name} (${svc.id})`);

    assert.equal(interleaved, 2);
    const after = await inspectService(svc.id);
    assert.equal(after.Spec.Mode.Replicated.Replicas, 1);
    assert.deepEqual(after.Spec.TaskTemplate.ContainerSpec.Env, ['ROUND=1', 'ROUND=2']);
  });

  test('a service removed between inspect and update is gone, not an error', async () => {
    const svc = await createTestService(docker, {
      name: named('removed'),
      replicas: 1,
      labels: { 'com.mass.anal_system': 's' },
    });
    const swarm = new DockerSwarm(docker, {
      hooks: { afterInspect: async (id) => void (await docker.getService(id).remove()) },
    });

    assert.deepEqual(await swarm.scale(svc.id, 2), { kind: 'gone' });
  });

  test('a service that does not exist is gone', async () => {
    assert.deepEqual(await new DockerSwarm(docker).scale(`${prefix}-never-created`, 2), { kind: 'gone' });
  });

  test('rejects a replica count that is not a whole number >= 0', async () => {
    const swarm = new DockerSwarm(docker);
    for (const bad of [-1, 1.5, Number.NaN]) {
      await assert.rejects(swarm.scale(`${prefix}-never-created`, bad), RangeError);
    }
  });
});

describe('an unreachable Docker Engine', () => {
  let silent: Server;
  let silentPort: number;
  let closedPort: number;
  const hung: Socket[] = [];

  before(async () => {
    // A port that was free a moment ago and is closed now: connections to it are refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    // Accepts connections and never answers, like a hung Engine.
    silent = createServer((socket) => hung.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });

  after(async () => {
    for (const socket of hung) socket.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  });

  const cases: { name: string; swarm: () => DockerSwarm }[] = [
    { name: 'socket file missing', swarm: () => new DockerSwarm(createDocker({ host: 'unix:///nonexistent.sock' })) },
    { name: 'tcp port closed', swarm: () => new DockerSwarm(createDocker({ host: `tcp://127.0.0.1:${closedPort}` })) },
    {
      name: 'no answer within the request timeout',
      swarm: () => new DockerSwarm(createDocker({ host: `tcp://127.0.0.1:${silentPort}` }), { requestTimeoutMs: 200 }),
    },
  ];
  for (const c of cases) {
    test(`${c.name}: listManaged and scale throw SwarmError 'unreachable'`, async () => {
      const swarm = c.swarm();
      await rejectsWithSwarmError(swarm.listManaged(), 'unreachable', 'list services');
      await rejectsWithSwarmError(swarm.scale('some-service-id', 2), 'unreachable', 'inspect service some-service-id');
    });
  }
});

describe('createDocker', () => {
  /** The connection docker-modem ended up with. */
  function connection(docker: Docker): Record<string, unknown> {
    const m = (docker as unknown as { modem: Record<string, unknown> }).modem;
    const text = (v: unknown) => (v === undefined ? undefined : String(v));
    return {
      socketPath: m.socketPath,
      host: m.host,
      port: text(m.port),
      protocol: m.protocol,
      ca: text(m.ca),
      cert: text(m.cert),
      key: text(m.key),
    };
  }
  const noTls = { ca: undefined, cert: undefined, key: undefined };

  test('maps DOCKER_HOST-style values, ignoring a conflicting DOCKER_HOST in the environment', (t) => {
    const saved = { host: process.env.DOCKER_HOST, tls: process.env.DOCKER_TLS_VERIFY };
    t.after(() => {
      for (const [key, value] of [
        ['DOCKER_HOST', saved.host],
        ['DOCKER_TLS_VERIFY', saved.tls],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });
    // docker-modem merges its own defaults from these: the configured values must win.
    process.env.DOCKER_HOST = 'tcp://192.0.2.1:1';
    process.env.DOCKER_TLS_VERIFY = '1';
    const dir = mkdtempSync(join(tmpdir(), 'mat-certs-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), `${f} content`);

    const cases: { host?: string; tlsVerify?: boolean; certPath?: string; want: Record<string, unknown> }[] = [
      // empty: the local socket
      { want: { socketPath: '/var/run/docker.sock', host: undefined, port: undefined, protocol: 'http', ...noTls } },
      {
        host: '',
        want: { socketPath: '/var/run/docker.sock', host: undefined, port: undefined, protocol: 'http', ...noTls },
      },
      {
        host: 'unix:///run/other.sock',
        want: { socketPath: '/run/other.sock', host: undefined, port: undefined, protocol: 'http', ...noTls },
      },
      // tcp without TLS: plain http, no files read
      {
        host: 'tcp://10.0.0.5:2375',
        certPath: dir,
        want: { socketPath: undefined, host: '10.0.0.5', port: '2375', protocol: 'http', ...noTls },
      },
      // tcp with TLS: https and the three files from certPath
      {
        host: 'tcp://10.0.0.5:2376',
        tlsVerify: true,
        certPath: dir,
        want: {
          socketPath: undefined,
          host: '10.0.0.5',
          port: '2376',
          protocol: 'https',
          ca: 'ca.pem content',
          cert: 'cert.pem content',
          key: 'key.pem content',
        },
      },
    ];
    for (const { want, ...opts } of cases) {
      assert.deepEqual(connection(createDocker(opts)), want, JSON.stringify(opts));
    }
  });

  test('names the TLS file it cannot read, and rejects an unsupported DOCKER_HOST', () => {
    assert.throws(
      () => createDocker({ host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: '/nonexistent-certs' }),
      /\/nonexistent-certs\/ca\.pem/,
    );
    assert.throws(() => createDocker({ host: 'ssh://user@host' }), /not supported/);
  });
});
