import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeProblem, LABEL_NAMES, parseLabels, SYSTEM_LABEL, type PolicyDefaults } from '../../src/labels';
import { policy } from '../fakes/policy';

const { system: _system, ...defaults }: { system: string } & PolicyDefaults = policy();

function parse(extra: Record<string, string>) {
  return parseLabels({ [SYSTEM_LABEL]: 'ssdeep', ...extra }, defaults);
}

describe('labels → policy', () => {
  test('only com.mass.anal_system set: every other field takes the default', () => {
    assert.deepEqual(parse({}), { ok: true, policy: policy() });
  });

  test('other labels on the service are ignored', () => {
    assert.deepEqual(parse({ 'com.example.team': 'x' }), { ok: true, policy: policy() });
  });

  const valid: { label: string; value: string; field: keyof PolicyDefaults; want: unknown }[] = [
    { label: LABEL_NAMES.minInst, value: '0', field: 'minInst', want: 0 },
    { label: LABEL_NAMES.maxInst, value: '40', field: 'maxInst', want: 40 },
    { label: LABEL_NAMES.startDemand, value: '2.5', field: 'startDemand', want: 2.5 },
    { label: LABEL_NAMES.technique, value: 'moving average', field: 'technique', want: 'moving average' },
    {
      label: LABEL_NAMES.technique,
      value: ' Exponential_Moving_Average ',
      field: 'technique',
      want: 'exponential moving average',
    },
    { label: LABEL_NAMES.window, value: '5', field: 'window', want: 5 },
    { label: LABEL_NAMES.weight, value: '1', field: 'weight', want: 1 },
    { label: LABEL_NAMES.minScheduleInterval, value: '5', field: 'minScheduleInterval', want: 5 },
    { label: LABEL_NAMES.maxScheduleInterval, value: '60', field: 'maxScheduleInterval', want: 60 },
    { label: LABEL_NAMES.demandDeltaThreshold, value: '0', field: 'demandDeltaThreshold', want: 0 },
    { label: LABEL_NAMES.requestsPerInstance, value: '0.5', field: 'requestsPerInstance', want: 0.5 },
    { label: LABEL_NAMES.scaleDownDelay, value: '0', field: 'scaleDownDelay', want: 0 },
    { label: LABEL_NAMES.autoscale, value: 'FALSE', field: 'autoscale', want: false },
    { label: LABEL_NAMES.autoscale, value: ' true ', field: 'autoscale', want: true },
    // number spellings
    { label: LABEL_NAMES.minInst, value: ' 3 ', field: 'minInst', want: 3 },
    { label: LABEL_NAMES.startDemand, value: '2.25', field: 'startDemand', want: 2.25 },
    { label: LABEL_NAMES.startDemand, value: '+4', field: 'startDemand', want: 4 },
    { label: LABEL_NAMES.weight, value: '.25', field: 'weight', want: 0.25 },
    { label: LABEL_NAMES.maxInst, value: '1e+2', field: 'maxInst', want: 100 },
    { label: LABEL_NAMES.scaleDownDelay, value: '12e01', field: 'scaleDownDelay', want: 120 },
    { label: LABEL_NAMES.weight, value: '5E-1', field: 'weight', want: 0.5 },
    { label: LABEL_NAMES.technique, value: 'moving   average', field: 'technique', want: 'moving average' },
  ];
  for (const c of valid) {
    test(`${c.label}=${JSON.stringify(c.value)} is accepted`, () => {
      const result = parse({ [c.label]: c.value });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.policy[c.field], c.want);
    });
  }

  const invalid: { label: string; value: string; problem: string }[] = [
    { label: LABEL_NAMES.minInst, value: '', problem: 'is empty' },
    { label: LABEL_NAMES.minInst, value: 'x3', problem: 'is not a number' },
    { label: LABEL_NAMES.minInst, value: '3x', problem: 'is not a number' },
    { label: LABEL_NAMES.weight, value: '.x', problem: 'is not a number' },
    { label: LABEL_NAMES.weight, value: '1e', problem: 'is not a number' },
    { label: LABEL_NAMES.autoscale, value: ' ', problem: 'is empty' },
    { label: LABEL_NAMES.technique, value: ' ', problem: 'is empty' },
    { label: LABEL_NAMES.minInst, value: 'three', problem: 'is not a number' },
    { label: LABEL_NAMES.minInst, value: '-1', problem: 'must be at least 0' },
    { label: LABEL_NAMES.minInst, value: '1.5', problem: 'must be a whole number' },
    { label: LABEL_NAMES.maxInst, value: '0', problem: 'must be at least 1' },
    { label: LABEL_NAMES.maxInst, value: '1e9', problem: 'must be at most 1000' },
    { label: LABEL_NAMES.startDemand, value: '-3', problem: 'must be at least 0' },
    { label: LABEL_NAMES.startDemand, value: 'NaN', problem: 'is not a number' },
    {
      label: LABEL_NAMES.technique,
      value: 'median',
      problem: 'must be "moving average" or "exponential moving average"',
    },
    { label: LABEL_NAMES.technique, value: '', problem: 'is empty' },
    { label: LABEL_NAMES.window, value: '0', problem: 'must be at least 1' },
    { label: LABEL_NAMES.window, value: '2.5', problem: 'must be a whole number' },
    { label: LABEL_NAMES.weight, value: '0', problem: 'must be greater than 0' },
    { label: LABEL_NAMES.weight, value: '1.5', problem: 'must be at most 1' },
    { label: LABEL_NAMES.minScheduleInterval, value: '0', problem: 'must be at least 1' },
    { label: LABEL_NAMES.maxScheduleInterval, value: '99999999', problem: 'must be at most 86400' },
    { label: LABEL_NAMES.demandDeltaThreshold, value: '-0.1', problem: 'must be at least 0' },
    { label: LABEL_NAMES.requestsPerInstance, value: '0', problem: 'must be greater than 0' },
    { label: LABEL_NAMES.scaleDownDelay, value: 'soon', problem: 'is not a number' },
    { label: LABEL_NAMES.autoscale, value: 'maybe', problem: 'must be true or false' },
    { label: LABEL_NAMES.autoscale, value: '', problem: 'is empty' },
  ];
  for (const c of invalid) {
    test(`${c.label}=${JSON.stringify(c.value)} is reported naming the label and the value`, () => {
      const result = parse({ [c.label]: c.value });
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.problems.length, 1);
      assert.equal(describeProblem(result.problems[0]!), `${c.label}=${JSON.stringify(c.value)} ${c.problem}`);
    });
  }

  test('min_inst greater than max_inst is reported with both values', () => {
    const result = parse({ [LABEL_NAMES.minInst]: '9', [LABEL_NAMES.maxInst]: '4' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(
      describeProblem(result.problems[0]!),
      /com\.mass\.min_inst \/ com\.mass\.max_inst="9 > 4" min_inst must not be greater than max_inst/,
    );
  });

  test('a default max_inst below a labelled min_inst is caught as well', () => {
    const result = parse({ [LABEL_NAMES.minInst]: '20' });
    assert.equal(result.ok, false);
    if (!result.ok)
      assert.equal(
        describeProblem(result.problems[0]!),
        'com.mass.min_inst / com.mass.max_inst="20 > 15" min_inst must not be greater than max_inst',
      );
  });

  test('min_schedule_interval greater than max_schedule_interval is reported', () => {
    const result = parse({ [LABEL_NAMES.minScheduleInterval]: '60', [LABEL_NAMES.maxScheduleInterval]: '30' });
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(
        describeProblem(result.problems[0]!),
        'com.mass.min_schedule_interval / com.mass.max_schedule_interval="60 > 30" min_schedule_interval must not be greater than max_schedule_interval',
      );
    }
  });

  test('min_schedule_interval equal to max_schedule_interval is allowed (the boundary)', () => {
    const result = parse({ [LABEL_NAMES.minScheduleInterval]: '30', [LABEL_NAMES.maxScheduleInterval]: '30' });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.policy.minScheduleInterval, 30);
    assert.equal(result.policy.maxScheduleInterval, 30);
  });

  test('min_inst equal to max_inst is allowed (the boundary)', () => {
    const result = parse({ [LABEL_NAMES.minInst]: '15' });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.policy.minInst, 15);
  });

  test('a missing com.mass.anal_system is named without a value', () => {
    const result = parseLabels({}, defaults);
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual(result.problems.map(describeProblem), ['com.mass.anal_system is missing']);
  });

  test('rules between labels are checked only once each label is valid on its own', () => {
    const result = parse({ [LABEL_NAMES.minInst]: '20', [LABEL_NAMES.weight]: '7' });
    assert.equal(result.ok, false);
    if (!result.ok)
      assert.deepEqual(result.problems.map(describeProblem), ['com.mass.e_m_a_weighting="7" must be at most 1']);
  });

  test('the system name is trimmed', () => {
    const result = parseLabels({ [SYSTEM_LABEL]: ' ssdeep ' }, defaults);
    assert.ok(result.ok);
    assert.equal(result.policy.system, 'ssdeep');
  });

  test('an absurdly large max_inst is refused with the bound', () => {
    const result = parse({ [LABEL_NAMES.maxInst]: '1001' });
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(describeProblem(result.problems[0]!), 'com.mass.max_inst="1001" must be at most 1000');
  });

  test('every bad label is reported at once', () => {
    const result = parse({ [LABEL_NAMES.minInst]: 'x', [LABEL_NAMES.weight]: '7', [LABEL_NAMES.autoscale]: 'no' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.problems.map((p) => p.label).sort(),
      [LABEL_NAMES.minInst, LABEL_NAMES.weight, LABEL_NAMES.autoscale].sort(),
    );
  });

  test('an empty com.mass.anal_system is reported', () => {
    const result = parseLabels({ [SYSTEM_LABEL]: ' ' }, defaults);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(describeProblem(result.problems[0]!), 'com.mass.anal_system=" " is empty');
  });
});

