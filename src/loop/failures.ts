// Failure bookkeeping for logs and health: one line when a kind of failure starts and one when it
// ends, however many rounds it lasts, and the times of the last successes for /healthz.
import type { Logger } from 'pino';
import { LOG } from '../log-messages';
import type { MassErrorKind, SystemReading } from '../types';

export class FailureBook {
  /** systems currently failing, by failure kind */
  private readonly massFailing = new Map<MassErrorKind, Set<string>>();
  private lastMassError: string | null = null;
  lastMassOkAt: number | null = null;

  /** consecutive failed service listings */
  private dockerFailures = 0;
  /** the kind of the Docker listing failure in progress, null while listing works */
  dockerFailingKind: string | null = null;
  lastDockerOkAt: number | null = null;

  /** the last service update the Engine accepted */
  lastUpdateOkAt: number | null = null;

  constructor(private readonly log: Logger) {}

  /** Notes a failed service listing; returns how many have failed in a row. */
  listFailed(kind: string, message: string): number {
    this.dockerFailures += 1;
    if (this.dockerFailingKind !== kind) {
      this.log.error(
        {
          kind,
          err: message,
          explanation: `Docker: cannot list services (${message}); holding every service as it is and retrying`,
        },
        LOG.listFailed,
      );
      this.dockerFailingKind = kind;
    }
    return this.dockerFailures;
  }

  listOk(now: number): void {
    if (this.dockerFailingKind !== null) {
      this.log.info(
        {
          failures: this.dockerFailures,
          explanation: `Docker: reachable again after ${this.dockerFailures} failed attempt(s); resuming`,
        },
        LOG.listWorksAgain,
      );
      this.dockerFailingKind = null;
    }
    this.dockerFailures = 0;
    this.lastDockerOkAt = now;
  }

  /** Notes the readings of one round; `onError` is told of every failed system reading. */
  massReadings(readings: Map<string, SystemReading>, now: number, onError: (kind: MassErrorKind) => void): void {
    let anyReached = false;
    for (const [system, reading] of readings) {
      if (reading.ok || reading.error.kind === 'unknown-system') anyReached = true;
      for (const [kind, systems] of this.massFailing) {
        if ((reading.ok || reading.error.kind !== kind) && systems.delete(system) && systems.size === 0) {
          this.massFailing.delete(kind);
          const now = reading.ok ? 'readings are back' : `now failing with ${reading.error.kind}`;
          this.log.info({ kind, explanation: `MASS API: ${kind} is over; ${now}` }, LOG.massFailureOver);
        }
      }
      if (reading.ok) continue;
      onError(reading.error.kind);
      const failing = this.massFailing.get(reading.error.kind);
      if (failing === undefined) {
        this.massFailing.set(reading.error.kind, new Set([system]));
        const advice =
          reading.error.kind === 'unknown-system'
            ? 'its services are left as they are'
            : 'affected services keep their replicas; retrying with backoff';
        this.log.error(
          { kind: reading.error.kind, system, explanation: `MASS API: ${reading.error.message} (${advice})` },
          LOG.massFailing,
        );
      } else {
        failing.add(system);
      }
      this.lastMassError = reading.error.message;
    }
    if (anyReached) this.lastMassOkAt = now;
  }

  /**
   * A failing system that no managed service reads any more (services removed, paused or
   * relabelled) gets no reading that could end its failure: forget it, so the bookkeeping
   * stays bounded and health does not report a failure nobody is affected by.
   */
  forgetUnread(read: ReadonlySet<string>): void {
    for (const [kind, systems] of this.massFailing) {
      for (const system of systems) if (!read.has(system)) systems.delete(system);
      if (systems.size === 0) {
        this.massFailing.delete(kind);
        this.log.info(
          { kind, explanation: `MASS API: ${kind} no longer affects any managed service` },
          LOG.massFailureForgotten,
        );
      }
    }
  }

  /** The message of the MASS failure in progress, null when none is. */
  massError(): string | null {
    return this.massFailing.size > 0 ? this.lastMassError : null;
  }

  failingSystemsCount(): number {
    let n = 0;
    for (const systems of this.massFailing.values()) n += systems.size;
    return n;
  }
}
