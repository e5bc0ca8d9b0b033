// com.mass.* service labels → a validated Policy. The names are those of the original MASS
// autoscaler, so existing compose files keep working.
import { z } from 'zod';
import type { Policy } from './core/policy';

export type PolicyDefaults = Omit<Policy, 'system'>;

export const SYSTEM_LABEL = 'com.mass.anal_system';

/** Label name for each policy field that has a default. */
export const LABEL_NAMES: { readonly [K in keyof PolicyDefaults]: string } = {
  minInst: 'com.mass.min_inst',
  maxInst: 'com.mass.max_inst',
  startDemand: 'com.mass.start_demand',
  technique: 'com.mass.calculation_technique',
  window: 'com.mass.m_a_sensitivity',
  weight: 'com.mass.e_m_a_weighting',
  minScheduleInterval: 'com.mass.min_schedule_interval',
  maxScheduleInterval: 'com.mass.max_schedule_interval',
  demandDeltaThreshold: 'com.mass.demand_delta_threshold',
  requestsPerInstance: 'com.mass.requests_per_instance',
  scaleDownDelay: 'com.mass.scale_down_delay',
  autoscale: 'com.mass.autoscale',
};

const numberText = z
  .string()
  .trim()
  .min(1, 'is empty')
  .regex(/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, 'is not a number')
  .transform(Number);

const whole = (min: number, max: number) =>
  numberText.pipe(
    z.number().int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

const decimal = (min: number, max: number, minExclusive = false) =>
  numberText.pipe(
    minExclusive
      ? z.number().gt(min, `must be greater than ${min}`).max(max, `must be at most ${max}`)
      : z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

const technique = z
  .string()
  .trim()
  .min(1, 'is empty')
  .transform((v) => v.toLowerCase().replace(/[_-]+/g, ' ').replace(/\s+/g, ' '))
  .pipe(
    z.enum(['moving average', 'exponential moving average'], {
      error: 'must be "moving average" or "exponential moving average"',
    }),
  );

const flag = z
  .string()
  .trim()
  .min(1, 'is empty')
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['true', 'false'], { error: 'must be true or false' }))
  .transform((v) => v === 'true');

/** How each label's text becomes a value. Also used to validate the defaults in config.ts. */
export const LABEL_VALUE_SCHEMAS: { readonly [K in keyof PolicyDefaults]: z.ZodType<PolicyDefaults[K], string> } = {
  minInst: whole(0, 1000),
  maxInst: whole(1, 1000),
  startDemand: decimal(0, 1_000_000),
  technique,
  window: whole(1, 1000),
  weight: decimal(0, 1, true),
  minScheduleInterval: decimal(1, 86_400),
  maxScheduleInterval: decimal(1, 86_400),
  demandDeltaThreshold: decimal(0, 1000),
  requestsPerInstance: decimal(0, 100_000, true),
  scaleDownDelay: decimal(0, 86_400),
  autoscale: flag,
};

export interface LabelProblem {
  label: string;
  value: string | undefined;
  problem: string;
}

export type LabelResult = { ok: true; policy: Policy } | { ok: false; problems: LabelProblem[] };

export function describeProblem(p: LabelProblem): string {
  return p.value === undefined ? `${p.label} ${p.problem}` : `${p.label}=${JSON.stringify(p.value)} ${p.problem}`;
}

/** Reads a service's labels; unset labels take the defaults. Reports every problem at once. */
export function parseLabels(labels: Record<string, string>, defaults: PolicyDefaults): LabelResult {
  const problems: LabelProblem[] = [];
  const system = labels[SYSTEM_LABEL];
  if (system === undefined || system.trim() === '') {
    problems.push({ label: SYSTEM_LABEL, value: system, problem: system === undefined ? 'is missing' : 'is empty' });
  }
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(LABEL_NAMES) as (keyof PolicyDefaults)[]) {
    const label = LABEL_NAMES[key];
    const text = labels[label];
    if (text === undefined) {
      values[key] = defaults[key];
      continue;
    }
    const parsed = LABEL_VALUE_SCHEMAS[key].safeParse(text);
    if (parsed.success) values[key] = parsed.data;
    else problems.push({ label, value: text, problem: parsed.error.issues[0]?.message ?? 'is not valid' });
  }
  const policy = { system: system?.trim() ?? '', ...values } as Policy;
  if (problems.length === 0) problems.push(...crossChecks(policy));
  return problems.length === 0 ? { ok: true, policy } : { ok: false, problems };
}

/** Rules between labels, checked once each label is valid on its own. */
export function crossChecks(p: PolicyDefaults): LabelProblem[] {
  const problems: LabelProblem[] = [];
  if (p.minInst > p.maxInst) {
    problems.push({
      label: `${LABEL_NAMES.minInst} / ${LABEL_NAMES.maxInst}`,
      value: `${p.minInst} > ${p.maxInst}`,
      problem: 'min_inst must not be greater than max_inst',
    });
  }
  if (p.minScheduleInterval > p.maxScheduleInterval) {
    problems.push({
      label: `${LABEL_NAMES.minScheduleInterval} / ${LABEL_NAMES.maxScheduleInterval}`,
      value: `${p.minScheduleInterval} > ${p.maxScheduleInterval}`,
      problem: 'min_schedule_interval must not be greater than max_schedule_interval',
    });
  }
  return problems;
}
