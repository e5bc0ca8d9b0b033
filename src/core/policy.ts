// The policy of one service: which values each field takes. The Policy type is derived from
// POLICY_FIELDS, so a field and its rules are written once; config.ts names each field's label,
// DEFAULT_* option, default and help, and src/labels.ts builds its parser from these rules.
import type { Technique } from './smoothing';

/** The smoothing techniques a policy can name. */
export const TECHNIQUES = ['moving average', 'exponential moving average'] as const satisfies readonly Technique[];

/** The policies a service can name: `classic` (smoothed demand per replica) or `work` (work time, src/core/work.ts). */
export const POLICIES = ['classic', 'work'] as const;
export type PolicyName = (typeof POLICIES)[number];

/** The scale-in rules of the `work` policy: only while no instance holds work, or after a stabilization window. */
export const SCALE_IN_RULES = ['idle', 'window'] as const;

/** Whether the `work` policy sizes for the requests that become due within the start-up time. */
export const SIZE_AHEAD = ['off', 'on'] as const;

/** What values one field takes. Numbers are given by the bounds they must keep. */
export type FieldRule =
  | { kind: 'whole'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; minExclusive?: boolean }
  | { kind: 'choice'; values: readonly string[] }
  | { kind: 'flag' }
  /** a number of seconds within the bounds, or one word (`auto`, `off`) */
  | { kind: 'seconds-or'; word: string; min: number; max: number; minExclusive?: boolean };

/** Every field of a policy but its system, with the values it takes (times in seconds). */
export const POLICY_FIELDS = {
  minInst: { kind: 'whole', min: 0, max: 1000 },
  maxInst: { kind: 'whole', min: 1, max: 1000 },
  startDemand: { kind: 'number', min: 0, max: 1_000_000 },
  technique: { kind: 'choice', values: TECHNIQUES },
  window: { kind: 'whole', min: 1, max: 1000 },
  weight: { kind: 'number', min: 0, max: 1, minExclusive: true },
  minScheduleInterval: { kind: 'number', min: 1, max: 86_400 },
  maxScheduleInterval: { kind: 'number', min: 1, max: 86_400 },
  demandDeltaThreshold: { kind: 'number', min: 0, max: 1000 },
  requestsPerInstance: { kind: 'number', min: 0, max: 100_000, minExclusive: true },
  scaleDownDelay: { kind: 'number', min: 0, max: 86_400 },
  autoscale: { kind: 'flag' },
  policy: { kind: 'choice', values: POLICIES },
  targetWait: { kind: 'number', min: 1, max: 86_400 },
  serviceTime: { kind: 'seconds-or', word: 'auto', min: 0, max: 86_400, minExclusive: true },
  startupTime: { kind: 'number', min: 0, max: 3600 },
  scaleIn: { kind: 'choice', values: SCALE_IN_RULES },
  longestHold: { kind: 'seconds-or', word: 'off', min: 1, max: 7 * 86_400 },
  sizeAhead: { kind: 'choice', values: SIZE_AHEAD },
} as const satisfies Record<string, FieldRule>;

export type PolicyField = keyof typeof POLICY_FIELDS;

/** The value type a rule gives. */
type ValueOf<R> = R extends { kind: 'whole' | 'number' }
  ? number
  : R extends { kind: 'choice'; values: readonly (infer V)[] }
    ? V
    : R extends { kind: 'seconds-or'; word: infer W }
      ? number | W
      : boolean;

/** The fields a label (or its DEFAULT_* option) sets. */
export type PolicySettings = { -readonly [K in PolicyField]: ValueOf<(typeof POLICY_FIELDS)[K]> };

/** The validated com.mass.* labels of one service (times in seconds). */
export interface Policy extends PolicySettings {
  system: string;
}

/** Pairs of fields where the first must not be greater than the second. */
export const ORDERED_FIELDS = [
  ['minInst', 'maxInst'],
  ['minScheduleInterval', 'maxScheduleInterval'],
] as const satisfies readonly (readonly [PolicyField, PolicyField])[];

/** The ordered pairs a set of settings breaks (each valid on its own). */
export function disorderedFields(p: PolicySettings): (typeof ORDERED_FIELDS)[number][] {
  return ORDERED_FIELDS.filter(([low, high]) => p[low] > p[high]);
}
