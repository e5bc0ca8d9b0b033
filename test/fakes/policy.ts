import type { Policy } from '../../src/core/policy';

/** The SPEC.md defaults, with overrides. */
export function policy(overrides: Partial<Policy> = {}): Policy {
  return {
    system: 'ssdeep',
    minInst: 3,
    maxInst: 15,
    startDemand: 3,
    technique: 'exponential moving average',
    window: 15,
    weight: 0.3,
    minScheduleInterval: 10,
    maxScheduleInterval: 30,
    demandDeltaThreshold: 0.3,
    requestsPerInstance: 1,
    scaleDownDelay: 120,
    autoscale: true,
    policy: 'classic',
    targetWait: 180,
    serviceTime: 'auto',
    startupTime: 45,
    scaleIn: 'idle',
    longestHold: 'off',
    sizeAhead: 'off',
    ...overrides,
  };
}
