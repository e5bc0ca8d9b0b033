import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import {
  DEFAULT_STOP_GRACE_MS,
  OPERATION_STATES,
  type ManagedService,
  type ScaleOutcome,
  type ServiceMode,
  type SwarmTarget,
} from '../types';

export const MANAGED_LABEL = 'com.mass.anal_system';

const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface DockerConnection {
  /** DOCKER_HOST: empty for the local socket, `unix:///path` or `tcp://host:port` */
  host?: string;
  /** DOCKER_TLS_VERIFY: talk https to a tcp host and present the client certificate */
  tlsVerify?: boolean;
  /** DOCKER_CERT_PATH: folder with ca.pem, cert.pem and key.pem (default ~/.docker, as the docker CLI) */
  certPath?: string;
}

/**
 * Builds a dockerode client from DOCKER_HOST-style values.
 *
 * Every connection field is set, even to undefined: docker-modem merges our options over
 * defaults it reads from process.env, so a DOCKER_HOST left in the environment would
 * otherwise win over the configured one.
 */
export function createDocker(opts: DockerConnection): Docker {
  const raw = opts.host?.trim() ?? '';
  const none = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
  };
  if (raw === '') return new Docker({ ...none, socketPath: DEFAULT_SOCKET, protocol: 'http' });
  if (raw.startsWith('unix://')) {
    return new Docker({ ...none, socketPath: raw.slice('unix://'.length) || DEFAULT_SOCKET, protocol: 'http' });
  }
  if (raw.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error(`DOCKER_HOST "${raw}" is not a valid tcp://host:port address`);
    }
    const tls = opts.tlsVerify === true;
    const port = url.port || (tls ? '2376' : '2375');
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!tls) return new Docker({ ...none, host: hostname, port, protocol: 'http' });
    const certPath = opts.certPath || join(homedir(), '.docker');
    const read = (file: string): Buffer => {
      try {
        return readFileSync(join(certPath, file));
      } catch (err) {
        throw new Error(
          `DOCKER_TLS_VERIFY is set but ${join(certPath, file)} cannot be read: ${(err as Error).message}`,
          { cause: err },
        );
      }
    };
    return new Docker({
      ...none,
      host: hostname,
      port,
      protocol: 'https',
      ca: read('ca.pem'),
      cert: read('cert.pem'),
      key: read('key.pem'),
    });
  }
  throw new Error(`DOCKER_HOST "${raw}" is not supported: use unix:///path/to/docker.sock or tcp://host:port`);
}

export type SwarmErrorKind =
  | 'unreachable' // no answer from the Engine (socket missing, refused, reset, timed out): hold and retry
  | 'api-error' // the Engine answered with an error
  | 'conflict'; // "update out of sequence" on every attempt: others keep changing the service

export class SwarmError extends Error {
  override readonly name = 'SwarmError';
  constructor(
    readonly kind: SwarmErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface DockerSwarmOptions {
  /** update attempts per scale() when others change the service in between; default 5 */
  maxUpdateAttempts?: number;
  /** deadline for each Engine request, after which it counts as unreachable; default 20 000 */
  requestTimeoutMs?: number;
  hooks?: {
    /**
     * Test seam only: awaited after each inspect in scale(), before the update is sent, so a
     * test can deterministically let another client change or remove the service in that gap.
     * Production code never sets it.
     */
    afterInspect?: (serviceId: string) => Promise<void>;
  };
}

/** The part of the Engine's service JSON this adapter reads; the rest of Spec is passed back untouched. */
/** How long Swarm waits after SIGTERM before it kills a removed replica, ms. */
function stopGraceOf(s: EngineService): number {
  const ns = s.Spec?.TaskTemplate?.ContainerSpec?.StopGracePeriod;
  return typeof ns === 'number' && ns >= 0 ? ns / 1e6 : DEFAULT_STOP_GRACE_MS;
}

interface EngineService {
  ID: string;
  Version?: { Index?: number };
  Spec?: {
    Name?: string;
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number }; Global?: object; ReplicatedJob?: object; GlobalJob?: object };
    /** StopGracePeriod in nanoseconds; absent = Docker's default of 10 s */
    TaskTemplate?: { ContainerSpec?: { StopGracePeriod?: number } };
  };
  UpdateStatus?: { State?: string };
}

