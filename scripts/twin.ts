// `npm run twin`: replays a demand trace through the MASS twin — the stand-in MASS with its real
// work cycle (test/fakes/work-cycle.ts), worker containers (test/fakes/worker.sh) as the replicas
// of real Swarm services, and the real daemon (dist/autoscaler.js) scaling them — and compares the
// outcome with the simulator's prediction for the same trace, labels and model settings.
//
//   npm run twin -- --trace FILE --labels "k=v,..." [--labels ...] --out DIR [--time-scale F] [options]
//
// Every duration is divided by the time scale (trace times, service time, scheduler interval and
// drift, the online window, the workers' sleep, and every label that is a duration: the intervals,
// scale_down_delay and the work policy's target_wait, service_time, startup_time, longest_hold);
// container start-up is real. Figures in summary.json are in trace seconds (the twin's × the scale).
// It uses the local Docker Engine: on a shared machine run it under the Docker lock.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { LABEL_NAMES, SYSTEM_LABEL } from '../src/labels';
import { POLICY_FIELDS, type Policy, type PolicyField } from '../src/core/policy';
import { ARRIVAL_TIME_CONSTANT_S, SERVICE_TIME_PRIOR_S } from '../src/core/work';
import {
  MODEL_NUMBERS,
  parseOptions,
  readInputs,
  type LabelSet,
  type NumberRule,
  type OptionTable,
} from '../src/sim/args';
import { DEFAULT_OPTIONS, percentile, type SimOptions, type Summary } from '../src/sim/model';
import { RUN_FIGURES, simulateRuns, type RunFigure } from '../src/sim/runs';
import { startFakeMass, type FakeMass } from '../test/fakes/mass-server';
import { attachWorkCycle, type AnalysisRecord, type WorkCycle } from '../test/fakes/work-cycle';

const ROOT = join(__dirname, '..');
const ENTRY = join(ROOT, 'dist', 'autoscaler.js');
const WORKER = join(ROOT, 'test', 'fakes', 'worker.sh');
const IMAGE = process.env.TEST_IMAGE ?? 'mass-autoscaler-test:busybox';
const TWIN_LABEL = 'com.mass.twin';

export const USAGE = `usage: npm run twin -- --trace FILE --labels "k=v,..." [--labels ...] --out DIR [options]
  --trace FILE            CSV "t,arrivals" (as for simulate)                              (required)
  --labels "k=v,k=v"      com.mass.* labels of one label set ("defaults" for none); each set is
                          its own system and service, replayed side by side            (default: defaults)
  --out DIR               where summary.json, records.csv and daemon.log go               (required)
  --time-scale F          divide every duration by F (container start-up stays real)      (default 1)
  --service-time S        seconds one analysis takes                                      (default 30)
  --jitter J              each analysis takes service-time × (1 ± J), 0 ≤ J < 1            (default 0)
  --dispatch-interval S   seconds MASS's scheduler sleeps between runs                    (default 30)
  --scheduler-drift S     seconds each scheduler run takes on top                          (default 1)
  --online-window S       seconds an instance stays online after its last poll           (default 600)
  --sleep-time S          seconds an idle worker sleeps between polls                      (default 10)
  --delete-on-exit        workers delete their instance on SIGTERM (MASS 0.2 requeues its work)
  --dialect 0.2|legacy    the stand-in's MASS dialect                                     (default 0.2)
  --drain-cap S           stop at most S seconds after the last arrival                 (default 7200)
  --runs N                simulator runs (seeds × scheduler phases) for the prediction     (default 8)
  -h, --help              this text
Durations are trace seconds. Progress goes to stderr every few seconds.`;

export interface TwinArgs {
  trace: string;
  labelSets: string[];
  out: string;
  timeScale: number;
  serviceTime: number;
  jitter: number;
  dispatchInterval: number;
  schedulerDrift: number;
  onlineWindow: number;
  sleepTime: number;
  deleteOnExit: boolean;
  dialect: '0.2' | 'legacy';
  drainCap: number;
  runs: number;
}

