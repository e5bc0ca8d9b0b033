// Liveness of each system's MASS instances between readings (the rule: src/core/liveness.ts):
// turns each reading's demand into due + live work, keeps the working floor a scale-down must
// respect, says once when work is stuck (and when that changes), estimates the work lost to
// vanished instances, and, when RECOVER_STUCK_AFTER is set, deletes instances dead for that long
// so that MASS 0.2/0.3 requeues their work.
import type { Logger } from 'pino';
import { LOG } from '../log-messages';
import {
  instancesToRecover,
  readSystem,
  type LivenessResult,
  type LivenessState,
  type SystemReadout,
} from '../core/liveness';
import type { MassFailure, SystemReading } from '../types';

export interface LivenessOptions {
  /** MASS's online window (MASS_ONLINE_WINDOW), ms */
  onlineWindowMs: number;
  /** WORKING_GRACE, ms */
  workingGraceMs: number;
  /** RECOVER_STUCK_AFTER, ms; null = only report */
  recoverStuckAfterMs: number | null;
  dryRun: boolean;
}

/** What can delete a MASS instance record (the MASS client). */
export interface InstanceRemover {
  deleteInstance(uuid: string): Promise<{ ok: true; gone: boolean } | { ok: false; error: MassFailure }>;
  /** the dialect of the latest round: deleting is only done on '0.2' */
  readonly lastDialect: '0.2' | 'legacy' | undefined;
}

/** What `status` and /metrics show of one system. */
export interface SystemLiveness {
  system: string;
  onlineInstances: number;
  /** offline for MASS, but judged working (reports arriving, or a running task to account for it) */
  workingInstances: number;
  deadInstances: number;
  /** the floor of a scale-down: live instances holding work */
  floor: number;
  /** scheduled analyses on live instances (counted as demand) */
  liveWork: number;
  /** scheduled analyses on instances judged dead (not demand) */
  stuck: number;
  /** the instances judged dead that hold the stuck analyses */
  stuckInstances: string[];
  /** analyses estimated lost since the daemon started: one per live instance with work that died or vanished */
  abortedTotal: number;
  /** instances deleted to requeue their work since the daemon started */
  recoveredTotal: number;
}

export interface LivenessEvents {
  aborted?(system: string, analyses: number): void;
  recovered?(system: string): void;
}

interface SystemBook {
  state: LivenessState;
  last: LivenessResult | null;
  /** the latest readout, for the evaluation of the system's services */
  readout: SystemReadout | null;
  report: SystemLiveness;
  /** the stuck instances last logged, to log only a change */
  stuckKey: string;
}

export class LivenessBook {
  private readonly systems = new Map<string, SystemBook>();
  /** a 403 on DELETE: recovery stops (said once) */
  private forbidden = false;
  private saidLegacy = false;
  /** instances a dry run has said it would delete */
  private readonly saidDryRun = new Set<string>();

  constructor(
    private readonly options: LivenessOptions,
    private readonly log: Logger,
    private readonly events: LivenessEvents = {},
  ) {}

  /**
   * Judges the instances of every system read this round; returns the readings with demand =
   * due + live work, and stuckOffline = the work on instances judged dead. `running` is the
   * number of running Swarm tasks of each system's services (null when unknown).
   */
  observe(
    readings: Map<string, SystemReading>,
    running: Map<string, number | null>,
    now: number,
  ): Map<string, SystemReading> {
    const out = new Map<string, SystemReading>();
    for (const [system, reading] of readings) {
      if (!reading.ok) {
        out.set(system, reading);
        continue;
      }
      const book = this.systems.get(system) ?? {
        state: new Map(),
        last: null,
        readout: null,
        report: emptyReport(system),
        stuckKey: '',
      };
      const readout = readSystem(
        reading.demand.due,
        reading.demand.instances,
        book.state,
        running.get(system) ?? null,
        { onlineWindowMs: this.options.onlineWindowMs, progressWindowMs: this.options.workingGraceMs },
        now,
      );
      const result = readout.liveness;
      const present = new Set(reading.demand.instances.map((i) => i.uuid));
      let vanished = 0;
      for (const [uuid, before] of book.state)
        if (!present.has(uuid) && before.verdict !== 'dead' && before.scheduled > 0) vanished += 1;
      const aborted = result.abortedSinceLast + vanished;
      if (aborted > 0) {
        this.log.warn(
          {
            system,
            aborted,
            died: result.abortedSinceLast,
            vanished,
            explanation: `system ${system}: ${aborted} instance(s) with work died or vanished since the last reading; about ${aborted} analyses lost (the one each was working on)`,
          },
          LOG.analysesAborted,
        );
        this.events.aborted?.(system, aborted);
      }
      const count = (v: string) => result.instances.filter((i) => i.verdict === v).length;
      const stuckInstances = result.instances.filter((i) => i.verdict === 'dead' && i.scheduled > 0).map((i) => i.uuid);
      book.state = result.next;
      book.last = result;
      book.readout = readout;
      book.report = {
        system,
        onlineInstances: count('online'),
        workingInstances: count('working'),
        deadInstances: count('dead'),
        floor: result.floor,
        liveWork: result.liveWork,
        stuck: result.stuck,
        stuckInstances,
        abortedTotal: book.report.abortedTotal + aborted,
        recoveredTotal: book.report.recoveredTotal,
      };
      this.sayStuck(book);
      this.systems.set(system, book);
      const d = reading.demand;
      out.set(system, {
        ok: true,
        demand: { ...d, scheduledOnline: result.liveWork, stuckOffline: result.stuck, demand: readout.demand },
      });
    }
    return out;
  }