describe('labels of the work policy', () => {
  const valid: { label: string; value: string; field: keyof PolicyDefaults; want: unknown }[] = [
    { label: LABEL_NAMES.policy, value: 'work', field: 'policy', want: 'work' },
    { label: LABEL_NAMES.policy, value: ' Classic ', field: 'policy', want: 'classic' },
    { label: LABEL_NAMES.targetWait, value: '300', field: 'targetWait', want: 300 },
    { label: LABEL_NAMES.serviceTime, value: 'auto', field: 'serviceTime', want: 'auto' },
    { label: LABEL_NAMES.serviceTime, value: ' AUTO ', field: 'serviceTime', want: 'auto' },
    { label: LABEL_NAMES.serviceTime, value: '42.5', field: 'serviceTime', want: 42.5 },
    { label: LABEL_NAMES.startupTime, value: '0', field: 'startupTime', want: 0 },
    { label: LABEL_NAMES.scaleIn, value: 'window', field: 'scaleIn', want: 'window' },
    { label: LABEL_NAMES.scaleIn, value: 'IDLE', field: 'scaleIn', want: 'idle' },
    { label: LABEL_NAMES.longestHold, value: 'off', field: 'longestHold', want: 'off' },
    { label: LABEL_NAMES.longestHold, value: '1800', field: 'longestHold', want: 1800 },
    { label: LABEL_NAMES.sizeAhead, value: 'on', field: 'sizeAhead', want: 'on' },
    { label: LABEL_NAMES.sizeAhead, value: ' OFF ', field: 'sizeAhead', want: 'off' },
  ];
  for (const c of valid) {
    test(`${c.label}=${JSON.stringify(c.value)} is accepted`, () => {
      const result = parse({ [c.label]: c.value });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.policy[c.field], c.want);
    });
  }

  const invalid: { label: string; value: string; problem: string }[] = [
    { label: LABEL_NAMES.policy, value: 'fast', problem: 'must be "classic" or "work"' },
    { label: LABEL_NAMES.policy, value: '', problem: 'is empty' },
    { label: LABEL_NAMES.targetWait, value: '0', problem: 'must be at least 1' },
    { label: LABEL_NAMES.targetWait, value: 'soon', problem: 'is not a number' },
    { label: LABEL_NAMES.serviceTime, value: '0', problem: 'must be greater than 0' },
    { label: LABEL_NAMES.serviceTime, value: 'learn', problem: 'must be auto or a number of seconds' },
    { label: LABEL_NAMES.serviceTime, value: '', problem: 'is empty' },
    { label: LABEL_NAMES.serviceTime, value: '90000', problem: 'must be at most 86400' },
    { label: LABEL_NAMES.startupTime, value: '-1', problem: 'must be at least 0' },
    { label: LABEL_NAMES.scaleIn, value: 'never', problem: 'must be "idle" or "window"' },
    { label: LABEL_NAMES.longestHold, value: '0', problem: 'must be at least 1' },
    { label: LABEL_NAMES.longestHold, value: 'never', problem: 'must be off or a number of seconds' },
    { label: LABEL_NAMES.sizeAhead, value: 'yes', problem: 'must be "off" or "on"' },
    { label: LABEL_NAMES.sizeAhead, value: '', problem: 'is empty' },
  ];
  for (const c of invalid) {
    test(`${c.label}=${JSON.stringify(c.value)} is refused: ${c.problem}`, () => {
      const result = parse({ [c.label]: c.value });
      assert.ok(!result.ok);
      assert.deepEqual(result.problems, [{ label: c.label, value: c.value, problem: c.problem }]);
      assert.equal(describeProblem(result.problems[0]!), `${c.label}=${JSON.stringify(c.value)} ${c.problem}`);
    });
  }
});
