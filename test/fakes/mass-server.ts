// A fake MASS REST API on a real node:http server (127.0.0.1, any free port). It speaks both
// dialects of docs/MASS_API.md, so the client, the daemon's end-to-end tests and the demo can
// run without MongoDB. Used as:
//
//   const mass = await startFakeMass({ dialect: '0.2', apiKey: 'secret' });
//   mass.baseUrl;                        // 'http://127.0.0.1:PORT/api/'
//   mass.setDemand('ssdeep', { due: 7, notDue: 2, scheduledOnline: 3, stuckOffline: 4 });
//   mass.fault = { kind: 'status', code: 503, path: 'analysis_request/' };   // or null
//   mass.requests;                       // [{ method, url, path, authOk }, ...]
//   mass.onRequest = (entry) => {...};   // called as each request arrives (change data mid-listing)
//   await mass.close();
//
// Data model (mutable at run time):
// - systems: addSystem(name) / removeSystem(name); listed sorted by identifier_name.
// - requests: groups of identical requests (count + schedule_after), so 100,000 cost nothing;
//   addRequests(system, count, scheduleAfter) or setDemand(...). Items are generated per page.
// - instances: addInstance(system, { online, lastSeen, scheduled }) or setDemand(...). Their
//   scheduled analyses are generated from `scheduled`, for scheduled_analysis/. Listed by system
//   id, then uuid, as on the real server (so one added mid-listing can shift the pages).
// - setDemand(system, spec) replaces one system's requests and instances so that the client
//   should read exactly spec (due, notDue, scheduledOnline, stuckOffline, instance counts).
// - `now` (option) is the fake's clock: setDemand places due requests a minute before it and
//   not-yet-due ones an hour after; online instances were seen 30 s before it, offline 1 h.
//
// Dialects (`dialect` can be switched at run time, e.g. to put an older server behind a name):
// - '0.2': filters (analysis_system, schedule_after__lte/__gte, identifier_name,
//   analysis_system_instance), `?count` → {"count": N}, `page`/`per_page`, envelope
//   {page, page_count, previous, next, results} with absolute next/previous that carry only
//   page/per_page, a 404 HTML page outside 1..page_count (page 1 of an empty list is a 200).
//   Instances carry is_online and scheduled_analyses_count.
// - 'legacy': every filter, `per_page` and `count` ignored; pages are {"results": [...]} only,
//   `perPage` items each; 404 HTML after the last page. Instances carry last_seen only, unless
//   `instanceFields` says otherwise.
// Both: a wrong or missing `Authorization: APIKEY <key>` gets 403 {"error": ...}; unknown paths
// get a 404 HTML page; GET analysis_system_instance/<uuid>/scheduled_analyses/ is the instances'
// heartbeat and refreshes last_seen, as on the real server. `onlineWindowMs` (10 min) decides
// is_online. The twin's work cycle (registration, worker polls with real analysis ids, reports,
// DELETE, the scheduler) is test/fakes/work-cycle.ts, plugged in through `hook`.
//
// Faults (`mass.fault = {...}` or `await mass.setFault({...})`; null clears):
// - { kind: 'refuse' }: the listener closes (connections refused) until the fault is cleared,
//   then it listens again on the same port.
// - { kind: 'hang' }: accepts and never answers (close() still ends promptly).
// - { kind: 'status', code, body?, contentType? }: answers that status (default body: an HTML page).
// - { kind: 'forbidden' }: 403 as for a wrong key.
// - { kind: 'malformed-json' }: 200 application/json with a truncated body.
// - { kind: 'wrong-shape' }: 200 JSON of the wrong shape: list items lose their fields
//   (only {"oid": id} is left) and a count answers {"total": N}.
// - { kind: 'next-loop' }: the server ignores `page`: every page answers page 1's body (on 0.2 it
//   still says page 1 and links next to page 2), so a client following `next` loops forever.
// - { kind: 'vanish-page', page?: 2 }: that page answers 404 HTML although page_count lists it.
//   (On the older server that is indistinguishable from the end of the list.)
// - { kind: 'ignore-filter' }: a 0.2 list answers as if no filter were given (an inconsistent server).
// `mass.unlisted` (a Set of identifier names): analysis_system/ leaves those systems out while
// their requests and instances stay (items of a system MASS does not list).
// Every fault but 'refuse' can be narrowed with `path` (substring of, or RegExp tested on, the
// request's path+query, e.g. 'analysis_request/'), `system` (identifier_name or id, matched
// against the `analysis_system` filter, so only 0.2 requests of that system match) and `times`
// (the fault clears itself after that many matching requests); `from` arms it until the first
// request containing that string (a round's start), so no round in flight is cut half-way.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type FakeDialect = '0.2' | 'legacy';

