// Services the daemon must hold, and updates the Engine refuses, on the real swarm with the
// built daemon (issue "Found under attack"): a refused update backs off instead of being
// retried every round; an operator's paused rollout is not pushed on; a job is named as one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { startFakeMass } from '../fakes/mass-server';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  TEST_IMAGE,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { startEngineProxy, type EngineProxy } from '../support/engine-proxy';
import { allOutput, fastLabels, startDaemon, type Daemon } from './harness';

const API_KEY = 'held-e2e-key-4c2a9e71b0';

interface ServiceJson {
  Version: { Index: number };
  Spec: Record<string, unknown> & { TaskTemplate: { ContainerSpec: { Image: string } } };
  PreviousSpec?: unknown;
  UpdateStatus?: { State?: string };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

async function statusOf(base: string, name: string): Promise<Record<string, unknown> | undefined> {
  const doc = JSON.parse((await get(`${base}/status`)).body) as { services: Record<string, unknown>[] };
  return doc.services.find((s) => s.name === name);
}

describe('a refused update backs off, and /healthz says so', () => {
  let docker: Docker;
  let proxy: EngineProxy;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  let daemon: Daemon;
  const prefix = uniquePrefix('refused');
  const svc = `${prefix}-svc`;
  const sys = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    proxy = await startEngineProxy();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sys);
    mass.setDemand(sys, { due: 1 });
    await createTestService(docker, { name: svc, replicas: 1, labels: fastLabels(sys) });
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
    await proxy?.close();
  });

  test('retried with a doubling wait, one line when it starts and one when it ends; 503 after HEALTH_MAX_AGE', async () => {
    proxy.refuseUpdates = true;
    daemon = startDaemon({
      API_KEY,
      MASS_SERVER_ADDRESS: mass.baseUrl,
      DOCKER_HOST: `unix://${proxy.socketPath}`,
      RETRY_MAX_DELAY: '4',
      HEALTH_MAX_AGE: '6',
    });
    const base = `http://127.0.0.1:${await daemon.httpPort()}`;
    await waitFor('/healthz 200 with the service steady', async () => (await get(`${base}/healthz`)).status === 200);
    mass.setDemand(sys, { due: 3 });

    const unhealthy = await waitFor(
      '/healthz 503 after HEALTH_MAX_AGE of refused updates',
      async () => {
        const r = await get(`${base}/healthz`);
        return r.status === 503 ? r.body : undefined;
      },
      60_000,
    );
    assert.match(unhealthy, /only failed service updates for \d+s \(update service .*HTTP 400: service update refused/);
    await waitFor('two refused updates after the wait reached its cap', async () => {
      const gaps = proxy.refused.slice(1).map((t, i) => t - proxy.refused[i]!);
      return gaps.filter((g) => g >= 2000).length >= 2;
    });
    // DISCOVERY_INTERVAL 0.5 s doubling to RETRY_MAX_DELAY 4 s, each wait between half and all of its step.
    const gaps = proxy.refused.slice(1).map((t, i) => t - proxy.refused[i]!);
    assert.ok(gaps.slice(0, 3).every((g) => g < 2500) && gaps.at(-1)! >= 2000, `gaps ${gaps.join(', ')} ms`);
    const errors = daemon.lines.filter(
      (l) =>
        l.msg === 'Docker: could not scale' && String(l.explanation).startsWith(`Docker: could not scale ${svc} to 3:`),
    );
    assert.equal(errors.length, 1, `one error line for ${proxy.refused.length} refused updates`);
    assert.equal(errors[0]!.level, 50);

    const shown = await statusOf(base, svc);
    assert.equal(shown?.status, 'update-failing');
    assert.match(String(shown?.updateError), /HTTP 400: service update refused by the test proxy/);
    const metrics = (await get(`${base}/metrics`)).body;
    assert.match(
      metrics,
      new RegExp(`^mass_autoscaler_service_info\\{service="${svc}",system="${sys}",status="update-failing"\\} 1$`, 'm'),
    );
    assert.match(metrics, /^mass_autoscaler_docker_errors_total\{kind="api-error"\} [1-9]/m);
    assert.equal(await desiredReplicas(docker, svc), 1);

    proxy.refuseUpdates = false;
    await waitFor(
      `${svc} at 3 replicas once updates go through`,
      async () => (await desiredReplicas(docker, svc)) === 3,
    );
    await daemon.waitForLog(
      'end of the update failure',
      (l) =>
        l.msg === 'Docker: scaling works again' &&
        String(l.explanation).startsWith(`Docker: updates of service ${svc} are no longer failing`),
    );
    await waitFor('/healthz 200 again', async () => (await get(`${base}/healthz`)).status === 200);
    assert.equal((await statusOf(base, svc))?.status, 'managed');
  });
});

