// Reads the demand of analysis systems from the MASS REST API (docs/MASS_API.md), from both the
// 0.2 server (filters, ?count, paged envelope) and the older one (full lists, {results} only).
// The rooms: transport.ts (HTTP and the key), paging.ts (the paging engine), systems.ts (the
// system index and the dialect), read-02.ts and read-legacy.ts (one reader per dialect),
// schemas.ts (answer shapes), server-time.ts (times without a zone), errors.ts (failures).
// This file wires one round.
//
// Cost per round on 0.2: one analysis_system/ page (per 100 systems), two counts per requested
// system (due, total; a third, due within a horizon, for a system one of whose services sizes
// ahead), and the instances: one listing of every instance, split per system here, when that is
// estimated to take fewer pages than one listing per system (listing-plan.ts), so
// 1 + 2 × systems + ceil(instances / 100) in the usual case. It does not grow with the backlog.
// The older server has no filters, so the whole request and instance lists are paged and counted
// here without keeping the items.
import type { DemandSource, DueCounter, MassFailure, SystemReading } from '../types';
import type { HttpAnswer } from './errors';
import type { Round } from './demand';
import { Limiter } from './paging';
import type { MassTime } from './schemas';
import { emptyListingMemory, type ListingMemory } from './listing-plan';
import { count, read02, type ListingMode, type ListingReport } from './read-02';
import { readLegacy } from './read-legacy';
import { listSystems, type MassDialect, type SystemIndex } from './systems';
import { serverTime } from './server-time';
import { MassHttp, query } from './transport';

export type { MassDialect } from './systems';
export type { ListingMode, ListingReport } from './read-02';
export { ONLINE_WINDOW_MS } from './demand';
export { MAX_PAGES } from './paging';

export interface MassClientOptions {
  /** base URL of the API, with or without the trailing `/`: http://host:8000/api/ */
  baseUrl: string;
  apiKey: string;
  /** deadline of each HTTP request */
  timeoutMs: number;
  /** HTTP requests in flight at once, over the whole round */
  pageConcurrency: number;
  /** items per page asked from a 0.2 server (the older one ignores it) */
  perPage?: number;
  /** 'auto' tells the dialect from the analysis_system/ answer of each round */
  dialect?: 'auto' | MassDialect;
  /** IANA zone of the MASS server's clock, for the times it writes without a zone (default UTC) */
  serverTimeZone?: string;
  /** where a warning about MASS's data goes (said once per cause, not every round) */
  warn?: (message: string) => void;
  /** 0.2: how instances are listed; 'auto' (default) takes the cheaper way each round */
  instanceListing?: ListingMode;
}

/** A suggestion for an unexpected status, when the step and dialect tell more than the status. */
function hintFor(dialect: MassDialect | undefined, path: string, answer: HttpAnswer): string | undefined {
  // Stryker disable next-line Regex: the client's paths start with their collection, never name one further on
  if (answer.status === 403 && dialect === 'legacy' && /^(analysis_request|scheduled_analysis)\//.test(path)) {
    return 'the older MASS server lists analysis_request/ and scheduled_analysis/ only for admin keys';
  }
  if (answer.status === 404 && path.startsWith('analysis_system/')) {
    return 'is the MASS address the API base, like http://host:8000/api/ ?';
  }
  return undefined;
}

export class MassClient implements DemandSource, DueCounter {
  /** dialect seen in the latest round that got an analysis_system/ answer */
  lastDialect: MassDialect | undefined;

  private readonly http: MassHttp;
  private readonly pageConcurrency: number;
  private readonly perPage: number;
  private readonly dialect: 'auto' | MassDialect;
  private readonly warn: (message: string) => void;
  private readonly timeOf: (time: MassTime) => number;
  /** names already warned about as carried by more than one system */
  private readonly warnedDuplicates = new Set<string>();
  /** systems already warned about as having due requests and no instance records */
  private readonly warnedNoInstances = new Set<string>();
  private readonly instanceListing: ListingMode;
  /** what earlier 0.2 rounds saw of the instance list, to pick the cheaper listing */
  private readonly listingMemory: ListingMemory = emptyListingMemory();
  /** how the latest 0.2 round listed the instances */
  lastListing: ListingReport | undefined;

  constructor(opts: MassClientOptions) {
    this.http = new MassHttp(opts);
    this.pageConcurrency = Math.max(1, Math.floor(opts.pageConcurrency));
    this.perPage = opts.perPage ?? 100;
    this.dialect = opts.dialect ?? 'auto';
    this.warn = opts.warn ?? (() => {});
    this.timeOf = serverTime(opts.serverTimeZone ?? 'UTC');
    this.instanceListing = opts.instanceListing ?? 'auto';
  }

  /** total HTTP requests made by this client */
  get stats(): { requests: number } {
    return this.http.stats;
  }

