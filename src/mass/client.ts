// Reads the demand of analysis systems from the MASS REST API (docs/MASS_API.md), from both the
// 0.2 server (filters, ?count, paged envelope) and the older one (full lists, {results} only).
//
// Cost per round on 0.2: one analysis_system/ page (per 100 systems), then per requested system
// three requests (due count, total count, first instance page) plus further instance pages.
// It does not grow with the backlog. The older server has no filters, so the whole request and
// instance lists are paged and counted here without keeping the items.
import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import type { DemandSource, MassFailure, SystemDemand, SystemReading } from '../types';
import {
  MassError,
  type HttpAnswer,
  notJsonFailure,
  pagingFailure,
  redact,
  shapeFailure,
  statusFailure,
  toMassFailure,
  transportFailure,
  unknownSystemFailure,
} from './errors';
import {
  analysisRequestSchema,
  analysisSystemInstanceSchema,
  analysisSystemSchema,
  countSchema,
  legacyPageSchema,
  looksLike02Envelope,
  pagedEnvelopeSchema,
  scheduledAnalysisSchema,
  type AnalysisSystemInstanceItem,
  type AnalysisSystemItem,
} from './schemas';

export type MassDialect = '0.2' | 'legacy';

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
}

/** MASS counts an instance as online while its last poll is under 10 minutes old. */
export const ONLINE_WINDOW_MS = 10 * 60_000;
/** Guards against a server that never ends a list (ignores `page`, never answers 404). */
export const MAX_PAGES = 100_000;

const NOT_FOUND = Symbol('404');

/** Bounds the HTTP requests in flight across all systems and lists of one round. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

interface Round {
  now: number;
  limiter: Limiter;
  dialect?: MassDialect;
}

/** Maps the references items carry (`http://host/api/analysis_system/ssdeep/`) to identifier names. */
class SystemIndex {
  private readonly byUrl = new Map<string, string>();
  private readonly byId = new Map<string, string>();
  private readonly cache = new Map<string, string | undefined>();
  readonly byName = new Map<string, AnalysisSystemItem>();

  add(system: AnalysisSystemItem): void {
    this.byName.set(system.identifier_name, system);
    if (system.url) this.byUrl.set(system.url, system.identifier_name);
    if (system.id) this.byId.set(system.id, system.identifier_name);
  }

