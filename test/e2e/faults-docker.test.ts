// Fail safe while Docker fails (SPEC "When things go wrong"), against the real swarm:
// - the Docker Engine stopped and started again under a running daemon;
// - a service removed, or updated by another client, between our inspect and our update
//   (the loop with the real swarm adapter, its test-only afterInspect hook making the race certain);
// - SIGTERM in the middle of a round.
//
// Stopping the Engine: by default this suite stops the dockerd that scripts/setup-docker.sh
// starts (pid from /var/run/docker.pid, else `pidof dockerd`) and starts it the same way the
// script does. It is always started again in an after hook, even when a test fails.
// MAT_DOCKERD_PIDFILE and MAT_DOCKERD_START point the suite at another Engine instead (with
// DOCKER_HOST), e.g. a private one, so that other work using the shared Engine is not disturbed.
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { Reconciler } from '../../src/loop/reconciler';
import { DockerSwarm } from '../../src/swarm/docker-swarm';
import { startFakeMass, type FakeMass } from '../fakes/mass-server';
import { captureLogger, FakeDemand, ManualClock, specDefaults } from '../fakes/in-memory';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { allOutput, fastLabels, startDaemon, type Daemon } from './harness';

const API_KEY = 'faults-docker-key-83e1c5a0f7d2';
const DOCKERD_PIDFILE = process.env.MAT_DOCKERD_PIDFILE ?? '/var/run/docker.pid';
const DOCKERD_START = process.env.MAT_DOCKERD_START ?? 'nohup dockerd >/var/log/dockerd-mass-autoscaler.log 2>&1 &';

function labels(system: string, extra: Record<string, string> = {}): Record<string, string> {
  return fastLabels(system, {
    'com.mass.min_inst': '0',
    'com.mass.max_inst': '6',
    'com.mass.scale_down_delay': '0',
    ...extra,
  });
}

