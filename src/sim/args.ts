// The command lines of `mass-autoscaler simulate` and `npm run twin` (scripts/twin.ts): one option
// parser for both, the model options they share, label sets through the daemon's own label
// parser, and reading the trace file. Every problem names the option, label, file or line at fault.
import { readFileSync } from 'node:fs';
import { parseDefaults } from '../../config';
import type { Policy } from '../core/policy';
import { describeProblem, LABEL_NAMES, parseLabels, SYSTEM_LABEL, type PolicyDefaults } from '../labels';
import { DEFAULT_OPTIONS, type SimOptions, type TracePoint } from './model';
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
  --notice S              seconds before it is due that each request exists (a sample's
                          time_schedule offset): the reading counts those due within
                          startup_time, for com.mass.size_ahead=on                    (default 0)
  --delete-on-exit        removed replicas delete their instance, so MASS 0.2 requeues
                          their work (default: it stays on the dead instance, stuck)
  --runs N                N runs over seeds × scheduler phases: mean and spread       (default 1)
  --initial-replicas N    replicas at the start, all online      (default: each set's min_inst)
  --seed N                seed of the service-time jitter                            (default 1)
  --until S               stop at S seconds (default: once the work is done and the replicas
                          have settled, at most 24 h after the last arrival)
  -h, --help              this text`;

// ---- one parser for both commands ---------------------------------------------------------------

export interface NumberRule {
  whole: boolean;
  min: number;
  /** true: the value must be greater than `min`; false: at least `min` */
  minExclusive: boolean;
  max: number;
  /** what a malformed value is not, e.g. "a number of seconds" (default; whole numbers: "a whole number") */
  what?: string;
}

export interface OptionTable {
  /** options without a value */
  flags: readonly string[];
  /** options with a text value */
  texts: readonly string[];
  /** options (among `texts`) that may be given more than once */
  repeatable: readonly string[];
  numbers: Readonly<Record<string, NumberRule>>;
}

/** What a command line gave, by option name ("--trace"). */
export interface GivenOptions {
  flags: Set<string>;
  /** each text option's values in the order given */
  texts: Map<string, string[]>;
  numbers: Map<string, number>;
}

export type OptionsOutcome =
  { ok: true; help: true } | { ok: true; help: false; given: GivenOptions } | { ok: false; problem: string };

/** `--name value` or `--name=value`; every problem names the option. */
export function parseOptions(argv: readonly string[], table: OptionTable): OptionsOutcome {
  const given: GivenOptions = { flags: new Set(), texts: new Map(), numbers: new Map() };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { ok: true, help: true };
    if (table.flags.includes(arg)) {
      given.flags.add(arg);
      continue;
    }
    if (!arg.startsWith('--')) return { ok: false, problem: `unexpected argument ${JSON.stringify(arg)}` };
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!table.texts.includes(name) && !(name in table.numbers))
      return { ok: false, problem: `unknown option ${JSON.stringify(name)}` };
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) return { ok: false, problem: `${name} needs a value` };
      value = next;
      i++;
    }
    if (!table.repeatable.includes(name)) {
      if (seen.has(name)) return { ok: false, problem: `${name} is given more than once` };
      seen.add(name);
    }
    const rule = table.numbers[name];
    if (rule === undefined) {
      given.texts.set(name, [...(given.texts.get(name) ?? []), value]);
      continue;
    }
    const number = parseNumber(value, rule);
    if (typeof number === 'string') return { ok: false, problem: `${name} ${JSON.stringify(value)} ${number}` };
    given.numbers.set(name, number);
  }
  return { ok: true, help: false, given };
}

function parseNumber(text: string, rule: NumberRule): number | string {
  const t = text.trim();
  if (rule.whole ? !/^\d+$/.test(t) : !/^(\d+(\.\d*)?|\.\d+)$/.test(t)) {
    return `is not ${rule.whole ? 'a whole number' : (rule.what ?? 'a number of seconds')}`;
  }
  const v = Number(t);
  if (rule.minExclusive ? v <= rule.min : v < rule.min)
    return `must be ${rule.minExclusive ? 'greater than' : 'at least'} ${rule.min}`;
  if (v > rule.max) return `must be at most ${rule.max}`;
  return v;
}

const seconds = (min: number, minExclusive: boolean, max = 86_400): NumberRule => ({
  whole: false,
  min,
  minExclusive,
  max,
});

/** The model options both commands take, with their rules. */
export const MODEL_NUMBERS = {
  '--dispatch-interval': seconds(0, true),
  '--scheduler-drift': seconds(0, false),
  '--service-time': seconds(0, true),
  '--jitter': { ...seconds(0, false, 0.99), what: 'a number' },
  '--online-window': seconds(0, true),
  '--runs': { whole: true, min: 1, minExclusive: false, max: 1000 },
} as const satisfies Record<string, NumberRule>;

// ---- simulate ------------------------------------------------------------------------------------

export const SIMULATED_SYSTEM = 'simulated';

export interface SimulateArgs {
  trace: string;
  labelSets: string[];
  out: string;
  options: SimOptions;
  runs: number;
}

type Parsed = { ok: true; args: SimulateArgs } | { ok: false; problem: string } | { ok: true; help: true };

type NumberKey = Exclude<
  { [K in keyof SimOptions]-?: SimOptions[K] extends number | undefined ? K : never }[keyof SimOptions],
  'drainCap'
>;

/** simulate's number options: the option, the SimOptions field it sets, its rule. */
const SIMULATE_NUMBERS: Record<string, { key: NumberKey | 'runs'; rule: NumberRule }> = {
  '--dispatch-interval': { key: 'dispatchInterval', rule: MODEL_NUMBERS['--dispatch-interval'] },
  '--scheduler-drift': { key: 'schedulerDrift', rule: MODEL_NUMBERS['--scheduler-drift'] },
  '--scheduler-phase': { key: 'schedulerPhase', rule: seconds(0, false) },
  '--service-time': { key: 'serviceTime', rule: MODEL_NUMBERS['--service-time'] },
  '--jitter': { key: 'jitter', rule: MODEL_NUMBERS['--jitter'] },
  '--online-window': { key: 'onlineWindow', rule: MODEL_NUMBERS['--online-window'] },
  '--working-grace': { key: 'workingGrace', rule: seconds(0, true) },
  '--poll-sleep': { key: 'pollSleep', rule: seconds(0, false) },
  '--runs': { key: 'runs', rule: MODEL_NUMBERS['--runs'] },
  '--startup': { key: 'startup', rule: seconds(0, false) },
  '--notice': { key: 'notice', rule: seconds(0, false) },
  '--initial-replicas': { key: 'initialReplicas', rule: { whole: true, min: 0, minExclusive: false, max: 1000 } },
  '--seed': { key: 'seed', rule: { whole: true, min: 0, minExclusive: false, max: 4_294_967_295 } },
  '--until': { key: 'until', rule: seconds(0, true, 366 * 86_400) },
};

const SIMULATE_TABLE: OptionTable = {
  flags: ['--delete-on-exit'],
  texts: ['--trace', '--labels', '--out'],
  repeatable: ['--labels'],
  numbers: Object.fromEntries(Object.entries(SIMULATE_NUMBERS).map(([name, n]) => [name, n.rule])),
};

export function parseSimulateArgs(argv: readonly string[]): Parsed {
  const parsed = parseOptions(argv, SIMULATE_TABLE);
  if (!parsed.ok || parsed.help) return parsed;
  const { flags, texts, numbers } = parsed.given;
  const options: SimOptions = { ...DEFAULT_OPTIONS, deleteOnExit: flags.has('--delete-on-exit') };
  let runs = 1;
  for (const [name, value] of numbers) {
    const key = SIMULATE_NUMBERS[name]!.key;
    if (key === 'runs') runs = value;
    else options[key] = value;
  }
  const trace = texts.get('--trace')?.[0];
  const out = texts.get('--out')?.[0];
  if (trace === undefined || trace.trim() === '') return { ok: false, problem: 'missing --trace FILE' };
  if (out !== undefined && out.trim() === '') return { ok: false, problem: '--out needs a folder name' };
  return { ok: true, args: { trace, labelSets: texts.get('--labels') ?? [], out: out ?? 'simulation', options, runs } };
}

// ---- label sets ----------------------------------------------------------------------------------

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

function setId(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `S${i + 1}`;
}

// ---- the inputs: trace file and label sets --------------------------------------------------------

export interface Inputs {
  points: TracePoint[];
  sets: LabelSet[];
  defaults: PolicyDefaults;
}

/**
 * Reads the trace file and parses each `--labels` value (none: one set of defaults). On a
 * problem: the lines to print and the exit code (2: bad input; 1: a bad built-in default).
 */
export function readInputs(
  tracePath: string,
  labelTexts: readonly string[],
): { ok: true; inputs: Inputs } | { ok: false; code: 1 | 2; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(tracePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (code ?? String(error));
    return { ok: false, code: 2, problems: [`cannot read the trace file ${JSON.stringify(tracePath)}: ${why}`] };
  }
  const trace = parseTrace(text);
  if (!trace.ok) return { ok: false, code: 2, problems: [`${tracePath} line ${trace.line}: ${trace.problem}`] };

  const defaultProblems: string[] = [];
  const defaults = parseDefaults({}, defaultProblems);
  if (defaults === undefined)
    return { ok: false, code: 1, problems: defaultProblems.map((p) => `bad built-in default: ${p}`) };
  const sets: LabelSet[] = [];
  const problems: string[] = [];
  const texts = labelTexts.length === 0 ? [''] : labelTexts;
  for (const [i, labelText] of texts.entries()) {
    const result = parseLabelSet(labelText, setId(i), defaults);
    if (result.ok) sets.push(result.set);
    else for (const p of result.problems) problems.push(`--labels ${JSON.stringify(labelText)}: ${p}`);
  }
  if (problems.length > 0) return { ok: false, code: 2, problems };
  return { ok: true, inputs: { points: trace.points, sets, defaults } };
}
