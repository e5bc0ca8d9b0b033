// The multi-node swarm of scripts/multinode.sh (3 managers, 1 worker, each a Docker Engine in its
// own network namespace), for the suites under test/multinode. Run as root.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { createDocker } from '../../src/swarm/docker-swarm';
import { waitFor } from './docker';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'multinode.sh');
export const MULTINODE_DIR = process.env.MULTINODE_DIR ?? '/tmp/mass-multinode';

export interface SwarmNode {
  name: string;
  role: 'manager' | 'worker';
  addr: string;
  host: string;
}

/** scripts/multinode.sh with these arguments; fails the test when it fails. */
export function script(...args: string[]): void {
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, `scripts/multinode.sh ${args.join(' ')} failed:\n${r.stderr}`);
}

/** The script without blocking the event loop (a test keeps polling while a node is killed). */
export function scriptAsync(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`scripts/multinode.sh ${args.join(' ')} failed:\n${err}`)),
    );
  });
}

/** The nodes of a swarm `scripts/multinode.sh up` made, each with a client of its Engine. */
export class MultinodeSwarm {
  readonly nodes: SwarmNode[];
  private readonly engines = new Map<string, Docker>();
  /** swarm node id -> n1..n4 (filled by `readNodeIds`) */
  readonly nodeNames = new Map<string, string>();

  constructor() {
    const file = join(MULTINODE_DIR, 'nodes.json');
    this.nodes = (JSON.parse(readFileSync(file, 'utf8')) as { nodes: SwarmNode[] }).nodes;
    for (const n of this.nodes) this.engines.set(n.name, createDocker({ host: n.host }));
  }

  engine(name: string): Docker {
    return this.engines.get(name)!;
  }

  node(name: string): SwarmNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  /** Reads the swarm's node ids (the script labels each node `mass.multinode.name`). */
  async readNodeIds(): Promise<void> {
    for (const n of await this.engine('n1').listNodes()) {
      this.nodeNames.set(n.ID!, (n.Spec?.Labels as Record<string, string>)['mass.multinode.name']!);
    }
  }

  /** A manager Engine that answers, other than those named in `except`. */
  anyManager(except: readonly string[] = []): Promise<Docker> {
    return waitFor('a manager that answers', async () => {
      for (const n of this.nodes) {
        if (n.role !== 'manager' || except.includes(n.name)) continue;
        try {
          await this.engine(n.name).listNodes();
          return this.engine(n.name);
        } catch {
          /* next */
        }
      }
      return undefined;
    });
  }
}