const TWIN_NUMBERS: Record<string, { key: keyof TwinArgs; rule: NumberRule }> = {
  '--time-scale': { key: 'timeScale', rule: { whole: false, min: 0, minExclusive: true, max: 1000, what: 'a number' } },
  '--service-time': { key: 'serviceTime', rule: MODEL_NUMBERS['--service-time'] },
  '--jitter': { key: 'jitter', rule: MODEL_NUMBERS['--jitter'] },
  '--dispatch-interval': { key: 'dispatchInterval', rule: MODEL_NUMBERS['--dispatch-interval'] },
  '--scheduler-drift': { key: 'schedulerDrift', rule: MODEL_NUMBERS['--scheduler-drift'] },
  '--online-window': { key: 'onlineWindow', rule: MODEL_NUMBERS['--online-window'] },
  '--sleep-time': { key: 'sleepTime', rule: { whole: false, min: 0, minExclusive: true, max: 86_400 } },
  '--drain-cap': { key: 'drainCap', rule: { whole: false, min: 0, minExclusive: true, max: 7 * 86_400 } },
  '--runs': { key: 'runs', rule: MODEL_NUMBERS['--runs'] },
};

const TWIN_TABLE: OptionTable = {
  flags: ['--delete-on-exit'],
  texts: ['--trace', '--labels', '--out', '--dialect'],
  repeatable: ['--labels'],
  numbers: Object.fromEntries(Object.entries(TWIN_NUMBERS).map(([name, n]) => [name, n.rule])),
};

const TWIN_DEFAULTS = {
  timeScale: 1,
  serviceTime: 30,
  jitter: 0,
  dispatchInterval: 30,
  schedulerDrift: 1,
  onlineWindow: 600,
  sleepTime: 10,
  drainCap: 7200,
  runs: 8,
};

/** The twin's command line, through the parser `simulate` uses (src/sim/args.ts). */
export function parseTwinArgs(
  argv: readonly string[],
): { ok: true; args: TwinArgs } | { ok: true; help: true } | { ok: false; problem: string } {
  const parsed = parseOptions(argv, TWIN_TABLE);
  if (!parsed.ok || parsed.help) return parsed;
  const { flags, texts, numbers } = parsed.given;
  const trace = texts.get('--trace')?.[0];
  const out = texts.get('--out')?.[0];
  const dialect = texts.get('--dialect')?.[0] ?? '0.2';
  if (dialect !== '0.2' && dialect !== 'legacy') return { ok: false, problem: `--dialect must be 0.2 or legacy` };
  if (trace === undefined || trace.trim() === '') return { ok: false, problem: 'missing --trace FILE' };
  if (out === undefined || out.trim() === '') return { ok: false, problem: 'missing --out DIR' };
  const args: TwinArgs = {
    ...TWIN_DEFAULTS,
    trace,
    labelSets: texts.get('--labels') ?? [],
    out,
    deleteOnExit: flags.has('--delete-on-exit'),
    dialect,
  };
  for (const [name, value] of numbers) (args[TWIN_NUMBERS[name]!.key] as number) = value;
  return { ok: true, args };
}

/**
 * The labels that are durations, in seconds: a time-scaled replay divides each by the scale.
 * `service_time` and `longest_hold` only when they are a number (not `auto`, not `off`).
 */
export const TIME_FIELDS = [
  'minScheduleInterval',
  'maxScheduleInterval',
  'scaleDownDelay',
  'targetWait',
  'serviceTime',
  'startupTime',
  'longestHold',
] as const satisfies readonly PolicyField[];

/**
 * The labels the twin's service gets: the set's policy with every duration divided by the scale
 * (TIME_FIELDS). A value below its label's least (1 s for the intervals, `target_wait` and
 * `longest_hold`; the daemon takes at least 1 s between evaluations) is raised to it and named in
 * `notes`; the prediction uses the same effective labels. The work policy's constants are not
 * scaled (the prior service time under `service_time=auto`, the arrival rate's time constant):
 * `notes` names them in trace seconds.
 */
