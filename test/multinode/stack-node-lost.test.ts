// The daemon's own node lost (issue item 4): deploy/stack.yml deployed on the multi-node swarm of
// scripts/multinode.sh (3 managers, 1 worker), the manager the autoscaler's task runs on is killed
// at once (Engine, containerd, shims and containers: `scripts/multinode.sh kill-node`), Swarm
// starts the task on another manager, and that daemon resumes without shrinking any service.
//
// No registry: the image is assembled from this machine's node binary, dist/ and the production
// node_modules, and imported on every manager. All nodes share one file system, so the stack's
// socket bind would give every task the machine's main Engine: the test deploys the shipped stack
// file with DOCKER_SOCKET=<dir>/sockets/{{.Node.ID}}.sock, a Swarm template that each node
// resolves to a link to its own Engine's socket. The fake MASS listens on loopback; a relay on the
// test bridge's address (the nodes' only way out) passes the daemon's requests to it.
// Run as root: `node scripts/test.mjs multinode` (after `npm run build`).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { ENTRY, fastLabels } from '../e2e/harness';
import { startFakeMass } from '../fakes/mass-server';
import { createTestService, desiredReplicas, dockerCli, uniquePrefix, waitFor } from '../support/docker';
import { MULTINODE_DIR as DIR, MultinodeSwarm, script, scriptAsync } from '../support/multinode';
import { assembleImageTar, deriveStack, importImage } from '../support/stack';

const IMAGE = 'mass-autoscaler:multinode-test';
const API_KEY = 'node-lost-secret-key-9d04a2';
/** Short, so the new task does not wait the default 15 s for the killed holder's lease to run out. */
const LEASE_TTL_S = 3;

/** The docker CLI against one node's Engine (for `stack deploy` and `secret create`). */
function cli(host: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): string {
  return dockerCli(args, { host, ...opts });
}

/**
 * deploy/stack.yml with the test's image, MASS address, secret name, a short lease TTL and the
 * node's host network. The socket bind stays as shipped: DOCKER_SOCKET sets it at deploy time.
 */
function derive(massUrl: string, secretName: string): string {
  const text = deriveStack({ image: IMAGE, massUrl, secretName }, [
    [/( *)METRICS_PORT: (['"])9464\2\n/, `$1METRICS_PORT: '9464'\n$1LEASE_TTL: '${LEASE_TTL_S}'\n`],
  ]);
  assert.match(text, /source: \$\{DOCKER_SOCKET:-\/var\/run\/docker\.sock\}\n/, 'the socket path is a parameter');
  return text;
}

/** Passes TCP connections from the bridge address (reachable from every node) to the fake MASS on loopback. */
async function relay(listenHost: string, toPort: number): Promise<{ url: string; close: () => Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(toPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => (s === inbound ? outbound : inbound).destroy());
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/api/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy(); // keep-alive connections would hold close() forever
      }),
  };
}

interface ServiceStatus {
  name: string;
  replicas: number | null;
  desired: number | null;
  rawDemand: number | null;
}
interface StatusDoc {
  services: ServiceStatus[];
  lease?: { name: string; holder: string; held: boolean };
}

