// `npm run demo`: a single-node swarm, the project's MASS stand-in with a demand that changes,
// one demo analysis service labelled as in compose.example.yml, and the autoscaler itself — and
// a live view of the replicas following the demand. Ctrl-C, SIGTERM or SIGHUP (a closed terminal,
// a lost SSH session, `tmux kill-session`) removes everything it created.
//
//   npm run demo                  run until Ctrl-C
//   npm run demo -- --duration 60 stop by itself after 60 s
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startFakeMass } from '../test/fakes/mass-server';

const root = join(__dirname, '..');
const IMAGE = 'mass-autoscaler-test:busybox';
const SYSTEM = 'demo-ssdeep';
const SERVICE = `mass-demo-${randomBytes(3).toString('hex')}`;

/** Demand over time (seconds → due requests): a rise, a plateau, a burst, a quiet spell. */
const PLAN: [number, number][] = [
  [0, 2],
  [15, 5],
  [35, 9],
  [60, 14],
  [75, 6],
  [100, 1],
  [130, 0],
  [150, 4],
];
const CYCLE = 170;

function demandAt(t: number): number {
  const s = t % CYCLE;
  let value = 0;
  for (const [from, v] of PLAN) if (s >= from) value = v;
  return value;
}

/** The com.mass.* labels of compose.example.yml, with faster timings so the demo moves. */
function demoLabels(): Record<string, string> {
  const text = readFileSync(join(root, 'compose.example.yml'), 'utf8');
  const labels: Record<string, string> = {};
  for (const m of text.matchAll(/^\s+(com\.mass\.[a-z_]+):\s*"([^"]*)"/gm)) labels[m[1]!] = m[2]!;
  return {
    ...labels,
    'com.mass.anal_system': SYSTEM,
    'com.mass.min_inst': '1',
    'com.mass.max_inst': '12',
    'com.mass.start_demand': '1',
    'com.mass.min_schedule_interval': '2',
    'com.mass.max_schedule_interval': '5',
    'com.mass.scale_down_delay': '15',
  };
}

function parseDuration(argv: string[]): number | null {
  const i = argv.indexOf('--duration');
  if (i < 0) return null;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) {
    console.error('--duration takes a number of seconds');
    process.exit(2);
  }
  return n;
}

// The live view goes to stdout, which may be a pipe (`npm run demo | tee log`) whose reader is
// gone by the time the demo ends (Ctrl-C reaches tee too), or a terminal that was closed. A
// write error there must not kill the demo before it has cleaned up: from then on the view is
// dropped. What the cleanup says goes to stderr, which stays on the terminal under `| tee`.
let stdoutGone = false;
const say = (line: string) => {
  if (!stdoutGone) process.stdout.write(`${line}\n`);
};
const note = (line: string) => process.stderr.write(`${line}\n`);

/** Columns of the terminal; 80 when the output is not a terminal. */
function width(): number {
  return process.stdout.isTTY && process.stdout.columns ? Math.max(40, process.stdout.columns) : 80;
}

