// `npm run mass-standin`: the project's MASS API stand-in on its own, to try the daemon by hand
// without a MASS server. Demand is changed by typing `SYSTEM DUE [NOT_DUE]` lines.
//
//   npm run mass-standin -- --api-key KEY [--port 8000] [--dialect 0.2|legacy] [--system NAME=DUE]...
import { createInterface } from 'node:readline';
import { startFakeMass, type FakeDialect } from '../test/fakes/mass-server';
import { runWorkCycleStandin } from './standin-work-cycle';

const USAGE = `usage: npm run mass-standin -- --api-key KEY [--port 8000] [--dialect 0.2|legacy] [--system NAME=DUE]...
Then type lines "SYSTEM DUE [NOT_DUE]" to set a system's demand (a new name adds the system), "quit" to stop.`;

interface Args {
  apiKey: string;
  port: number;
  dialect: FakeDialect;
  systems: [string, number][];
}

function parse(argv: string[]): Args | string {
  let apiKey: string | undefined;
  let port = 8000;
  let dialect: FakeDialect = '0.2';
  const systems: [string, number][] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--api-key') apiKey = value();
    else if (flag === '--port') port = Number(value());
    else if (flag === '--dialect') dialect = value() as FakeDialect;
    else if (flag === '--system') {
      const spec = value() ?? '';
      const m = /^([^=\s]+)(?:=(\d+))?$/.exec(spec);
      if (!m) return `--system takes NAME or NAME=DUE, not ${JSON.stringify(spec)}`;
      systems.push([m[1]!, Number(m[2] ?? 0)]);
    } else if (flag === '-h' || flag === '--help') return USAGE;
    else return `unknown argument ${JSON.stringify(argv[i])}\n${USAGE}`;
  }
  if (!apiKey) return `--api-key is required: the key the daemon must send (its API_KEY)\n${USAGE}`;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be a port number`;
  if (dialect !== '0.2' && dialect !== 'legacy') return `--dialect must be 0.2 or legacy`;
  return { apiKey, port, dialect, systems };
}

async function main(): Promise<number> {
  // A write into a closed pipe or terminal must not end the stand-in before it has closed in order.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  // The twin's work cycle (registration, worker polls, reports, scheduler): scripts/standin-work-cycle.ts.
  if (process.argv.includes('--work-cycle')) return runWorkCycleStandin(process.argv.slice(2));
  const args = parse(process.argv.slice(2));
  if (typeof args === 'string') {
    console.error(args);
    return args === USAGE ? 0 : 2;
  }
  const mass = await startFakeMass({ dialect: args.dialect, apiKey: args.apiKey, port: args.port });
  const known = new Set<string>();
  const set = (system: string, due: number, notDue = 0) => {
    if (!known.has(system)) {
      mass.addSystem(system);
      known.add(system);
    }
    mass.setDemand(system, { due, notDue });
    console.log(`${system}: ${due} due, ${notDue} not yet due`);
  };
  for (const [system, due] of args.systems) set(system, due);
  console.log(`MASS stand-in (${args.dialect}) at ${mass.baseUrl}`);
  console.log(`Run the daemon with: API_KEY=<your key> MASS_SERVER_ADDRESS=${mass.baseUrl} node dist/autoscaler.js`);
  console.log('Type "SYSTEM DUE [NOT_DUE]" to change demand, "quit" to stop.');

  const input = createInterface({ input: process.stdin });
  const stop = async () => {
    input.close();
    await mass.close();
  };
  // Ctrl-C, SIGTERM and SIGHUP (a closed terminal, `tmux kill-session`) close the server in order.
  // The closing line goes to stderr: under `| tee log` stdout's reader may be gone by then.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: closing the MASS stand-in at ${mass.baseUrl}\n`);
    void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let quit = false;
  for await (const line of input) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    if (words[0] === 'quit' || words[0] === 'exit') {
      quit = true;
      break;
    }
    const [system, due, notDue] = words;
    if (system === undefined || !/^\d+$/.test(due ?? '') || (notDue !== undefined && !/^\d+$/.test(notDue))) {
      console.log('type: SYSTEM DUE [NOT_DUE]   (whole numbers), or quit');
      continue;
    }
    set(system, Number(due), notDue === undefined ? 0 : Number(notDue));
  }
  if (!quit) {
    // Input ended (e.g. started in the background): go on serving until a signal.
    console.log('input closed; still serving until Ctrl-C or SIGTERM');
    await new Promise<never>(() => {});
  }
  await stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`mass-standin: ${(error as Error).message}`);
    process.exit(1);
  },
);
