import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig, OPTIONS } from '../../config';
import { LABEL_NAMES, parseLabels, SYSTEM_LABEL, type PolicyDefaults } from '../../src/labels';
import { policy } from '../fakes/policy';

const { system: _system, ...defaults }: { system: string } & PolicyDefaults = policy();

describe('seconds-or-word settings: each bad value gets its own message', () => {
  // service_time takes `auto` or seconds > 0 (to 86400); longest_hold `off` or seconds from 1 (to 604800)
  const cases: { value: string; serviceTime: string; longestHold: string }[] = [
    {
      value: 'soon',
      serviceTime: 'must be auto or a number of seconds',
      longestHold: 'must be off or a number of seconds',
    },
    { value: '0', serviceTime: 'must be greater than 0', longestHold: 'must be at least 1' },
    { value: '-3', serviceTime: 'must be greater than 0', longestHold: 'must be at least 1' },
    { value: '99999999', serviceTime: 'must be at most 86400', longestHold: 'must be at most 604800' },
  ];
  for (const c of cases) {
    test(`labels: ${JSON.stringify(c.value)}`, () => {
      const result = parseLabels(
        { [SYSTEM_LABEL]: 'ssdeep', [LABEL_NAMES.serviceTime]: c.value, [LABEL_NAMES.longestHold]: c.value },
        defaults,
      );
      assert.deepEqual(result, {
        ok: false,
        problems: [
          { label: 'com.mass.service_time', value: c.value, problem: c.serviceTime },
          { label: 'com.mass.longest_hold', value: c.value, problem: c.longestHold },
        ],
      });
    });

    test(`DEFAULT_* options: ${JSON.stringify(c.value)}`, () => {
      const result = loadConfig({ API_KEY: 'k-1', DEFAULT_SERVICE_TIME: c.value, DEFAULT_LONGEST_HOLD: c.value });
      assert.deepEqual(result, {
        ok: false,
        problems: [
          `DEFAULT_SERVICE_TIME=${JSON.stringify(c.value)} ${c.serviceTime} (${OPTIONS.DEFAULT_SERVICE_TIME.help})`,
          `DEFAULT_LONGEST_HOLD=${JSON.stringify(c.value)} ${c.longestHold} (${OPTIONS.DEFAULT_LONGEST_HOLD.help})`,
        ],
      });
    });
  }

  test('the word is taken in any case, seconds trimmed', () => {
    const result = parseLabels(
      { [SYSTEM_LABEL]: 'ssdeep', [LABEL_NAMES.serviceTime]: ' 90 ', [LABEL_NAMES.longestHold]: 'OFF' },
      defaults,
    );
    assert.deepEqual(result, { ok: true, policy: policy({ system: 'ssdeep', serviceTime: 90, longestHold: 'off' }) });
  });
});

describe('API_KEY_FILE', () => {
  test('a key file with the key on its own line: the key alone', () => {
    const result = loadConfig({ API_KEY_FILE: '/run/secrets/mass' }, () => '\n  s3cret-key \n');
    assert.ok(result.ok);
    assert.equal(result.config.apiKey, 's3cret-key');
  });

  test('an empty key file is named, with the other problems', () => {
    const result = loadConfig({ API_KEY_FILE: '/f', DEFAULT_LONGEST_HOLD: 'never' }, () => '');
    assert.deepEqual(result, {
      ok: false,
      problems: [
        'API_KEY_FILE="/f" is empty',
        `DEFAULT_LONGEST_HOLD="never" must be off or a number of seconds (${OPTIONS.DEFAULT_LONGEST_HOLD.help})`,
      ],
    });
  });
});
