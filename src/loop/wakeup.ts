// The wake-up after a quiet period (the rule: src/core/wakeup.ts): one count of every due request
// per interval, and on a jump the managed services whose next evaluation is later are evaluated
// now. It never stops or delays an evaluation: the loop runs it beside the rounds, a failed count
// only waits for the next interval (said once per kind of failure), and on the older MASS server,
// which has no `?count`, it is off (said once).
import type { Logger } from 'pino';
import { LOG } from '../log-messages';
import {
  afterFailedReading,
  afterSweep,
  observeDueCount,
  toBringForward,
  wakeUpDueAt,
  WAKE_UP_START,
  type WakeUpState,
} from '../core/wakeup';
import type { DueCounter, MassErrorKind } from '../types';
import type { EvaluatedRecord } from './record';

export interface WakeUpOptions {
  /** what counts every due request in one request (the MASS client) */
  counter: DueCounter;
  /** ms between counts, or 'auto': the smallest min_schedule_interval among the managed services */
  interval: number | 'auto';
}

/** What one wake-up did. */
export type WakeUpOutcome =
  | { kind: 'jump'; from: number; count: number; services: string[] }
  | { kind: 'quiet'; count: number }
  | { kind: 'failed'; error: MassErrorKind }
  | { kind: 'off' };

export class WakeUpBook {
  private state: WakeUpState = WAKE_UP_START;
  private failingKind: MassErrorKind | null = null;
  private saidLegacy = false;
  /** counts made (each one request), for the bench and tests */
  readings = 0;

  constructor(
    private readonly options: WakeUpOptions,
    private readonly log: Logger,
  ) {}

  /** The interval and jump threshold the managed services ask for; null when there are none. */
  private settings(services: readonly EvaluatedRecord[]): { intervalMs: number; threshold: number } | null {
    if (services.length === 0) return null;
    const intervalMs =
      this.options.interval === 'auto'
        ? Math.min(...services.map((r) => r.policy.minScheduleInterval * 1000))
        : this.options.interval;
    return { intervalMs, threshold: Math.min(...services.map((r) => r.policy.demandDeltaThreshold)) };
  }

  /** When the next count is due (ms); Infinity when no service is managed. */
  dueAt(services: readonly EvaluatedRecord[]): number {
    const settings = this.settings(services);
    return settings === null ? Infinity : wakeUpDueAt(this.state, settings.intervalMs);
  }

  /** A round evaluated every managed service at `now`. */
  sweep(now: number): void {
    this.state = afterSweep(this.state, now);
  }

  /**
   * Counts every due request at `now` and, on a jump, sets the next evaluation of each of
   * `services` that is later than `now` to `now`. The services are the loop's own records
   * (their memory is the loop's), read again after the answer: `current()`.
   */
  async wake(now: number, current: () => readonly EvaluatedRecord[]): Promise<WakeUpOutcome> {
    const settings = this.settings(current());
    if (settings === null) return { kind: 'off' };
    const dialect = this.options.counter.lastDialect;
    if (dialect !== '0.2') {
      this.state = afterFailedReading(this.state, now);
      if (dialect === 'legacy' && !this.saidLegacy) {
        this.saidLegacy = true;
        this.log.info(
          'wake-up after quiet periods is off: the older MASS server has no ?count, so counting every due request would page the whole request list; services are evaluated on their own schedule',
        );
      }
      return { kind: 'off' };
    }
    this.readings += 1;
    const answer = await this.options.counter.countDue(new Date(now));
    if (!answer.ok) {
      this.state = afterFailedReading(this.state, now);
      if (this.failingKind !== answer.error.kind) {
        this.failingKind = answer.error.kind;
        // The kind only: the rounds' own line for the same failure gives the details once.
        this.log.warn(
          {
            kind: answer.error.kind,
            error: answer.error.message,
            explanation: `wake-up: counting the due requests failed (${answer.error.kind}); services are evaluated on their own schedule, next try in ${settings.intervalMs / 1000}s`,
          },
          LOG.wakeUpFailing,
        );
      }
      return { kind: 'failed', error: answer.error.kind };
    }
    if (this.failingKind !== null) {
      this.log.info(
        { kind: this.failingKind, explanation: 'wake-up: counting the due requests works again' },
        LOG.wakeUpWorksAgain,
      );
      this.failingKind = null;
    }
    const seen = observeDueCount(this.state, answer.count, settings.threshold, now);
    this.state = seen.state;
    if (!seen.jump || seen.from === null) return { kind: 'quiet', count: answer.count };
    const forward = toBringForward(
      current().filter((r) => r.status === 'managed'),
      (r) => r.memory.nextAt,
      now,
    );
    const from = seen.from;
    for (const r of forward) r.memory.nextAt = now;
    this.log.info(
      {
        from,
        count: answer.count,
        threshold: settings.threshold,
        services: forward.map((r) => r.name),
        explanation: `wake-up: due requests over all systems rose from ${from} to ${answer.count} (more than ${settings.threshold} × ${Math.max(from, 1)}); evaluating ${forward.length} service(s) now`,
      },
      LOG.wakeUp,
    );
    return { kind: 'jump', from, count: answer.count, services: forward.map((r) => r.name) };
  }
}