export interface FakeMassOptions {
  dialect: FakeDialect;
  apiKey: string;
  /** the server's whole time for each answer (building it included), ms */
  latencyMs?: number;
  /** items per page: the 0.2 default when `per_page` is not given, and the older server's fixed size */
  perPage?: number;
  /** the fake's clock in ms (default Date.now): is_online, and the times setDemand picks */
  now?: () => number;
  /** which computed instance fields are sent; default: both on 0.2, neither on the older server */
  instanceFields?: { isOnline?: boolean; scheduledCount?: boolean };
  /** port on 127.0.0.1 (default 0: any free port) */
  port?: number;
}

export interface FakeSystem {
  id: string;
  identifier_name: string;
  verbose_name: string;
}

export interface FakeInstance {
  id: string;
  uuid: string;
  /** identifier_name of its system */
  system: string;
  /** ms since the epoch; null = registered, never polled */
  lastSeen: number | null;
  /** scheduled analyses assigned to it */
  scheduled: number;
}

/** `count` identical requests; schedule_after null = the field is missing (older builds). */
export interface FakeRequestGroup {
  system: string;
  count: number;
  scheduleAfter: number | null;
  requestedAt: number;
  firstSeq: number;
}

export interface DemandSpec {
  /** requests with schedule_after before now */
  due: number;
  /** requests with schedule_after later than now */
  notDue?: number;
  /** scheduled analyses spread over the online instances */
  scheduledOnline?: number;
  /** scheduled analyses on offline instances */
  stuckOffline?: number;
  /** default: 1 if scheduledOnline > 0, else 0 */
  onlineInstances?: number;
  /** default: 1 if stuckOffline > 0, else 0 */
  offlineInstances?: number;
}

export interface FaultScope {
  path?: string | RegExp;
  system?: string;
  times?: number;
  /**
   * The fault waits for the first request whose path+query contains this (e.g. 'analysis_system/',
   * the first request of a daemon's round) and applies from then on: a round already in flight
   * when the fault is set finishes unharmed, so the first failure is that request's.
   */
  from?: string;
}

export type FakeFault =
  | { kind: 'refuse' }
  | (FaultScope &
      (
        | { kind: 'hang' }
        | { kind: 'status'; code: number; body?: string; contentType?: string }
        | { kind: 'forbidden' }
        | { kind: 'malformed-json' }
        | { kind: 'wrong-shape' }
        | { kind: 'next-loop' }
        | { kind: 'vanish-page'; page?: number }
        | { kind: 'ignore-filter' }
      ));

export interface FakeRequestLogEntry {
  method: string;
  /** path + query as received, e.g. /api/analysis_request/?analysis_system=...&count */
  url: string;
  path: string;
  /** whether the Authorization header carried the right key (the key itself is not kept) */
  authOk: boolean;
}

const ONLINE_WINDOW_MS = 10 * 60_000;

/**
 * Extra routes served before the fake's own (the twin's work cycle, test/fakes/work-cycle.ts):
 * `claims` picks the requests, `answer` gets the request's body and builds the answer.
 */
export interface FakeRouteHook {
  claims(method: string, path: string): boolean;
  answer(request: {
    method: string;
    path: string;
    params: URLSearchParams;
    body: string;
    authorization: string | undefined;
    base: string;
  }): { status: number; body: string; contentType?: string };
}
const FORBIDDEN_BODY = JSON.stringify({ error: 'You do not have access to this resource.' });

function htmlPage(code: number, title: string, text: string): string {
  return `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>${code} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`;
}
const NOT_FOUND_HTML = htmlPage(
  404,
  'Not Found',
  'The requested URL was not found on the server.  If you entered the URL manually please check your spelling and try again.',
);
const SERVER_ERROR_HTML = htmlPage(
  500,
  'Internal Server Error',
  'The server encountered an internal error and was unable to complete your request.',
);