  /** The identifier name a reference points to; undefined when it names no listed system. */
  nameOf(ref: string): string | undefined {
    if (this.cache.has(ref)) return this.cache.get(ref);
    let name = this.byUrl.get(ref) ?? this.byId.get(ref);
    if (name === undefined) {
      const match = /analysis_system\/([^/?#]+)\/?(?:[?#].*)?$/.exec(ref);
      if (match?.[1] !== undefined) {
        const candidate = safeDecode(match[1]);
        if (this.byName.has(candidate)) name = candidate;
      }
    }
    this.cache.set(ref, name);
    return name;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Scheduled analyses name their instance by URL; instances may carry url and/or uuid. */
function instanceKey(ref: string): string {
  const match = /analysis_system_instance\/([^/?#]+)/.exec(ref);
  return match?.[1] !== undefined ? safeDecode(match[1]) : ref;
}

/** Query strings are built here, so filters are never lost; a null value is a bare flag (`count`). */
function query(pairs: [string, string | number | null][]): string {
  return pairs
    .map(([key, value]) => (value === null ? key : `${key}=${encodeURIComponent(String(value)).replace(/%3A/gi, ':')}`))
    .join('&');
}

function pageOfUrl(url: string): number | undefined {
  try {
    const page = new URL(url, 'http://placeholder/').searchParams.get('page');
    return page === null ? undefined : Number(page);
  } catch {
    return undefined;
  }
}

function parseError(text: string): unknown {
  try {
    JSON.parse(text);
    return new Error('not valid JSON');
  } catch (err) {
    return err;
  }
}

function normaliseBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.trim();
  return trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function isOnline(instance: AnalysisSystemInstanceItem, now: number): boolean {
  if (instance.is_online !== undefined) return instance.is_online;
  if (instance.last_seen == null) return false; // registered, never polled yet
  return now - instance.last_seen < ONLINE_WINDOW_MS;
}

/** Counts for one system while a round is in progress. */
interface Tally {
  due: number;
  notDue: number;
  scheduledOnline: number;
  stuckOffline: number;
  onlineInstances: number;
  offlineInstances: number;
}

function emptyTally(): Tally {
  return { due: 0, notDue: 0, scheduledOnline: 0, stuckOffline: 0, onlineInstances: 0, offlineInstances: 0 };
}

function addInstance(tally: Tally, online: boolean, scheduled: number): void {
  if (online) {
    tally.onlineInstances += 1;
    tally.scheduledOnline += scheduled;
  } else {
    tally.offlineInstances += 1;
    tally.stuckOffline += scheduled;
  }
}

function toDemand(system: string, tally: Tally): SystemDemand {
  return { system, ...tally, demand: tally.due + tally.scheduledOnline };
}

function parseWith<S extends z.ZodType>(schema: S, body: unknown, step: string, hint?: string): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw shapeFailure(step, result.error, hint);
  return result.data;
}

export class MassClient implements DemandSource {
  /** total HTTP requests made by this client */
  readonly stats: { requests: number } = { requests: 0 };
  /** dialect seen in the latest round that got an analysis_system/ answer */
  lastDialect: MassDialect | undefined;

  private readonly http: AxiosInstance;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly pageConcurrency: number;
  private readonly perPage: number;
  private readonly dialect: 'auto' | MassDialect;

  constructor(opts: MassClientOptions) {
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs;
    this.pageConcurrency = Math.max(1, Math.floor(opts.pageConcurrency));
    this.perPage = opts.perPage ?? 100;
    this.dialect = opts.dialect ?? 'auto';
    this.http = axios.create({
      baseURL: normaliseBaseUrl(opts.baseUrl),
      timeout: opts.timeoutMs,
      headers: { Authorization: `APIKEY ${opts.apiKey}`, Accept: 'application/json' },
      // Parse ourselves: an HTML error page must be recognised, not half-parsed.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      // A redirect would send the key on to wherever it points; report it instead.
      maxRedirects: 0,
      maxContentLength: 64 * 1024 * 1024,
      transitional: { clarifyTimeoutError: true },
    });
  }

  async readDemand(systems: readonly string[], now: Date): Promise<Map<string, SystemReading>> {
    const wanted = [...new Set(systems)];
    const readings = new Map<string, SystemReading>();
    if (wanted.length === 0) return readings;
    const round: Round = { now: now.getTime(), limiter: new Limiter(this.pageConcurrency) };
    let perSystem: Map<string, SystemReading>;
    try {
      const index = await this.listSystems(round);
      perSystem =
        round.dialect === '0.2' ? await this.read02(round, index, wanted) : await this.readLegacy(round, index, wanted);
    } catch (err) {
      const failure = this.failureOf(err);
      perSystem = new Map(wanted.map((name) => [name, { ok: false, error: failure }]));
    }
    for (const name of wanted) {
      readings.set(
        name,
        perSystem.get(name) ?? { ok: false, error: this.failureOf(new Error(`no reading for ${name}`)) },
      );
    }
    return readings;
  }

  private failureOf(err: unknown): MassFailure {
    return redact(toMassFailure(err), this.apiKey);
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async get(path: string): Promise<HttpAnswer> {
    this.stats.requests += 1;
    // The axios timeout only notices an idle socket; this deadline also ends a trickling answer.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await this.http.get<string>(path, { signal: deadline });
      const location = res.headers['location'];
      return {
        status: res.status,
        statusText: res.statusText ?? '',
        contentType: String(res.headers['content-type'] ?? ''),
        body: typeof res.data === 'string' ? res.data : String(res.data ?? ''),
        location: typeof location === 'string' ? location : undefined,
      };
    } catch (err) {
      throw transportFailure(`GET ${path}`, err, this.timeoutMs, deadline.aborted);
    }
  }

  /** JSON body of a 2xx answer; NOT_FOUND for a 404 when the caller pages until one. */
  private async getJson(round: Round, path: string, allowNotFound = false): Promise<unknown> {
    const step = `GET ${path}`;
    const answer = await round.limiter.run(() => this.get(path));
    if (answer.status === 404 && allowNotFound) return NOT_FOUND;
    if (answer.status < 200 || answer.status >= 300)
      throw statusFailure(step, this.withoutKey(answer), this.hintFor(round, path, answer));
    try {
      return JSON.parse(answer.body) as unknown;
    } catch {
      // The parser's message quotes the text where it stopped: take it from the body without the key.
      throw notJsonFailure(step, answer, parseError(this.withoutKey(answer).body));
    }
  }

  /**
   * An answer with every occurrence of the key replaced, before any of it is quoted: a quote
   * can be cut short, and half a key is past what redact() at the end can recognise.
   */
  private withoutKey(answer: HttpAnswer): HttpAnswer {
    if (this.apiKey.length < 4) return answer;
    const clean = (text: string) => text.split(this.apiKey).join('[redacted]');
    return {
      ...answer,
      body: clean(answer.body),
      location: answer.location === undefined ? undefined : clean(answer.location),
    };
  }

  private hintFor(round: Round, path: string, answer: HttpAnswer): string | undefined {
    if (answer.status === 403 && round.dialect === 'legacy' && /^(analysis_request|scheduled_analysis)\//.test(path)) {
      return 'the older MASS server lists analysis_request/ and scheduled_analysis/ only for admin keys';
    }
    if (answer.status === 404 && path.startsWith('analysis_system/')) {
      return 'is the MASS address the API base, like http://host:8000/api/ ?';
    }
    return undefined;
  }

  // ---- systems and dialect -------------------------------------------------------------------

  /** analysis_system/ names → ids; its first answer also tells the dialect (no extra request). */
  private async listSystems(round: Round): Promise<SystemIndex> {
    const pathFor = (page: number) =>
      `analysis_system/?${query([
        ['page', page],
        ['per_page', this.perPage],
      ])}`;
    const first = await this.getJson(round, pathFor(1));
    const is02 = looksLike02Envelope(first);
    round.dialect = this.dialect === 'auto' ? (is02 ? '0.2' : 'legacy') : this.dialect;
    this.lastDialect = round.dialect;
    if (round.dialect === '0.2' && !is02) {
      throw new MassError(
        'bad-shape',
        `GET ${pathFor(1)}: expected the 0.2 paged envelope (page_count) but got none; an older MASS server? (dialect is set to 0.2)`,
      );
    }
    const index = new SystemIndex();
    const onItems = (items: AnalysisSystemItem[]) => () => items.forEach((item) => index.add(item));
    if (round.dialect === '0.2') {
      await this.pages02(round, pathFor, analysisSystemSchema, (items) => onItems(items)(), first);
    } else {
      await this.pagesLegacy(round, pathFor, analysisSystemSchema, onItems, first);
    }
    return index;
  }

  // ---- 0.2 -----------------------------------------------------------------------------------

  private async read02(round: Round, index: SystemIndex, wanted: string[]): Promise<Map<string, SystemReading>> {
    const entries = await Promise.all(
      wanted.map(async (name): Promise<[string, SystemReading]> => {
        try {
          return [name, { ok: true, demand: await this.readSystem02(round, index, name) }];
        } catch (err) {
          return [name, { ok: false, error: this.failureOf(err) }];
        }
      }),
    );
    return new Map(entries);
  }

  /**
   * notDue is total − due, not a `schedule_after__gte` count: a build without schedule_after
   * ignores both filters, and then the difference is 0 where a `__gte` count would repeat the
   * whole backlog. The two counts are not atomic (the scheduler deletes due requests between
   * them), so the difference is clamped at 0; notDue is informational only.
   */
  private async readSystem02(round: Round, index: SystemIndex, name: string): Promise<SystemDemand> {
    const system = index.byName.get(name);
    if (!system) throw unknownSystemFailure(name);
    if (!system.id) {
      throw new MassError('bad-shape', `GET analysis_system/: system ${name} has no id, which the 0.2 filters need`);
    }
    const id = system.id;
    const nowIso = new Date(round.now).toISOString();
    const [due, total, tally] = await Promise.all([
      this.count(
        round,
        `analysis_request/?${query([
          ['analysis_system', id],
          ['schedule_after__lte', nowIso],
          ['count', null],
        ])}`,
      ),
      this.count(
        round,
        `analysis_request/?${query([
          ['analysis_system', id],
          ['count', null],
        ])}`,
      ),
      this.instances02(round, index, name, id),
    ]);
    tally.due = due;
    tally.notDue = Math.max(0, total - due);
    return toDemand(name, tally);
  }

  private async count(round: Round, path: string): Promise<number> {
    const step = `GET ${path}`;
    const body = await this.getJson(round, path);
    if (typeof body === 'object' && body !== null && !('count' in body) && 'results' in body) {
      // Never read as 0: a server that ignores ?count answers its unfiltered first page.
      throw new MassError(
        'bad-shape',
        `${step}: answered a list instead of {"count": N}; the server ignores ?count (an older MASS server?)`,
      );
    }
    return parseWith(countSchema, body, step).count;
  }

  private async instances02(round: Round, index: SystemIndex, name: string, id: string): Promise<Tally> {
    const tally = emptyTally();
    const pathFor = (page: number) =>
      `analysis_system_instance/?${query([
        ['analysis_system', id],
        ['page', page],
        ['per_page', this.perPage],
      ])}`;
    await this.pages02(round, pathFor, analysisSystemInstanceSchema, (items, page) => {
      items.forEach((instance, i) => {
        const step = `GET ${pathFor(page)}`;
        const owner = index.nameOf(instance.analysis_system);
        if (owner !== undefined && owner !== name) {
          throw new MassError(
            'bad-shape',
            `${step}: results.${i} belongs to ${owner}, not ${name}; the server ignored the analysis_system filter`,
          );
        }
        if (instance.scheduled_analyses_count === undefined) {
          throw new MassError('bad-shape', `${step}: results.${i}.scheduled_analyses_count is missing`);
        }
        addInstance(tally, isOnline(instance, round.now), instance.scheduled_analyses_count);
      });
    });
    return tally;
  }

  /**
   * All pages of a 0.2 list. Page URLs are built here (the server's `next` drops the filters);
   * `page` and `next` in each answer are only checked, to catch a server that ignores `page`.
   */
  private async pages02<S extends z.ZodType>(
    round: Round,
    pathFor: (page: number) => string,
    item: S,
    onItems: (items: z.output<S>[], page: number) => void,
    firstBody?: unknown,
  ): Promise<void> {
    const envelope = pagedEnvelopeSchema(item);
    let pageCount = 1;
    const readPage = async (page: number): Promise<void> => {
      const path = pathFor(page);
      const step = `GET ${path}`;
      const body = page === 1 && firstBody !== undefined ? firstBody : await this.getJson(round, path, page > 1);
      if (body === NOT_FOUND) throw pagingFailure(step, `page ${page} of ${pageCount} vanished while paging (404)`);
      const parsed = parseWith(envelope, body, step);
      if (parsed.page !== page) {
        throw pagingFailure(
          step,
          `asked for page ${page}, got page ${parsed.page}: the server ignores page (paging loop)`,
        );
      }
      if (parsed.next != null) {
        const next = pageOfUrl(parsed.next);
        if (next !== page + 1) {
          throw pagingFailure(
            step,
            `page ${page} links next to ${next === undefined ? 'no page number' : `page ${next}`}, not ${page + 1}: paging loop`,
          );
        }
      }
      if (page === 1) pageCount = parsed.page_count;
      onItems(parsed.results, page);
    };
    await readPage(1);
    if (pageCount > MAX_PAGES) {
      throw pagingFailure(`GET ${pathFor(1)}`, `page_count ${pageCount} exceeds the limit of ${MAX_PAGES} pages`);
    }
    await pagePool(this.pageConcurrency, 2, pageCount, async (page) => {
      await readPage(page);
      return true;
    });
  }

  // ---- older server --------------------------------------------------------------------------

  private async readLegacy(round: Round, index: SystemIndex, wanted: string[]): Promise<Map<string, SystemReading>> {
    const readings = new Map<string, SystemReading>();
    const tallies = new Map<string, Tally>();
    for (const name of wanted) {
      if (index.byName.has(name)) tallies.set(name, emptyTally());
      else readings.set(name, { ok: false, error: this.failureOf(unknownSystemFailure(name)) });
    }
    if (tallies.size === 0) return readings;
    try {
      await Promise.all([this.requestsLegacy(round, index, tallies), this.instancesLegacy(round, index, tallies)]);
      for (const [name, tally] of tallies) readings.set(name, { ok: true, demand: toDemand(name, tally) });
    } catch (err) {
      // Every system is counted from the same lists, so a failed list fails them all.
      const failure = this.failureOf(err);
      for (const name of tallies.keys()) readings.set(name, { ok: false, error: failure });
    }
    return readings;
  }

  private async requestsLegacy(round: Round, index: SystemIndex, tallies: Map<string, Tally>): Promise<void> {
    const pathFor = (page: number) =>
      `analysis_request/?${query([
        ['page', page],
        ['per_page', this.perPage],
      ])}`;
    await this.pagesLegacy(round, pathFor, analysisRequestSchema, (items) => {
      const counts = new Map<string, { due: number; notDue: number }>();
      for (const request of items) {
        const name = index.nameOf(request.analysis_system);
        if (name === undefined || !tallies.has(name)) continue;
        let entry = counts.get(name);
        if (!entry) counts.set(name, (entry = { due: 0, notDue: 0 }));
        // A build without schedule_after makes every request due at once.
        if (request.schedule_after == null || request.schedule_after <= round.now) entry.due += 1;
        else entry.notDue += 1;
      }
      return () => {
        for (const [name, { due, notDue }] of counts) {
          const tally = tallies.get(name)!;
          tally.due += due;
          tally.notDue += notDue;
        }
      };
    });
  }

  private async instancesLegacy(round: Round, index: SystemIndex, tallies: Map<string, Tally>): Promise<void> {
    // Instances without scheduled_analyses_count: counted from scheduled_analysis/ afterwards.
    const uncounted = new Map<string, { name: string; online: boolean; scheduled: number }>();
    const pathFor = (page: number) =>
      `analysis_system_instance/?${query([
        ['page', page],
        ['per_page', this.perPage],
      ])}`;
    await this.pagesLegacy(round, pathFor, analysisSystemInstanceSchema, (items, page) => {
      const seen: { name: string; online: boolean; count?: number; key?: string }[] = [];
      items.forEach((instance, i) => {
        const name = index.nameOf(instance.analysis_system);
        if (name === undefined || !tallies.has(name)) return;
        const online = isOnline(instance, round.now);
        if (instance.scheduled_analyses_count !== undefined) {
          seen.push({ name, online, count: instance.scheduled_analyses_count });
          return;
        }
        const ref = instance.url ?? instance.uuid;
        if (ref === undefined) {
          throw new MassError(
            'bad-shape',
            `GET ${pathFor(page)}: results.${i} has neither scheduled_analyses_count nor url/uuid to count its scheduled analyses by`,
          );
        }
        seen.push({ name, online, key: instanceKey(ref) });
      });
      return () => {
        for (const entry of seen) {
          if (entry.count !== undefined) addInstance(tallies.get(entry.name)!, entry.online, entry.count);
          else if (entry.key !== undefined)
            uncounted.set(entry.key, { name: entry.name, online: entry.online, scheduled: 0 });
        }
      };
    });
    if (uncounted.size === 0) return;

    const scheduledPath = (page: number) =>
      `scheduled_analysis/?${query([
        ['page', page],
        ['per_page', this.perPage],
      ])}`;
    await this.pagesLegacy(round, scheduledPath, scheduledAnalysisSchema, (items) => {
      const perInstance = new Map<string, number>();
      for (const analysis of items) {
        const key = instanceKey(analysis.analysis_system_instance);
        if (uncounted.has(key)) perInstance.set(key, (perInstance.get(key) ?? 0) + 1);
      }
      return () => {
        for (const [key, n] of perInstance) uncounted.get(key)!.scheduled += n;
      };
    });
    for (const { name, online, scheduled } of uncounted.values()) addInstance(tallies.get(name)!, online, scheduled);
  }

  /**
   * All pages of an older server's list: `?page=N` until the first 404, with up to
   * pageConcurrency pages in flight. Pages can finish out of order and the list can shrink
   * while paging, so each page's counts are applied only once every page before it answered;
   * counts of pages after the first 404 are dropped.
   */
  private async pagesLegacy<S extends z.ZodType>(
    round: Round,
    pathFor: (page: number) => string,
    item: S,
    count: (items: z.output<S>[], page: number) => () => void,
    firstBody?: unknown,
  ): Promise<void> {
    const pageSchema = legacyPageSchema(item);
    const pending = new Map<number, () => void>();
    const firstItemPage = new Map<string, number>();
    let applied = 0; // pages 1..applied are counted
    let end = Infinity; // first page that answered 404 (or came back empty)

    await pagePool(this.pageConcurrency, 1, MAX_PAGES + 1, async (page) => {
      if (page >= end) return false;
      const path = pathFor(page);
      const step = `GET ${path}`;
      if (page > MAX_PAGES) throw pagingFailure(step, `more than ${MAX_PAGES} pages without a 404: paging loop?`);
      const body = page === 1 && firstBody !== undefined ? firstBody : await this.getJson(round, path, page > 1);
      if (body === NOT_FOUND) {
        end = Math.min(end, page);
        return false;
      }
      const parsed = parseWith(pageSchema, body, step);
      const results = parsed.results as z.output<S>[];
      if (results.length === 0) {
        end = Math.min(end, page);
        return false;
      }
      checkLegacyPage(step, page, parsed as Record<string, unknown>, results[0], firstItemPage);
      pending.set(page, count(results, page));
      while (applied + 1 < end && pending.has(applied + 1)) {
        pending.get(applied + 1)!();
        pending.delete(applied + 1);
        applied += 1;
      }
      return true;
    });
  }
}

/**
 * A server that ignores `page` serves page 1 forever: the older one has no page_count to stop
 * at, so a page that starts with the same item as an earlier page is taken as a loop. (A list
 * that grew by exactly a page's worth between two reads would look the same; that costs one
 * round without a reading, never a wrong one.) Paging fields, when a build sends them, must agree.
 */
function checkLegacyPage(
  step: string,
  page: number,
  envelope: Record<string, unknown>,
  first: unknown,
  firstItemPage: Map<string, number>,
): void {
  if (typeof envelope['page'] === 'number' && envelope['page'] !== page) {
    throw pagingFailure(
      step,
      `asked for page ${page}, got page ${envelope['page']}: the server ignores page (paging loop)`,
    );
  }
  if (typeof envelope['next'] === 'string') {
    const next = pageOfUrl(envelope['next']);
    if (next !== page + 1) {
      throw pagingFailure(
        step,
        `page ${page} links next to ${next === undefined ? 'no page number' : `page ${next}`}, not ${page + 1}: paging loop`,
      );
    }
  }
  const item = first as { id?: unknown; url?: unknown } | undefined;
  const key = typeof item?.id === 'string' ? item.id : typeof item?.url === 'string' ? item.url : undefined;
  if (key === undefined) return;
  const earlier = firstItemPage.get(key);
  if (earlier !== undefined && earlier !== page) {
    throw pagingFailure(
      step,
      `page ${page} starts with the same item as page ${earlier}: the server ignores page (paging loop)`,
    );
  }
  firstItemPage.set(key, page);
}

/**
 * Runs work(first), work(first + 1), ... up to `last` with `width` workers, each taking the
 * next page number. A worker stops when work returns false; the first error stops them all.
 */
async function pagePool(
  width: number,
  first: number,
  last: number,
  work: (page: number) => Promise<boolean>,
): Promise<void> {
  let next = first;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && next <= last) {
      const page = next;
      next += 1;
      try {
        if (!(await work(page))) stopped = true;
      } catch (err) {
        stopped = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(width, last - first + 1));
  if (last < first) return;
  await Promise.all(Array.from({ length: workers }, worker));
}
