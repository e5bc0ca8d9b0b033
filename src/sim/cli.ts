// `mass-autoscaler simulate`: arguments, reading the trace, printing the comparison and writing
// summary.json, steps.csv and chart.svg. The simulation itself is src/sim/model.ts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDefaults } from '../../config';
import type { Policy } from '../core/policy';
import { describeProblem, LABEL_NAMES, parseLabels, SYSTEM_LABEL, type PolicyDefaults } from '../labels';
import { formatDuration, svgChart, terminalChart, type ChartInput } from './chart';
import {
  DEFAULT_OPTIONS,
  MAX_SCHEDULED_PER_INSTANCE,
  simulateRuns,
  simulateSets,
  type RunsResult,
  type SimOptions,
  type SimResult,
  type TracePoint,
} from './model';
import { parseTrace } from './trace';

export const USAGE = `usage: mass-autoscaler simulate --trace FILE [options]
  --trace FILE            CSV with the header "t,arrivals": seconds since the start, and how many
                          analysis requests arrive then (one analysis system)          (required)
  --labels "k=v,k=v"      com.mass.* labels of one label set; the "com.mass." prefix may be left
                          out; "defaults" for none; repeat to compare sets side by side
  --out DIR               where summary.json, steps.csv, chart.svg go      (default ./simulation)
  --dispatch-interval S   seconds MASS's scheduler sleeps between runs              (default 30)
  --scheduler-drift S     seconds each scheduler run takes on top of that             (default 0)
  --scheduler-phase S     seconds from the start to the scheduler's first run         (default 0)
  --service-time S        seconds one analysis takes                                (default 30)
  --jitter J              each analysis takes service-time × (1 ± J), 0 ≤ J < 1       (default 0)
  --startup S             seconds from adding a replica until its instance is online (default 20)
  --online-window S       seconds an instance stays online after its last poll     (default 600)
  --working-grace S       the daemon's WORKING_GRACE: seconds an offline instance
                          holding work counts as working without a report        (default 600)
  --poll-sleep S          seconds an idle worker sleeps between polls; 0: it notices
                          new work at the scheduler run that assigns it               (default 0)
  --delete-on-exit        removed replicas delete their instance, so MASS 0.2 requeues
                          their work (default: it stays on the dead instance, stuck)
  --runs N                N runs over seeds × scheduler phases: mean and spread       (default 1)
  --initial-replicas N    replicas at the start, all online      (default: each set's min_inst)
  --seed N                seed for which replicas Swarm removes on scale-down        (default 1)
  --until S               stop at S seconds (default: once the work is done and the replicas
                          have settled, at most 24 h after the last arrival)
  -h, --help              this text`;

export const SIMULATED_SYSTEM = 'simulated';

export interface SimulateArgs {
  trace: string;
  labelSets: string[];
  out: string;
  options: SimOptions;
  runs: number;
}

type Parsed = { ok: true; args: SimulateArgs } | { ok: false; problem: string } | { ok: true; help: true };

interface NumberRule {
  key:
    | 'dispatchInterval'
    | 'schedulerDrift'
    | 'schedulerPhase'
    | 'serviceTime'
    | 'jitter'
    | 'startup'
    | 'onlineWindow'
    | 'workingGrace'
    | 'pollSleep'
    | 'initialReplicas'
    | 'seed'
    | 'until'
    | 'runs';
  whole: boolean;
  min: number;
  minExclusive: boolean;
  max: number;
}

