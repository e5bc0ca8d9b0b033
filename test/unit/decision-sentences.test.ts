import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, describeDecision, initialState, type Decision } from '../../src/core/decision';
import type { WorkFigures } from '../../src/core/work';
import { demandOnly } from '../../src/core/reading';
import { policy } from '../fakes/policy';

// The sentence of every reason code and limit, exactly as the log line and `status` show it.
// Decisions are built as data: describeDecision reads nothing else.

function decision(over: Partial<Decision> = {}): Decision {
  return {
    action: 'none',
    reason: 'steady',
    limitedBy: 'none',
    recommendation: 4,
    bounded: 4,
    stabilized: 4,
    desired: 4,
    current: 4,
    smoothed: 4,
    nextAt: 0,
    rules: { minInst: 2, maxInst: 10, requestsPerInstance: 1, scaleDownDelay: 120 },
    ...over,
  };
}

function figures(over: Partial<WorkFigures> = {}): WorkFigures {
  return {
    due: 12,
    holders: 0,
    heldAnalyses: 0,
    arrivalsPerMin: 3,
    serviceTime: 30,
    serviceTimeSource: 'label',
    targetWait: 120,
    startupTime: 45,
    dueSoon: null,
    need: 18,
    scaleIn: 'idle',
    longestHold: 'off',
    ...over,
  };
}

const WORK = '18 analyses to start within 120s (12 due, 3/min arriving, 30s each)';

describe('classic sentences', () => {
  const cases: { why: string; d: Partial<Decision>; text: string }[] = [
    {
      why: 'no reading, its kind named',
      d: { action: 'hold', reason: 'hold-no-reading', missing: 'timeout', current: 5 },
      text: 'hold: no demand reading (timeout); keeping 5 replicas',
    },
    {
      why: 'no reading of unknown kind',
      d: { action: 'hold', reason: 'hold-no-reading', current: 5 },
      text: 'hold: no demand reading (unknown); keeping 5 replicas',
    },
    {
      why: 'no reading under the work policy: the no-reading sentence, not the work one',
      d: { action: 'hold', reason: 'hold-no-reading', missing: 'http-503', current: 5, work: figures() },
      text: 'hold: no demand reading (http-503); keeping 5 replicas',
    },
    {
      why: 'held by working instances, their count named',
      d: {
        action: 'hold',
        reason: 'hold-working',
        limitedBy: 'working',
        stabilized: 2,
        desired: 6,
        current: 6,
        working: 4,
      },
      text: 'hold: demand 4.0 wants 2, but 4 instances are working',
    },
    {
      why: 'held by working instances, count unknown: the current replicas',
      d: { action: 'hold', reason: 'hold-working', limitedBy: 'working', stabilized: 2, desired: 6, current: 6 },
      text: 'hold: demand 4.0 wants 2, but 6 instances are working',
    },
    {
      why: 'down only to the working instances, their count named',
      d: {
        action: 'down',
        reason: 'hold-working',
        limitedBy: 'working',
        stabilized: 2,
        desired: 5,
        current: 8,
        working: 3,
      },
      text: 'scale down to 5, not 2: 3 instances are working',
    },
    {
      why: 'down only to the working instances, count unknown: the desired replicas',
      d: { action: 'down', reason: 'hold-working', limitedBy: 'working', stabilized: 2, desired: 5, current: 8 },
      text: 'scale down to 5, not 2: 5 instances are working',
    },
    {
      why: 'down to max_inst: no "capped" suffix on a scale-down',
      d: {
        action: 'down',
        reason: 'scale-down-to-max-inst',
        limitedBy: 'max_inst',
        recommendation: 14,
        bounded: 10,
        stabilized: 10,
        desired: 10,
        current: 12,
      },
      text: 'scale down: max_inst 10 < 12 replicas',
    },
    {
      why: 'steady at max_inst with more demand: capped',
      d: {
        recommendation: 14,
        bounded: 10,
        stabilized: 10,
        desired: 10,
        current: 10,
        smoothed: 14,
        limitedBy: 'max_inst',
      },
      text: 'steady: demand 14.0 matches 10 replicas (capped at max_inst 10)',
    },
    {
      why: 'a work-policy code without its figures: action and code',
      d: { action: 'down', reason: 'scale-down-idle', desired: 3 },
      text: 'down: scale-down-idle',
    },
  ];
  for (const c of cases) {
    test(c.why, () => assert.equal(describeDecision(decision(c.d)), c.text));
  }
});

