// The twin's labels under a time scale (scripts/twin.ts): every label that is a duration is
// divided by the scale, the work policy's included, and the service and the prediction get the
// same effective values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { POLICY_FIELDS } from '../../src/core/policy';
import { ARRIVAL_TIME_CONSTANT_S, SERVICE_TIME_PRIOR_S } from '../../src/core/work';
import { LABEL_NAMES, parseLabels } from '../../src/labels';
import { scaledLabels, TIME_FIELDS } from '../../scripts/twin';
import { policy } from '../fakes/policy';

// The note on the arrival rate's time constant, at 20×.
const ARRIVAL = new RegExp(
  `^com\\.mass\\.policy=work: the arrival rate is averaged over ${ARRIVAL_TIME_CONSTANT_S}s in the replay's time, ${ARRIVAL_TIME_CONSTANT_S * 20}s traced`,
);

describe('scaledLabels', () => {
  const cases: {
    why: string;
    overrides: Parameters<typeof policy>[0];
    scale: number;
    want: Partial<ReturnType<typeof policy>>;
    notes: RegExp[];
  }[] = [
    {
      why: 'scale 1 changes nothing',
      overrides: { policy: 'work', serviceTime: 30, longestHold: 300 },
      scale: 1,
      want: {
        minScheduleInterval: 10,
        maxScheduleInterval: 30,
        scaleDownDelay: 120,
        targetWait: 180,
        serviceTime: 30,
        startupTime: 45,
        longestHold: 300,
      },
      notes: [],
    },
    {
      why: 'classic at 20×: intervals and delay divided, min_schedule_interval raised to 1 s',
      overrides: {},
      scale: 20,
      want: {
        minScheduleInterval: 1,
        maxScheduleInterval: 1.5,
        scaleDownDelay: 6,
        targetWait: 9,
        serviceTime: 'auto',
        startupTime: 2.25,
        longestHold: 'off',
      },
      notes: [/^com\.mass\.min_schedule_interval 10s \/ 20 is below 1s: 1s \(20s traced\)$/],
    },
    {
      why: 'work at 20× with numbers: target_wait, service_time, startup_time, longest_hold divided',
      overrides: { policy: 'work', serviceTime: 30, longestHold: 300, targetWait: 120, startupTime: 40 },
      scale: 20,
      want: { targetWait: 6, serviceTime: 1.5, startupTime: 2, longestHold: 15, scaleDownDelay: 6 },
      notes: [/min_schedule_interval/, ARRIVAL],
    },
    {
      why: 'work at 20× with auto and off: the words stay, the prior is named in trace seconds',
      overrides: { policy: 'work' },
      scale: 20,
      want: { targetWait: 9, serviceTime: 'auto', startupTime: 2.25, longestHold: 'off' },
      notes: [
        /min_schedule_interval/,
        new RegExp(
          `^com\\.mass\\.service_time=auto: until its first samples the daemon assumes ${SERVICE_TIME_PRIOR_S}s per analysis in the replay's time, ${SERVICE_TIME_PRIOR_S * 20}s traced`,
        ),
        ARRIVAL,
      ],
    },
    {
      why: 'below their least values: target_wait and longest_hold raised to 1 s, service_time to 1 ms',
      overrides: { policy: 'work', targetWait: 10, longestHold: 5, serviceTime: 0.01, startupTime: 0.5 },
      scale: 100,
      want: { targetWait: 1, longestHold: 1, serviceTime: 0.001, startupTime: 0.005, scaleDownDelay: 1.2 },
      notes: [
        /min_schedule_interval/,
        /max_schedule_interval 30s \/ 100 is below 1s/,
        /^com\.mass\.target_wait 10s \/ 100 is below 1s: 1s \(100s traced\)$/,
        /^com\.mass\.service_time 0\.01s \/ 100 is below 0\.001s: 0\.001s \(0\.1s traced\)$/,
        /^com\.mass\.longest_hold 5s \/ 100 is below 1s: 1s \(100s traced\)$/,
        new RegExp(
          `averaged over ${ARRIVAL_TIME_CONSTANT_S}s in the replay's time, ${ARRIVAL_TIME_CONSTANT_S * 100}s traced`,
        ),
      ],
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const { labels, effective, notes } = scaledLabels(policy(c.overrides), c.scale);
      for (const [key, value] of Object.entries(c.want)) {
        assert.equal(effective[key as keyof typeof effective], value, `effective ${key}`);
        // The service carries the same value as the prediction uses.
        assert.equal(labels[LABEL_NAMES[key as keyof typeof LABEL_NAMES]], String(value), `label of ${key}`);
      }
      assert.equal(notes.length, c.notes.length, notes.join('\n'));
      for (const [i, note] of c.notes.entries()) assert.match(notes[i]!, note);
      // The daemon reads the labels back to exactly the effective policy.
      assert.deepEqual(parseLabels(labels, policy()), { ok: true, policy: effective });
    });
  }

  test('every label that takes seconds or a word is a duration the scale divides', () => {
    for (const [field, rule] of Object.entries(POLICY_FIELDS))
      if (rule.kind === 'seconds-or') assert.ok((TIME_FIELDS as readonly string[]).includes(field), field);
  });
});
