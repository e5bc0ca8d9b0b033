import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseStatusArgs } from '../../src/cli-status';
import { healthVerdict } from '../../src/health';
import type { HealthSnapshot } from '../../src/loop/status-view';

const now = 1_000_000;
const fresh: HealthSnapshot = {
  lastMassOkAt: now - 1000,
  lastDockerOkAt: now - 1000,
  massIdle: false,
  massError: null,
  dockerError: null,
  updatesFailingSince: null,
  updateError: null,
};

describe('healthVerdict', () => {
  const cases: { why: string; h: Partial<HealthSnapshot>; ok: boolean; reason?: RegExp }[] = [
    { why: 'both recent', h: {}, ok: true },
    {
      why: 'before the first Docker round',
      h: { lastDockerOkAt: null },
      ok: false,
      reason: /no successful Docker round yet/,
    },
    {
      why: 'before the first MASS reading',
      h: { lastMassOkAt: null, massError: 'GET analysis_system/: 403' },
      ok: false,
      reason: /no successful MASS reading yet \(GET analysis_system\/: 403\)/,
    },
    {
      why: 'MASS reading too old',
      h: { lastMassOkAt: now - 46_000, massError: 'timeout' },
      ok: false,
      reason: /no successful MASS reading for 46s \(timeout\)/,
    },
    {
      why: 'Docker round too old',
      h: { lastDockerOkAt: now - 60_000, dockerError: 'unreachable' },
      ok: false,
      reason: /no successful Docker round for 60s \(unreachable\)/,
    },
    { why: 'no service needs MASS: MASS age does not matter', h: { lastMassOkAt: null, massIdle: true }, ok: true },
    { why: 'exactly at the limit is still fine', h: { lastMassOkAt: now - 45_000 }, ok: true },
    {
      why: 'nothing but failed service updates for longer than the limit',
      h: { updatesFailingSince: now - 46_000, updateError: 'update service s: HTTP 400: refused' },
      ok: false,
      reason: /only failed service updates for 46s \(update service s: HTTP 400: refused\)/,
    },
    {
      why: 'failed service updates for exactly the limit are still fine',
      h: { updatesFailingSince: now - 45_000, updateError: 'refused' },
      ok: true,
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const v = healthVerdict({ ...fresh, ...c.h }, now, 45_000);
      assert.equal(v.ok, c.ok);
      if (c.reason) assert.match(v.reasons.join('; '), c.reason);
    });
  }
});

describe('status arguments', () => {
  const cases: { argv: string[]; env: Record<string, string>; want: ReturnType<typeof parseStatusArgs> | RegExp }[] = [
    { argv: [], env: {}, want: { url: 'http://127.0.0.1:9464', json: false } },
    {
      argv: ['--json'],
      env: { METRICS_HOST: '::1', METRICS_PORT: '9000' },
      want: { url: 'http://[::1]:9000', json: true },
    },
    { argv: ['--url', 'http://h:1/'], env: {}, want: { url: 'http://h:1', json: false } },
    { argv: ['--url=http://h:2'], env: {}, want: { url: 'http://h:2', json: false } },
    { argv: [], env: { METRICS_PORT: 'off' }, want: /METRICS_PORT=off gives no fixed address/ },
    { argv: ['--verbose'], env: {}, want: /unknown argument "--verbose"/ },
  ];
  for (const c of cases) {
    test(`${c.argv.join(' ') || '(none)'} ${JSON.stringify(c.env)}`, () => {
      const got = parseStatusArgs(c.argv, c.env);
      if (c.want instanceof RegExp) assert.match(String(got), c.want);
      else assert.deepEqual(got, c.want);
    });
  }
});
