// The daemon on a real multi-node swarm (scripts/multinode.sh: 3 managers, 1 worker, each a
// Docker Engine in its own network namespace): tasks on several nodes, a worker lost, the leader
// lost, two daemons at once (the lease), and DOCKER_HOST of a worker node. Run as root:
// `node scripts/test.mjs multinode` (after `npm run build`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { fastLabels, startDaemon, type Daemon, type LogLine } from '../e2e/harness';
import { startFakeMass } from '../fakes/mass-server';
import { createTestService, desiredReplicas, TEST_IMAGE, uniquePrefix, waitFor } from '../support/docker';
import { MultinodeSwarm, script } from '../support/multinode';

const API_KEY = 'multinode-secret-key-5b1e77c0';

async function health(daemon: Daemon): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${await daemon.httpPort()}/healthz`);
  return { status: res.status, body: await res.text() };
}

async function statusOf(daemon: Daemon, service: string) {
  const res = await fetch(`http://127.0.0.1:${await daemon.httpPort()}/status`);
  const doc = (await res.json()) as {
    services: { name: string; replicas: number | null; running: number | null; desired: number | null }[];
    lease?: { name: string; holder: string; held: boolean };
  };
  return { service: doc.services.find((s) => s.name === service), lease: doc.lease };
}

/** A replica count sent to Swarm (a line `scaled`, or `already at the desired count`). */
const isScaleLine = (service: string) => (l: LogLine) =>
  l.service === service &&
  (l.msg === 'scaled' || l.msg === 'already at the desired count') &&
  /^scale (up|down)/.test(String(l.explanation));