const NUMBER_OPTIONS: Record<string, NumberRule> = {
  '--dispatch-interval': { key: 'dispatchInterval', whole: false, min: 0, minExclusive: true, max: 86_400 },
  '--scheduler-drift': { key: 'schedulerDrift', whole: false, min: 0, minExclusive: false, max: 86_400 },
  '--scheduler-phase': { key: 'schedulerPhase', whole: false, min: 0, minExclusive: false, max: 86_400 },
  '--service-time': { key: 'serviceTime', whole: false, min: 0, minExclusive: true, max: 86_400 },
  '--jitter': { key: 'jitter', whole: false, min: 0, minExclusive: false, max: 0.99 },
  '--online-window': { key: 'onlineWindow', whole: false, min: 0, minExclusive: true, max: 86_400 },
  '--working-grace': { key: 'workingGrace', whole: false, min: 0, minExclusive: true, max: 86_400 },
  '--poll-sleep': { key: 'pollSleep', whole: false, min: 0, minExclusive: false, max: 86_400 },
  '--runs': { key: 'runs', whole: true, min: 1, minExclusive: false, max: 1000 },
  '--startup': { key: 'startup', whole: false, min: 0, minExclusive: false, max: 86_400 },
  '--initial-replicas': { key: 'initialReplicas', whole: true, min: 0, minExclusive: false, max: 1000 },
  '--seed': { key: 'seed', whole: true, min: 0, minExclusive: false, max: 4_294_967_295 },
  '--until': { key: 'until', whole: false, min: 0, minExclusive: true, max: 366 * 86_400 },
};

/** `--name value` or `--name=value`; every problem names the option. */
export function parseSimulateArgs(argv: readonly string[]): Parsed {
  let trace: string | undefined;
  let out: string | undefined;
  const labelSets: string[] = [];
  const options: SimOptions = { ...DEFAULT_OPTIONS };
  let runs = 1;
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { ok: true, help: true };
    if (arg === '--delete-on-exit') {
      options.deleteOnExit = true;
      continue;
    }
    if (!arg.startsWith('--')) return { ok: false, problem: `unexpected argument ${JSON.stringify(arg)}` };
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name !== '--trace' && name !== '--labels' && name !== '--out' && !(name in NUMBER_OPTIONS)) {
      return { ok: false, problem: `unknown option ${JSON.stringify(name)}` };
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) return { ok: false, problem: `${name} needs a value` };
      value = next;
      i++;
    }
    if (name !== '--labels') {
      if (seen.has(name)) return { ok: false, problem: `${name} is given more than once` };
      seen.add(name);
    }
    if (name === '--trace') trace = value;
    else if (name === '--out') out = value;
    else if (name === '--labels') labelSets.push(value);
    else {
      const rule = NUMBER_OPTIONS[name]!;
      const number = parseNumber(value, rule);
      if (typeof number === 'string') return { ok: false, problem: `${name} ${JSON.stringify(value)} ${number}` };
      if (rule.key === 'runs') runs = number;
      else options[rule.key] = number;
    }
  }
  if (trace === undefined || trace.trim() === '') return { ok: false, problem: 'missing --trace FILE' };
  if (out !== undefined && out.trim() === '') return { ok: false, problem: '--out needs a folder name' };
  return { ok: true, args: { trace, labelSets, out: out ?? 'simulation', options, runs } };
}

function parseNumber(text: string, rule: NumberRule): number | string {
  const t = text.trim();
  if (rule.whole ? !/^\d+$/.test(t) : !/^(\d+(\.\d*)?|\.\d+)$/.test(t)) {
    return rule.whole ? 'is not a whole number' : 'is not a number of seconds';
  }
  const v = Number(t);
  if (rule.minExclusive ? v <= rule.min : v < rule.min)
    return `must be ${rule.minExclusive ? 'greater than' : 'at least'} ${rule.min}`;
  if (v > rule.max) return `must be at most ${rule.max}`;
  return v;
}

const PREFIX = 'com.mass.';
const KNOWN_LABELS = new Set<string>([...Object.values(LABEL_NAMES), SYSTEM_LABEL]);

export interface LabelSet {
  /** "A", "B", ... */
  id: string;
  /** the labels as given, short names: "max_inst=40, scale_down_delay=600", or "defaults" */
  name: string;
  labels: Record<string, string>;
  policy: Policy;
}

/**
 * One `--labels` value → a validated policy, through the daemon's own label parser and the
 * daemon's defaults. Problems name the label and the value.
 */
