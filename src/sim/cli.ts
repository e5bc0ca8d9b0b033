// `mass-autoscaler simulate`: parse the arguments (src/sim/args.ts), simulate every label set
// (src/sim/model.ts), print the report and write summary.json, steps.csv and chart.svg
// (src/sim/report.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSimulateArgs, readInputs, USAGE } from './args';
import { svgChart } from './chart';
import { simulateRuns, simulateSets, type RunsResult } from './runs';
import { buildReport, stepsCsv } from './report';

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

  const read = readInputs(args.trace, args.labelSets);
  if (!read.ok) {
    for (const p of read.problems) err(`simulate: ${p}`);
    return read.code;
  }
  const { points, sets, defaults } = read.inputs;

  const results = simulateSets(
    points,
    sets.map((s) => s.policy),
    args.options,
  );
  let spreads: RunsResult[] | undefined;
  if (args.runs > 1) {
    // Every run of every set over one common span: the latest end of any drained run.
    const drained = sets.map((s) => simulateRuns(points, s.policy, args.options, args.runs));
    const until = args.options.until ?? Math.max(...drained.flatMap((d) => d.runs.map((r) => r.summary.end)));
    spreads = sets.map((s) => simulateRuns(points, s.policy, { ...args.options, until }, args.runs));
  }
  const report = buildReport(args, points, sets, results, defaults, spreads);
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