/** The pid of the Engine this suite stops: its pidfile, else the only dockerd running. */
function dockerdPid(): number {
  if (existsSync(DOCKERD_PIDFILE)) {
    const pid = Number(readFileSync(DOCKERD_PIDFILE, 'utf8').trim());
    if (
      Number.isInteger(pid) &&
      pid > 0 &&
      existsSync(`/proc/${pid}/comm`) &&
      readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd'
    )
      return pid;
  }
  const pids = execFileSync('pidof', ['dockerd'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  if (pids.length !== 1)
    throw new Error(
      `cannot tell which dockerd to stop: pidof dockerd gives ${pids.join(', ')}; set MAT_DOCKERD_PIDFILE`,
    );
  return pids[0]!;
}

async function engineUp(docker: Docker): Promise<boolean> {
  try {
    const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    return info.Swarm?.LocalNodeState === 'active' && info.Swarm.ControlAvailable === true;
  } catch {
    return false;
  }
}

async function stopDockerd(docker: Docker): Promise<void> {
  const pid = dockerdPid();
  process.kill(pid, 'SIGTERM');
  await waitFor(
    'the Docker Engine to stop answering',
    async () => {
      try {
        await docker.info();
        return false;
      } catch {
        return true;
      }
    },
    60_000,
  );
  await waitFor(`dockerd ${pid} to exit`, async () => !existsSync(`/proc/${pid}`), 60_000);
}

async function startDockerd(docker: Docker): Promise<void> {
  execSync(DOCKERD_START, { stdio: 'ignore', shell: '/bin/sh' });
  await waitFor('the Docker Engine to answer again, as an active swarm manager', () => engineUp(docker), 120_000);
}

describe('the Docker Engine stopped and started again under a running daemon', () => {
  let docker: Docker;
  let mass: FakeMass;
  let daemon: Daemon;
  let stopped = false;
  const prefix = uniquePrefix('faults-dockerd');
  const svc = `${prefix}-a`;
  const system = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.setDemand(system, { due: 2 });
    await createTestService(docker, { name: svc, replicas: 2, labels: labels(system) });
    daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl, RETRY_MAX_DELAY: '2', HEALTH_MAX_AGE: '2' });
    await daemon.waitForLog(
      'a first reading',
      (l) => l.service === svc && l.msg === 'decision' && l.explanation === 'steady: demand 2.0 matches 2 replicas',
    );
  });

  after(async () => {
    // Whatever happened, later suites need the Engine.
    if (stopped && docker && !(await engineUp(docker))) await startDockerd(docker);
    await daemon?.stop('SIGKILL');
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('holds with one "cannot list services" line while dockerd is down, then resumes without a restart of its own', async () => {
    const port = await daemon.httpPort();
    const pid = daemon.child.pid;
    const mark = daemon.lines.length;
    const cannotList = () => daemon.lines.slice(mark).filter((l) => l.msg === 'Docker: cannot list services');
    const dockerErrors = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return [...text.matchAll(/^mass_autoscaler_docker_errors_total\{kind="[^"]+"\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };

    stopped = true;
    await stopDockerd(docker);
    // Demand moves while Docker is away; nothing can be done about it until it is back.
    mass.setDemand(system, { due: 4 });
    await daemon.waitForLog(
      'cannot list services: unreachable',
      (l) => daemon.lines.indexOf(l) >= mark && l.msg === 'Docker: cannot list services' && l.kind === 'unreachable',
    );
    const errorsAtLine = await dockerErrors();
    await waitFor(
      'three more failed attempts to list services',
      async () => (await dockerErrors()) >= errorsAtLine + 3,
      60_000,
    );
    const health = await waitFor('/healthz 503 while Docker is away', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return res.status === 503 ? ((await res.json()) as { reasons: string[] }) : undefined;
    });
    assert.match(health.reasons.join('\n'), /no successful Docker round for \d+s \(unreachable\)/);
    // While it shuts down the Engine may still answer with an error of its own — Engine 20.10
    // says `HTTP 503: This node is not a swarm manager…` or `HTTP 503: rpc error: code =
    // Unavailable desc = connection error: … control.sock: no such file or directory` — another
    // kind of failure (api-error) with a line of its own. One line per kind, not per attempt.
    const down = cannotList();
    assert.ok(down.length <= 2, down.map((l) => l.explanation).join('\n'));
    assert.equal(down.at(-1)!.kind, 'unreachable');
    assert.equal(down.at(-1)!.level, 50);
    assert.match(
      String(down.at(-1)!.explanation),
      /^Docker: cannot list services \(list services: Docker Engine unreachable \(.+\)\); holding every service as it is and retrying$/,
    );
    if (down.length === 2) {
      assert.equal(down[0]!.kind, 'api-error', String(down[0]!.explanation));
      assert.match(
        String(down[0]!.explanation),
        /^Docker: cannot list services \(list services: HTTP \d{3}: .+\); holding every service as it is and retrying$/,
      );
    }
    assert.ok(
      !daemon.lines.slice(mark).some((l) => l.service === svc && l.action !== undefined),
      'no evaluation acted on while the services cannot be listed',
    );

    await startDockerd(docker);
    stopped = false;
    await daemon.waitForLog(
      'reachable again',
      (l) =>
        daemon.lines.indexOf(l) >= mark &&
        l.msg === 'Docker: reachable again' &&
        /^Docker: reachable again after \d+ failed attempt\(s\); resuming$/.test(String(l.explanation)),
    );
    await waitFor(
      `${svc} scaled to the demand after dockerd is back`,
      async () => (await desiredReplicas(docker, svc)) === 4,
      60_000,
    );
    await waitFor('/healthz 200 again', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200);

    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.equal(daemon.child.pid, pid);
    assert.ok(
      daemon.lines.every((l) => l.pid === undefined || l.pid === pid),
      'every line from the same process',
    );
    assert.equal(daemon.lines.filter((l) => l.msg === 'mass-autoscaler starting').length, 1, 'started once');
    // Coming back, the Engine may again answer with an error for a moment (api-error): at most one more line.
    const all = cannotList();
    assert.ok(all.length <= 3, all.map((l) => l.explanation).join('\n'));
    assert.ok(
      all.every((l, i) => i === 0 || l.kind !== all[i - 1]!.kind),
      `a new line only when the kind of failure changes: ${all.map((l) => l.kind).join(', ')}`,
    );
  });
});

describe('a service changed by others while the loop updates it (the loop with the real swarm adapter)', () => {
  let docker: Docker;
  const prefix = uniquePrefix('faults-race');
  const defaults = specDefaults();

  before(async () => {
    docker = await requireDocker();
  });

  after(async () => {
    if (docker) await removeServicesWithPrefix(docker, prefix);
  });

  /** One round of the real loop over the real swarm, only our services in sight. */
  function loop(hook: (serviceId: string) => Promise<void>) {
    const real = new DockerSwarm(docker, { hooks: { afterInspect: hook } });
    const swarm = {
      listManaged: async () => (await real.listManaged()).filter((s) => s.name.startsWith(prefix)),
      scale: (id: string, replicas: number) => real.scale(id, replicas),
    };
    const mass = new FakeDemand();
    const log = captureLogger();
    const reconciler = new Reconciler(mass, swarm, new ManualClock(), log.logger, {
      dryRun: false,
      defaults,
      discoveryIntervalMs: 2000,
      retryMaxDelayMs: 30_000,
    });
    return { mass, log, reconciler };
  }

  test('removed between inspect and update: logged, forgotten, and the round goes on to the next service', async () => {
    const gone = await createTestService(docker, {
      name: `${prefix}-gone`,
      replicas: 1,
      labels: labels(`${prefix}-s1`),
    });
    const kept = await createTestService(docker, {
      name: `${prefix}-kept`,
      replicas: 1,
      labels: labels(`${prefix}-s2`),
    });
    const { mass, log, reconciler } = loop(async (id) => {
      if (id === gone.id) await docker.getService(id).remove();
    });
    mass.demand.set(`${prefix}-s1`, 3);
    mass.demand.set(`${prefix}-s2`, 3);
    await reconciler.round();
    assert.ok(
      log.lines.some(
        (l) =>
          l.service === gone.name &&
          l.msg === 'service removed while being updated' &&
          l.explanation === `service ${gone.name} was removed while being updated; forgetting it`,
      ),
      log.texts().join('\n'),
    );
    assert.ok(!log.lines.some((l) => l.level === 50), `no error: ${log.texts().join('\n')}`);
    assert.equal(await desiredReplicas(docker, kept.name), 3);
    assert.equal(reconciler.trackedCount(), 1);
  });

  test('updated by another client at the same moment: both changes survive (version check, re-read, retry)', async () => {
    const svc = await createTestService(docker, {
      name: `${prefix}-shared`,
      replicas: 1,
      labels: labels(`${prefix}-s3`),
      env: ['A=1'],
    });
    let others = 0;
    const { mass, log, reconciler } = loop(async (id) => {
      if (others++ > 0) return;
      const service = docker.getService(id);
      const info = (await service.inspect()) as {
        Version: { Index: number };
        Spec: { TaskTemplate: { ContainerSpec: { Env?: string[] } } };
      };
      info.Spec.TaskTemplate.ContainerSpec.Env = [
        ...(info.Spec.TaskTemplate.ContainerSpec.Env ?? []),
        'OTHER_CLIENT=was-here',
      ];
      await service.update({ _query: { version: info.Version.Index }, _body: info.Spec } as never);
    });
    mass.demand.set(`${prefix}-s3`, 4);
    await reconciler.round();
    const after = (await docker.getService(svc.id).inspect()) as {
      Spec: { Mode: { Replicated: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Env: string[] } } };
    };
    assert.equal(after.Spec.Mode.Replicated.Replicas, 4, 'our change');
    assert.deepEqual(after.Spec.TaskTemplate.ContainerSpec.Env, ['A=1', 'OTHER_CLIENT=was-here'], 'their change');
    const scaled = log.lines.find(
      (l) => l.service === svc.name && l.msg === 'scaled' && l.explanation === 'scale up: demand 4.0 > 1 replicas',
    );
    // at least one retry (the swarm itself may bump the version of a new service once more)
    assert.ok(
      typeof scaled?.attempts === 'number' && scaled.attempts >= 2,
      `the first update was out of sequence and retried: ${JSON.stringify(scaled)}`,
    );
  });
});