/** As marshmallow writes them: 2018-01-15T14:05:08+00:00, with microseconds when there are any. */
function massTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  const millis = iso.slice(20, 23);
  return `${iso.slice(0, 19)}${millis === '000' ? '' : `.${millis}000`}+00:00`;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0').slice(-width);
}

/** A list that is generated item by item, so a page never builds the whole list. */
interface Seq {
  length: number;
  at(i: number): Record<string, unknown>;
}

function concatSeq<G>(
  groups: G[],
  size: (g: G) => number,
  item: (g: G, offset: number) => Record<string, unknown>,
): Seq {
  const starts: number[] = [];
  let length = 0;
  for (const g of groups) {
    starts.push(length);
    length += size(g);
  }
  return {
    length,
    at(i) {
      let lo = 0;
      let hi = groups.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= i) lo = mid;
        else hi = mid - 1;
      }
      return item(groups[lo]!, i - starts[lo]!);
    },
  };
}

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType = 'application/json',
  ) {}

  static json(value: unknown, status = 200): HttpAnswer {
    return new HttpAnswer(status, JSON.stringify(value));
  }
  static notFound(): HttpAnswer {
    return new HttpAnswer(404, NOT_FOUND_HTML, 'text/html; charset=utf-8');
  }
  static serverError(): HttpAnswer {
    return new HttpAnswer(500, SERVER_ERROR_HTML, 'text/html; charset=utf-8');
  }
}

/** Produces a list answer (page, count) for a collection, after filters. */
interface ListQuery {
  seq: Seq;
  /** the collection's path segment, for next/previous links */
  collection: string;
}

export class FakeMass {
  dialect: FakeDialect;
  latencyMs: number;
  perPage: number;
  instanceFields: { isOnline: boolean; scheduledCount: boolean };
  readonly systems: FakeSystem[] = [];
  readonly instances: FakeInstance[] = [];
  readonly requestGroups: FakeRequestGroup[] = [];
  readonly requests: FakeRequestLogEntry[] = [];
  readonly unlisted = new Set<string>();
  /** an instance is online while its last_seen is younger than this (the real server: 10 min) */
  onlineWindowMs = ONLINE_WINDOW_MS;
  /** routes served before the fake's own (the work cycle), or null */
  hook: FakeRouteHook | null = null;
  /** called as each request arrives, before it is answered (to change the data mid-listing) */
  onRequest: ((entry: FakeRequestLogEntry) => void) | null = null;
  /** requests being answered right now, and the most seen at once */
  inFlight = 0;
  maxInFlight = 0;

  private readonly apiKey: string;
  private readonly clock: () => number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private currentFault: FakeFault | null = null;
  private port = 0;
  private seq = 0;
  private closed = false;

