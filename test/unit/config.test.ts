import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, OPTIONS, parseDefaults, type Config } from '../../config';

const base = { API_KEY: 'k-123' };

describe('config', () => {
  test('defaults match SPEC.md', () => {
    const result = loadConfig(base);
    assert.ok(result.ok);
    const c = result.config;
    assert.equal(c.massServerAddress, 'http://localhost:8000/api/');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.dryRun, false);
    assert.deepEqual(c.metrics, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(c.defaults, {
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
    });
  });

  test('every option has a one-line explanation', () => {
    for (const [name, option] of Object.entries(OPTIONS))
      assert.ok(option.help.length > 10 && !option.help.includes('\n'), name);
  });

  test('missing API_KEY is named', () => {
    const result = loadConfig({});
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.problems.join('\n'), /API_KEY is not set/);
  });

  test('MASS_SERVER_ADDRESS without the trailing slash gets one', () => {
    const result = loadConfig({ ...base, MASS_SERVER_ADDRESS: 'https://mass.example.org/api' });
    assert.ok(result.ok);
    assert.equal(result.config.massServerAddress, 'https://mass.example.org/api/');
  });

  const bad: { env: Record<string, string>; named: RegExp }[] = [
    { env: { MASS_SERVER_ADDRESS: 'ftp://x/api/' }, named: /^MASS_SERVER_ADDRESS="ftp:\/\/x\/api\/" must be an http/ },
    {
      env: { MASS_SERVER_ADDRESS: 'http://user:pw@x/api/' },
      named: /^MASS_SERVER_ADDRESS=.* must not carry a user name/,
    },
    { env: { LOG_LEVEL: 'loud' }, named: /^LOG_LEVEL="loud" must be one of/ },
    { env: { DRY_RUN: 'perhaps' }, named: /^DRY_RUN="perhaps" must be true or false/ },
    { env: { METRICS_PORT: '70000' }, named: /^METRICS_PORT="70000" must be at most 65535/ },
    { env: { METRICS_PORT: 'auto' }, named: /^METRICS_PORT="auto" must be a port number/ },
    { env: { MASS_REQUEST_TIMEOUT: 'ten' }, named: /^MASS_REQUEST_TIMEOUT="ten" is not a number/ },
    { env: { MASS_PAGE_CONCURRENCY: '0' }, named: /^MASS_PAGE_CONCURRENCY="0" must be at least 1/ },
    { env: { DOCKER_HOST: 'localhost:2375' }, named: /^DOCKER_HOST="localhost:2375" must be unix/ },
    { env: { DISCOVERY_INTERVAL: '6' }, named: /^DISCOVERY_INTERVAL="6" must be at most 5 / },
    { env: { DEFAULT_MIN_INST: '-1' }, named: /^DEFAULT_MIN_INST="-1" must be at least 0/ },
    { env: { DEFAULT_CALCULATION_TECHNIQUE: 'median' }, named: /^DEFAULT_CALCULATION_TECHNIQUE="median"/ },
    { env: { DEFAULT_MIN_INST: '20' }, named: /min_inst must not be greater than max_inst/ },
  ];
  for (const c of bad) {
    test(`${Object.entries(c.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} is rejected, naming the variable`, () => {
      const result = loadConfig({ ...base, ...c.env });
      assert.equal(result.ok, false);
      if (!result.ok)
        assert.ok(
          result.problems.some((p) => c.named.test(p)),
          result.problems.join('\n'),
        );
    });
  }

  test('all problems are reported together', () => {
    const result = loadConfig({ LOG_LEVEL: 'loud', DRY_RUN: 'x', METRICS_PORT: '-1', DEFAULT_E_M_A_WEIGHTING: '2' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const names = result.problems.map((p) => p.split(/[= ]/)[0]);
    assert.deepEqual(names.sort(), ['API_KEY', 'DEFAULT_E_M_A_WEIGHTING', 'DRY_RUN', 'LOG_LEVEL', 'METRICS_PORT']);
  });

  test('METRICS_PORT off means no listener; 0 means any free port', () => {
    const off = loadConfig({ ...base, METRICS_PORT: 'off' });
    assert.ok(off.ok);
    assert.equal(off.config.metrics, null);
    const any = loadConfig({ ...base, METRICS_PORT: '0' });
    assert.ok(any.ok);
    assert.equal(any.config.metrics?.port, 0);
  });

  test('API_KEY_FILE is read and trimmed', () => {
    const result = loadConfig({ API_KEY_FILE: '/run/secrets/mass' }, (path) => {
      assert.equal(path, '/run/secrets/mass');
      return 'file-key\n';
    });
    assert.ok(result.ok);
    assert.equal(result.config.apiKey, 'file-key');
  });

  test('an unreadable API_KEY_FILE is named, without any key in the message', () => {
    const result = loadConfig({ API_KEY_FILE: '/nope' }, () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    });
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual(result.problems, ['API_KEY_FILE="/nope" cannot be read (ENOENT)']);
  });

  test('API_KEY and API_KEY_FILE together are refused', () => {
    const result = loadConfig({ API_KEY: 'a', API_KEY_FILE: '/f' }, () => 'b');
    assert.equal(result.ok, false);
  });

  test('no problem message contains the API key', () => {
    const result = loadConfig({ API_KEY: 'sekrit-key-value', LOG_LEVEL: 'x', MASS_SERVER_ADDRESS: 'nope' });
    assert.equal(result.ok, false);
    if (!result.ok) assert.ok(!result.problems.join('\n').includes('sekrit-key-value'));
  });

  describe('boolean options take the usual spellings, and refuse anything else', () => {
    const yes = ['true', 'TRUE', 'True', '1', 'yes', 'YES', 'on', 'On', ' yes '];
    const no = ['false', 'FALSE', '0', 'no', 'No', 'off', 'OFF', ''];
    const refused = ['perhaps', 'y', 'n', '2', 'enabled', 'tru'];
    const read = {
      DRY_RUN: (c: Config) => c.dryRun,
      DOCKER_TLS_VERIFY: (c: Config) => c.docker.tlsVerify,
    };
    for (const [name, get] of Object.entries(read)) {
      for (const value of yes) {
        test(`${name}=${JSON.stringify(value)} is on`, () => {
          const result = loadConfig({ ...base, [name]: value });
          assert.ok(result.ok, JSON.stringify(result));
          assert.equal(get(result.config), true);
        });
      }
      for (const value of no) {
        test(`${name}=${JSON.stringify(value)} is off`, () => {
          const result = loadConfig({ ...base, [name]: value });
          assert.ok(result.ok, JSON.stringify(result));
          assert.equal(get(result.config), false);
        });
      }
      for (const value of refused) {
        test(`${name}=${JSON.stringify(value)} is refused, naming ${name}`, () => {
          const result = loadConfig({ ...base, [name]: value });
          assert.equal(result.ok, false);
          if (!result.ok)
            assert.deepEqual(
              result.problems.map((p) => p.startsWith(`${name}=${JSON.stringify(value)} must be true or false`)),
              [true],
            );
        });
      }
    }
  });

  test('METRICS_PORT: 65535 is the highest port, 65536 is refused', () => {
    const top = loadConfig({ ...base, METRICS_PORT: '65535' });
    assert.ok(top.ok);
    assert.equal(top.config.metrics?.port, 65535);
    const over = loadConfig({ ...base, METRICS_PORT: '65536' });
    assert.equal(over.ok, false);
    if (!over.ok) assert.match(over.problems.join('\n'), /^METRICS_PORT="65536" must be at most 65535/);
  });

  // Every option given in seconds, and the Config field that holds it in milliseconds.
  const timeOptions: {
    name: string;
    read: (c: Config) => unknown;
    byDefault: number | string | null;
    given: string;
    ms: number;
  }[] = [
    { name: 'MASS_REQUEST_TIMEOUT', read: (c) => c.massRequestTimeoutMs, byDefault: 10_000, given: '2.5', ms: 2500 },
    { name: 'DISCOVERY_INTERVAL', read: (c) => c.discoveryIntervalMs, byDefault: 2000, given: '0.3', ms: 300 },
    { name: 'RETRY_MAX_DELAY', read: (c) => c.retryMaxDelayMs, byDefault: 30_000, given: '1.1', ms: 1100 },
    { name: 'HEALTH_MAX_AGE', read: (c) => c.healthMaxAgeMs, byDefault: 45_000, given: '61', ms: 61_000 },
    { name: 'LEASE_TTL', read: (c) => c.lease?.ttlMs, byDefault: 15_000, given: '2.5', ms: 2500 },
    { name: 'MASS_ONLINE_WINDOW', read: (c) => c.massOnlineWindowMs, byDefault: 600_000, given: '1.5', ms: 1500 },
    { name: 'WORKING_GRACE', read: (c) => c.workingGraceMs, byDefault: 600_000, given: '2', ms: 2000 },
    { name: 'RECOVER_STUCK_AFTER', read: (c) => c.recoverStuckAfterMs, byDefault: null, given: '7', ms: 7000 },
    { name: 'WAKE_UP_INTERVAL', read: (c) => c.wakeUpInterval, byDefault: 'auto', given: '2.5', ms: 2500 },
  ];
  for (const t of timeOptions) {
    test(`${t.name} is seconds: ${t.given} s → ${t.ms} ms (default ${t.byDefault} ms)`, () => {
      const byDefault = loadConfig(base);
      assert.ok(byDefault.ok);
      assert.equal(t.read(byDefault.config), t.byDefault);
      const given = loadConfig({ ...base, [t.name]: t.given });
      assert.ok(given.ok);
      assert.equal(t.read(given.config), t.ms);
    });
  }

  test('LEASE=off: no lease, whatever LEASE_TTL says', () => {
    const off = loadConfig({ ...base, LEASE: 'off', LEASE_TTL: '9' });
    assert.ok(off.ok);
    assert.equal(off.config.lease, null);
  });

  test('every option given in seconds is in the table above', () => {
    const inSeconds = Object.entries(OPTIONS)
      .filter(([name, o]) => /^seconds\b/.test(o.help) && !name.startsWith('DEFAULT_'))
      .map(([name]) => name);
    assert.deepEqual(inSeconds.sort(), timeOptions.map((t) => t.name).sort());
  });

  test('DEFAULT_MIN_SCHEDULE_INTERVAL may equal DEFAULT_MAX_SCHEDULE_INTERVAL', () => {
    const result = loadConfig({ ...base, DEFAULT_MIN_SCHEDULE_INTERVAL: '20', DEFAULT_MAX_SCHEDULE_INTERVAL: '20' });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.config.defaults.minScheduleInterval, 20);
    assert.equal(result.config.defaults.maxScheduleInterval, 20);
  });

  test('DEFAULT_MIN_INST may equal DEFAULT_MAX_INST', () => {
    const result = loadConfig({ ...base, DEFAULT_MIN_INST: '7', DEFAULT_MAX_INST: '7' });
    assert.ok(result.ok, JSON.stringify(result));
  });

  test('MASS_TIME_ZONE: UTC by default, an IANA name is taken, anything else refused naming it', () => {
    const byDefault = loadConfig(base);
    assert.ok(byDefault.ok);
    assert.equal(byDefault.config.massTimeZone, 'UTC');
    const berlin = loadConfig({ ...base, MASS_TIME_ZONE: 'Europe/Berlin' });
    assert.ok(berlin.ok);
    assert.equal(berlin.config.massTimeZone, 'Europe/Berlin');
    const bad = loadConfig({ ...base, MASS_TIME_ZONE: 'CEST+2' });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.problems.join('\n'), /^MASS_TIME_ZONE="CEST\+2" is not a time zone/);
  });

  test('WAKE_UP_INTERVAL: auto by default, off, seconds when set, anything else refused naming it', () => {
    const base = { API_KEY: 'k' };
    const byDefault = loadConfig(base);
    assert.ok(byDefault.ok);
    assert.equal(byDefault.config.wakeUpInterval, 'auto');
    const off = loadConfig({ ...base, WAKE_UP_INTERVAL: ' off ' });
    assert.ok(off.ok);
    assert.equal(off.config.wakeUpInterval, 'off');
    for (const [bad, message] of [
      ['0.5', /^WAKE_UP_INTERVAL="0.5" must be at least 1 \(second\)/],
      ['soon', /^WAKE_UP_INTERVAL="soon" must be auto, off or a number of seconds/],
      ['-3', /^WAKE_UP_INTERVAL="-3" must be auto, off or a number of seconds/],
    ] as const) {
      const result = loadConfig({ ...base, WAKE_UP_INTERVAL: bad });
      assert.equal(result.ok, false, bad);
      if (!result.ok) assert.match(result.problems.join('\n'), message);
    }
  });

  test('RECOVER_STUCK_AFTER: off by default, seconds when set, anything else refused naming it', () => {
    const base = { API_KEY: 'k' };
    const byDefault = loadConfig(base);
    assert.ok(byDefault.ok);
    assert.equal(byDefault.config.recoverStuckAfterMs, null);
    assert.equal(byDefault.config.massOnlineWindowMs, 600_000);
    assert.equal(byDefault.config.workingGraceMs, 600_000);
    const set = loadConfig({ ...base, RECOVER_STUCK_AFTER: ' 1.5 ' });
    assert.ok(set.ok);
    assert.equal(set.config.recoverStuckAfterMs, 1500);
    for (const [value, message] of [
      ['soon', /must be off or a number of seconds/],
      ['0', /must be at least 1/],
      ['-5', /must be off or a number of seconds/],
    ] as const) {
      const bad = loadConfig({ ...base, RECOVER_STUCK_AFTER: value });
      assert.equal(bad.ok, false, value);
      if (!bad.ok) assert.match(bad.problems.join('\n'), new RegExp(`^RECOVER_STUCK_AFTER=.*${message.source}`));
    }
  });

  test('every option lands in its own Config field', () => {
    const result = loadConfig({
      API_KEY: ' k-123 ',
      MASS_SERVER_ADDRESS: ' https://mass.example.org/api ',
      MASS_REQUEST_TIMEOUT: ' 1.25 ',
      MASS_PAGE_CONCURRENCY: '7',
      MASS_DIALECT: 'legacy',
      MASS_TIME_ZONE: 'Europe/Berlin',
      MASS_ONLINE_WINDOW: '120',
      WORKING_GRACE: '300',
      RECOVER_STUCK_AFTER: '900',
      WAKE_UP_INTERVAL: '4',
      LOG_LEVEL: 'warn',
      DRY_RUN: 'on',
      METRICS_HOST: '0.0.0.0',
      METRICS_PORT: '9000',
      DOCKER_HOST: 'tcp://10.0.0.1:2376',
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: '/etc/docker/certs',
      DISCOVERY_INTERVAL: '3',
      RETRY_MAX_DELAY: '60',
      HEALTH_MAX_AGE: '90',
      LEASE: 'team-a.lease',
      LEASE_TTL: '20',
      DEFAULT_MIN_INST: '1',
      DEFAULT_MAX_INST: '40',
      DEFAULT_START_DEMAND: '2.5',
      DEFAULT_CALCULATION_TECHNIQUE: ' Moving_Average ',
      DEFAULT_M_A_SENSITIVITY: '5',
      DEFAULT_E_M_A_WEIGHTING: '.5',
      DEFAULT_MIN_SCHEDULE_INTERVAL: '5',
      DEFAULT_MAX_SCHEDULE_INTERVAL: '1e2',
      DEFAULT_DEMAND_DELTA_THRESHOLD: '0.25',
      DEFAULT_REQUESTS_PER_INSTANCE: '2',
      DEFAULT_SCALE_DOWN_DELAY: '600',
      DEFAULT_AUTOSCALE: 'FALSE',
      DEFAULT_POLICY: 'Work',
      DEFAULT_TARGET_WAIT: '90',
      DEFAULT_SERVICE_TIME: '42.5',
      DEFAULT_STARTUP_TIME: '0',
      DEFAULT_SCALE_IN: 'window',
      DEFAULT_LONGEST_HOLD: '1800',
      DEFAULT_SIZE_AHEAD: ' ON ',
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config, {
      apiKey: 'k-123',
      massServerAddress: 'https://mass.example.org/api/',
      massRequestTimeoutMs: 1250,
      massPageConcurrency: 7,
      massDialect: 'legacy',
      massTimeZone: 'Europe/Berlin',
      massOnlineWindowMs: 120_000,
      workingGraceMs: 300_000,
      recoverStuckAfterMs: 900_000,
      wakeUpInterval: 4000,
      logLevel: 'warn',
      dryRun: true,
      metrics: { host: '0.0.0.0', port: 9000 },
      docker: { host: 'tcp://10.0.0.1:2376', tlsVerify: true, certPath: '/etc/docker/certs' },
      discoveryIntervalMs: 3000,
      retryMaxDelayMs: 60_000,
      healthMaxAgeMs: 90_000,
      lease: { name: 'team-a.lease', ttlMs: 20_000 },
      defaults: {
        minInst: 1,
        maxInst: 40,
        startDemand: 2.5,
        technique: 'moving average',
        window: 5,
        weight: 0.5,
        minScheduleInterval: 5,
        maxScheduleInterval: 100,
        demandDeltaThreshold: 0.25,
        requestsPerInstance: 2,
        scaleDownDelay: 600,
        autoscale: false,
        policy: 'work',
        targetWait: 90,
        serviceTime: 42.5,
        startupTime: 0,
        scaleIn: 'window',
        longestHold: 1800,
        sizeAhead: 'on',
      },
    });
  });

  // Text that is not a number of seconds, or out of range, each with the message it must give.
  const badSeconds: [string, string, RegExp][] = [
    ['MASS_REQUEST_TIMEOUT', 'x5', /is not a number of seconds/],
    ['MASS_REQUEST_TIMEOUT', '5x', /is not a number of seconds/],
    ['MASS_REQUEST_TIMEOUT', '5.', /is not a number of seconds/],
    ['MASS_REQUEST_TIMEOUT', '-5', /is not a number of seconds/],
    ['DISCOVERY_INTERVAL', '0.1', /must be at least 0\.2 /],
    ['RETRY_MAX_DELAY', '0.5', /must be at least 1 /],
    ['HEALTH_MAX_AGE', '86401', /must be at most 86400 /],
    ['LEASE_TTL', '0.5', /must be at least 1 /],
    ['LEASE_TTL', '301', /must be at most 300 /],
    ['LEASE', 'my lease', /must be off or a config name/],
  ];
  for (const [name, value, message] of badSeconds) {
    test(`${name}=${JSON.stringify(value)} is refused: ${message.source}`, () => {
      const result = loadConfig({ ...base, [name]: value });
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.problems.join('\n'), new RegExp(`^${name}=.*${message.source}`));
    });
  }

  test('API_KEY_FILE is read from disk by default, path and key trimmed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-key-'));
    try {
      const path = join(dir, 'key');
      writeFileSync(path, '  disk-key \n');
      const result = loadConfig({ API_KEY_FILE: ` ${path} ` });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.config.apiKey, 'disk-key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an API_KEY_FILE holding only blanks is refused as empty', () => {
    const result = loadConfig({ API_KEY_FILE: '/run/secrets/mass' }, () => ' \n');
    assert.deepEqual(result, { ok: false, problems: ['API_KEY_FILE="/run/secrets/mass" is empty'] });
  });

  test('API_KEY and API_KEY_FILE together: the message says to set only one', () => {
    const result = loadConfig({ API_KEY: 'a', API_KEY_FILE: '/f' }, () => 'b');
    assert.deepEqual(result, {
      ok: false,
      problems: ['API_KEY and API_KEY_FILE are both set: set only one of them'],
    });
  });

  test('an API_KEY of blanks is not set', () => {
    const result = loadConfig({ API_KEY: '   ' });
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.problems.join('\n'), /^API_KEY is not set/);
  });

  test('parseDefaults gives no defaults when one is bad, or when they conflict', () => {
    const bad: string[] = [];
    assert.equal(parseDefaults({ DEFAULT_MIN_INST: 'x' }, bad), undefined);
    assert.equal(bad.length, 1);
    const conflicting: string[] = [];
    assert.equal(parseDefaults({ DEFAULT_MIN_INST: '20' }, conflicting), undefined);
    assert.deepEqual(conflicting, ['DEFAULT_* options: min_inst must not be greater than max_inst (20 > 15)']);
  });

  test('an API_KEY_FILE that fails without an error code is still named', () => {
    const result = loadConfig({ API_KEY_FILE: '/odd' }, () => {
      throw new Error('odd failure');
    });
    assert.deepEqual(result, { ok: false, problems: ['API_KEY_FILE="/odd" cannot be read (read error)'] });
  });
});