export function scaledLabels(
  policy: Policy,
  scale: number,
): { labels: Record<string, string>; effective: Policy; notes: string[] } {
  const notes: string[] = [];
  const effective: Policy = { ...policy };
  for (const key of TIME_FIELDS) {
    const value = policy[key];
    if (typeof value !== 'number') continue;
    const rule = POLICY_FIELDS[key];
    // A label whose least value is excluded (service_time > 0) takes 1 ms at least.
    const floor = 'minExclusive' in rule && rule.minExclusive ? 0.001 : rule.min;
    const scaled = Math.round((value / scale) * 1000) / 1000;
    effective[key] = Math.max(floor, scaled);
    if (scaled < floor)
      notes.push(`${LABEL_NAMES[key]} ${value}s / ${scale} is below ${floor}s: ${floor}s (${floor * scale}s traced)`);
  }
  // The work policy's own constants are not labels: the replay and its prediction keep them in
  // their own (scaled) time, which an unscaled deployment does not.
  if (policy.policy === 'work' && scale !== 1) {
    if (policy.serviceTime === 'auto')
      notes.push(
        `${LABEL_NAMES.serviceTime}=auto: until its first samples the daemon assumes ${SERVICE_TIME_PRIOR_S}s per analysis ` +
          `in the replay's time, ${SERVICE_TIME_PRIOR_S * scale}s traced (the prediction assumes the same)`,
      );
    notes.push(
      `${LABEL_NAMES.policy}=work: the arrival rate is averaged over ${ARRIVAL_TIME_CONSTANT_S}s in the replay's time, ` +
        `${ARRIVAL_TIME_CONSTANT_S * scale}s traced (the prediction assumes the same)`,
    );
  }
  const labels: Record<string, string> = { [SYSTEM_LABEL]: policy.system };
  for (const key of Object.keys(LABEL_NAMES) as (keyof typeof LABEL_NAMES)[])
    labels[LABEL_NAMES[key]] = String(effective[key]);
  return { labels, effective, notes };
}

/** Figures as `simulate` reports them, from the twin's records; times in trace seconds. */
export type TwinFigures = Omit<Summary, 'utilization'>;

function waitFigures(records: readonly AnalysisRecord[], scale: number) {
  const waits = records
    .filter((r) => r.endedAt !== null && r.startedAt !== null)
    .map((r) => (Math.max(0, r.startedAt! - r.dueAt) / 1000) * scale)
    .sort((a, b) => a - b);
  const round = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v * 1000) / 1000);
  return {
    meanWait: waits.length === 0 ? null : round(waits.reduce((s, w) => s + w, 0) / waits.length),
    p95Wait: round(percentile(waits, 0.95)),
    maxWait: round(waits[waits.length - 1]),
  };
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

interface SetRun {
  set: LabelSet;
  system: string;
  service: string;
  effective: Policy;
  replicas: number;
  peak: number;
  ups: number;
  downs: number;
  replicaMs: number;
}

class Fatal extends Error {}

