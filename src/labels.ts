// com.mass.* service labels → a validated Policy. The names are those of the original MASS
// autoscaler, so existing compose files keep working. Each label is declared once, in config.ts
// (LABEL_SETTINGS: name, DEFAULT_* option, default, help); the values it takes come from its
// field's rule in src/core/policy.ts.
import { LABEL_SETTINGS, LABEL_VALUE_SCHEMAS, orderProblems } from '../config';
import type { Policy, PolicyField, PolicySettings } from './core/policy';

export type PolicyDefaults = PolicySettings;

export const SYSTEM_LABEL = 'com.mass.anal_system';

/** Label name for each policy field that has a default. */
export const LABEL_NAMES = Object.fromEntries(
  Object.entries(LABEL_SETTINGS).map(([field, setting]) => [field, setting.label]),
) as { readonly [K in PolicyField]: (typeof LABEL_SETTINGS)[K]['label'] };

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
  for (const field of Object.keys(LABEL_NAMES) as PolicyField[]) {
    const label = LABEL_NAMES[field];
    const text = labels[label];
    if (text === undefined) {
      values[field] = defaults[field];
      continue;
    }
    const parsed = LABEL_VALUE_SCHEMAS[field].safeParse(text);
    if (parsed.success) values[field] = parsed.data;
    // Stryker disable next-line OptionalChaining,StringLiteral: a failed zod parse always has an issue
    else problems.push({ label, value: text, problem: parsed.error.issues[0]?.message ?? 'is not valid' });
  }
  const policy = { system: system?.trim() ?? '', ...values } as Policy;
  if (problems.length === 0) problems.push(...crossChecks(policy));
  return problems.length === 0 ? { ok: true, policy } : { ok: false, problems };
}

/** Rules between labels, checked once each label is valid on its own. */
export function crossChecks(p: PolicyDefaults): LabelProblem[] {
  return orderProblems(p).map(({ labels, value, problem }) => ({ label: labels, value, problem }));
}
