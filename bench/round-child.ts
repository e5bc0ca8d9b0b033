// One measurement in a fresh process, so that peak RSS belongs to this reader and this backlog
// only: `node --expose-gc --import tsx bench/round-child.ts '<json ChildInput>'` prints one
// line of JSON (ChildOutput). The MASS stand-in runs in the parent process.
//
// The reader first does one warm-up round against a small server (JIT, connection setup, schema
// compilation: what a running daemon has long done), then the measured rounds.
import { performance } from 'node:perf_hooks';
import axios from 'axios';
import { MassClient } from '../src/mass/client';
import { NaiveReader, type NaiveDemand } from './naive-reader';

export interface ChildInput {
  /** probe: sequential requests for a tiny answer (`?count` on 0.2), to time the stand-in's floor */
  reader: 'client' | 'naive' | 'probe';
  dialect: '0.2' | 'legacy';
  baseUrl: string;
  warmupUrl: string;
  apiKey: string;
  /** the fake's clock, ms */
  now: number;
  systems: string[];
  pageConcurrency: number;
  /** measured rounds: at least 1, at most maxRounds, and no new round once budgetMs is spent */
  maxRounds: number;
  budgetMs: number;
}

export interface ChildOutput {
  requests: number[];
  wallMs: number[];
  rssBefore: number;
  maxRss: number;
  /** V8 heap in use after a full GC, before the measured rounds and after them: what a round keeps */
  heapBefore: number;
  heapAfter: number;
  /** CPU time (user + system) of this process over the measured rounds, ms */
  cpuMs: number;
  readings: Record<string, NaiveDemand>;
  error?: string;
}

interface Reader {
  stats: { requests: number };
  read(systems: string[], now: Date): Promise<Map<string, NaiveDemand>>;
}

function makeReader(input: ChildInput & { reader: 'client' | 'naive' }, baseUrl: string): Reader {
  if (input.reader === 'naive') {
    const naive = new NaiveReader(baseUrl, input.apiKey, input.dialect);
    return { stats: naive.stats, read: (systems, now) => naive.readDemand(systems, now) };
  }
  const client = new MassClient({
    baseUrl,
    apiKey: input.apiKey,
    timeoutMs: 30_000,
    pageConcurrency: input.pageConcurrency,
    dialect: input.dialect,
  });
  return {
    stats: client.stats,
    async read(systems, now) {
      const readings = await client.readDemand(systems, now);
      const out = new Map<string, NaiveDemand>();
      for (const [name, reading] of readings) {
        if (!reading.ok) throw new Error(`${name}: ${reading.error.kind}: ${reading.error.message}`);
        const d = reading.demand;
        out.set(name, {
          due: d.due,
          notDue: d.notDue ?? 0,
          scheduledOnline: d.scheduledOnline,
          stuckOffline: d.stuckOffline,
        });
      }
      return out;
    },
  };
}

/** Round-trip times of `count` sequential requests whose answer is {"count": 0}, after 20 unmeasured ones. */
async function probe(input: ChildInput, count: number): Promise<number[]> {
  const http = axios.create({
    baseURL: input.baseUrl,
    headers: { Authorization: `APIKEY ${input.apiKey}` },
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
  });
  const path = 'analysis_request/?analysis_system=000000000000000000000000&count';
  const times: number[] = [];
  for (let i = 0; i < count + 20; i += 1) {
    const t0 = performance.now();
    const res = await http.get<string>(path);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
    if (i >= 20) times.push(performance.now() - t0);
  }
  return times;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as ChildInput;
  if (input.reader === 'probe') {
    const out: ChildOutput = {
      requests: [],
      wallMs: [],
      rssBefore: 0,
      maxRss: 0,
      heapBefore: 0,
      heapAfter: 0,
      cpuMs: 0,
      readings: {},
    };
    try {
      out.wallMs = await probe(input, input.maxRounds);
      out.requests = out.wallMs.map(() => 1);
    } catch (err) {
      out.error = err instanceof Error ? err.message : String(err);
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const now = new Date(input.now);
  const out: ChildOutput = {
    requests: [],
    wallMs: [],
    rssBefore: 0,
    maxRss: 0,
    heapBefore: 0,
    heapAfter: 0,
    cpuMs: 0,
    readings: {},
  };
  try {
    const kind = { ...input, reader: input.reader as 'client' | 'naive' };
    await makeReader(kind, input.warmupUrl).read(input.systems, now);
    const reader = makeReader(kind, input.baseUrl);
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
    gc();
    out.heapBefore = process.memoryUsage().heapUsed;
    out.rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    const cpu = process.cpuUsage();
    do {
      const before = reader.stats.requests;
      const t0 = performance.now();
      const readings = await reader.read(input.systems, now);
      out.wallMs.push(performance.now() - t0);
      out.requests.push(reader.stats.requests - before);
      out.readings = Object.fromEntries(readings);
    } while (out.wallMs.length < input.maxRounds && performance.now() - started < input.budgetMs);
    const used = process.cpuUsage(cpu);
    out.cpuMs = (used.user + used.system) / 1000;
    // The last round's readings are still referenced (as a daemon would hold them): only the counts.
    gc();
    out.heapAfter = process.memoryUsage().heapUsed;
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
  }
  out.maxRss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

void main();
