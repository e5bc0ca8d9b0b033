// The MASS work cycle on top of the fake MASS (test/fakes/mass-server.ts): what the twin needs so
// that real worker containers can register, poll, work and report as against the real server
// (docs/mass-api.md, "How work flows" and "How workers really behave"). Used as:
//
//   const mass = await startFakeMass({ dialect: '0.2', apiKey: 'key' });
//   const cycle = attachWorkCycle(mass, { schedulerIntervalMs: 3000, onlineWindowMs: 60_000 });
//   cycle.arrive('ssdeep', 5);               // 5 requests due now; offsets: arrive(s, 1, [0, 60_000])
//   cycle.records;                           // one record per analysis: arrival, start, end, aborts
//   cycle.stop();                            // the scheduler stops; the fake goes on serving
//
// Routes it adds (same authentication as the fake; DELETE needs the admin key):
// - POST analysis_system_instance/  {"analysis_system": "<system url or identifier_name>"}
//   registers an instance (offline until its first poll) and answers it with its uuid.
// - GET analysis_system_instance/<uuid>/scheduled_analyses/  the worker's poll: its scheduled
//   analyses, paged as the fake's dialect pages; refreshes last_seen.
// - POST scheduled_analysis/<id>/submit_report/  ends a scheduled analysis (any body).
// - DELETE analysis_system_instance/<uuid>/  on 0.2 its scheduled analyses become requests due
//   now; on the older server they are orphaned (stuck for ever).
// - POST twin/exit/<uuid>/  not MASS: the twin's worker says it is exiting (SIGTERM), so the
//   analysis it was working on is recorded as aborted at that moment.
// The scheduler runs every `schedulerIntervalMs` plus `schedulerDriftMs` plus its own run time
// (it sleeps after each run, as mass_scheduler.py does); it gives each due request to the online
// instance of its system with the fewest scheduled analyses, among those with at most
// `maxScheduled` (100: one can reach 101); on 0.2 a system with due requests and no instance
// records at all makes the whole run fail (KeyError in the real scheduler), and nothing is
// scheduled for any system in that run.
import type { FakeInstance, FakeMass, FakeRequestGroup, FakeRouteHook } from './mass-server';

export interface WorkCycleOptions {
  /** sleep between scheduler runs, ms (the real server: 30 s) */
  schedulerIntervalMs: number;
  /** extra time each run takes, ms, on top of the real run time (default 0) */
  schedulerDriftMs?: number;
  /** ms from attaching to the first scheduler run (the scheduler's phase; default: one interval) */
  schedulerPhaseMs?: number;
  /** an instance is online while its last_seen is younger than this, ms (the real server: 10 min) */
  onlineWindowMs: number;
  /** the scheduler skips instances with more than this many scheduled analyses (default 100) */
  maxScheduled?: number;
  /** the key DELETE needs; default: the fake's own key */
  adminKey?: string;
  /** the clock, ms (default Date.now) */
  now?: () => number;
}

/** One analysis, from its request to its report. Times in ms since the epoch. */
export interface AnalysisRecord {
  id: string;
  system: string;
  /** when the request was made */
  arrivedAt: number;
  /** when it became (or becomes) due; waits are measured from here */
  dueAt: number;
  /** the instance (uuid) it is scheduled on, or null while it is a request */
  instance: string | null;
  /** when the instance's worker fetched it in a poll (null: not fetched yet on this instance) */
  fetchedAt: number | null;
  /** start and end of the attempt that was reported */
  startedAt: number | null;
  endedAt: number | null;
  /** when an attempt was cut by the worker's exit */
  abortedAt: number[];
  /** on an instance that exited, or orphaned by deleting its instance on the older server */
  stuck: boolean;
  /** times it was turned back into a request by deleting its instance */
  requeued: number;
}

export interface TwinInstance {
  uuid: string;
  system: string;
  registeredAt: number;
  firstPollAt: number | null;
  /** when the worker said it exits, or null */
  exitedAt: number | null;
  deletedAt: number | null;
  /** scheduled analyses, in the order the worker works through them */
  queue: AnalysisRecord[];
  /** when the worker became free for its next analysis: its last poll or report */
  cursor: number;
  fake: FakeInstance;
}

export interface WorkCycleTotals {
  arrived: number;
  completed: number;
  aborted: number;
  stuck: number;
  /** requests still waiting for an instance, due or not */
  waiting: number;
  /** scheduled on an instance whose worker is alive */
  scheduled: number;
  schedulerRuns: number;
  /** runs that failed because a system with due requests had no instance records (0.2) */
  schedulerFailures: number;
  instances: number;
  exitedInstances: number;
}

