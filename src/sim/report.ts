// What `simulate` reports: the terminal table and chart, summary.json and steps.csv, from the
// results of src/sim/model.ts and the arguments of src/sim/args.ts.
import type { PolicyDefaults } from '../labels';
import { describeDefaults, type LabelSet, type SimulateArgs } from './args';
import { formatDuration, terminalChart, type ChartInput } from './chart';
import { MAX_SCHEDULED_PER_INSTANCE, type SimResult, type TracePoint } from './model';
import type { RunsResult } from './runs';

export interface Report {
  lines: string[];
  summary: object;
  chart: ChartInput;
}

export function buildReport(
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
    `workers poll between batches (online ${o.onlineWindow}s after a poll, working grace ${o.workingGrace}s), removed replicas' work ${o.deleteOnExit ? 'requeued' : 'stuck'}` +
    `${o.notice > 0 ? `, requests made ${o.notice}s before they are due` : ''}, seed ${o.seed}`;

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
      notice: o.notice,
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
