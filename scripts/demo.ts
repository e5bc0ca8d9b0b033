// `npm run demo`: a single-node swarm, the project's MASS stand-in with a demand that changes,
// one demo analysis service labelled as in compose.example.yml, and the autoscaler itself — and
// a live view of the replicas following the demand. Ctrl-C removes everything it created.
//
//   npm run demo                  run until Ctrl-C
//   npm run demo -- --duration 60 stop by itself after 60 s
import { spawn, spawnSync } from 'node:child_process';
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

async function main(): Promise<void> {
  const duration = parseDuration(process.argv.slice(2));
  console.log('Setting up Docker (engine, single-node swarm, local image) where missing...');
  const setup = spawnSync('bash', [join(root, 'scripts', 'setup-docker.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) {
    console.error('Docker could not be set up; see the messages above (as root on Debian it installs docker.io).');
    process.exit(1);
  }

  const docker = new Docker();
  const apiKey = randomBytes(16).toString('hex');
  const mass = await startFakeMass({ dialect: '0.2', apiKey });
  mass.addSystem(SYSTEM);
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  mass.setDemand(SYSTEM, { due: demandAt(0) });

  const labels = demoLabels();
  await docker.createService({
    Name: SERVICE,
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: IMAGE, StopGracePeriod: 1_000_000_000 } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  console.log(`Created service ${SERVICE} with the labels of compose.example.yml (timings shortened for the demo):`);
  for (const [k, v] of Object.entries(labels)) console.log(`  ${k}=${v}`);

  const autoscaler = spawn(process.execPath, [join(root, 'dist', 'autoscaler.js')], {
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
  let lastReason = '';
  let port = 0;
  let buffer = '';
  autoscaler.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const entry = JSON.parse(line) as { msg?: string; service?: string; port?: number; level?: number };
        if (typeof entry.port === 'number') port = entry.port;
        if (entry.service === SERVICE && entry.msg) lastReason = entry.msg;
        else if ((entry.level ?? 0) >= 40) console.log(`autoscaler: ${entry.msg}`);
      } catch {
        console.log(line);
      }
    }
  });

  let stopping = false;
  const cleanup = async (why: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    console.log(`\n${why}: stopping the autoscaler, removing ${SERVICE}, closing the MASS stand-in...`);
    autoscaler.kill('SIGTERM');
    await new Promise((resolve) => (autoscaler.exitCode !== null ? resolve(null) : autoscaler.once('exit', resolve)));
    await docker
      .getService(SERVICE)
      .remove()
      .catch(() => undefined);
    await mass.close();
    console.log('Everything the demo created is gone.');
    process.exit(0);
  };
  process.on('SIGINT', () => void cleanup('Ctrl-C'));
  process.on('SIGTERM', () => void cleanup('SIGTERM'));
  autoscaler.on('exit', (code) => {
    if (!stopping) void cleanup(`the autoscaler exited (${code})`);
  });

  console.log(
    '\nDemand is set on the MASS stand-in; the autoscaler reads it and scales the service. Ctrl-C ends the demo.\n',
  );
  console.log('  time  demand  replicas (desired/running)   last decision');
  const ticker = setInterval(() => {
    void (async () => {
      const t = elapsed();
      const demand = demandAt(t);
      mass.setDemand(SYSTEM, { due: demand });
      const info = (await docker
        .getService(SERVICE)
        .inspect()
        .catch(() => null)) as { Spec?: { Mode?: { Replicated?: { Replicas?: number } } } } | null;
      const desired = info?.Spec?.Mode?.Replicated?.Replicas ?? 0;
      const tasks = (await docker
        .listTasks({ filters: { service: [SERVICE], 'desired-state': ['running'] } })
        .catch(() => [])) as { Status?: { State?: string } }[];
      const running = tasks.filter((x) => x.Status?.State === 'running').length;
      const bar = '█'.repeat(running) + '░'.repeat(Math.max(0, desired - running));
      console.log(
        `${t.toFixed(0).padStart(5)}s  ${String(demand).padStart(6)}  ${String(desired).padStart(3)}/${String(running).padEnd(3)} ${bar.padEnd(20)}  ${lastReason}`,
      );
      if (duration !== null && t >= duration) await cleanup(`${duration} s are over`);
    })();
  }, 2000);
  setTimeout(
    () =>
      port &&
      console.log(
        `(metrics: http://127.0.0.1:${port}/metrics — status: node dist/autoscaler.js status --url http://127.0.0.1:${port})`,
      ),
    3000,
  );
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exit(1);
});
