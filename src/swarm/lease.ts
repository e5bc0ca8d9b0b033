// One daemon acts at a time: a lease kept as labels on a Swarm config object (LEASE names it).
// Every write carries the object's Version.Index, so of two daemons writing at once only one
// succeeds ("update out of sequence" for the other). The holder renews every TTL/3; a standby
// takes the lease when it has seen no change of the object for a whole TTL by its own clock (so
// clocks of different nodes need not agree), or at once when the holder released it on exit.
// The holder stops acting when its last successful renewal is a TTL old, which is never later
// than the moment a standby may take over.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { LOG } from '../log-messages';
import type { Clock } from '../types';

export const HOLDER_LABEL = 'com.mass.lease.holder';
export const RENEWED_LABEL = 'com.mass.lease.renewed';
export const TTL_LABEL = 'com.mass.lease.ttl';

/** The lease object as read from Swarm: who holds it and the object's version. */
export interface LeaseRecord {
  /** '' when released */
  holder: string;
  version: number;
}

/** What this daemon knows; pure data, changed only by `observe` and `wrote`. */
export interface LeaseState {
  /** local time of the start of our last successful write, null when we do not hold the lease */
  renewedAt: number | null;
  /** the last change of the object we saw while someone else held it, and when we first saw it */
  seen: { holder: string; version: number; at: number } | null;
}

export type LeaseStep =
  | { kind: 'create' }
  | { kind: 'renew'; version: number }
  | { kind: 'take'; version: number; from: string }
  | { kind: 'wait'; holder: string; freeAt: number };

export const initialLeaseState: LeaseState = { renewedAt: null, seen: null };

/** Pure: what to do after reading the object (null: it does not exist). */
export function observe(
  state: LeaseState,
  record: LeaseRecord | null,
  me: string,
  now: number,
  ttlMs: number,
): { state: LeaseState; step: LeaseStep } {
  if (record === null) return { state: { ...state, seen: null }, step: { kind: 'create' } };
  if (record.holder === me)
    return { state: { ...state, seen: null }, step: { kind: 'renew', version: record.version } };
  // Someone else holds it (or nobody): whatever we held is gone.
  const base: LeaseState = { renewedAt: null, seen: state.seen };
  if (record.holder === '') {
    return { state: { ...base, seen: null }, step: { kind: 'take', version: record.version, from: '' } };
  }
  const seen =
    base.seen !== null && base.seen.version === record.version && base.seen.holder === record.holder
      ? base.seen
      : { holder: record.holder, version: record.version, at: now };
  if (now - seen.at >= ttlMs) {
    return { state: { ...base, seen }, step: { kind: 'take', version: record.version, from: record.holder } };
  }
  return { state: { ...base, seen }, step: { kind: 'wait', holder: record.holder, freeAt: seen.at + ttlMs } };
}

/** Pure: the state after a write that started at `startedAt` succeeded (true) or lost a race (false). */
export function wrote(state: LeaseState, ok: boolean, startedAt: number): LeaseState {
  return ok ? { renewedAt: startedAt, seen: null } : { renewedAt: null, seen: null };
}

/** Pure: /healthz of a standby, which is healthy while it can read the lease. */
export function standbyVerdict(
  lease: { lastOkAt: number | null; lastError: string | null; heldBy(): string },
  now: number,
  maxAgeMs: number,
): { ok: boolean; reasons: string[] } {
  const why = lease.lastError ? ` (${lease.lastError})` : '';
  if (lease.lastOkAt === null) return { ok: false, reasons: [`lease not read yet${why}`] };
  if (now - lease.lastOkAt > maxAgeMs) {
    return { ok: false, reasons: [`lease not read for ${Math.round((now - lease.lastOkAt) / 1000)}s${why}`] };
  }
  return { ok: true, reasons: [`standing by: the lease is held by ${lease.heldBy() || 'nobody yet'}`] };
}

/** Pure: whether this daemon may act now. */
export function holds(state: LeaseState, now: number, ttlMs: number): boolean {
  return state.renewedAt !== null && now - state.renewedAt < ttlMs;
}

export interface LeaseOptions {
  /** name of the Swarm config object */
  name: string;
  ttlMs: number;
  /** identifies this daemon in the lease; default host name, pid and a random part */
  holder?: string;
}