type Step = 'list services' | 'inspect service' | 'update service';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EPIPE',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);

interface EngineError {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  json?: { message?: string };
}

function isUnreachable(err: EngineError): boolean {
  if (err.statusCode !== undefined) return false;
  return (err.code !== undefined && UNREACHABLE_CODES.has(err.code)) || err.name === 'AbortError';
}

function isNotFound(err: unknown): boolean {
  return (err as EngineError).statusCode === 404;
}

function isOutOfSequence(err: unknown): boolean {
  return explain(err).includes('update out of sequence');
}

/** One line about what went wrong: the Engine's own message, never a request body. */
function explain(err: unknown): string {
  const e = err as EngineError;
  if (e.name === 'AbortError') return 'no answer from the Docker Engine within the request timeout';
  if (e.statusCode !== undefined) return `HTTP ${e.statusCode}: ${e.json?.message ?? e.message ?? 'no message'}`.trim();
  return e.message ?? String(err);
}

function replicasOf(service: EngineService): number | null {
  const replicas = service.Spec?.Mode?.Replicated?.Replicas;
  return typeof replicas === 'number' ? replicas : null;
}

const PAUSED_STATES: ReadonlySet<string> = new Set(['paused', 'rollback_paused']);

function modeOf(service: EngineService): ServiceMode {
  const mode = service.Spec?.Mode;
  if (mode?.ReplicatedJob !== undefined) return 'replicated-job';
  if (mode?.GlobalJob !== undefined) return 'global-job';
  return replicasOf(service) === null ? 'global' : 'replicated';
}

/** The state of an operator's update or rollback that is in progress or paused, else null. */
function operationOf(service: EngineService): string | null {
  const state = service.UpdateStatus?.State;
  return state !== undefined && OPERATION_STATES.has(state) ? state : null;
}

function versionOf(service: EngineService, step: Step): number {
  const index = service.Version?.Index;
  if (typeof index !== 'number') {
    throw new SwarmError(
      'api-error',
      `${step} ${service.Spec?.Name ?? ''} (${service.ID}): the Engine gave no Version.Index`,
    );
  }
  return index;
}

export class DockerSwarm implements SwarmTarget {
  private readonly maxUpdateAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly afterInspect: ((serviceId: string) => Promise<void>) | undefined;

  constructor(
    private readonly docker: Docker,
    opts: DockerSwarmOptions = {},
  ) {
    this.maxUpdateAttempts = Math.max(1, opts.maxUpdateAttempts ?? 5);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 20_000;
    this.afterInspect = opts.hooks?.afterInspect;
  }

  async listManaged(): Promise<ManagedService[]> {
    let services: EngineService[];
    try {
      services = (await this.docker.listServices({
        filters: { label: [MANAGED_LABEL] },
        abortSignal: this.deadline(),
      })) as EngineService[];
    } catch (err) {
      throw this.fail('list services', undefined, err);
    }
    const running = await this.runningTasks(services.map((s) => s.ID));
    return services.map((s) => ({
      id: s.ID,
      name: s.Spec?.Name ?? s.ID,
      labels: { ...s.Spec?.Labels },
      mode: modeOf(s),
      replicas: replicasOf(s),
      operation: operationOf(s),
      version: versionOf(s, 'list services'),
      running: running === null ? null : (running.get(s.ID) ?? 0),
      stopGraceMs: stopGraceOf(s),
    }));
  }