describe('the daemon on a multi-node swarm', { timeout: 900_000 }, () => {
  let swarm: MultinodeSwarm;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  const daemons: Daemon[] = [];
  const prefix = uniquePrefix('mn');
  const svc = `${prefix}-a`;
  const sys = `${prefix}-sys`;
  let daemon: Daemon; // the daemon of tests 1-3, on a manager that is not the leader
  let daemonNode: string;

  const engine = (name: string) => swarm.engine(name);
  const node = (name: string) => swarm.node(name);
  const anyManager = (): Promise<Docker> => swarm.anyManager();
  async function leader(): Promise<string> {
    const list = await (await anyManager()).listNodes();
    const l = list.find((n) => n.ManagerStatus?.Leader === true);
    assert.ok(l?.ID, 'the swarm has a leader');
    return swarm.nodeNames.get(l.ID)!;
  }
  /** Running tasks of a service per node name. */
  async function runningByNode(via: Docker, service: string): Promise<Record<string, number>> {
    const tasks = await via.listTasks({ filters: { service: [service], 'desired-state': ['running'] } });
    const out: Record<string, number> = {};
    for (const t of tasks) {
      if (t.Status?.State !== 'running') continue;
      const name = swarm.nodeNames.get(t.NodeID ?? '') ?? '?';
      out[name] = (out[name] ?? 0) + 1;
    }
    return out;
  }
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  function launch(env: Record<string, string>): Daemon {
    const d = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl, ...env });
    daemons.push(d);
    return d;
  }

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'the multi-node suite needs root (namespaces, links, firewall)');
    script('down'); // what a previous run may have left
    script('up');
    swarm = new MultinodeSwarm();
    await swarm.readNodeIds();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sys);
    mass.setDemand(sys, { due: 1 });
    await createTestService(engine('n1'), {
      name: svc,
      replicas: 1,
      labels: fastLabels(sys, { 'com.mass.max_inst': '8', 'com.mass.scale_down_delay': '2' }),
    });
    const lead = await leader();
    daemonNode = swarm.nodes.find((n) => n.role === 'manager' && n.name !== lead)!.name;
    daemon = launch({ DOCKER_HOST: node(daemonNode).host, LEASE: 'off', RETRY_MAX_DELAY: '2' });
    await daemon.waitForLog(
      `managing ${svc}`,
      (l) => l.msg === 'service managed' && l.explanation === `managing service ${svc} for analysis system ${sys}`,
    );
  });

  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await mass?.close();
    script('down');
  });

  test('1. spread: a service with tasks on several nodes is scaled up and down; /status and /metrics count running against wanted', async () => {
    mass.setDemand(sys, { due: 6 });
    await waitFor(`${svc} wanted at 6`, async () => (await desiredReplicas(engine(daemonNode), svc)) === 6, 60_000);
    const spread = await waitFor(
      '6 tasks running on at least 3 nodes',
      async () => {
        const c = await runningByNode(engine(daemonNode), svc);
        return total(c) === 6 && Object.keys(c).length >= 3 && c;
      },
      120_000,
    );
    const seen = await waitFor(
      '/status: 6 running of 6 wanted',
      async () => {
        const s = (await statusOf(daemon, svc)).service;
        return s?.replicas === 6 && s.running === 6 && s;
      },
      60_000,
    );
    assert.equal(seen.desired, 6);
    const metrics = await (await fetch(`http://127.0.0.1:${await daemon.httpPort()}/metrics`)).text();
    assert.match(metrics, new RegExp(`mass_autoscaler_replicas_running\\{service="${svc}",system="${sys}"\\} 6`));
    assert.match(metrics, new RegExp(`mass_autoscaler_replicas_current\\{service="${svc}",system="${sys}"\\} 6`));
    console.log(`# spread over nodes: ${JSON.stringify(spread)}`);

    mass.setDemand(sys, { due: 3 });
    await waitFor(`${svc} wanted at 3`, async () => (await desiredReplicas(engine(daemonNode), svc)) === 3, 60_000);
    await waitFor('3 running', async () => total(await runningByNode(engine(daemonNode), svc)) === 3, 120_000);
    await waitFor('/status: 3 running of 3', async () => {
      const s = (await statusOf(daemon, svc)).service;
      return s?.replicas === 3 && s.running === 3;
    });
  });

  test('2. a worker node lost: Swarm reschedules, the daemon neither scales in nor out, its view recovers; an unplaceable task is reported, not fought', async () => {
    mass.setDemand(sys, { due: 4 });
    await waitFor(`${svc} wanted at 4`, async () => (await desiredReplicas(engine(daemonNode), svc)) === 4, 60_000);
    // Tasks on the worker: spread puts one there with 4 replicas on 4 nodes.
    await waitFor(
      'a task running on n4',
      async () => {
        const c = await runningByNode(engine(daemonNode), svc);
        return total(c) === 4 && (c.n4 ?? 0) >= 1;
      },
      120_000,
    );
    const before = daemon.lines.length;
    script('stop-node', 'n4');
    await waitFor(
      'n4 down and its tasks rescheduled on the others (4 running, none on n4)',
      async () => {
        const c = await runningByNode(engine(daemonNode), svc);
        return total(c) === 4 && c.n4 === undefined;
      },
      180_000,
    );
    await waitFor('/status: 4 running of 4 again', async () => {
      const s = (await statusOf(daemon, svc)).service;
      return s?.replicas === 4 && s.running === 4;
    });
    const during = daemon.lines.slice(before);
    assert.deepEqual(during.filter(isScaleLine(svc)), [], 'no scaling because of the lost node');
    assert.equal(await desiredReplicas(engine(daemonNode), svc), 4);

    // A task no node can take: wanted stays as decided, the shortfall is shown, nothing is retried.
    const stuck = `${prefix}-stuck`;
    const stuckSys = `${prefix}-stuck-sys`;
    mass.addSystem(stuckSys);
    mass.setDemand(stuckSys, { due: 2 });
    // Created with its constraint, not updated to it: an update that cannot finish leaves the
    // service `updating`, an operator's operation the daemon does not touch.
    const created = await engine(daemonNode).createService({
      Name: stuck,
      Labels: fastLabels(stuckSys),
      TaskTemplate: {
        ContainerSpec: { Image: TEST_IMAGE, StopGracePeriod: 1_000_000_000 },
        Placement: { Constraints: ['node.labels.mass.multinode.name==n4'] },
      },
      Mode: { Replicated: { Replicas: 1 } },
    });
    await waitFor(`${stuck} wanted at 2`, async () => (await desiredReplicas(engine(daemonNode), stuck)) === 2, 60_000);
    const shown = await waitFor('/status: 0 running of 2 wanted', async () => {
      const s = (await statusOf(daemon, stuck)).service;
      return s?.replicas === 2 && s.running === 0 && s;
    });
    assert.equal(shown.desired, 2);
    const stuckUpdates = daemon.lines.filter(isScaleLine(stuck)).length;
    // Several more evaluations (every 1-2 s) change nothing: no update is repeated.
    const evaluations = daemon.lines.filter((l) => l.service === stuck && l.action !== undefined).length;
    await waitFor(
      'three more evaluations of the unplaceable service',
      async () => daemon.lines.filter((l) => l.service === stuck && l.action !== undefined).length >= evaluations + 3,
      60_000,
    );
    assert.equal(daemon.lines.filter(isScaleLine(stuck)).length, stuckUpdates, 'no further updates');
    assert.equal(await desiredReplicas(engine(daemonNode), stuck), 2);
    await engine(daemonNode).getService(created.id).remove();

    script('start-node', 'n4');
    await waitFor(
      'n4 ready again',
      async () => {
        const list = await engine(daemonNode).listNodes();
        return list.some((n) => swarm.nodeNames.get(n.ID!) === 'n4' && n.Status?.State === 'ready');
      },
      120_000,
    );
  });

  test('3. leader lost: the daemon on another manager keeps scaling after the election, one log line per failure kind', async () => {
    const lead = await leader();
    assert.notEqual(lead, daemonNode, 'the daemon talks to a manager that is not the leader');
    const before = daemon.lines.length;
    script('stop-node', lead);
    await waitFor(
      'a new leader',
      async () => {
        const l = await leader();
        return l !== lead && l;
      },
      120_000,
    );
    mass.setDemand(sys, { due: 5 });
    await waitFor(
      `${svc} wanted at 5 after the election`,
      async () => (await desiredReplicas(engine(daemonNode), svc)) === 5,
      90_000,
    );
    await daemon.waitForLog('scale up after the election', (l) => isScaleLine(svc)(l) && l.desired === 5, 30_000);
    const errors = daemon.lines.slice(before).filter((l) => l.msg === 'Docker: cannot list services');
    const kinds = errors.map((l) => l.kind);
    console.log(`# while the leader was lost: ${JSON.stringify(errors.map((l) => l.explanation))}`);
    assert.equal(
      new Set(kinds).size,
      kinds.length,
      `one line per failure kind, got ${JSON.stringify(errors.map((l) => l.explanation))}`,
    );
    assert.equal(daemon.child.exitCode, null, 'no restart');
    script('start-node', lead);
    await waitFor(
      `${lead} reachable again as a manager`,
      async () => {
        const info = (await engine(lead).info()) as { Swarm?: { ControlAvailable?: boolean; LocalNodeState?: string } };
        return info.Swarm?.LocalNodeState === 'active' && info.Swarm.ControlAvailable === true;
      },
      120_000,
    );
  });

  test('6. two daemons at once: only the lease holder acts; the other takes over within the stated time', async () => {
    await daemon.stop('SIGTERM'); // tests 1-3's daemon ran without a lease
    const lease = `${prefix}-lease`;
    const TTL_S = 3;
    const env = (host: string) => ({ DOCKER_HOST: host, LEASE: lease, LEASE_TTL: String(TTL_S), RETRY_MAX_DELAY: '2' });
    const managers = swarm.nodes.filter((n) => n.role === 'manager').map((n) => n.name);
    const a = launch(env(node(managers[0]!).host));
    const b = launch(env(node(managers[1]!).host));
    const acquired = (l: LogLine) =>
      l.msg === 'lease acquired' && l.lease === lease && l.explanation === `lease ${lease} acquired; this daemon acts`;
    const standing = (l: LogLine) =>
      l.msg === 'lease held by another daemon: standing by' &&
      String(l.explanation).startsWith(`lease ${lease} is held by`);
    const first = await Promise.any([a.waitForLog('a acquires', acquired), b.waitForLog('b acquires', acquired)]);
    const [holder, standby] = a.lines.includes(first) ? [a, b] : [b, a];
    await standby.waitForLog('the other stands by', standing);
    assert.equal((await health(standby)).status, 200, 'a standby is healthy');
    assert.equal((await statusOf(standby, svc)).lease?.held, false);

    mass.setDemand(sys, { due: 2 });
    await waitFor(`${svc} wanted at 2`, async () => (await desiredReplicas(await anyManager(), svc)) === 2, 60_000);
    mass.setDemand(sys, { due: 6 });
    await waitFor(`${svc} wanted at 6`, async () => (await desiredReplicas(await anyManager(), svc)) === 6, 60_000);
    assert.ok(holder.lines.filter(isScaleLine(svc)).length >= 2, 'the holder scaled');
    assert.deepEqual(standby.lines.filter(isScaleLine(svc)), [], 'the standby never scaled');
    assert.equal(
      standby.lines.filter((l) => l.msg === 'service managed').length,
      0,
      'the standby does not even run rounds',
    );

    // The holder crashes: the standby takes over after TTL without renewal (+ one renewal period).
    const killedAt = Date.now();
    await holder.stop('SIGKILL');
    const took = await standby.waitForLog('standby takes over', acquired, 30_000);
    const tookMs = (took.time as number) - killedAt;
    console.log(`# takeover after a crash: ${tookMs} ms (LEASE_TTL ${TTL_S}s)`);
    assert.ok(tookMs <= (TTL_S + TTL_S / 3 + 2) * 1000, `took over in ${tookMs} ms`);
    assert.ok(tookMs >= (TTL_S - 1.5) * 1000, `not before the TTL ran out (${tookMs} ms)`);
    mass.setDemand(sys, { due: 3 });
    await waitFor(
      `${svc} wanted at 3 by the new holder`,
      async () => (await desiredReplicas(await anyManager(), svc)) === 3,
      60_000,
    );
    await standby.waitForLog('the new holder scaled', (l) => isScaleLine(svc)(l) && l.desired === 3);

    // A clean stop releases the lease: a new standby takes over at once (one renewal period).
    const c = launch(env(node(managers[2]!).host));
    await c.waitForLog('the third stands by', standing);
    const stoppedAt = Date.now();
    await standby.stop('SIGTERM');
    const tookC = await c.waitForLog('the third takes over', acquired, 30_000);
    const tookCMs = (tookC.time as number) - stoppedAt;
    console.log(`# takeover after a clean stop: ${tookCMs} ms`);
    assert.ok(tookCMs <= (TTL_S / 3 + 2) * 1000, `took over in ${tookCMs} ms`);
    await c.stop('SIGTERM');
    await (await anyManager()).getConfig(lease).remove();
  });

  test('5. DOCKER_HOST of a worker: one clear line, /healthz 503, retry, recovery after docker node promote', async () => {
    const lease = `${prefix}-lease5`;
    const d = launch({ DOCKER_HOST: node('n4').host, LEASE: lease, LEASE_TTL: '3', HEALTH_MAX_AGE: '2' });
    const line = await d.waitForLog(
      'not a manager line',
      (l) => l.msg === 'lease: cannot read or renew it' && /not a swarm manager/.test(String(l.explanation)),
    );
    console.log(`# pointed at a worker: ${String(line.explanation)}`);
    assert.equal(line.kind, 'not-a-manager');
    assert.equal(line.level, 50);
    const bad = await waitFor('/healthz 503', async () => {
      const h = await health(d);
      return h.status === 503 && h;
    });
    assert.match(bad.body, /not a swarm manager/);
    // It keeps trying (a lease read every second) without a line per attempt: let three go by.
    await waitFor('three more lease periods', async () => Date.now() - (line.time as number) > 3000);
    assert.equal(d.lines.filter((l) => /not a swarm manager/.test(String(l.explanation))).length, 1);

    const n4Id = [...swarm.nodeNames].find(([, name]) => name === 'n4')![0];
    const manager = swarm.nodes.find((n) => n.role === 'manager')!;
    const promoted = spawnSync('docker', ['-H', manager.host, 'node', 'promote', n4Id], { encoding: 'utf8' });
    assert.equal(promoted.status, 0, promoted.stderr);
    await d.waitForLog(
      'lease acquired after promotion',
      (l) => l.msg === 'lease acquired' && l.explanation === `lease ${lease} acquired; this daemon acts`,
      90_000,
    );
    await d.waitForLog(
      `managing ${svc}`,
      (l) => l.msg === 'service managed' && l.explanation === `managing service ${svc} for analysis system ${sys}`,
      60_000,
    );
    await waitFor('/healthz 200', async () => (await health(d)).status === 200, 60_000);
    await d.stop('SIGTERM');
    await (await anyManager()).getConfig(lease).remove();
  });
});