export function parseLabelSet(
  text: string,
  id: string,
  defaults: PolicyDefaults,
): { ok: true; set: LabelSet } | { ok: false; problems: string[] } {
  const labels: Record<string, string> = {};
  const problems: string[] = [];
  const pieces = text.trim() === 'defaults' ? [] : text.split(',');
  for (const piece of pieces) {
    if (piece.trim() === '') continue;
    const eq = piece.indexOf('=');
    if (eq === -1) {
      problems.push(`${JSON.stringify(piece.trim())} is not name=value`);
      continue;
    }
    const key = piece.slice(0, eq).trim();
    const label = key.startsWith(PREFIX) ? key : `${PREFIX}${key}`;
    if (!KNOWN_LABELS.has(label)) {
      problems.push(
        `unknown label ${JSON.stringify(label)} (known: ${[...KNOWN_LABELS].map((l) => l.slice(PREFIX.length)).join(', ')})`,
      );
      continue;
    }
    if (label in labels) {
      problems.push(`label ${label} is given twice`);
      continue;
    }
    labels[label] = piece.slice(eq + 1).trim();
  }
  if (problems.length > 0) return { ok: false, problems };
  const parsed = parseLabels({ [SYSTEM_LABEL]: SIMULATED_SYSTEM, ...labels }, defaults);
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map(describeProblem) };
  const entries = Object.entries(labels).map(([k, v]) => `${k.slice(PREFIX.length)}=${v}`);
  return {
    ok: true,
    set: { id, name: entries.length === 0 ? 'defaults' : entries.join(', '), labels, policy: parsed.policy },
  };
}

/** The defaults every label set starts from, as labels: "min_inst=3, max_inst=15, ...". */
export function describeDefaults(defaults: PolicyDefaults): string {
  return (Object.keys(LABEL_NAMES) as (keyof PolicyDefaults)[])
    .map((k) => `${LABEL_NAMES[k].slice(PREFIX.length)}=${defaults[k]}`)
    .join(', ');
}