  /** Running tasks per service id, over every node (one call); null when they cannot be listed. */
  private async runningTasks(ids: string[]): Promise<Map<string, number> | null> {
    if (ids.length === 0) return new Map();
    try {
      const tasks = (await this.docker.listTasks({
        filters: { service: ids, 'desired-state': ['running'] },
        abortSignal: this.deadline(),
      })) as { ServiceID?: string; Status?: { State?: string } }[];
      const counts = new Map<string, number>();
      for (const t of tasks) {
        if (t.Status?.State === 'running' && t.ServiceID) counts.set(t.ServiceID, (counts.get(t.ServiceID) ?? 0) + 1);
      }
      return counts;
    } catch {
      return null;
    }
  }

  async scale(serviceId: string, replicas: number): Promise<ScaleOutcome> {
    if (!Number.isSafeInteger(replicas) || replicas < 0) {
      throw new RangeError(`scale service ${serviceId}: replicas must be a whole number >= 0, got ${replicas}`);
    }
    for (let attempt = 1; ; attempt++) {
      const current = await this.inspect(serviceId);
      if (current === undefined) return { kind: 'gone' };
      const from = replicasOf(current);
      if (from === null) return { kind: 'not-replicated', mode: modeOf(current) as Exclude<ServiceMode, 'replicated'> };
      if (from === replicas) return { kind: 'unchanged', replicas };
      // An update would carry a paused rollout on and replace the rollback point (PreviousSpec).
      // On a retry the rollout may be the concurrent change that put us out of sequence: that one
      // is merged with ours, as before; only a paused one is never pushed on.
      const operation = operationOf(current);
      if (operation !== null && (attempt === 1 || PAUSED_STATES.has(operation)))
        return { kind: 'in-operation', state: operation };

      await this.afterInspect?.(current.ID);

      const version = versionOf(current, 'inspect service');
      const spec = structuredClone(current.Spec) as NonNullable<EngineService['Spec']>;
      spec.Mode!.Replicated!.Replicas = replicas;
      try {
        await this.docker.getService(current.ID).update({
          _query: { version },
          _body: spec,
          abortSignal: this.deadline(),
        });
        return { kind: 'updated', from, to: replicas, attempts: attempt };
      } catch (err) {
        if (isOutOfSequence(err) && attempt < this.maxUpdateAttempts) continue;
        if (isOutOfSequence(err)) {
          throw new SwarmError(
            'conflict',
            `update service ${this.label(current)}: still out of sequence after ${attempt} attempts (others keep updating it)`,
            { cause: err },
          );
        }
        // A 404 from update is "gone" only when the service itself is gone, not e.g. a network it names.
        if (isNotFound(err) && (await this.inspect(current.ID)) === undefined) return { kind: 'gone' };
        throw this.fail('update service', current, err);
      }
    }
  }

  /** undefined when the service does not exist (any more). */
  private async inspect(serviceId: string): Promise<(EngineService & { Spec: object }) | undefined> {
    let service: EngineService;
    try {
      service = (await this.docker.getService(serviceId).inspect({ abortSignal: this.deadline() })) as EngineService;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.fail('inspect service', serviceId, err);
    }
    if (service.Spec === undefined) {
      throw new SwarmError('api-error', `inspect service ${serviceId}: the Engine answered without a Spec`);
    }
    return service as EngineService & { Spec: object };
  }

  private deadline(): AbortSignal {
    return AbortSignal.timeout(this.requestTimeoutMs);
  }

  private label(service: EngineService): string {
    return service.Spec?.Name ? `${service.Spec.Name} (${service.ID})` : service.ID;
  }

  private fail(step: Step, service: EngineService | string | undefined, err: unknown): SwarmError {
    const which = service === undefined ? '' : ` ${typeof service === 'string' ? service : this.label(service)}`;
    const kind = isUnreachable(err as EngineError) ? 'unreachable' : 'api-error';
    const reason = kind === 'unreachable' ? `Docker Engine unreachable (${explain(err)})` : explain(err);
    return new SwarmError(kind, `${step}${which}: ${reason}`, { cause: err });
  }
}