interface EngineConfig {
  ID: string;
  Version?: { Index?: number };
  Spec?: { Name?: string; Labels?: Record<string, string> };
}

interface EngineError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string };
}

function explain(err: unknown): string {
  const e = err as EngineError;
  if (e.statusCode !== undefined) return `HTTP ${e.statusCode}: ${e.json?.message ?? e.message ?? 'no message'}`.trim();
  return e.message ?? String(err);
}

/** A kind per operator action: the same failure is logged once until it changes or ends. */
function failureKind(err: unknown): string {
  const e = err as EngineError;
  if (e.statusCode === 503) return 'not-a-manager';
  if (e.statusCode !== undefined) return `http-${e.statusCode}`;
  return e.code ?? 'unreachable';
}

/** The lease on a real swarm. `tick` reads and, when due, writes; `holds` says whether we may act. */
export class SwarmLease {
  readonly holder: string;
  readonly renewEveryMs: number;
  private state: LeaseState = initialLeaseState;
  private failingKind: string | null = null;
  private lastWaitHolder: string | null = null;
  /** local time of the last tick that reached the Engine (for health) */
  lastOkAt: number | null = null;
  lastError: string | null = null;

  constructor(
    private readonly docker: Docker,
    private readonly opts: LeaseOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.holder = opts.holder ?? `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
    this.renewEveryMs = Math.max(200, Math.floor(opts.ttlMs / 3));
  }

  holds(): boolean {
    return holds(this.state, this.clock.now(), this.opts.ttlMs);
  }

  /** Milliseconds until the lease expires unless renewed; 0 when not held. */
  msLeft(): number {
    return this.state.renewedAt === null ? 0 : Math.max(0, this.state.renewedAt + this.opts.ttlMs - this.clock.now());
  }

  /** Who holds the lease as far as this daemon knows ('' for nobody or unknown). */
  heldBy(): string {
    if (this.holds()) return this.holder;
    return this.state.seen?.holder ?? '';
  }

  /** One read, and a write when due. Never throws; failures are logged once per kind. */
  async tick(): Promise<boolean> {
    const started = this.clock.now();
    const before = this.holds();
    try {
      const record = await this.read();
      const { state, step } = observe(this.state, record, this.holder, started, this.opts.ttlMs);
      this.state = state;
      if (step.kind === 'create') this.state = wrote(this.state, await this.create(), started);
      else if (step.kind === 'renew' || step.kind === 'take')
        this.state = wrote(this.state, await this.write(step.version, this.holder), started);
      else if (this.lastWaitHolder !== step.holder) {
        this.lastWaitHolder = step.holder;
        this.log.info(
          {
            lease: this.opts.name,
            holder: step.holder,
            explanation: `lease ${this.opts.name} is held by ${step.holder}; standing by (taking over if it is not renewed for ${this.opts.ttlMs / 1000}s)`,
          },
          LOG.leaseStandingBy,
        );
      }
      this.lastOkAt = this.clock.now();
      this.lastError = null;
      if (this.failingKind !== null) {
        this.log.info(
          { lease: this.opts.name, explanation: `lease ${this.opts.name}: the Engine answers again` },
          LOG.leaseWorksAgain,
        );
        this.failingKind = null;
      }
      if (step.kind === 'take' && this.holds() && step.from !== '') {
        this.log.warn(
          {
            lease: this.opts.name,
            from: step.from,
            explanation: `lease ${this.opts.name} taken over from ${step.from}, which did not renew it for ${this.opts.ttlMs / 1000}s`,
          },
          LOG.leaseTakenOver,
        );
      }
    } catch (error) {
      const kind = failureKind(error);
      this.lastError = explain(error);
      if (this.failingKind !== kind) {
        this.failingKind = kind;
        this.log.error(
          {
            lease: this.opts.name,
            kind,
            err: this.lastError,
            explanation: `lease ${this.opts.name}: cannot read or renew it (${this.lastError}); this daemon does not act until it can`,
          },
          LOG.leaseFailing,
        );
      }
    }
    const after = this.holds();
    if (after && !before) {
      this.lastWaitHolder = null;
      this.log.info(
        {
          lease: this.opts.name,
          holder: this.holder,
          explanation: `lease ${this.opts.name} acquired; this daemon acts`,
        },
        LOG.leaseAcquired,
      );
    } else if (!after && before) {
      this.log.warn(
        { lease: this.opts.name, explanation: `lease ${this.opts.name} lost; this daemon stops acting` },
        LOG.leaseLost,
      );
    }
    return after;
  }

  /** Gives the lease up, so a standby takes over at once. Best effort. */
  async release(): Promise<void> {
    if (!this.holds()) return;
    try {
      const record = await this.read();
      if (record?.holder === this.holder) await this.write(record.version, '');
      this.state = initialLeaseState;
      this.log.info({ lease: this.opts.name, explanation: `lease ${this.opts.name} released` }, LOG.leaseReleased);
    } catch (error) {
      this.log.warn(
        { lease: this.opts.name, err: explain(error), explanation: `lease ${this.opts.name}: could not release it` },
        LOG.leaseNotReleased,
      );
    }
  }

  private signal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1000, this.renewEveryMs));
  }

  private async read(): Promise<LeaseRecord | null> {
    let config: EngineConfig;
    try {
      config = (await this.docker.getConfig(this.opts.name).inspect({ abortSignal: this.signal() })) as EngineConfig;
    } catch (err) {
      if ((err as EngineError).statusCode === 404) return null;
      throw err;
    }
    const version = config.Version?.Index;
    if (typeof version !== 'number') throw new Error(`config ${this.opts.name}: the Engine gave no Version.Index`);
    return { holder: config.Spec?.Labels?.[HOLDER_LABEL] ?? '', version };
  }

  private labels(holder: string): Record<string, string> {
    return {
      [HOLDER_LABEL]: holder,
      [RENEWED_LABEL]: new Date(this.clock.now()).toISOString(),
      [TTL_LABEL]: String(this.opts.ttlMs / 1000),
    };
  }

  /** false when another daemon created it first */
  private async create(): Promise<boolean> {
    try {
      await this.docker.createConfig({
        Name: this.opts.name,
        Labels: this.labels(this.holder),
        Data: Buffer.from('mass-autoscaler lease: only the holder in its labels scales services\n').toString('base64'),
        abortSignal: this.signal(),
      } as never);
      return true;
    } catch (err) {
      if ((err as EngineError).statusCode === 409) return false;
      throw err;
    }
  }

  /** false when another daemon wrote first (the version moved on) */
  private async write(version: number, holder: string): Promise<boolean> {
    try {
      await this.docker.getConfig(this.opts.name).update({
        _query: { version },
        _body: { Name: this.opts.name, Labels: this.labels(holder) },
        abortSignal: this.signal(),
      } as never);
      return true;
    } catch (err) {
      if (explain(err).includes('update out of sequence')) return false;
      throw err;
    }
  }
}

/**
 * Runs `work` only while `lease` is held: started when it is acquired, aborted when it is lost
 * or `signal` aborts; renewed every TTL/3 meanwhile. Releases the lease at the end.
 */
export async function whileHolding(
  lease: SwarmLease,
  clock: Clock,
  signal: AbortSignal,
  work: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  while (!signal.aborted) {
    if (!(await lease.tick())) {
      await clock.sleep(lease.renewEveryMs, signal);
      continue;
    }
    const period = new AbortController();
    const stop = () => period.abort();
    signal.addEventListener('abort', stop, { once: true });
    const working = work(period.signal);
    let failed: unknown = undefined;
    working.catch((error: unknown) => {
      failed = error;
      period.abort();
    });
    // Work stops when the lease expires, even while a renewal is still waiting for the Engine.
    let expiry: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(expiry);
      expiry = setTimeout(stop, lease.msLeft());
    };
    arm();
    while (!period.signal.aborted) {
      await clock.sleep(lease.renewEveryMs, period.signal);
      if (period.signal.aborted) break;
      if (await lease.tick()) arm();
      else period.abort();
    }
    clearTimeout(expiry);
    signal.removeEventListener('abort', stop);
    await working.catch(() => {});
    if (failed !== undefined) {
      await lease.release();
      throw failed;
    }
  }
  await lease.release();
}