  /**
   * The latest readout of a system (readSystem: due, every instance judged, the work each live
   * one holds, demand, floor): what the evaluation of its services reads; null before the first.
   */
  readoutOf(system: string): SystemReadout | null {
    return this.systems.get(system)?.readout ?? null;
  }

  reports(): SystemLiveness[] {
    return [...this.systems.values()].map((b) => b.report).sort((a, b) => a.system.localeCompare(b.system));
  }

  /** Forgets the systems no service reads any more. */
  keepOnly(systems: ReadonlySet<string>): void {
    for (const name of this.systems.keys()) if (!systems.has(name)) this.systems.delete(name);
  }

  /** RECOVER_STUCK_AFTER: deletes the instances dead for that long (0.2/0.3 only; DRY_RUN says it would). */
  async recover(remover: InstanceRemover, now: number): Promise<void> {
    const after = this.options.recoverStuckAfterMs;
    if (after === null || this.forbidden) return;
    const dialect = remover.lastDialect;
    if (dialect === undefined) return;
    for (const book of this.systems.values()) {
      if (book.last === null) continue;
      const system = book.report.system;
      if (dialect === 'legacy') {
        if (book.report.stuck > 0 && !this.saidLegacy) {
          this.saidLegacy = true;
          this.log.warn(
            'RECOVER_STUCK_AFTER is set, but the MASS server is the older one: deleting an instance there orphans its work, so stuck work is only reported',
          );
        }
        continue;
      }
      for (const uuid of instancesToRecover(book.last, dialect, after, now)) {
        const held = book.last.instances.find((i) => i.uuid === uuid)!;
        const deadForS = Math.round((now - held.deadSince!) / 1000);
        if (this.options.dryRun) {
          if (this.saidDryRun.has(uuid)) continue;
          this.saidDryRun.add(uuid);
          this.log.info(
            {
              system,
              instance: uuid,
              analyses: held.scheduled,
              deadForS,
              dryRun: true,
              explanation: `delete instance ${uuid} of system ${system} (dead for ${deadForS}s, ${held.scheduled} analyses stuck) so MASS requeues its work`,
            },
            LOG.dryRun,
          );
          continue;
        }
        const outcome = await remover.deleteInstance(uuid);
        if (!outcome.ok) {
          if (outcome.error.kind === 'forbidden') {
            this.forbidden = true;
            this.log.error(
              {
                system,
                instance: uuid,
                kind: outcome.error.kind,
                explanation: `RECOVER_STUCK_AFTER: ${outcome.error.message}; no further deletions are tried until the daemon restarts`,
              },
              LOG.recoveryStopped,
            );
            return;
          }
          this.log.warn(
            {
              system,
              instance: uuid,
              kind: outcome.error.kind,
              explanation: `cannot delete instance ${uuid} of system ${system} to requeue its work: ${outcome.error.message}; trying again next round`,
            },
            LOG.instanceNotDeleted,
          );
          continue;
        }
        book.state = new Map([...book.state].filter(([id]) => id !== uuid));
        book.last = { ...book.last, instances: book.last.instances.filter((i) => i.uuid !== uuid) };
        book.report = { ...book.report, recoveredTotal: book.report.recoveredTotal + 1 };
        this.events.recovered?.(system);
        this.log.info(
          {
            system,
            instance: uuid,
            analyses: held.scheduled,
            deadForS,
            alreadyGone: outcome.gone,
            explanation: `deleted instance ${uuid} of system ${system} (dead for ${deadForS}s) so MASS requeues its ${held.scheduled} stuck analyses`,
          },
          LOG.instanceDeleted,
        );
      }
    }
  }

  private sayStuck(book: SystemBook): void {
    const { system, stuck, stuckInstances } = book.report;
    const key = [...stuckInstances].sort().join(',');
    if (key === book.stuckKey) return;
    const wasStuck = book.stuckKey !== '';
    book.stuckKey = key;
    if (stuck === 0 || stuckInstances.length === 0) {
      if (wasStuck)
        this.log.info({ system, explanation: `system ${system}: no work is stuck any more` }, LOG.workNoLongerStuck);
      return;
    }
    const fix =
      this.options.recoverStuckAfterMs === null
        ? 'MASS 0.2/0.3 requeues it when the instances are deleted (RECOVER_STUCK_AFTER, or workers with delete_instance_on_exit)'
        : `instances dead for ${this.options.recoverStuckAfterMs / 1000}s are deleted so MASS 0.2/0.3 requeues it`;
    this.log.warn(
      {
        system,
        stuck,
        instances: stuckInstances,
        explanation: `system ${system}: ${stuck} analyses are stuck on ${stuckInstances.length} instance(s) judged dead (not counted as demand); ${fix}`,
      },
      LOG.workStuck,
    );
  }
}

function emptyReport(system: string): SystemLiveness {
  return {
    system,
    onlineInstances: 0,
    workingInstances: 0,
    deadInstances: 0,
    floor: 0,
    liveWork: 0,
    stuck: 0,
    stuckInstances: [],
    abortedTotal: 0,
    recoveredTotal: 0,
  };
}
