// Round cost against the MASS stand-in: for each dialect and backlog, one fresh child process per
// reader (MassClient, then the naive reader), one after the other so they never share the CPU.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startFakeMass, type FakeDialect, type FakeMass } from '../test/fakes/mass-server';
import type { ChildInput, ChildOutput } from './round-child';
import { listSizes, populate, SYSTEMS, type ExpectedDemand } from './scenario';

export const API_KEY = 'bench-key-not-secret';

export interface Measured {
  /** requests of each measured round */
  requests: number[];
  /** wall time of each measured round, ms */
  wallMs: number[];
  /** max RSS of the child process over its whole life, bytes */
  peakRss: number;
  /** peak RSS minus RSS just before the measured rounds (after warm-up and a GC), bytes */
  rssGrowth: number;
  /** heap in use after a full GC, after the rounds minus before them: what the reader kept, bytes */
  heapKept: number;
  /** CPU time of the reader's process over all measured rounds, ms */
  cpuMs: number;
  /** CPU time of the MASS stand-in (this process) while the reader ran, ms */
  serverCpuMs: number;
  /** most requests the server had in flight at once while this reader ran */
  maxInFlight: number;
  /** requests the server saw, for a cross-check with the reader's own count */
  serverRequests: number;
  /** whether every system read what the fake was given */
  readingsMatch: boolean;
  error?: string;
}

export interface CaseResult {
  dialect: FakeDialect;
  backlog: number;
  sizes: ReturnType<typeof listSizes>;
  perPage: number;
  client: Measured;
  naive: Measured;
}

export interface MassBench {
  cases: CaseResult[];
  /** round-trip times of single requests with a tiny answer, one at a time, against the stand-in (ms) */
  floorMs: number[];
}

export interface MassBenchOptions {
  latencyMs: number;
  pageConcurrency: number;
  backlogs: number[];
  dialects: FakeDialect[];
  log: (line: string) => void;
}

const CHILD = join(__dirname, 'round-child.ts');
const PER_PAGE = 100;

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function runChild(input: ChildInput): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, JSON.stringify(input)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as ChildOutput);
      } catch {
        reject(new Error(`measurement child exited with ${code}: ${stderr.trim() || stdout.trim() || 'no output'}`));
      }
    });
  });
}

function matches(readings: ChildOutput['readings'], expected: Map<string, ExpectedDemand>): boolean {
  for (const [system, want] of expected) {
    const got = readings[system];
    if (!got) return false;
    if (
      got.due !== want.due ||
      got.notDue !== want.notDue ||
      got.scheduledOnline !== want.scheduledOnline ||
      got.stuckOffline !== want.stuckOffline
    ) {
      return false;
    }
  }
  return true;
}

async function measure(
  mass: FakeMass,
  reader: ChildInput['reader'],
  base: Omit<ChildInput, 'reader' | 'maxRounds' | 'budgetMs'>,
  expected: Map<string, ExpectedDemand>,
): Promise<Measured> {
  mass.clearLog();
  // Cheap rounds are repeated (median of up to 5) so the flatness check is not one noisy sample.
  const cpu = process.cpuUsage();
  const out = await runChild({ ...base, reader, maxRounds: 5, budgetMs: 1500 });
  const serverCpu = process.cpuUsage(cpu);
  return {
    requests: out.requests,
    wallMs: out.wallMs,
    peakRss: out.maxRss,
    rssGrowth: Math.max(0, out.maxRss - out.rssBefore),
    heapKept: out.heapAfter - out.heapBefore,
    cpuMs: out.cpuMs,
    serverCpuMs: (serverCpu.user + serverCpu.system) / 1000,
    maxInFlight: mass.maxInFlight,
    serverRequests: mass.requests.length,
    readingsMatch: out.error === undefined && matches(out.readings, expected),
    ...(out.error !== undefined && { error: out.error }),
  };
}

/** What one request costs at the stand-in's configured latency when the answer is tiny. */
async function measureFloor(opts: MassBenchOptions, now: number): Promise<number[]> {
  const mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY, latencyMs: opts.latencyMs, now: () => now });
  try {
    const out = await runChild({
      reader: 'probe',
      dialect: '0.2',
      baseUrl: mass.baseUrl,
      warmupUrl: mass.baseUrl,
      apiKey: API_KEY,
      now,
      systems: [],
      pageConcurrency: 1,
      maxRounds: 100,
      budgetMs: 0,
    });
    if (out.error !== undefined) throw new Error(`probe: ${out.error}`);
    return out.wallMs;
  } finally {
    await mass.close();
  }
}

export async function runMassBench(opts: MassBenchOptions): Promise<MassBench> {
  const now = Date.now();
  const results: CaseResult[] = [];
  opts.log('  one request at a time with a tiny answer, to time the stand-in itself ...');
  const floorMs = await measureFloor(opts, now);
  for (const dialect of opts.dialects) {
    const warmup = await startFakeMass({ dialect, apiKey: API_KEY, perPage: PER_PAGE, now: () => now });
    populate(warmup, 1_000);
    try {
      for (const backlog of opts.backlogs) {
        const mass = await startFakeMass({
          dialect,
          apiKey: API_KEY,
          latencyMs: opts.latencyMs,
          perPage: PER_PAGE,
          now: () => now,
        });
        try {
          const expected = populate(mass, backlog);
          const base = {
            dialect,
            baseUrl: mass.baseUrl,
            warmupUrl: warmup.baseUrl,
            apiKey: API_KEY,
            now,
            systems: SYSTEMS,
            pageConcurrency: opts.pageConcurrency,
          };
          opts.log(`  ${dialect.padEnd(6)} backlog ${backlog.toLocaleString('en-US').padStart(7)}: MassClient ...`);
          const client = await measure(mass, 'client', base, expected);
          opts.log(`  ${dialect.padEnd(6)} backlog ${backlog.toLocaleString('en-US').padStart(7)}: naive reader ...`);
          const naive = await measure(mass, 'naive', base, expected);
          results.push({ dialect, backlog, sizes: listSizes(mass), perPage: PER_PAGE, client, naive });
        } finally {
          await mass.close();
        }
      }
    } finally {
      await warmup.close();
    }
  }
  return { cases: results, floorMs };
}