  /**
   * One round. `horizons` (system name → ms): for those systems also the requests that become due
   * within that long (dueSoon): on 0.2 one more `?count` per such system, on the older server
   * counted in the same pass over the request list.
   */
  async readDemand(
    systems: readonly string[],
    now: Date,
    horizons: ReadonlyMap<string, number> = new Map(),
  ): Promise<Map<string, SystemReading>> {
    const wanted = [...new Set(systems)];
    const readings = new Map<string, SystemReading>();
    if (wanted.length === 0) return readings;
    const limiter = new Limiter(this.pageConcurrency);
    let dialect: MassDialect | undefined;
    const round: Round = {
      now: now.getTime(),
      width: this.pageConcurrency,
      perPage: this.perPage,
      timeOf: this.timeOf,
      horizons,
      fetch: (path, allowNotFound) =>
        limiter.run(() => this.http.getJson(path, allowNotFound, (answer) => hintFor(dialect, path, answer))),
    };
    const failureOf = (err: unknown) => ({ ok: false as const, error: this.http.failureOf(err) });
    let perSystem: Map<string, SystemReading>;
    try {
      const listed = await listSystems(round, this.dialect, (d) => {
        dialect = d;
        this.lastDialect = d;
      });
      this.warnDuplicates(listed.index, wanted);
      perSystem =
        listed.dialect === '0.2'
          ? await read02(round, listed.index, wanted, failureOf, this.listingMemory, this.instanceListing, (r) => {
              this.lastListing = r;
            })
          : await readLegacy(round, listed.index, wanted, failureOf);
    } catch (err) {
      const failure = failureOf(err);
      perSystem = new Map(wanted.map((name) => [name, failure]));
    }
    for (const name of wanted) {
      // Stryker disable next-line StringLiteral: both readers answer every wanted system; a guard that is never reached
      readings.set(name, perSystem.get(name) ?? failureOf(new Error(`no reading for ${name}`)));
    }
    this.warnNoInstances(readings);
    return readings;
  }

  /**
   * Every due request of every system, in one request (`analysis_request/?schedule_after__lte=<now>&count`):
   * the wake-up's reading. Only the 0.2 server counts; the older one answers a list, which is
   * a 'bad-shape' failure here, never a count.
   */
  async countDue(now: Date): Promise<{ ok: true; count: number } | { ok: false; error: MassFailure }> {
    const path = `analysis_request/?${query([
      ['schedule_after__lte', now.toISOString()],
      ['count', null],
    ])}`;
    try {
      return { ok: true, count: await count((p, allow) => this.http.getJson(p, allow), path) };
    } catch (err) {
      return { ok: false, error: this.http.failureOf(err) };
    }
  }

  /**
   * Deletes one instance record (`analysis_system_instance/<uuid>/`): MASS 0.2/0.3 turns its
   * scheduled analyses back into requests due now; the older server orphans them, so the caller
   * must not ask there. Needs an admin key: a 403 comes back as a 'forbidden' failure.
   */
  async deleteInstance(uuid: string): Promise<{ ok: true; gone: boolean } | { ok: false; error: MassFailure }> {
    try {
      const outcome = await this.http.delete(`analysis_system_instance/${encodeURIComponent(uuid)}/`);
      return { ok: true, gone: outcome === 'gone' };
    } catch (err) {
      return { ok: false, error: this.http.failureOf(err) };
    }
  }

  /**
   * A system with due requests and no instance records stops the 0.2/0.3 scheduler for every
   * system (a KeyError in mass_scheduler.py, docs/mass-api.md): said once per system, and again
   * only after it had instance records or nothing due in between.
   */
  private warnNoInstances(readings: Map<string, SystemReading>): void {
    for (const [name, reading] of readings) {
      if (!reading.ok) continue;
      const trap = reading.demand.due > 0 && reading.demand.instances.length === 0;
      if (!trap) {
        this.warnedNoInstances.delete(name);
        continue;
      }
      if (this.warnedNoInstances.has(name)) continue;
      this.warnedNoInstances.add(name);
      this.warn(
        `analysis system ${JSON.stringify(name)} has ${reading.demand.due} due requests and no instance records: ` +
          'the MASS 0.2/0.3 scheduler then stops scheduling for every system. Avoid it with com.mass.min_inst >= 1 ' +
          '(a replica keeps an instance registered), or keep instance records (workers without delete_instance_on_exit)',
      );
    }
  }

  /** Two systems under one identifier_name: the last one listed is read; say so once per name. */
  private warnDuplicates(index: SystemIndex, wanted: string[]): void {
    for (const name of wanted) {
      const all = index.duplicates.get(name);
      if (all === undefined || this.warnedDuplicates.has(name)) continue;
      this.warnedDuplicates.add(name);
      const ids = all.map((s) => s.id ?? s.url ?? '(no id)');
      this.warn(
        this.http.scrub(
          `MASS lists ${all.length} analysis systems named ${JSON.stringify(name)} (${ids.join(', ')}); reading the last one listed (${ids[ids.length - 1]})`,
        ),
      );
    }
  }
}
