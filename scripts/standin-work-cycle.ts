// `npm run mass-standin -- --work-cycle ...`: the stand-in with MASS's work cycle
// (test/fakes/work-cycle.ts), so real workers (test/fakes/worker.sh) can register, poll and report.
// Arrivals come from a trace (`--trace FILE --system NAME`) and/or typed lines
// `arrive SYSTEM N [OFFSET_S...]` (one request per offset, the later ones not yet due); `status`
// prints the counts; `quit` stops.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseTrace } from '../src/sim/trace';
import { startFakeMass, type FakeDialect } from '../test/fakes/mass-server';
import { attachWorkCycle } from '../test/fakes/work-cycle';

export const WORK_CYCLE_USAGE = `usage: npm run mass-standin -- --work-cycle --api-key KEY [--admin-key KEY] [--port 8000]
         [--dialect 0.2|legacy] [--time-scale F] [--system NAME]... [--trace FILE --system NAME]
  --time-scale F   divides the scheduler interval (30 s), its drift (1 s), the online window (600 s)
                   and the trace's times by F                                      (default 1)
Then type "arrive SYSTEM N [OFFSET_S...]", "status" or "quit".`;

export async function runWorkCycleStandin(argv: readonly string[]): Promise<number> {
  let apiKey: string | undefined;
  let adminKey: string | undefined;
  let port = 8000;
  let dialect: FakeDialect = '0.2';
  let scale = 1;
  let tracePath: string | undefined;
  const systems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--work-cycle') continue;
    else if (flag === '--api-key') apiKey = value();
    else if (flag === '--admin-key') adminKey = value();
    else if (flag === '--port') port = Number(value());
    else if (flag === '--dialect') dialect = value() as FakeDialect;
    else if (flag === '--time-scale') scale = Number(value());
    else if (flag === '--trace') tracePath = value();
    else if (flag === '--system') systems.push(value());
    else if (flag === '-h' || flag === '--help') {
      console.log(WORK_CYCLE_USAGE);
      return 0;
    } else {
      console.error(`unknown argument ${JSON.stringify(argv[i])}\n${WORK_CYCLE_USAGE}`);
      return 2;
    }
  }
  const fail = (problem: string): number => {
    console.error(`mass-standin: ${problem}\n${WORK_CYCLE_USAGE}`);
    return 2;
  };
  if (!apiKey) return fail('--api-key is required');
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail('--port must be a port number');
  if (dialect !== '0.2' && dialect !== 'legacy') return fail('--dialect must be 0.2 or legacy');
  if (!(scale > 0)) return fail('--time-scale must be a number greater than 0');
  if (systems.some((s) => !/^[\w.-]+$/.test(s))) return fail('--system takes a name of letters, digits, _ . -');
  let trace: { t: number; arrivals: number }[] = [];
  if (tracePath !== undefined) {
    if (systems.length === 0) return fail('--trace needs --system NAME: the system its requests are for');
    let text: string;
    try {
      text = readFileSync(tracePath, 'utf8');
    } catch {
      return fail(`cannot read the trace file ${JSON.stringify(tracePath)}`);
    }
    const parsed = parseTrace(text);
    if (!parsed.ok) return fail(`${tracePath} line ${parsed.line}: ${parsed.problem}`);
    trace = parsed.points;
  }

  const mass = await startFakeMass({ dialect, apiKey, port });
  const cycle = attachWorkCycle(mass, apiKey, {
    schedulerIntervalMs: 30_000 / scale,
    schedulerDriftMs: 1000 / scale,
    onlineWindowMs: 600_000 / scale,
    ...(adminKey === undefined ? {} : { adminKey }),
  });
  for (const s of systems) mass.addSystem(s);
  console.log(`MASS stand-in with the work cycle (${dialect}, time scale ${scale}) at ${mass.baseUrl}`);
  console.log(`Run the daemon with: API_KEY=<your key> MASS_SERVER_ADDRESS=${mass.baseUrl} node dist/autoscaler.js`);
  const t0 = Date.now();
  const timers = trace.map((p) =>
    setTimeout(
      () => {
        cycle.arrive(systems[0]!, p.arrivals);
      },
      (p.t * 1000) / scale,
    ),
  );
  const status = () => {
    const t = cycle.totals();
    console.log(
      `t=${((Date.now() - t0) / 1000).toFixed(1)}s arrived ${t.arrived}, waiting ${t.waiting}, scheduled ${t.scheduled}, ` +
        `done ${t.completed}, aborted ${t.aborted}, stuck ${t.stuck}, instances ${t.instances} (${t.exitedInstances} exited)`,
    );
  };
  const input = createInterface({ input: process.stdin });
  const stop = async () => {
    for (const t of timers) clearTimeout(t);
    input.close();
    cycle.stop();
    await mass.close();
  };
  // Ctrl-C, SIGTERM and a closed terminal (SIGHUP) all close the stand-in in order.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void stop().then(() => process.exit(0)));
  }
  for await (const line of input) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    if (words[0] === 'quit' || words[0] === 'exit') break;
    if (words[0] === 'status') {
      status();
      continue;
    }
    const [cmd, system, n, ...offsets] = words;
    if (
      cmd !== 'arrive' ||
      system === undefined ||
      !/^\d+$/.test(n ?? '') ||
      offsets.some((o) => !/^\d+(\.\d+)?$/.test(o))
    ) {
      console.log('type: arrive SYSTEM N [OFFSET_S...], status, or quit');
      continue;
    }
    const ms = offsets.length === 0 ? [0] : offsets.map((o) => (Number(o) * 1000) / scale);
    cycle.arrive(system, Number(n), ms);
    console.log(`${system}: ${Number(n) * ms.length} requests (${n} × offsets ${offsets.join(', ') || '0'})`);
  }
  await stop();
  return 0;
}