  constructor(opts: FakeMassOptions) {
    this.dialect = opts.dialect;
    this.apiKey = opts.apiKey;
    this.latencyMs = opts.latencyMs ?? 0;
    this.perPage = opts.perPage ?? 100;
    this.clock = opts.now ?? Date.now;
    this.port = opts.port ?? 0;
    const modern = opts.dialect === '0.2';
    this.instanceFields = {
      isOnline: opts.instanceFields?.isOnline ?? modern,
      scheduledCount: opts.instanceFields?.scheduledCount ?? modern,
    };
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** 'http://127.0.0.1:PORT/api/' */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  get fault(): FakeFault | null {
    return this.currentFault;
  }

  /** Takes effect at once for every fault; see setFault to wait for the listener after 'refuse'. */
  set fault(fault: FakeFault | null) {
    void this.setFault(fault);
  }

  async setFault(fault: FakeFault | null): Promise<void> {
    const wasRefusing = this.currentFault?.kind === 'refuse';
    this.currentFault = fault;
    if (fault?.kind === 'refuse' && !wasRefusing) {
      this.server.close();
      this.dropConnections();
    } else if (fault?.kind !== 'refuse' && wasRefusing && !this.closed) {
      await this.listen(this.port);
    }
  }

  async start(): Promise<this> {
    await this.listen(this.port);
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fake MASS: no TCP address');
    this.port = address.port;
    return this;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closing = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    this.dropConnections();
    await closing;
  }

  clearLog(): void {
    this.requests.length = 0;
    this.maxInFlight = this.inFlight;
  }

  // ---- data model ----------------------------------------------------------------------------

  addSystem(name: string): FakeSystem {
    const existing = this.systems.find((s) => s.identifier_name === name);
    if (existing) return existing;
    const system: FakeSystem = {
      id: `5a14596e613bc664${hex(++this.seq, 8)}`,
      identifier_name: name,
      verbose_name: name,
    };
    this.systems.push(system);
    this.systems.sort((a, b) =>
      a.identifier_name < b.identifier_name ? -1 : a.identifier_name > b.identifier_name ? 1 : 0,
    );
    return system;
  }

  removeSystem(name: string): void {
    const at = this.systems.findIndex((s) => s.identifier_name === name);
    if (at >= 0) this.systems.splice(at, 1);
    this.clearRequests(name);
    this.removeInstances(name);
  }

  /** Adds `count` requests; scheduleAfter null leaves the field out, as older builds do. */
  addRequests(system: string, count: number, scheduleAfter: Date | number | null): void {
    this.addSystem(system);
    if (count <= 0) return;
    const firstSeq = this.seq + 1;
    this.seq += count;
    this.requestGroups.push({
      system,
      count,
      scheduleAfter: scheduleAfter === null ? null : +scheduleAfter,
      requestedAt: this.clock(),
      firstSeq,
    });
  }

  clearRequests(system: string): void {
    for (let i = this.requestGroups.length - 1; i >= 0; i -= 1) {
      if (this.requestGroups[i]!.system === system) this.requestGroups.splice(i, 1);
    }
  }

  addInstance(
    system: string,
    opts: { online?: boolean; lastSeen?: Date | number | null; scheduled?: number; uuid?: string } = {},
  ): FakeInstance {
    this.addSystem(system);
    const n = ++this.seq;
    const now = this.clock();
    const lastSeen =
      opts.lastSeen !== undefined
        ? opts.lastSeen === null
          ? null
          : +opts.lastSeen
        : opts.online === false
          ? now - 60 * 60_000
          : now - 30_000;
    const instance: FakeInstance = {
      id: `5a2ec3a1613bc600${hex(n, 8)}`,
      uuid: opts.uuid ?? `0e6c0e3c-5d1c-4c56-a3f6-${hex(n, 12)}`,
      system,
      lastSeen,
      scheduled: opts.scheduled ?? 0,
    };
    this.instances.push(instance);
    return instance;
  }

  removeInstances(system: string): void {
    for (let i = this.instances.length - 1; i >= 0; i -= 1) {
      if (this.instances[i]!.system === system) this.instances.splice(i, 1);
    }
  }

  /** Replaces one system's requests and instances so that its demand reads as `spec`. */
  setDemand(system: string, spec: DemandSpec): void {
    const now = this.clock();
    const scheduledOnline = spec.scheduledOnline ?? 0;
    const stuckOffline = spec.stuckOffline ?? 0;
    const online = spec.onlineInstances ?? (scheduledOnline > 0 ? 1 : 0);
    const offline = spec.offlineInstances ?? (stuckOffline > 0 ? 1 : 0);
    if ((scheduledOnline > 0 && online === 0) || (stuckOffline > 0 && offline === 0)) {
      throw new Error(`fake MASS: ${system}: scheduled analyses need an instance to sit on`);
    }
    this.addSystem(system);
    this.clearRequests(system);
    this.removeInstances(system);
    this.addRequests(system, spec.due, now - 60_000);
    this.addRequests(system, spec.notDue ?? 0, now + 60 * 60_000);
    for (let i = 0; i < online; i += 1) {
      const share = Math.floor(scheduledOnline / online) + (i < scheduledOnline % online ? 1 : 0);
      this.addInstance(system, { online: true, scheduled: share });
    }
    for (let i = 0; i < offline; i += 1) {
      const share = Math.floor(stuckOffline / offline) + (i < stuckOffline % offline ? 1 : 0);
      this.addInstance(system, { online: false, scheduled: share });
    }
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  private dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const arrived = performance.now();
    const url = req.url ?? '/';
    const parsed = new URL(url, 'http://fake.invalid');
    const authOk = req.headers.authorization === `APIKEY ${this.apiKey}`;
    const entry = { method: req.method ?? 'GET', url, path: parsed.pathname, authOk };
    this.requests.push(entry);
    this.onRequest?.(entry);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight -= 1;
    };
    res.on('close', finish);

    const fault = this.takeFault(url, parsed.searchParams);
    if (fault?.kind === 'hang') return; // the socket stays open until the client or close() ends it
    const hook = this.hook;
    if (fault === null && hook !== null && hook.claims(req.method ?? 'GET', parsed.pathname)) {
      this.answerByHook(hook, req, res, parsed);
      return;
    }
    let answer: HttpAnswer;
    try {
      answer = this.answer(req, parsed, authOk, fault);
    } catch {
      answer = HttpAnswer.serverError();
    }
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(answer.status, {
        'Content-Type': answer.contentType,
        'Content-Length': Buffer.byteLength(answer.body),
      });
      res.end(answer.body);
    };
    if (this.latencyMs <= 0) {
      send();
      return;
    }
    // The latency is the server's whole time for the request: building the answer is part of it.
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        send();
      },
      Math.max(0, this.latencyMs - (performance.now() - arrived)),
    );
    this.timers.add(timer);
  }

  private answerByHook(hook: FakeRouteHook, req: IncomingMessage, res: ServerResponse, url: URL): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let answer: { status: number; body: string; contentType?: string };
      try {
        answer = hook.answer({
          method: req.method ?? 'GET',
          path: url.pathname,
          params: url.searchParams,
          body: Buffer.concat(chunks).toString('utf8'),
          authorization: req.headers.authorization,
          base: `http://${req.headers.host ?? `127.0.0.1:${this.port}`}/api/`,
        });
      } catch {
        answer = HttpAnswer.serverError();
      }
      if (res.destroyed) return;
      res.writeHead(answer.status, {
        'Content-Type': answer.contentType ?? 'application/json',
        'Content-Length': Buffer.byteLength(answer.body),
      });
      res.end(answer.body);
    });
  }

  /** The active fault if it applies to this request (and counts it against `times`). */
  private takeFault(url: string, params: URLSearchParams): Exclude<FakeFault, { kind: 'refuse' }> | null {
    const fault = this.currentFault;
    if (fault === null || fault.kind === 'refuse') return null;
    if (fault.from !== undefined) {
      if (!url.includes(fault.from)) return null;
      delete fault.from;
    }
    if (fault.path !== undefined) {
      const hit = typeof fault.path === 'string' ? url.includes(fault.path) : fault.path.test(url);
      if (!hit) return null;
    }
    if (fault.system !== undefined) {
      const system = this.systems.find((s) => s.identifier_name === fault.system || s.id === fault.system);
      const filter = params.get('analysis_system');
      if (filter === null || (filter !== fault.system && filter !== system?.id)) return null;
    }
    if (fault.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.currentFault = null;
    }
    return fault;
  }

  private answer(
    req: IncomingMessage,
    url: URL,
    authOk: boolean,
    fault: Exclude<FakeFault, { kind: 'refuse' }> | null,
  ): HttpAnswer {
    if (fault?.kind === 'status') {
      const body =
        fault.body ?? (fault.code >= 500 ? SERVER_ERROR_HTML : htmlPage(fault.code, 'Error', 'Injected fault.'));
      const contentType =
        fault.contentType ?? (fault.body === undefined ? 'text/html; charset=utf-8' : 'application/json');
      return new HttpAnswer(fault.code, body, contentType);
    }
    if (fault?.kind === 'forbidden') return new HttpAnswer(403, FORBIDDEN_BODY);

    const base = `http://${req.headers.host ?? `127.0.0.1:${this.port}`}/api/`;
    const route = this.route(url, base, fault?.kind === 'ignore-filter');
    if (route === null) return HttpAnswer.notFound();
    if (!authOk) return new HttpAnswer(403, FORBIDDEN_BODY);
    if (req.method !== 'GET')
      return new HttpAnswer(
        405,
        htmlPage(405, 'Method Not Allowed', 'The method is not allowed for the requested URL.'),
        'text/html; charset=utf-8',
      );
    const list = route(url.searchParams);
    if (list === null) return HttpAnswer.notFound();
    if (list instanceof HttpAnswer) return list;
    return this.listAnswer(list, url.searchParams, base, fault);
  }

  /** The list a path names (filters applied on 0.2), or null for an unknown path. */
  private route(
    url: URL,
    base: string,
    ignoreFilters = false,
  ): ((params: URLSearchParams) => ListQuery | HttpAnswer | null) | null {
    const path = url.pathname;
    const filtering = this.dialect === '0.2' && !ignoreFilters;
    const systemUrl = (name: string) => `${base}analysis_system/${name}/`;
    const instanceUrl = (i: FakeInstance) => `${base}analysis_system_instance/${i.uuid}/`;
    const systemFilter = (params: URLSearchParams): ((name: string) => boolean) => {
      const id = filtering ? params.get('analysis_system') : null;
      if (id === null) return () => true;
      const system = this.systems.find((s) => s.id === id);
      return (name) => system?.identifier_name === name;
    };

    if (path === '/api/analysis_system/') {
      return (params) => {
        const name = filtering ? params.get('identifier_name') : null;
        const systems = this.systems.filter(
          (s) => (name === null || s.identifier_name === name) && !this.unlisted.has(s.identifier_name),
        );
        return {
          collection: 'analysis_system',
          seq: concatSeq(
            systems,
            () => 1,
            (s) => ({
              id: s.id,
              identifier_name: s.identifier_name,
              verbose_name: s.verbose_name,
              information_text: null,
              tag_filter_expression: '',
              time_schedule: [0],
              number_retries: 0,
              minutes_before_retry: 0,
              url: systemUrl(s.identifier_name),
            }),
          ),
        };
      };
    }

    if (path === '/api/analysis_request/') {
      return (params) => {
        const ofSystem = systemFilter(params);
        const lte = filtering ? params.get('schedule_after__lte') : null;
        const gte = filtering ? params.get('schedule_after__gte') : null;
        const lteMs = lte === null ? null : Date.parse(lte);
        const gteMs = gte === null ? null : Date.parse(gte);
        if (Number.isNaN(lteMs) || Number.isNaN(gteMs)) return HttpAnswer.serverError();
        // As in MongoDB, a range filter never matches a request without schedule_after.
        const groups = this.requestGroups
          .filter((g) => ofSystem(g.system))
          .filter((g) => lteMs === null || (g.scheduleAfter !== null && g.scheduleAfter <= lteMs))
          .filter((g) => gteMs === null || (g.scheduleAfter !== null && g.scheduleAfter >= gteMs))
          .reverse(); // newest first
        return {
          collection: 'analysis_request',
          seq: concatSeq(
            groups,
            (g) => g.count,
            (g, offset) => {
              const id = `5a5cb6d4${hex(g.firstSeq + offset, 16)}`;
              return {
                id,
                analysis_system: systemUrl(g.system),
                sample: `${base}sample/5a5cb6d3${hex(g.firstSeq + offset, 16)}/`,
                analysis_requested: massTime(g.requestedAt),
                ...(g.scheduleAfter === null ? {} : { schedule_after: massTime(g.scheduleAfter) }),
                priority: 0,
                parameters: {},
                num_retry: 0,
                url: `${base}analysis_request/${id}/`,
              };
            },
          ),
        };
      };
    }

    if (path === '/api/analysis_system_instance/') {
      return (params) => {
        const ofSystem = systemFilter(params);
        // Ordered by system, then uuid, as the real server lists them.
        const idOf = new Map(this.systems.map((s) => [s.identifier_name, s.id]));
        const instances = this.instances
          .filter((i) => ofSystem(i.system))
          .map((i) => ({ i, key: `${idOf.get(i.system) ?? ''} ${i.uuid}` }))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          .map(({ i }) => i);
        return {
          collection: 'analysis_system_instance',
          seq: concatSeq(
            instances,
            () => 1,
            (i) => this.instanceItem(i, systemUrl(i.system), instanceUrl(i)),
          ),
        };
      };
    }

    if (path === '/api/scheduled_analysis/') {
      return (params) => {
        const instanceId = filtering ? params.get('analysis_system_instance') : null;
        const instances = this.instances.filter((i) => i.scheduled > 0 && (instanceId === null || i.id === instanceId));
        return { collection: 'scheduled_analysis', seq: this.scheduledSeq(instances, base) };
      };
    }

    // The heartbeat: an instance's own poll for work, which keeps it online.
    const heartbeat = /^\/api\/analysis_system_instance\/([^/]+)\/scheduled_analyses\/$/.exec(path);
    if (heartbeat) {
      return () => {
        const instance = this.instances.find((i) => i.uuid === heartbeat[1]);
        if (!instance)
          return HttpAnswer.json({ error: 'No analysis system instance with the specified uuid found.' }, 404);
        instance.lastSeen = this.clock();
        return {
          collection: `analysis_system_instance/${instance.uuid}/scheduled_analyses`,
          seq: this.scheduledSeq([instance], base),
        };
      };
    }
    return null;
  }

  private instanceItem(i: FakeInstance, systemUrl: string, url: string): Record<string, unknown> {
    const item: Record<string, unknown> = {
      id: i.id,
      analysis_system: systemUrl,
      uuid: i.uuid,
      last_seen: i.lastSeen === null ? null : massTime(i.lastSeen),
    };
    if (this.instanceFields.isOnline)
      item['is_online'] = i.lastSeen !== null && this.clock() - i.lastSeen < this.onlineWindowMs;
    if (this.instanceFields.scheduledCount) item['scheduled_analyses_count'] = i.scheduled;
    item['url'] = url;
    return item;
  }

  private scheduledSeq(instances: FakeInstance[], base: string): Seq {
    return concatSeq(
      instances,
      (i) => i.scheduled,
      (i, offset) => {
        const id = `5a5cb6f2${i.id.slice(-8)}${hex(offset, 8)}`;
        return {
          id,
          analysis_system_instance: `${base}analysis_system_instance/${i.uuid}/`,
          sample: `${base}sample/5a5cb6d3${i.id.slice(-8)}${hex(offset, 8)}/`,
          analysis_scheduled: massTime(this.clock()),
          priority: 0,
          parameters: {},
          num_retry: 0,
          url: `${base}scheduled_analysis/${id}/`,
        };
      },
    );
  }

  private listAnswer(
    list: ListQuery,
    params: URLSearchParams,
    base: string,
    fault: Exclude<FakeFault, { kind: 'refuse' }> | null,
  ): HttpAnswer {
    const modern = this.dialect === '0.2';
    if (modern && params.has('count')) {
      if (fault?.kind === 'wrong-shape') return HttpAnswer.json({ total: list.seq.length });
      if (fault?.kind === 'malformed-json') return new HttpAnswer(200, '{"count": ');
      return HttpAnswer.json({ count: list.seq.length });
    }
    const pageText = params.get('page') ?? '1';
    const perPageText = modern ? params.get('per_page') : null;
    if (!/^-?\d+$/.test(pageText) || (perPageText !== null && !/^\d+$/.test(perPageText)))
      return HttpAnswer.serverError();
    const perPage = perPageText === null ? this.perPage : Number(perPageText);
    if (perPage <= 0) return HttpAnswer.serverError();
    // A server that ignores `page` never reaches the end of the list.
    const page = fault?.kind === 'next-loop' ? 1 : Number(pageText);
    const pageCount = Math.ceil(list.seq.length / perPage);
    if (page < 1 || (page > pageCount && page !== 1)) return HttpAnswer.notFound();
    if (fault?.kind === 'vanish-page' && page === (fault.page ?? 2)) return HttpAnswer.notFound();

    const results: Record<string, unknown>[] = [];
    for (let i = (page - 1) * perPage; i < Math.min(page * perPage, list.seq.length); i += 1) {
      const item = list.seq.at(i);
      results.push(fault?.kind === 'wrong-shape' ? { oid: item['id'] } : item);
    }
    if (fault?.kind === 'malformed-json') return new HttpAnswer(200, JSON.stringify({ results }).slice(0, 20));
    if (!modern) return HttpAnswer.json({ results });
    const link = (n: number) => `${base}${list.collection}/?page=${n}&per_page=${perPage}`;
    return HttpAnswer.json({
      page,
      page_count: pageCount,
      previous: page > 1 ? link(page - 1) : null,
      next: page < pageCount ? link(page + 1) : null,
      results,
    });
  }
}

export async function startFakeMass(opts: FakeMassOptions): Promise<FakeMass> {
  return new FakeMass(opts).start();
}