describe('work policy sentences', () => {
  const cases: { why: string; d: Partial<Decision>; w?: Partial<WorkFigures>; text: string }[] = [
    {
      why: 'service time from the label: no qualifier',
      d: { action: 'up', reason: 'scale-up', limitedBy: 'target-wait', bounded: 6, desired: 6, current: 4 },
      text: `scale up: ${WORK}: 6 replicas, not 4`,
    },
    {
      why: 'service time learned',
      d: { action: 'up', reason: 'scale-up', limitedBy: 'target-wait', bounded: 6, desired: 6, current: 4 },
      w: { serviceTimeSource: 'learned', serviceTime: 41.6, arrivalsPerMin: 2.25, need: 14.5 },
      text: 'scale up: 14.5 analyses to start within 120s (12 due, 2.3/min arriving, 42s each learned): 6 replicas, not 4',
    },
    {
      why: 'service time assumed',
      d: { action: 'up', reason: 'scale-up', limitedBy: 'target-wait', bounded: 6, desired: 6, current: 4 },
      w: { serviceTimeSource: 'prior', serviceTime: 60 },
      text: 'scale up: 18 analyses to start within 120s (12 due, 3/min arriving, 60s each assumed): 6 replicas, not 4',
    },
    {
      why: 'scale up capped at max_inst',
      d: {
        action: 'up',
        reason: 'scale-up',
        limitedBy: 'max_inst',
        recommendation: 13,
        bounded: 10,
        desired: 10,
        current: 4,
      },
      text: `scale up: ${WORK}: 10 replicas, not 4 (capped at max_inst 10)`,
    },
    {
      why: 'scale up to min_inst',
      d: { action: 'up', reason: 'scale-up-to-min-inst', limitedBy: 'min_inst', bounded: 2, desired: 2, current: 1 },
      text: 'scale up: min_inst 2 > 1 replicas',
    },
    {
      why: 'scale down to max_inst',
      d: {
        action: 'down',
        reason: 'scale-down-to-max-inst',
        limitedBy: 'max_inst',
        bounded: 10,
        desired: 10,
        current: 12,
      },
      text: 'scale down: max_inst 10 < 12 replicas',
    },
    {
      why: 'scale down when no instance holds work',
      d: { action: 'down', reason: 'scale-down-idle', limitedBy: 'target-wait', bounded: 3, desired: 3, current: 5 },
      text: `scale down: no instance holds work; ${WORK}: 3 replicas`,
    },
    {
      why: 'held by work, not yet timed, no longest_hold',
      d: { action: 'hold', reason: 'hold-work-held', limitedBy: 'scale-in-hold', bounded: 3, current: 5, desired: 5 },
      w: { holders: 2, heldAnalyses: 7 },
      text: `hold: 3 replicas would do, but 2 instances hold work and Swarm picks which replica goes (scale_in=idle, held); ${WORK}; 2 instances hold 7`,
    },
    {
      why: 'held by work for a while, with longest_hold',
      d: { action: 'hold', reason: 'hold-work-held', limitedBy: 'scale-in-hold', bounded: 3, current: 5, desired: 5 },
      w: { holders: 2, heldAnalyses: 7, heldForS: 61.4, longestHold: 600 },
      text: `hold: 3 replicas would do, but 2 instances hold work and Swarm picks which replica goes (scale_in=idle, held for 61s of longest_hold 600s); ${WORK}; 2 instances hold 7`,
    },
    {
      why: 'held for requests sized ahead, none held by instances',
      d: { action: 'hold', reason: 'hold-work-held', limitedBy: 'scale-in-hold', bounded: 3, current: 5, desired: 5 },
      w: { dueSoon: 4, heldForS: 10 },
      text: `hold: 3 replicas would do, but replicas were sized ahead for requests due soon (4 within 45s, 12 due) and MASS would hand some to a removed replica's instance (size_ahead=on, held for 10s); 18 analyses to start within 120s (12 due, 4 due within 45s, 3/min arriving, 30s each)`,
    },
    {
      why: 'one replica goes after longest_hold',
      d: {
        action: 'down',
        reason: 'scale-down-longest-hold',
        limitedBy: 'scale-in-hold',
        bounded: 3,
        current: 5,
        desired: 4,
      },
      w: { holders: 1, heldAnalyses: 2, longestHold: 300 },
      text: `scale down by one: a scale-in to 3 was held by work for longest_hold 300s; ${WORK}; 1 instances hold 2`,
    },
    {
      why: 'scale_in=window: down to the most needed within the window',
      d: {
        action: 'down',
        reason: 'scale-down',
        limitedBy: 'stabilization',
        bounded: 2,
        stabilized: 4,
        current: 6,
        desired: 4,
      },
      w: { scaleIn: 'window' },
      text: `scale down to 4, the most needed within the last 120s (scale_in=window); ${WORK}`,
    },
    {
      why: 'scale_in=window: down to what has done for the whole window',
      d: {
        action: 'down',
        reason: 'scale-down',
        limitedBy: 'target-wait',
        bounded: 3,
        stabilized: 3,
        current: 6,
        desired: 3,
      },
      w: { scaleIn: 'window' },
      text: `scale down: 3 replicas have done for 120s (scale_in=window); ${WORK}`,
    },
    {
      why: 'scale_in=window: held, a higher count needed within the window',
      d: {
        action: 'hold',
        reason: 'hold-stabilization',
        limitedBy: 'stabilization',
        bounded: 2,
        stabilized: 6,
        current: 6,
        desired: 6,
      },
      w: { scaleIn: 'window' },
      text: `hold: the work wants 2, but 6 were needed within the last 120s (scale_in=window); ${WORK}`,
    },
    {
      why: 'held by working instances, their count named',
      d: {
        action: 'hold',
        reason: 'hold-working',
        limitedBy: 'working',
        stabilized: 2,
        current: 6,
        desired: 6,
        working: 4,
      },
      text: 'hold: the work wants 2, but 4 instances are working',
    },
    {
      why: 'held by working instances, count unknown: the current replicas',
      d: { action: 'hold', reason: 'hold-working', limitedBy: 'working', stabilized: 2, current: 6, desired: 6 },
      text: 'hold: the work wants 2, but 6 instances are working',
    },
    {
      why: 'down only to the working instances, their count named',
      d: {
        action: 'down',
        reason: 'hold-working',
        limitedBy: 'working',
        stabilized: 2,
        current: 8,
        desired: 5,
        working: 3,
      },
      text: 'scale down to 5, not 2: 3 instances are working',
    },
    {
      why: 'down only to the working instances, count unknown: the desired replicas',
      d: { action: 'down', reason: 'hold-working', limitedBy: 'working', stabilized: 2, current: 8, desired: 5 },
      text: 'scale down to 5, not 2: 5 instances are working',
    },
    {
      why: 'steady at min_inst',
      d: { limitedBy: 'min_inst', bounded: 2, current: 2, desired: 2 },
      text: `steady: min_inst 2 replicas; ${WORK}`,
    },
    {
      why: 'steady',
      d: { limitedBy: 'target-wait', current: 4 },
      text: `steady: 4 replicas; ${WORK}`,
    },
    {
      why: 'steady at max_inst: capped',
      d: { limitedBy: 'max_inst', recommendation: 13, bounded: 10, current: 10, desired: 10 },
      text: `steady: 10 replicas; ${WORK} (capped at max_inst 10)`,
    },
  ];
  for (const c of cases) {
    test(c.why, () => assert.equal(describeDecision(decision({ ...c.d, work: figures(c.w) })), c.text));
  }
});