describe('SIGTERM in the middle of a round', () => {
  let docker: Docker;
  let mass: FakeMass;
  const prefix = uniquePrefix('faults-sigterm');
  const svc = `${prefix}-a`;
  const system = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
  });

  after(async () => {
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('while MASS hangs on a request: exits 0 within 5 s, no change made to the service', async () => {
    // The demand would take the service from 2 to 5 replicas if the round were finished.
    mass.setDemand(system, { due: 5 });
    mass.fault = { kind: 'hang', path: 'analysis_system_instance/', system };
    const created = await createTestService(docker, { name: svc, replicas: 2, labels: labels(system) });
    const before = (await docker.getService(created.id).inspect()) as { Version: { Index: number } };
    const daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl, MASS_REQUEST_TIMEOUT: '120' });
    try {
      await daemon.waitForLog(
        `managing ${svc}`,
        (l) => l.msg === 'service managed' && l.explanation === `managing service ${svc} for analysis system ${system}`,
      );
      await waitFor(
        'the round to be waiting on MASS',
        async () => mass.inFlight > 0 && mass.requests.some((r) => r.url.includes('analysis_system_instance/')),
      );
      const result = await daemon.stop('SIGTERM');
      assert.equal(result.code, 0, `exit code ${result.code} (signal ${result.signal})`);
      assert.ok(result.ms < 5000, `exited after ${result.ms} ms`);
      assert.ok(
        daemon.lines.some(
          (l) =>
            l.msg === 'signal received: stopping' &&
            l.signal === 'SIGTERM' &&
            l.explanation === 'SIGTERM received; finishing the current round and stopping',
        ),
      );
      // the round waiting on MASS was abandoned and the listener closed, not cut short by the exit deadline
      assert.ok(
        daemon.lines.some((l) => l.msg === 'stopped'),
        daemon.lines
          .slice(-3)
          .map((l) => l.msg)
          .join('\n'),
      );
    } finally {
      await daemon.stop('SIGKILL');
    }
    const after = (await docker.getService(created.id).inspect()) as { Version: { Index: number } };
    assert.equal(await desiredReplicas(docker, svc), 2, 'replicas unchanged');
    assert.equal(after.Version.Index, before.Version.Index, 'spec version unchanged: the daemon sent no update');
  });
});

describe('the API key in the output of this file', () => {
  test('appears in no line any daemon printed', () => {
    assert.ok(allOutput.length > 10, `captured ${allOutput.length} lines`);
    for (const line of allOutput) assert.ok(!line.includes(API_KEY), `key leaked in: ${line.slice(0, 300)}`);
  });
});