describe('DEFAULT_* options of the work policy', () => {
  const bad: [string, string, RegExp][] = [
    ['DEFAULT_POLICY', 'hpa', /^DEFAULT_POLICY="hpa" must be "classic" or "work" \(default of com\.mass\.policy: /],
    ['DEFAULT_TARGET_WAIT', '0', /^DEFAULT_TARGET_WAIT="0" must be at least 1 /],
    ['DEFAULT_SERVICE_TIME', 'x', /^DEFAULT_SERVICE_TIME="x" must be auto or a number of seconds /],
    ['DEFAULT_STARTUP_TIME', '4000', /^DEFAULT_STARTUP_TIME="4000" must be at most 3600 /],
    ['DEFAULT_SCALE_IN', 'drain', /^DEFAULT_SCALE_IN="drain" must be "idle" or "window" /],
    ['DEFAULT_LONGEST_HOLD', '0.5', /^DEFAULT_LONGEST_HOLD="0.5" must be at least 1 /],
  ];
  for (const [name, value, want] of bad) {
    test(`${name}=${value} is refused, naming the option`, () => {
      const result = loadConfig({ API_KEY: 'k', [name]: value });
      assert.ok(!result.ok);
      assert.equal(result.problems.length, 1);
      assert.match(result.problems[0]!, want);
    });
  }
});
