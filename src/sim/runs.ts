// Many simulations: several label sets over one common span (simulateSets), and `--runs N` over
// seeds × scheduler phases × jitter with the mean and spread of each figure (simulateRuns). One
// simulation is src/sim/model.ts.
import type { Policy } from '../core/policy';
import { round3, simulate, type SimOptions, type SimResult, type Summary, type TracePoint } from './model';

/**
 * Several label sets side by side over one common span, so that replica-seconds compare: each
 * runs until it has drained and settled, then all are run again to the latest of those ends.
 */
export function simulateSets(
  trace: readonly TracePoint[],
  policies: readonly Policy[],
  options: SimOptions,
): SimResult[] {
  const first = policies.map((p) => simulate(trace, p, options));
  if (options.until !== undefined || first.length < 2) return first;
  const until = Math.max(...first.map((r) => r.summary.end));
  return first.map((r, i) => (r.summary.end === until ? r : simulate(trace, policies[i]!, { ...options, until })));
}

/** The figures of a Summary that --runs averages. */
export const RUN_FIGURES = [
  'replicaSeconds',
  'meanWait',
  'p95Wait',
  'maxWait',
  'peakReplicas',
  'scaleActions',
  'aborted',
  'stuck',
  'completed',
  'unfinished',
] as const;
export type RunFigure = (typeof RUN_FIGURES)[number];

export interface Spread {
  mean: number | null;
  /** sample standard deviation (0 for one run) */
  sd: number | null;
  min: number | null;
  max: number | null;
}

export interface RunsResult {
  /** the options of each run */
  runs: { seed: number; schedulerPhase: number; summary: Summary }[];
  figures: Record<RunFigure, Spread>;
  /** the first run, for steps and charts */
  first: SimResult;
}

/**
 * `runs` simulations of one label set that differ in the seed (of the service-time jitter) and
 * in the scheduler's phase, spread evenly over one interval, so that
 * no lockstep of arrivals and scheduler runs decides a comparison.
 */
export function simulateRuns(
  trace: readonly TracePoint[],
  policy: Policy,
  options: SimOptions,
  runs: number,
): RunsResult {
  const n = Math.max(1, Math.floor(runs));
  const period = options.dispatchInterval + options.schedulerDrift;
  const results: RunsResult['runs'] = [];
  let first: SimResult | undefined;
  for (let i = 0; i < n; i++) {
    const seed = (options.seed + i) >>> 0;
    const schedulerPhase = n === 1 ? options.schedulerPhase : (options.schedulerPhase + (i * period) / n) % period;
    const result = simulate(trace, policy, { ...options, seed, schedulerPhase });
    first ??= result;
    results.push({ seed, schedulerPhase, summary: result.summary });
  }
  const figures = {} as Record<RunFigure, Spread>;
  for (const key of RUN_FIGURES) {
    const values = results.map((r) => r.summary[key]).filter((v): v is number => v !== null);
    figures[key] = spread(values);
  }
  return { runs: results, figures, first: first! };
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: null, sd: null, min: null, max: null };
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.length < 2 ? 0 : values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean: round3(mean), sd: round3(Math.sqrt(variance)), min: Math.min(...values), max: Math.max(...values) };
}