/** `text` broken at spaces into lines of at most `max` characters; lines after the first start with `indent`. */
export function wrap(text: string, max: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    const start = lines.length === 0 ? '' : indent;
    if (line === '') line = `${start}${word}`;
    else if (line.length + 1 + word.length <= max) line = `${line} ${word}`;
    else {
      lines.push(line);
      line = `${indent}${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => (l.length > max ? `${l.slice(0, max - 1)}…` : l));
}

const sayWrapped = (text: string) => wrap(text, width() - 1).forEach((l) => say(l));

const BAR = 12; // max_inst of the demo service

/** The header of the live view, with the same column widths as `row`. */
export const HEADER = `${'time'.padStart(6)} ${'due'.padStart(4)} ${'smoothed'.padStart(8)}  ${'replicas'.padEnd(5 + 1 + BAR)} decision (when made)`;

/** One row of the view, at most `cols - 1` wide; a decision made since the last row at its end, or below it. */
export function row(
  cols: number,
  r: { t: number; due: number; smoothed: number | null; desired: number; running: number; decision: string | null },
): string[] {
  const running = Math.min(r.running, BAR);
  const bar = '█'.repeat(running) + '░'.repeat(Math.max(0, Math.min(r.desired, BAR) - running));
  const smoothed = r.smoothed === null ? '-' : r.smoothed.toFixed(1);
  const max = cols - 1;
  const counts =
    `${`${r.t.toFixed(0)}s`.padStart(6)} ${String(r.due).padStart(4)} ${smoothed.padStart(8)}  ` +
    `${`${r.desired}/${r.running}`.padStart(5)}`;
  // the bar only where it fits
  const fixed = (counts.length + 1 + BAR <= max ? `${counts} ${bar.padEnd(BAR)}` : counts).slice(0, max);
  if (r.decision === null) return [fixed.trimEnd()];
  if (fixed.length + 1 + r.decision.length <= max) return [`${fixed} ${r.decision}`];
  return [
    fixed.trimEnd(),
    ...wrap(`${' '.repeat(7)}└ ${r.decision}`.trimStart(), max - 7, '  ').map((l) => `${' '.repeat(7)}${l}`),
  ];
}

async function main(): Promise<void> {
  process.stdout.on('error', () => (stdoutGone = true));
  process.stderr.on('error', () => undefined);
  const duration = parseDuration(process.argv.slice(2));
  const docker = new Docker();
  let mass: Awaited<ReturnType<typeof startFakeMass>> | null = null;
  let created = false;
  let autoscaler: ChildProcess | null = null;
  let ticker: NodeJS.Timeout | undefined = undefined;

  let stopping = false;
  const cleanup = async (why: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    note(`\n${why}: stopping the autoscaler, removing ${SERVICE}, closing the MASS stand-in...`);
    let code = 0;
    try {
      const child = autoscaler;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (created)
        await docker
          .getService(SERVICE)
          .remove()
          .catch((error: { statusCode?: number; message?: string }) => {
            if (error.statusCode !== 404) throw error;
          });
      await mass?.close();
      note('Everything the demo created is gone.');
    } catch (error) {
      note(`could not clean up everything: ${(error as Error).message}; check \`docker service ls\` for ${SERVICE}`);
      code = 1;
    }
    process.exit(code);
  };
  // Registered before anything is made, so whatever ends the demo removes what exists by then.
  process.on('SIGINT', () => void cleanup('Ctrl-C'));
  process.on('SIGTERM', () => void cleanup('SIGTERM'));
  process.on('SIGHUP', () => void cleanup('SIGHUP (the terminal was closed)'));

  say('Setting up Docker (engine, single-node swarm, local image) where missing...');
  const setup = spawnSync('bash', [join(root, 'scripts', 'setup-docker.sh')], { stdio: 'inherit' });
  if (stopping) return;
  if (setup.status !== 0) {
    note('Docker could not be set up; see the messages above (as root on Debian it installs docker.io).');
    process.exit(1);
  }

  const apiKey = randomBytes(16).toString('hex');
  mass = await startFakeMass({ dialect: '0.2', apiKey });
  mass.addSystem(SYSTEM);
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  mass.setDemand(SYSTEM, { due: demandAt(0) });
  if (stopping) return;

  const labels = demoLabels();
  created = true; // from here on cleanup removes it (a 404 if the create did not get through)
  await docker.createService({
    Name: SERVICE,
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: IMAGE, StopGracePeriod: 1_000_000_000 } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  if (stopping) return;
  say(`Created service ${SERVICE}`);
  say('with the labels of compose.example.yml (timings shortened for the demo):');
  for (const [k, v] of Object.entries(labels)) say(`  ${k}=${v}`);

  const child = spawn(process.execPath, [join(root, 'dist', 'autoscaler.js')], {
    env: {
      ...process.env,
      API_KEY: apiKey,
      MASS_SERVER_ADDRESS: mass.baseUrl,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      DRY_RUN: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  autoscaler = child;
  let decision: string | null = null;
  let smoothed: number | null = null;
  let port = 0;
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const entry = JSON.parse(line) as {
          msg?: string;
          explanation?: string;
          service?: string;
          port?: number;
          level?: number;
          action?: string;
          smoothed?: number;
        };
        if (typeof entry.port === 'number') port = entry.port;
        // A decision line: fixed message, the decision as fields, its sentence in `explanation`.
        if (entry.service === SERVICE && entry.action !== undefined && entry.explanation) {
          decision = entry.explanation;
          if (typeof entry.smoothed === 'number') smoothed = entry.smoothed;
        } else if ((entry.level ?? 0) >= 40) sayWrapped(`autoscaler: ${entry.explanation ?? entry.msg}`);
      } catch {
        say(line);
      }
    }
  });
  child.on('exit', (code) => {
    if (!stopping) void cleanup(`the autoscaler exited (${code})`);
  });

  say('');
  sayWrapped(
    'Demand is set on the MASS stand-in; the autoscaler reads it and scales the service. Ctrl-C ends the demo.',
  );
  sayWrapped(
    'due: requests due on the stand-in now. smoothed: the demand the autoscaler decided on. ' +
      'replicas: desired/running.',
  );
  say('');
  say(HEADER.slice(0, width() - 1));
  ticker = setInterval(() => {
    void (async () => {
      const t = elapsed();
      const due = demandAt(t);
      mass!.setDemand(SYSTEM, { due });
      const info = (await docker
        .getService(SERVICE)
        .inspect()
        .catch(() => null)) as { Spec?: { Mode?: { Replicated?: { Replicas?: number } } } } | null;
      const desired = info?.Spec?.Mode?.Replicated?.Replicas ?? 0;
      const tasks = (await docker
        .listTasks({ filters: { service: [SERVICE], 'desired-state': ['running'] } })
        .catch(() => [])) as { Status?: { State?: string } }[];
      const running = tasks.filter((x) => x.Status?.State === 'running').length;
      if (stopping) return;
      for (const line of row(width(), { t, due, smoothed, desired, running, decision })) say(line);
      decision = null; // shown once, on the row after it was made
      if (duration !== null && t >= duration) await cleanup(`${duration} s are over`);
    })();
  }, 2000);
  setTimeout(() => {
    if (!port || stopping) return;
    say(`(metrics: http://127.0.0.1:${port}/metrics`);
    say(` status: node dist/autoscaler.js status --url http://127.0.0.1:${port})`);
  }, 3000);
}

if (require.main === module)
  main().catch((error: unknown) => {
    note(`demo failed: ${(error as Error).message}`);
    process.exit(1);
  });