export async function runSimulate(
  argv: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const parsed = parseSimulateArgs(argv);
  if (!parsed.ok) {
    err(`simulate: ${parsed.problem}`);
    for (const line of USAGE.split('\n')) err(line);
    return 2;
  }
  if ('help' in parsed) {
    for (const line of USAGE.split('\n')) out(line);
    return 0;
  }
  const args = parsed.args;

  let text: string;
  try {
    text = readFileSync(args.trace, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (code ?? String(error));
    err(`simulate: cannot read the trace file ${JSON.stringify(args.trace)}: ${why}`);
    return 2;
  }
  const trace = parseTrace(text);
  if (!trace.ok) {
    err(`simulate: ${args.trace} line ${trace.line}: ${trace.problem}`);
    return 2;
  }

  const defaultProblems: string[] = [];
  const defaults = parseDefaults({}, defaultProblems);
  if (defaults === undefined) {
    for (const p of defaultProblems) err(`simulate: bad built-in default: ${p}`);
    return 1;
  }
  const sets: LabelSet[] = [];
  let bad = false;
  const texts = args.labelSets.length === 0 ? [''] : args.labelSets;
  for (const [i, labelText] of texts.entries()) {
    const result = parseLabelSet(labelText, setId(i), defaults);
    if (result.ok) sets.push(result.set);
    else {
      bad = true;
      for (const p of result.problems) err(`simulate: --labels ${JSON.stringify(labelText)}: ${p}`);
    }
  }
  if (bad) return 2;

  const results = simulateSets(
    trace.points,
    sets.map((s) => s.policy),
    args.options,
  );
  let spreads: RunsResult[] | undefined;
  if (args.runs > 1) {
    // Every run of every set over one common span: the latest end of any drained run.
    const drained = sets.map((s) => simulateRuns(trace.points, s.policy, args.options, args.runs));
    const until = args.options.until ?? Math.max(...drained.flatMap((d) => d.runs.map((r) => r.summary.end)));
    spreads = sets.map((s) => simulateRuns(trace.points, s.policy, { ...args.options, until }, args.runs));
  }
  const report = buildReport(args, trace.points, sets, results, defaults, spreads);
  for (const line of report.lines) out(line);

  const files: [string, string][] = [
    ['summary.json', `${JSON.stringify(report.summary, null, 2)}\n`],
    ['steps.csv', stepsCsv(sets, results)],
    ['chart.svg', svgChart(report.chart)],
  ];
  try {
    mkdirSync(args.out, { recursive: true });
    for (const [name, content] of files) writeFileSync(join(args.out, name), content);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    err(`simulate: cannot write the results to ${JSON.stringify(args.out)}: ${e.code ?? e.message}`);
    return 1;
  }
  out('');
  out(`wrote ${files.map(([name]) => name).join(', ')} to ${args.out}`);
  return 0;
}

function setId(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `S${i + 1}`;
}

interface Report {
  lines: string[];
  summary: object;
  chart: ChartInput;
}

function buildReport(
  args: SimulateArgs,
  trace: readonly TracePoint[],
  sets: readonly LabelSet[],
  results: readonly SimResult[],
  defaults: PolicyDefaults,
  spreads?: readonly RunsResult[],
): Report {
  const o = args.options;
  const arrivals = trace.reduce((n, p) => n + p.arrivals, 0);
  const lastArrival = trace[trace.length - 1]!.t;
  const end = Math.max(...results.map((r) => r.summary.end));
  const model =
    `scheduler every ${o.dispatchInterval}s + ${o.schedulerDrift}s drift from ${o.schedulerPhase}s (skips replicas with more than ${MAX_SCHEDULED_PER_INSTANCE}), ` +
    `${o.serviceTime}s per analysis${o.jitter > 0 ? ` ± ${o.jitter * 100}%` : ''}, replicas online ${o.startup}s after being added, ` +
    `workers poll between batches (online ${o.onlineWindow}s after a poll, working grace ${o.workingGrace}s), removed replicas' work ${o.deleteOnExit ? 'requeued' : 'stuck'}, seed ${o.seed}`;

  const lines: string[] = [];
  // Stuck analyses never finish, so they do not keep a run going: only other unfinished work does.
  const unfinished = results.some((r) => r.summary.unfinished > r.summary.stuck);
  const why =
    o.until !== undefined
      ? 'as --until says'
      : unfinished
        ? `the drain cap, ${formatDuration(o.drainCap)} after the last arrival`
        : 'all work done and replicas settled';
  lines.push(...wrap(`Trace ${args.trace}: ${arrivals} analysis requests over ${formatDuration(lastArrival)}.`));
  lines.push(...wrap(`Simulated until ${formatDuration(end)} (${why}; the same span for every set).`));
  lines.push(...wrap(`Model: ${model}.`, '       '));
  lines.push('');
  const header = [
    'set',
    'replica-seconds',
    'mean wait',
    'p95 wait',
    'peak replicas',
    'scale actions',
    'aborted',
    'stuck',
    'unfinished',
  ];
  const rows = sets.map((s, i) => {
    const m = results[i]!.summary;
    return [
      s.id,
      Math.round(m.replicaSeconds).toLocaleString('en-US'),
      m.meanWait === null ? '-' : formatDuration(m.meanWait),
      m.p95Wait === null ? '-' : formatDuration(m.p95Wait),
      String(m.peakReplicas),
      `${m.scaleActions} (${m.scaleUps}↑ ${m.scaleDowns}↓)`,
      String(m.aborted),
      String(m.stuck),
      String(m.unfinished),
    ];
  });
  lines.push(...table(header, rows));
  if (spreads !== undefined) {
    lines.push('');
    lines.push(
      ...wrap(
        `${args.runs} runs (seeds ${o.seed}..${o.seed + args.runs - 1} × scheduler phases over one interval), mean ± standard deviation, over ${formatDuration(spreads[0]!.runs[0]!.summary.end)}:`,
      ),
    );
    const pm = (f: { mean: number | null; sd: number | null }, time: boolean): string =>
      f.mean === null
        ? '-'
        : time
          ? `${formatDuration(f.mean)} ± ${formatDuration(f.sd ?? 0)}`
          : `${Math.round(f.mean).toLocaleString('en-US')} ± ${Math.round(f.sd ?? 0).toLocaleString('en-US')}`;
    lines.push(
      ...table(
        ['set', 'replica-seconds', 'mean wait', 'p95 wait', 'aborted', 'stuck'],
        sets.map((s, i) => {
          const f = spreads[i]!.figures;
          return [
            s.id,
            pm(f.replicaSeconds, false),
            pm(f.meanWait, true),
            pm(f.p95Wait, true),
            pm(f.aborted, false),
            pm(f.stuck, false),
          ];
        }),
      ),
    );
  }
  lines.push('');
  for (const s of sets) lines.push(...wrap(`${s.id}  ${s.name}`, '   '));
  lines.push(...wrap(`labels a set leaves out take the defaults: ${describeDefaults(defaults)}`, '   '));
  for (const [i, s] of sets.entries()) {
    const m = results[i]!.summary;
    if (m.unfinished > 0)
      lines.push(...wrap(`note: ${s.id} left ${m.unfinished} analyses unfinished at ${formatDuration(m.end)}`));
  }
  const chart: ChartInput = {
    title: `Simulated replicas for ${baseName(args.trace)} (${arrivals} requests)`,
    trace,
    end,
    sets: sets.map((s, i) => ({ id: s.id, name: s.name, steps: results[i]!.steps, note: note(results[i]!) })),
    footnote: `Model: ${model}. Other labels: the defaults.`,
  };
  lines.push('');
  lines.push(...terminalChart(chart, 100));

  const summary = {
    trace: { file: args.trace, rows: trace.length, arrivals, lastArrival },
    model: {
      dispatchInterval: o.dispatchInterval,
      schedulerDrift: o.schedulerDrift,
      schedulerPhase: o.schedulerPhase,
      serviceTime: o.serviceTime,
      jitter: o.jitter,
      startup: o.startup,
      onlineWindow: o.onlineWindow,
      workingGrace: o.workingGrace,
      pollSleep: o.pollSleep,
      deleteOnExit: o.deleteOnExit,
      runs: args.runs,
      maxScheduledPerInstance: MAX_SCHEDULED_PER_INSTANCE,
      seed: o.seed,
      initialReplicas: o.initialReplicas ?? null,
      until: o.until ?? null,
      end,
    },
    labelSets: sets.map((s, i) => ({
      id: s.id,
      name: s.name,
      labels: s.labels,
      policy: s.policy,
      summary: results[i]!.summary,
      ...(spreads === undefined ? {} : { runs: { figures: spreads[i]!.figures, each: spreads[i]!.runs } }),
    })),
  };
  return { lines, summary, chart };
}

function note(r: SimResult): string {
  const m = r.summary;
  const wait = (v: number | null): string => (v === null ? '-' : formatDuration(v));
  return `${Math.round(m.replicaSeconds).toLocaleString('en-US')} replica-seconds (${(m.replicaSeconds / 3600).toFixed(1)} h) · mean wait ${wait(m.meanWait)} · p95 wait ${wait(m.p95Wait)} · peak ${m.peakReplicas} replicas · ${m.scaleActions} scale actions · ${m.aborted} aborted`;
}

/** Word-wraps at `width` columns; continuation lines start with `indent`. */
export function wrap(text: string, indent = '', width = 100): string[] {
  const lead = /^ */.exec(text)![0];
  const lines: string[] = [];
  let line = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    if (line.trim() !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line.trim() === '' ? line + word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function stepsCsv(sets: readonly LabelSet[], results: readonly SimResult[]): string {
  const lines = ['label_set,t,demand,smoothed,target,replicas,queue,action'];
  for (const [i, s] of sets.entries()) {
    for (const st of results[i]!.steps) {
      lines.push(
        [
          s.id,
          st.t,
          st.demand,
          Math.round(st.smoothed * 1000) / 1000,
          st.target,
          st.replicas,
          st.queue,
          st.action,
        ].join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