describe('services in an operator’s operation, and jobs, are left alone', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  let daemon: Daemon;
  let base: string;
  const prefix = uniquePrefix('held');
  const paused = `${prefix}-paused`;
  const witness = `${prefix}-witness`;
  const job = `${prefix}-job`;
  const sys = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sys);
    mass.setDemand(sys, { due: 2 });
    await docker.createService({
      Name: paused,
      Labels: fastLabels(sys, { 'com.mass.min_inst': '2' }),
      TaskTemplate: { ContainerSpec: { Image: TEST_IMAGE, StopGracePeriod: 1_000_000_000 } },
      Mode: { Replicated: { Replicas: 2 } },
      UpdateConfig: { FailureAction: 'pause', Monitor: 2_000_000_000, Parallelism: 1, Order: 'stop-first' },
    });
    // Same system: proves the daemon acted on the raised demand while it held the paused one.
    await createTestService(docker, { name: witness, replicas: 2, labels: fastLabels(sys) });
    await docker.createService({
      Name: job,
      Labels: fastLabels(sys),
      TaskTemplate: {
        ContainerSpec: { Image: TEST_IMAGE, Command: ['/bin/sh', '-c', 'exit 0'] },
        RestartPolicy: { Condition: 'none' },
      },
      Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    } as never);
    daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl });
    base = `http://127.0.0.1:${await daemon.httpPort()}`;
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('a replicated-job service is named as one, and never said to be managed', async () => {
    const line = await daemon.waitForLog(
      'job mode line',
      (l) =>
        l.service === job &&
        l.msg === 'not a replicated service: left alone' &&
        l.explanation ===
          `service ${job} runs in replicated-job mode; it is left alone (only replicated services are scaled)`,
    );
    assert.equal(line.mode, 'replicated-job');
    await daemon.waitForLog(
      `managing ${witness}`,
      (l) => l.msg === 'service managed' && l.explanation === `managing service ${witness} for analysis system ${sys}`,
    );
    assert.ok(
      !daemon.lines.some(
        (l) =>
          l.service === job &&
          (/^service managed/.test(l.msg) || /managing service|managed again|global mode/.test(String(l.explanation))),
      ),
      daemon.lines
        .filter((l) => l.service === job)
        .map((l) => l.explanation)
        .join('\n'),
    );
    assert.equal((await statusOf(base, job))?.status, 'replicated-job-mode');
  });

  test('a rollout paused by its failure action is not pushed on; scaling resumes after the rollback', async () => {
    await waitFor(`${paused} steady and managed`, async () => (await statusOf(base, paused))?.status === 'managed');
    const service = docker.getService(paused);
    const before = (await service.inspect()) as ServiceJson;
    const broken = structuredClone(before.Spec);
    broken.TaskTemplate.ContainerSpec.Image = `${prefix}-missing:none`;
    await service.update({ _query: { version: before.Version.Index }, _body: broken } as never);
    const held = await waitFor(
      'UpdateStatus.State paused',
      async () => {
        const s = (await service.inspect()) as ServiceJson;
        return s.UpdateStatus?.State === 'paused' ? s : undefined;
      },
      90_000,
    );
    mass.setDemand(sys, { due: 5 });
    await waitFor(
      `${witness} scaled to 5: the daemon acted on the new demand`,
      async () => (await desiredReplicas(docker, witness)) === 5,
    );
    // Two more evaluations of the witness: longer than max_schedule_interval (2 s) since the
    // demand changed, so the paused service, had it been managed, was evaluated with it too.
    const mark = daemon.lines.length;
    await waitFor(
      'two evaluations of the witness at 5',
      async () =>
        daemon.lines
          .slice(mark)
          .filter((l) => l.service === witness && l.explanation === 'steady: demand 5.0 matches 5 replicas').length >=
        2,
    );
    const after = (await service.inspect()) as ServiceJson;
    assert.equal(after.Version.Index, held.Version.Index, 'no update was sent to the paused service');
    assert.deepEqual(after.Spec, held.Spec);
    assert.deepEqual(after.PreviousSpec, held.PreviousSpec, 'the rollback point is kept');
    assert.equal(after.UpdateStatus?.State, 'paused');
    await daemon.waitForLog(
      'hold line',
      (l) =>
        l.service === paused &&
        l.msg === 'update or rollback in progress: service held' &&
        String(l.explanation).includes('(UpdateStatus.State paused); not scaling it until that operation ends'),
    );

    const shown = await statusOf(base, paused);
    assert.equal(shown?.status, 'in-operation');
    assert.equal(shown?.operation, 'paused');
    assert.match(
      (await get(`${base}/metrics`)).body,
      new RegExp(
        `^mass_autoscaler_service_info\\{service="${paused}",system="${sys}",status="in-operation"\\} 1$`,
        'm',
      ),
    );

    // The operator rolls back: the working image comes back, and the daemon scales again.
    await service.update({
      _query: { version: after.Version.Index, rollback: 'previous' },
      _body: after.Spec,
    } as never);
    await waitFor(
      `${paused} rolled back and scaled to 5`,
      async () => {
        const s = (await service.inspect()) as ServiceJson;
        return s.Spec.TaskTemplate.ContainerSpec.Image === TEST_IMAGE && (await desiredReplicas(docker, paused)) === 5;
      },
      90_000,
    );
    await daemon.waitForLog(
      'resume line',
      (l) =>
        l.service === paused &&
        l.msg === 'update or rollback over: scaling again' &&
        String(l.explanation).includes('is over; scaling it again'),
    );
  });

  test('no daemon output carries the API key', () => {
    assert.ok(!allOutput.some((line) => line.includes(API_KEY)));
  });
});