describe("the daemon's own node lost: deploy/stack.yml on a multi-node swarm", { timeout: 600_000 }, () => {
  let swarm: MultinodeSwarm;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  let massRelay: Awaited<ReturnType<typeof relay>> | undefined;
  let work: string;
  const prefix = uniquePrefix('nl');
  const stack = prefix;
  const secret = `${prefix}-key`;
  const autoscaler = `${stack}_autoscaler`;
  const svcA = `${prefix}-a`; // demand stays; raised after the move
  const svcB = `${prefix}-b`; // demand falls while the daemon is away
  const sysA = `${prefix}-sys-a`;
  const sysB = `${prefix}-sys-b`;
  const killed: string[] = [];

  const engine = (name: string) => swarm.engine(name);
  const node = (name: string) => swarm.node(name);
  /** A manager Engine that answers and is not killed. */
  const anyManager = (): Promise<Docker> => swarm.anyManager(killed);
  /** The node name and container id of the autoscaler's task that runs now (Swarm's view). */
  async function runningDaemonTask(): Promise<{ node: string; containerId: string } | undefined> {
    const tasks = await (
      await anyManager()
    ).listTasks({ filters: { service: [autoscaler], 'desired-state': ['running'] } });
    const t = tasks.find((x) => x.Status?.State === 'running');
    const id = (t?.Status as { ContainerStatus?: { ContainerID?: string } } | undefined)?.ContainerStatus?.ContainerID;
    if (t?.NodeID === undefined || id === undefined) return undefined;
    return { node: swarm.nodeNames.get(t.NodeID)!, containerId: id };
  }
  async function statusAt(name: string): Promise<StatusDoc> {
    const res = await fetch(`http://${node(name).addr}:9464/status`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as StatusDoc;
  }
  /** The last lines the daemon wrote on a node (for failure messages and the run's record). */
  async function daemonLogs(name: string, containerId: string): Promise<string> {
    try {
      const buf = (await engine(name)
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true, tail: 15 })) as unknown as Buffer;
      // Without a TTY the Engine frames each chunk with an 8-byte header (stream, size).
      let text = '';
      for (let at = 0; at + 8 <= buf.length; at += 8 + buf.readUInt32BE(at + 4)) {
        text += buf.subarray(at + 8, at + 8 + buf.readUInt32BE(at + 4)).toString('utf8');
      }
      return text;
    } catch (err) {
      return `(no logs: ${(err as Error).message})`;
    }
  }

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'the multi-node suite needs root (namespaces, links, firewall)');
    assert.ok(existsSync(ENTRY), 'run npm run build first');
    const started = Date.now();
    script('down'); // what a previous run may have left
    work = mkdtempSync(join(tmpdir(), 'mass-node-lost-'));
    const swarmUp = scriptAsync('up');
    const tar = assembleImageTar(work); // while the swarm comes up
    await swarmUp;
    const upMs = Date.now() - started;
    swarm = new MultinodeSwarm();
    // Swarm notices a lost node after a few missed heartbeats (5 s apart by default, and longer
    // right after a leader election): 2 s keeps this test short; the daemon's part is the same.
    cli(node('n1').host, ['swarm', 'update', '--dispatcher-heartbeat', '2s']);
    // Per node id, a link to that node's own Engine socket: what {{.Node.ID}} in DOCKER_SOCKET names.
    mkdirSync(join(DIR, 'sockets'), { recursive: true });
    await swarm.readNodeIds();
    for (const [id, name] of swarm.nodeNames) {
      symlinkSync(node(name).host.replace(/^unix:\/\//, ''), join(DIR, 'sockets', `${id}.sock`));
    }
    await Promise.all(swarm.nodes.filter((n) => n.role === 'manager').map((n) => importImage(tar, IMAGE, n.host)));
    rmSync(tar);
    console.log(
      `# swarm up (image assembled meanwhile) in ${upMs} ms; image imported on the managers in ${Date.now() - started - upMs} ms`,
    );

    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(sysA);
    mass.addSystem(sysB);
    mass.setDemand(sysA, { due: 3 });
    mass.setDemand(sysB, { due: 4 });
    massRelay = await relay(swarm.nodes[0]!.addr.replace(/\.\d+$/, '.1'), Number(new URL(mass.baseUrl).port));
    await createTestService(engine('n1'), {
      name: svcA,
      replicas: 3,
      labels: fastLabels(sysA, { 'com.mass.max_inst': '8' }),
    });
    // A scale-down delay far longer than the test: a daemon that starts must keep B's replicas.
    await createTestService(engine('n1'), {
      name: svcB,
      replicas: 4,
      labels: fastLabels(sysB, { 'com.mass.max_inst': '8', 'com.mass.scale_down_delay': '3600' }),
    });
    cli(node('n1').host, ['secret', 'create', secret, '-'], { input: API_KEY });
  });

  after(async () => {
    await massRelay?.close();
    await mass?.close();
    const downAt = Date.now();
    script('down'); // the stack, the services, the secret and the lease go with the swarm
    console.log(`# swarm down in ${Date.now() - downAt} ms`);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  test('killing the manager the autoscaler runs on: Swarm starts it on another manager, no service shrinks, it scales again', async () => {
    writeFileSync(join(work, 'stack.yml'), derive(massRelay!.url, secret));
    const socket = join(DIR, 'sockets', '{{.Node.ID}}.sock');
    cli(node('n1').host, ['stack', 'deploy', '--resolve-image', 'never', '-c', join(work, 'stack.yml'), stack], {
      env: { DOCKER_SOCKET: socket },
    });

    const first = await waitFor('the autoscaler task running', runningDaemonTask, 90_000);
    const mounts = (
      (await engine(first.node).getContainer(first.containerId).inspect()) as {
        HostConfig: { Mounts?: { Source: string; Target: string }[] };
      }
    ).HostConfig.Mounts;
    const ownId = [...swarm.nodeNames].find(([, name]) => name === first.node)![0];
    assert.deepEqual(
      mounts?.map((m) => [m.Source, m.Target]),
      [[join(DIR, 'sockets', `${ownId}.sock`), '/var/run/docker.sock']],
      "the task binds its own node's socket",
    );
    await waitFor(
      `the autoscaler on ${first.node} holds the lease and manages both services`,
      async () => {
        const s = await statusAt(first.node);
        const a = s.services.find((x) => x.name === svcA);
        const b = s.services.find((x) => x.name === svcB);
        return s.lease?.held === true && a?.desired === 3 && b?.desired === 4;
      },
      90_000,
    );

    // Watch the wanted replicas of both services from now until the end, on any live manager.
    const seen = { a: [] as number[], b: [] as number[] };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          const via = await anyManager();
          seen.a.push((await desiredReplicas(via, svcA)) ?? -1);
          seen.b.push((await desiredReplicas(via, svcB)) ?? -1);
        } catch {
          /* no manager answers during the election: nothing to read */
        }
        await delay(200);
      }
    })();

    try {
      const killedAt = Date.now();
      killed.push(first.node);
      await scriptAsync('kill-node', first.node);
      mass.setDemand(sysB, { due: 1 }); // demand falls while no autoscaler runs
      await assert.rejects(statusAt(first.node), 'the killed node took its autoscaler with it');

      const second = await waitFor(
        'the autoscaler task running on another manager',
        async () => {
          const t = await runningDaemonTask();
          return t !== undefined && t.node !== first.node && t;
        },
        120_000,
      );
      const movedMs = Date.now() - killedAt;
      assert.equal(node(second.node).role, 'manager');
      const resumed = await waitFor(
        `the autoscaler on ${second.node} takes the lease over and holds B against the lower demand`,
        async () => {
          const s = await statusAt(second.node);
          const b = s.services.find((x) => x.name === svcB);
          return s.lease?.held === true && b?.rawDemand === 1 && b.desired === 4 && b.replicas === 4 && s;
        },
        60_000,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await daemonLogs(second.node, second.containerId)}`);
      });
      const resumedMs = Date.now() - killedAt;
      assert.equal(resumed.services.find((x) => x.name === svcA)?.replicas, 3);

      mass.setDemand(sysA, { due: 6 });
      await waitFor(
        `${svcA} scaled to 6 by the moved autoscaler`,
        async () => {
          const s = await statusAt(second.node);
          return s.services.find((x) => x.name === svcA)?.replicas === 6;
        },
        60_000,
      );
      assert.equal(await desiredReplicas(await anyManager(), svcA), 6);
      await waitFor('the watcher still reading (it sees the 6)', async () => seen.a.includes(6));
      console.log(
        `# killed ${first.node}; task running on ${second.node} after ${movedMs} ms; lease held and B held after ${resumedMs} ms (LEASE_TTL ${LEASE_TTL_S}s)`,
      );
    } finally {
      watching = false;
      await watcher;
    }
    console.log(
      `# wanted replicas polled ${seen.a.length} times: A ${JSON.stringify([...new Set(seen.a)])}, B ${JSON.stringify([...new Set(seen.b)])}`,
    );
    assert.ok(seen.a.length >= 10, `polled throughout (${seen.a.length} readings)`);
    assert.ok(Math.min(...seen.a) >= 3, `A never below 3: ${JSON.stringify(seen.a)}`);
    assert.ok(
      seen.b.every((n) => n === 4),
      `B stayed at 4: ${JSON.stringify(seen.b)}`,
    );
  });
});
