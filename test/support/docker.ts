// Helpers for every test that runs against the real Docker Engine (integration and e2e).
// Tests fail, never skip, when the Engine is not ready: a skipped suite hides a broken setup.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';
import type Docker from 'dockerode';
import { createDocker } from '../../src/swarm/docker-swarm';

export const TEST_IMAGE = 'mass-autoscaler-test:busybox';

const SETUP_HINT =
  'Run `bash scripts/setup-docker.sh` (it starts dockerd, initialises a single-node swarm and builds the image).';

/** The local Engine (or DOCKER_HOST), checked to be a swarm manager with TEST_IMAGE present. */
export async function requireDocker(): Promise<Docker> {
  const docker = createDocker({
    host: process.env.DOCKER_HOST,
    tlsVerify:
      process.env.DOCKER_TLS_VERIFY !== undefined &&
      process.env.DOCKER_TLS_VERIFY !== '' &&
      process.env.DOCKER_TLS_VERIFY !== '0',
    certPath: process.env.DOCKER_CERT_PATH,
  });
  let info: { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  try {
    info = await docker.info();
  } catch (err) {
    throw new Error(`Docker Engine not reachable (${(err as Error).message}). ${SETUP_HINT}`, { cause: err });
  }
  if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
    throw new Error(
      `Docker Engine is not a swarm manager (swarm state: ${info.Swarm?.LocalNodeState ?? 'unknown'}). ${SETUP_HINT}`,
    );
  }
  try {
    await docker.getImage(TEST_IMAGE).inspect();
  } catch (err) {
    throw new Error(`Image ${TEST_IMAGE} is missing (${(err as Error).message.trim()}). ${SETUP_HINT}`, { cause: err });
  }
  return docker;
}

/** A service-name prefix unique to one test file and run: `mat-<tag>-<random>`. */
export function uniquePrefix(tag: string): string {
  const clean = tag
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 20);
  return `mat-${clean || 'test'}-${randomBytes(3).toString('hex')}`;
}

export interface TestServiceOptions {
  name: string;
  /** desired replicas of a replicated service; default 1 (ignored when global) */
  replicas?: number;
  /** service labels (Spec.Labels) */
  labels?: Record<string, string>;
  /** container labels (Spec.TaskTemplate.ContainerSpec.Labels) */
  containerLabels?: Record<string, string>;
  env?: string[];
  global?: boolean;
  limits?: { memoryBytes?: number; nanoCpus?: number };
}

/** Creates a service from TEST_IMAGE with a 1 s stop grace period; resolves to its id and name. */
export async function createTestService(
  docker: Docker,
  opts: TestServiceOptions,
): Promise<{ id: string; name: string }> {
  const limits =
    opts.limits === undefined
      ? undefined
      : {
          ...(opts.limits.memoryBytes !== undefined && { MemoryBytes: opts.limits.memoryBytes }),
          ...(opts.limits.nanoCpus !== undefined && { NanoCPUs: opts.limits.nanoCpus }),
        };
  const created = await docker.createService({
    Name: opts.name,
    Labels: opts.labels ?? {},
    TaskTemplate: {
      ContainerSpec: {
        Image: TEST_IMAGE,
        Env: opts.env,
        Labels: opts.containerLabels,
        StopGracePeriod: 1_000_000_000,
      },
      ...(limits !== undefined && { Resources: { Limits: limits } }),
    },
    Mode: opts.global ? { Global: {} } : { Replicated: { Replicas: opts.replicas ?? 1 } },
  });
  return { id: created.id, name: opts.name };
}

/** Removes every service whose name starts with prefix; already-removed ones are fine. */
export async function removeServicesWithPrefix(docker: Docker, prefix: string): Promise<void> {
  // The Engine's name filter matches prefixes in 20.10 but is not documented to: filter here too.
  const services = await docker.listServices({ filters: { name: [prefix] } });
  const mine = services.filter((s) => s.Spec?.Name?.startsWith(prefix));
  await Promise.all(
    mine.map(async (s) => {
      try {
        await docker.getService(s.ID).remove();
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    }),
  );
}

/**
 * Polls fn until it returns a value other than undefined/false, or fails after timeoutMs
 * naming `what` and the last value (or error) seen. The deadline is generous on purpose:
 * this machine is shared, and no test may depend on its speed.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `error: ${last.message}` : inspect(last, { depth: 4 });
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen ${seen}`);
    }
    await delay(100);
  }
}

/** Spec.Mode.Replicated.Replicas of the service; null for a global-mode service. */
export async function desiredReplicas(docker: Docker, nameOrId: string): Promise<number | null> {
  const service = await docker.getService(nameOrId).inspect();
  const replicas = service?.Spec?.Mode?.Replicated?.Replicas;
  return typeof replicas === 'number' ? replicas : null;
}

/** Sets (or, with undefined, removes) service labels as another client would, keeping the rest. */
export async function setServiceLabels(
  docker: Docker,
  nameOrId: string,
  changes: Record<string, string | undefined>,
): Promise<void> {
  const service = docker.getService(nameOrId);
  const info = (await service.inspect()) as { Version: { Index: number }; Spec: { Labels?: Record<string, string> } };
  const labels = { ...(info.Spec.Labels ?? {}) };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete labels[key];
    else labels[key] = value;
  }
  await service.update({ _query: { version: info.Version.Index }, _body: { ...info.Spec, Labels: labels } } as never);
}

/**
 * The docker CLI (for what the Engine API has no call for, such as `stack deploy`), on the Engine
 * at `host` (default: DOCKER_HOST or the local one); fails the test when it fails. Returns stdout.
 */
export function dockerCli(
  args: string[],
  opts: { host?: string; input?: string; env?: Record<string, string> } = {},
): string {
  const r = spawnSync('docker', args, {
    encoding: 'utf8',
    input: opts.input,
    env: { ...process.env, ...(opts.host !== undefined && { DOCKER_HOST: opts.host }), ...opts.env },
  });
  assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