const FORBIDDEN = JSON.stringify({ error: 'You do not have access to this resource.' });
const NOT_FOUND_HTML =
  '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n';

type Answer = { status: number; body: string; contentType?: string };
const json = (value: unknown, status = 200): Answer => ({ status, body: JSON.stringify(value) });

const POLL = /^\/api\/analysis_system_instance\/([^/]+)\/scheduled_analyses\/$/;
const INSTANCE = /^\/api\/analysis_system_instance\/([^/]+)\/$/;
const REPORT = /^\/api\/scheduled_analysis\/([^/]+)\/submit_report\/$/;
const EXIT = /^\/api\/twin\/exit\/([^/]+)\/$/;

export class WorkCycle implements FakeRouteHook {
  readonly records: AnalysisRecord[] = [];
  readonly instances = new Map<string, TwinInstance>();
  schedulerRuns = 0;
  schedulerFailures = 0;
  /** when each scheduler run started (ms) */
  readonly runTimes: number[] = [];

  private readonly byId = new Map<string, AnalysisRecord>();
  private readonly groups = new Map<AnalysisRecord, FakeRequestGroup>();
  private readonly pending: AnalysisRecord[] = [];
  private readonly clock: () => number;
  private readonly maxScheduled: number;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private stopped = false;

  constructor(
    private readonly mass: FakeMass,
    private readonly apiKey: string,
    private readonly opts: WorkCycleOptions,
  ) {
    this.clock = opts.now ?? Date.now;
    this.maxScheduled = opts.maxScheduled ?? 100;
    mass.onlineWindowMs = opts.onlineWindowMs;
    mass.hook = this;
    this.timer = setTimeout(() => this.tick(), opts.schedulerPhaseMs ?? opts.schedulerIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** `count` requests of `system` per offset (ms after now; [0]: due now), as time_schedule makes them. */
  arrive(system: string, count: number, offsetsMs: readonly number[] = [0]): void {
    this.mass.addSystem(system);
    const now = this.clock();
    for (let i = 0; i < count; i++) {
      for (const offset of offsetsMs) {
        const record: AnalysisRecord = {
          id: `5a5cb6f2${(++this.seq).toString(16).padStart(16, '0')}`,
          system,
          arrivedAt: now,
          dueAt: now + offset,
          instance: null,
          fetchedAt: null,
          startedAt: null,
          endedAt: null,
          abortedAt: [],
          stuck: false,
          requeued: 0,
        };
        this.records.push(record);
        this.byId.set(record.id, record);
        this.request(record);
      }
    }
  }

  totals(): WorkCycleTotals {
    let completed = 0;
    let aborted = 0;
    let stuck = 0;
    let scheduled = 0;
    for (const r of this.records) {
      aborted += r.abortedAt.length;
      if (r.endedAt !== null) completed += 1;
      else if (r.stuck) stuck += 1;
      else if (r.instance !== null) scheduled += 1;
    }
    return {
      arrived: this.records.length,
      completed,
      aborted,
      stuck,
      waiting: this.pending.length,
      scheduled,
      schedulerRuns: this.schedulerRuns,
      schedulerFailures: this.schedulerFailures,
      instances: this.instances.size,
      exitedInstances: [...this.instances.values()].filter((i) => i.exitedAt !== null).length,
    };
  }

  isOnline(instance: TwinInstance, now = this.clock()): boolean {
    const seen = instance.fake.lastSeen;
    return instance.deletedAt === null && seen !== null && now - seen < this.opts.onlineWindowMs;
  }

  /** One scheduler run (the timer calls it; tests may call it directly). */
  schedule(): void {
    this.schedulerRuns += 1;
    const now = this.clock();
    this.runTimes.push(now);
    const due = this.pending.filter((r) => r.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
    if (due.length === 0) return;
    if (this.mass.dialect === '0.2') {
      const withRecords = new Set([...this.mass.instances].map((i) => i.system));
      if (due.some((r) => !withRecords.has(r.system))) {
        this.schedulerFailures += 1;
        return;
      }
    }
    const live = [...this.instances.values()].filter((i) => this.isOnline(i, now));
    for (const record of due) {
      let best: TwinInstance | undefined;
      for (const i of live) {
        if (i.system !== record.system || i.queue.length > this.maxScheduled) continue;
        if (best === undefined || i.queue.length < best.queue.length) best = i;
      }
      if (best === undefined) continue;
      this.unrequest(record);
      record.instance = best.uuid;
      record.fetchedAt = null;
      best.queue.push(record);
      best.fake.scheduled = best.queue.length;
      // MASS cannot tell a dead worker from a sleeping one until the online window has passed:
      // work it gives an instance whose worker has exited is stuck from the start.
      if (best.exitedAt !== null) record.stuck = true;
    }
  }

  /**
   * Instances whose worker holds work but has neither polled nor reported for `silenceMs` are
   * taken as gone without saying so (killed, or restarted as a new instance): their work is
   * recorded as stuck and the analysis they had fetched first as aborted. A live worker reports
   * every service time, so the twin passes a few service times. Returns how many it found.
   */
  markSilent(silenceMs: number, now = this.clock()): number {
    let found = 0;
    for (const instance of this.instances.values()) {
      if (instance.exitedAt !== null || instance.deletedAt !== null || instance.queue.length === 0) continue;
      if (now - instance.cursor < silenceMs) continue;
      found += 1;
      this.exited(instance.uuid, now);
    }
    return found;
  }

  // ---- routes --------------------------------------------------------------------------------

  claims(method: string, path: string): boolean {
    if (method === 'POST' && (path === '/api/analysis_system_instance/' || REPORT.test(path) || EXIT.test(path)))
      return true;
    if (method === 'DELETE' && INSTANCE.test(path)) return true;
    const poll = method === 'GET' ? POLL.exec(path) : null;
    return poll !== null && this.instances.has(poll[1]!);
  }

  answer(request: Parameters<FakeRouteHook['answer']>[0]): Answer {
    const { method, path, authorization } = request;
    const admin = authorization === `APIKEY ${this.opts.adminKey ?? this.apiKey}`;
    if (authorization !== `APIKEY ${this.apiKey}` && !admin) return { status: 403, body: FORBIDDEN };
    const now = this.clock();
    if (method === 'POST' && path === '/api/analysis_system_instance/') return this.register(request.body, now);
    let m = POLL.exec(path);
    if (m) return this.poll(this.instances.get(m[1]!)!, request.params, request.base, now);
    m = REPORT.exec(path);
    if (m) return this.report(m[1]!, now);
    m = EXIT.exec(path);
    if (m) return this.exited(m[1]!, now);
    m = INSTANCE.exec(path);
    if (m) {
      if (!admin) return { status: 403, body: FORBIDDEN };
      return this.delete(m[1]!, now);
    }
    return { status: 404, body: NOT_FOUND_HTML, contentType: 'text/html; charset=utf-8' };
  }

  private register(body: string, now: number): Answer {
    let ref: unknown;
    try {
      ref = (JSON.parse(body) as Record<string, unknown>)['analysis_system'];
    } catch {
      return json({ message: 'The request body is not JSON.' }, 400);
    }
    const name = typeof ref === 'string' ? (/analysis_system\/([^/]+)\/?$/.exec(ref)?.[1] ?? ref) : undefined;
    if (name === undefined || !this.mass.systems.some((s) => s.identifier_name === name))
      return json({ message: `No analysis system ${JSON.stringify(ref)}.` }, 400);
    const fake = this.mass.addInstance(name, { lastSeen: null, scheduled: 0 });
    const instance: TwinInstance = {
      uuid: fake.uuid,
      system: name,
      registeredAt: now,
      firstPollAt: null,
      exitedAt: null,
      deletedAt: null,
      queue: [],
      cursor: now,
      fake,
    };
    this.instances.set(fake.uuid, instance);
    return json({ id: fake.id, uuid: fake.uuid, analysis_system: ref, last_seen: null }, 201);
  }

  private poll(instance: TwinInstance, params: URLSearchParams, base: string, now: number): Answer {
    instance.fake.lastSeen = now;
    instance.firstPollAt ??= now;
    instance.cursor = now;
    const modern = this.mass.dialect === '0.2';
    const perPage = modern && /^\d+$/.test(params.get('per_page') ?? '') ? Number(params.get('per_page')) : 100;
    const page = /^\d+$/.test(params.get('page') ?? '1') ? Number(params.get('page') ?? '1') : 0;
    const pageCount = Math.ceil(instance.queue.length / Math.max(1, perPage));
    if (page < 1 || (page > pageCount && page !== 1))
      return { status: 404, body: NOT_FOUND_HTML, contentType: 'text/html; charset=utf-8' };
    const items = instance.queue.slice((page - 1) * perPage, page * perPage);
    for (const r of items) r.fetchedAt ??= now;
    const results = items.map((r) => ({
      id: r.id,
      analysis_system_instance: `${base}analysis_system_instance/${instance.uuid}/`,
      sample: `${base}sample/${r.id}/`,
      analysis_scheduled: new Date(now).toISOString().slice(0, 19) + '+00:00',
      priority: 0,
      parameters: {},
      num_retry: 0,
      url: `${base}scheduled_analysis/${r.id}/`,
    }));
    if (!modern) return json(page < pageCount ? { results } : { results, next: null, previous: null });
    const link = (n: number) =>
      `${base}analysis_system_instance/${instance.uuid}/scheduled_analyses/?page=${n}&per_page=${perPage}`;
    return json({
      page,
      page_count: pageCount,
      previous: page > 1 ? link(page - 1) : null,
      next: page < pageCount ? link(page + 1) : null,
      results,
    });
  }

  private report(id: string, now: number): Answer {
    const record = this.byId.get(id);
    const instance = record?.instance == null ? undefined : this.instances.get(record.instance);
    if (record === undefined || instance === undefined || record.endedAt !== null)
      return json({ message: 'No scheduled analysis with this id.' }, 404);
    record.startedAt = Math.max(record.fetchedAt ?? instance.cursor, instance.cursor);
    record.endedAt = now;
    record.stuck = false;
    instance.cursor = now;
    this.take(instance, record);
    return { status: 204, body: '' };
  }

  private exited(uuid: string, now: number): Answer {
    const instance = this.instances.get(uuid);
    if (instance === undefined) return json({ message: 'No analysis system instance with this uuid.' }, 404);
    if (instance.exitedAt === null) {
      instance.exitedAt = now;
      const current = instance.queue.find((r) => r.fetchedAt !== null);
      if (current !== undefined) current.abortedAt.push(now);
      for (const r of instance.queue) r.stuck = true;
    }
    return json({}, 200);
  }

  private delete(uuid: string, now: number): Answer {
    const instance = this.instances.get(uuid);
    if (instance === undefined || instance.deletedAt !== null)
      return json({ message: 'No analysis system instance with the specified uuid found.' }, 404);
    instance.deletedAt = now;
    const at = this.mass.instances.indexOf(instance.fake);
    if (at >= 0) this.mass.instances.splice(at, 1);
    const work = instance.queue.splice(0);
    instance.fake.scheduled = 0;
    for (const r of work) {
      if (this.mass.dialect === '0.2') {
        // On 0.2/0.3 deleting an instance turns its scheduled analyses back into requests, due now.
        r.instance = null;
        r.fetchedAt = null;
        r.stuck = false;
        r.requeued += 1;
        r.dueAt = now;
        this.request(r);
      } else {
        r.stuck = true; // orphaned: no instance will ever report it
      }
    }
    return { status: 204, body: '' };
  }

  // ---- bookkeeping ---------------------------------------------------------------------------

  private take(instance: TwinInstance, record: AnalysisRecord): void {
    const at = instance.queue.indexOf(record);
    if (at >= 0) instance.queue.splice(at, 1);
    instance.fake.scheduled = instance.queue.length;
  }

  /** Makes the record a request in the fake's data, so the daemon reads it. */
  private request(record: AnalysisRecord): void {
    this.mass.addRequests(record.system, 1, record.dueAt);
    this.groups.set(record, this.mass.requestGroups[this.mass.requestGroups.length - 1]!);
    this.pending.push(record);
  }

  private unrequest(record: AnalysisRecord): void {
    const group = this.groups.get(record);
    this.groups.delete(record);
    const at = group === undefined ? -1 : this.mass.requestGroups.indexOf(group);
    if (at >= 0) this.mass.requestGroups.splice(at, 1);
    const p = this.pending.indexOf(record);
    if (p >= 0) this.pending.splice(p, 1);
  }

  private tick(): void {
    if (this.stopped) return;
    try {
      this.schedule();
    } finally {
      // As mass_scheduler.py: schedule, then sleep the interval, so runs drift by their run time.
      this.timer = setTimeout(() => this.tick(), (this.opts.schedulerDriftMs ?? 0) + this.opts.schedulerIntervalMs);
    }
  }
}

export function attachWorkCycle(mass: FakeMass, apiKey: string, opts: WorkCycleOptions): WorkCycle {
  return new WorkCycle(mass, apiKey, opts);
}