describe('the reason code of a scale-down', () => {
  test('below max_inst the demand is the reason, even when the window peak equals max_inst', () => {
    const p = policy({ minInst: 0, maxInst: 5, technique: 'moving average', window: 1, scaleDownDelay: 15 });
    let state = initialState(p, 8, -3_600_000);
    state = decide(state, 5, 8, p, 0).state;
    const { decision: d } = decide(state, 2, 8, p, 10_000);
    assert.equal(d.reason, 'scale-down');
    assert.equal(d.desired, 5);
    assert.equal(describeDecision(d), 'scale down: demand 2.0 held below 8 replicas for 15s');
  });
});

describe('the stabilization window when the clock steps back', () => {
  test('a target stamped after `now` leaves the window: it cannot hold a scale-down', () => {
    const p = policy({ minInst: 0, technique: 'moving average', window: 1, scaleDownDelay: 120 });
    // remembered at t = 1 h, then the clock steps back to t = 0
    const state = initialState(p, 8, 3_600_000);
    const { decision: d, state: next } = decide(state, 2, 8, p, 0);
    assert.deepEqual(next.recentTargets, [{ at: 0, target: 2 }]);
    assert.equal(d.action, 'down');
    assert.equal(d.desired, 2);
  });

  test('exactly the newest 1000 targets are remembered', () => {
    const p = policy({ minInst: 0, technique: 'moving average', window: 1, scaleDownDelay: 86_400 });
    let state = initialState(p, 3, 0);
    for (let i = 1; i <= 1500; i++) state = decide(state, i % 7, 3, p, i * 1000).state;
    assert.equal(state.recentTargets.length, 1000);
    assert.deepEqual(state.recentTargets[0], { at: 501_000, target: 501 % 7 });
    assert.deepEqual(state.recentTargets.at(-1), { at: 1_500_000, target: 1500 % 7 });
  });
});

describe('a demand-only reading', () => {
  test('knows no held work and no instances', () => {
    assert.deepEqual(demandOnly(5, 2), { due: 5, demand: 5, floor: 2, held: [], liveness: { instances: [] } });
  });
});