async function main(): Promise<number> {
  const parsed = parseTwinArgs(process.argv.slice(2));
  if (!parsed.ok) {
    console.error(`twin: ${parsed.problem}`);
    console.error(USAGE);
    return 2;
  }
  if ('help' in parsed) {
    console.log(USAGE);
    return 0;
  }
  const a = parsed.args;
  const F = a.timeScale;
  const read = readInputs(a.trace, a.labelSets);
  if (!read.ok) {
    for (const p of read.problems) console.error(`twin: ${p}`);
    return read.code;
  }
  const { points, sets } = read.inputs;
  if (!existsSync(ENTRY)) {
    console.error(`twin: ${ENTRY} is missing: run npm run build first`);
    return 1;
  }
  const script = readFileSync(WORKER, 'utf8');
  mkdirSync(a.out, { recursive: true });

  const runId = `twin-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  const apiKey = randomBytes(16).toString('hex');
  const docker = new Docker();
  let mass: FakeMass | undefined;
  let cycle: WorkCycle | undefined;
  let daemon: ChildProcess | undefined;
  let cleaning: Promise<void> | undefined;
  const timers: NodeJS.Timeout[] = [];
  const log = (line: string) => console.error(`twin: ${line}`);

  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const t of timers) clearInterval(t);
      if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
        const exited = new Promise((resolve) => daemon!.once('exit', resolve));
        daemon.kill('SIGTERM');
        const timer = setTimeout(() => daemon!.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      try {
        const mine = await docker.listServices({ filters: { label: [`${TWIN_LABEL}=${runId}`] } });
        await Promise.all(
          mine.map((s) =>
            docker
              .getService(s.ID)
              .remove()
              .catch((e: { statusCode?: number }) => {
                if (e.statusCode !== 404) throw e;
              }),
          ),
        );
        if (mine.length > 0) log(`removed ${mine.length} service(s) of ${runId}`);
      } catch (error) {
        log(`could not remove the services labelled ${TWIN_LABEL}=${runId}: ${(error as Error).message}`);
      }
      cycle?.stop();
      await mass?.close();
    })());

  let signalled: NodeJS.Signals | undefined;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = signal;
      log(`${signal}: stopping and removing what the replay made`);
      void cleanup().then(() => process.exit(codes[signal]));
    });
  }

  try {
    try {
      const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
      if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable)
        throw new Fatal('the Docker Engine is not a swarm manager (run npm run setup-docker)');
      await docker.getImage(IMAGE).inspect();
    } catch (error) {
      if (error instanceof Fatal) throw error;
      throw new Fatal(`Docker is not usable: ${(error as Error).message.trim()} (run npm run setup-docker)`);
    }
    const hostNet = (await docker.listNetworks({ filters: { name: ['host'] } })).find((n) => n.Name === 'host');
    if (!hostNet) throw new Fatal('the Docker Engine has no "host" network');

    mass = await startFakeMass({ dialect: a.dialect, apiKey });
    cycle = attachWorkCycle(mass, apiKey, {
      schedulerIntervalMs: (a.dispatchInterval * 1000) / F,
      schedulerDriftMs: (a.schedulerDrift * 1000) / F,
      onlineWindowMs: (a.onlineWindow * 1000) / F,
    });
    const runs: SetRun[] = [];
    const notes: string[] = [];
    for (const set of sets) {
      const system = `${runId}-${set.id.toLowerCase()}`;
      const { labels, effective, notes: n } = scaledLabels({ ...set.policy, system }, F);
      notes.push(...n.map((x) => `${set.id}: ${x}`));
      mass.addSystem(system);
      const service = `${runId}-${set.id.toLowerCase()}`;
      await docker.createService({
        Name: service,
        Labels: { ...labels, [TWIN_LABEL]: runId },
        TaskTemplate: {
          ContainerSpec: {
            Image: IMAGE,
            Command: ['sh', '-c', script],
            Env: [
              `MASS_URL=${mass.baseUrl}`,
              `MASS_KEY=${apiKey}`,
              `SYSTEM=${system}`,
              `SERVICE_TIME=${a.serviceTime / F}`,
              `JITTER=${a.jitter}`,
              `SLEEP_TIME=${a.sleepTime / F}`,
              `DELETE_ON_EXIT=${a.deleteOnExit ? 1 : 0}`,
            ],
            StopGracePeriod: 5_000_000_000,
          },
          Networks: [{ Target: hostNet.Id }],
        },
        Mode: { Replicated: { Replicas: effective.minInst } },
      } as unknown as Docker.ServiceSpec);
      runs.push({
        set,
        system,
        service,
        effective,
        replicas: effective.minInst,
        peak: effective.minInst,
        ups: 0,
        downs: 0,
        replicaMs: 0,
      });
    }
    for (const note of notes) log(note);
    const created = Date.now();
    log(`${runs.length} service(s) created (${runId}); waiting for their workers to register and poll`);

    // t = 0 when every set's initial replicas poll: the simulator starts with them online.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const ready = runs.every(
        (r) =>
          [...cycle!.instances.values()].filter((i) => i.system === r.system && i.firstPollAt !== null).length >=
          r.effective.minInst,
      );
      if (ready) break;
      if (Date.now() > deadline)
        throw new Fatal('the workers did not register and poll within 180 s (see docker service ps)');
      if (signalled) return codes[signalled]!;
      await new Promise((r) => setTimeout(r, 100));
    }
    const polls = [...cycle.instances.values()].map((i) => i.firstPollAt! - created).sort((x, y) => x - y);
    const startupMs = polls.length === 0 ? 2000 : polls[Math.floor(polls.length / 2)]!;
    log(`workers online after ${(startupMs / 1000).toFixed(1)} s (median); starting the daemon and the replay`);

    const daemonLog = createWriteStream(join(a.out, 'daemon.log'));
    daemon = spawn(process.execPath, [ENTRY], {
      env: {
        PATH: process.env.PATH ?? '',
        API_KEY: apiKey,
        MASS_SERVER_ADDRESS: mass.baseUrl,
        MASS_DIALECT: a.dialect,
        METRICS_PORT: '0',
        DISCOVERY_INTERVAL: '1',
        // The daemon's liveness rule uses the same (scaled) online window as the stand-in.
        MASS_ONLINE_WINDOW: String(Math.max(1, a.onlineWindow / F)),
        WORKING_GRACE: String(Math.max(1, a.onlineWindow / F)),
        LOG_LEVEL: 'info',
        ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      },
      cwd: a.out,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    daemon.stdout!.pipe(daemonLog);
    daemon.stderr!.pipe(daemonLog);
    const daemonExit = new Promise<string>((resolve) =>
      daemon!.on('exit', (code, signal) => resolve(`the daemon exited (${signal ?? `code ${code}`}); see daemon.log`)),
    );

    const t0 = Date.now();
    const lastArrival = points[points.length - 1]!.t;
    const capEnd = t0 + ((lastArrival + a.drainCap) * 1000) / F;
    let nextPoint = 0;
    let lastSample = t0;
    let lastProgress = 0;
    let failure: string | undefined;
    void daemonExit.then((why) => (failure ??= why));

    const arrive = () => {
      while (nextPoint < points.length && t0 + (points[nextPoint]!.t * 1000) / F <= Date.now()) {
        const p = points[nextPoint++]!;
        if (p.arrivals > 0) for (const r of runs) cycle!.arrive(r.system, p.arrivals);
      }
    };
    timers.push(setInterval(arrive, 20));

    const ofSystem = (system: string) => {
      let waiting = 0;
      let scheduled = 0;
      let completed = 0;
      let aborted = 0;
      let stuck = 0;
      for (const rec of cycle!.records) {
        if (rec.system !== system) continue;
        aborted += rec.abortedAt.length;
        if (rec.endedAt !== null) completed += 1;
        else if (rec.stuck) stuck += 1;
        else if (rec.instance !== null) scheduled += 1;
        else waiting += 1;
      }
      return { waiting, scheduled, completed, aborted, stuck };
    };

    let end = t0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      if (signalled) return codes[signalled]!;
      if (failure) throw new Fatal(failure);
      const now = Date.now();
      try {
        const specs = await Promise.all(runs.map((r) => docker.getService(r.service).inspect()));
        for (const [i, r] of runs.entries()) {
          r.replicaMs += r.replicas * (now - lastSample);
          const n =
            (specs[i] as { Spec?: { Mode?: { Replicated?: { Replicas?: number } } } }).Spec?.Mode?.Replicated
              ?.Replicas ?? 0;
          if (n > r.replicas) r.ups += 1;
          else if (n < r.replicas) r.downs += 1;
          r.replicas = n;
          r.peak = Math.max(r.peak, n);
        }
      } catch (error) {
        throw new Fatal(`Docker failed mid-replay: ${(error as Error).message.trim()}`);
      }
      lastSample = now;
      // A worker that vanished without its exit call (killed, or restarted as a new instance).
      cycle.markSilent(Math.max(5000, (3 * a.serviceTime * (1 + a.jitter) * 1000) / F), now);
      const traceNow = ((now - t0) / 1000) * F;
      const states = runs.map((r) => ({ r, s: ofSystem(r.system) }));
      if (now - lastProgress >= 5000) {
        lastProgress = now;
        log(
          `${clock(traceNow)} of ${clock(lastArrival)} · ` +
            states
              .map(
                ({ r, s }) =>
                  `${r.set.id}: ${r.replicas} replicas, ${s.waiting} waiting, ${s.scheduled} scheduled, ${s.completed} done, ${s.aborted} aborted, ${s.stuck} stuck`,
              )
              .join(' · '),
        );
      }
      const drained =
        nextPoint >= points.length &&
        states.every(
          ({ r, s }) =>
            s.waiting === 0 &&
            s.scheduled === 0 &&
            r.replicas === (r.effective.autoscale ? r.effective.minInst : r.replicas),
        );
      if (drained || now >= capEnd) {
        end = now;
        if (!drained) log('the drain cap ended the replay before all work was done');
        break;
      }
    }

    // Failed worker tasks (a worker that could not reach the stand-in exits non-zero).
    let workerFailures = 0;
    try {
      for (const r of runs) {
        const tasks = (await docker.listTasks({ filters: { service: [r.service] } })) as {
          Status?: { State?: string };
        }[];
        workerFailures += tasks.filter((t) => t.Status?.State === 'failed' || t.Status?.State === 'rejected').length;
      }
    } catch (error) {
      throw new Fatal(`Docker failed mid-replay: ${(error as Error).message.trim()}`);
    }

    // The prediction: the simulator in the twin's own (scaled) time, with the same effective labels.
    const scaledTrace = points.map((p) => ({ t: p.t / F, arrivals: p.arrivals }));
    const untilScaled = (end - t0) / 1000;
    const model: SimOptions = {
      ...DEFAULT_OPTIONS,
      dispatchInterval: a.dispatchInterval / F,
      schedulerDrift: a.schedulerDrift / F,
      schedulerPhase: 0,
      serviceTime: a.serviceTime / F,
      jitter: a.jitter,
      startup: startupMs / 1000,
      onlineWindow: a.onlineWindow / F,
      // The daemon's WORKING_GRACE, as the twin sets it below.
      workingGrace: Math.max(1, a.onlineWindow / F),
      pollSleep: a.sleepTime / F,
      deleteOnExit: a.deleteOnExit,
      until: untilScaled,
    };
    // The scheduler's phase and period as they were in this replay, for a prediction at the same phase.
    const after = cycle.runTimes.filter((t) => t >= t0);
    const measuredPhase = after.length === 0 ? 0 : (after[0]! - t0) / 1000;
    const measuredPeriod =
      after.length < 2
        ? model.dispatchInterval + model.schedulerDrift
        : (after[after.length - 1]! - after[0]!) / 1000 / (after.length - 1);
    const samePhase: SimOptions = {
      ...model,
      schedulerPhase: measuredPhase,
      schedulerDrift: Math.max(0, measuredPeriod - model.dispatchInterval),
    };
    const out = runs.map((r) => {
      const s = ofSystem(r.system);
      const records = cycle!.records.filter((x) => x.system === r.system);
      const twin: TwinFigures = {
        replicaSeconds: Math.round((r.replicaMs / 1000) * F * 10) / 10,
        ...waitFigures(records, F),
        peakReplicas: r.peak,
        scaleActions: r.ups + r.downs,
        scaleUps: r.ups,
        scaleDowns: r.downs,
        aborted: s.aborted,
        stuck: s.stuck,
        arrived: records.length,
        completed: s.completed,
        unfinished: records.length - s.completed,
        end: Math.round(untilScaled * F * 10) / 10,
      };
      const runsResult = simulateRuns(scaledTrace, r.effective, model, a.runs);
      const predicted = {} as Record<
        RunFigure,
        { mean: number | null; sd: number | null; min: number | null; max: number | null }
      >;
      const ratio = {} as Record<RunFigure, number | null>;
      const timeFigure = (k: RunFigure) =>
        k === 'replicaSeconds' || k === 'meanWait' || k === 'p95Wait' || k === 'maxWait';
      for (const k of RUN_FIGURES) {
        const f = runsResult.figures[k];
        const m = timeFigure(k) ? F : 1;
        const scale = (v: number | null) => (v === null ? null : Math.round(v * m * 1000) / 1000);
        predicted[k] = { mean: scale(f.mean), sd: scale(f.sd), min: scale(f.min), max: scale(f.max) };
        const t = twin[k];
        const p = predicted[k].mean;
        ratio[k] = t === null || p === null || p === 0 ? null : Math.round((t / p) * 1000) / 1000;
      }
      const same = simulateRuns(scaledTrace, r.effective, samePhase, 1).first.summary;
      const atPhase = {
        schedulerPhase: Math.round(measuredPhase * F * 1000) / 1000,
        schedulerPeriod: Math.round(measuredPeriod * F * 1000) / 1000,
        replicaSeconds: Math.round(same.replicaSeconds * F),
        meanWait: same.meanWait === null ? null : Math.round(same.meanWait * F * 1000) / 1000,
        p95Wait: same.p95Wait === null ? null : Math.round(same.p95Wait * F * 1000) / 1000,
        aborted: same.aborted,
        stuck: same.stuck,
      };
      return {
        id: r.set.id,
        name: r.set.name,
        system: r.system,
        labels: r.set.labels,
        labelsOnService: scaledLabels(r.effective, 1).labels,
        twin,
        predicted,
        ratio,
        predictedAtTwinPhase: atPhase,
      };
    });

    const totals = cycle.totals();
    const summary = {
      trace: { file: a.trace, rows: points.length, arrivals: points.reduce((n, p) => n + p.arrivals, 0), lastArrival },
      timeScale: F,
      model: {
        dispatchInterval: a.dispatchInterval,
        schedulerDrift: a.schedulerDrift,
        serviceTime: a.serviceTime,
        jitter: a.jitter,
        onlineWindow: a.onlineWindow,
        sleepTime: a.sleepTime,
        deleteOnExit: a.deleteOnExit,
        dialect: a.dialect,
        startup: Math.round((startupMs / 1000) * F * 1000) / 1000,
        startupReal: startupMs / 1000,
        runs: a.runs,
      },
      notes,
      scheduler: { runs: totals.schedulerRuns, failures: totals.schedulerFailures },
      workerFailures,
      labelSets: out,
    };
    writeFileSync(join(a.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const csv = ['label_set,id,due_at,fetched_at,started_at,ended_at,aborts,stuck,requeued'];
    for (const r of runs)
      for (const x of cycle.records.filter((y) => y.system === r.system)) {
        const t = (v: number | null) => (v === null ? '' : String(Math.round(((v - t0) / 1000) * F * 1000) / 1000));
        csv.push(
          [
            r.set.id,
            x.id,
            t(x.dueAt),
            t(x.fetchedAt),
            t(x.startedAt),
            t(x.endedAt),
            x.abortedAt.length,
            x.stuck,
            x.requeued,
          ].join(','),
        );
      }
    writeFileSync(join(a.out, 'records.csv'), `${csv.join('\n')}\n`);
    const rel = (v: number | null) => (v === null ? '' : String(Math.round(((v - t0) / 1000) * F * 1000) / 1000));
    const inst = ['system,uuid,registered_at,first_poll_at,exited_at,deleted_at,left_scheduled'];
    for (const i of cycle.instances.values())
      inst.push(
        [
          i.system,
          i.uuid,
          rel(i.registeredAt),
          rel(i.firstPollAt),
          rel(i.exitedAt),
          rel(i.deletedAt),
          i.queue.length,
        ].join(','),
      );
    writeFileSync(join(a.out, 'instances.csv'), `${inst.join('\n')}\n`);

    for (const o of out) {
      const f = (v: number | null) => (v === null ? '-' : String(Math.round(v)));
      console.log(
        `${o.id} ${o.name}: twin ${f(o.twin.replicaSeconds)} replica-s, p95 wait ${f(o.twin.p95Wait)} s, ` +
          `${o.twin.completed}/${o.twin.arrived} done, ${o.twin.aborted} aborted, ${o.twin.stuck} stuck; ` +
          `simulator ${f(o.predicted.replicaSeconds.mean)} replica-s, p95 wait ${f(o.predicted.p95Wait.mean)} s ` +
          `(ratio ${o.ratio.replicaSeconds ?? '-'}, ${o.ratio.p95Wait ?? '-'})`,
      );
    }
    if (workerFailures > 0) log(`${workerFailures} worker task(s) failed (could not reach the stand-in?)`);
    console.log(`wrote summary.json, records.csv, instances.csv, daemon.log to ${a.out}`);
    return 0;
  } catch (error) {
    if (error instanceof Fatal) {
      log(error.message);
      return 1;
    }
    throw error;
  } finally {
    await cleanup();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`twin: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    },
  );
}
