// The reconcile loop when things go wrong, with in-memory fakes and a moved clock: retry
// backoff, restarts, dips, bad labels and the memory the failure bookkeeping keeps.
// (The same faults against the real daemon, a real swarm and a real HTTP server are in
// test/e2e/faults-*.test.ts.)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LABEL_NAMES, SYSTEM_LABEL } from '../../src/labels';
import type { MassErrorKind, SystemReading } from '../../src/types';
import { FakeDemand, followingLabels, loopUnderTest, ManualClock } from '../fakes/in-memory';

/** FakeDemand that remembers when (virtual time) each system was asked for. */
class TimedDemand extends FakeDemand {
  readonly asked: { at: number; systems: string[] }[] = [];
  constructor(private readonly clock: ManualClock) {
    super();
  }
  override async readDemand(systems: readonly string[]): Promise<Map<string, SystemReading>> {
    this.asked.push({ at: this.clock.now(), systems: [...systems] });
    return super.readDemand(systems);
  }
  /** times at which `system` was asked for, from `since` on */
  timesOf(system: string, since = 0): number[] {
    return this.asked.filter((a) => a.at >= since && a.systems.includes(system)).map((a) => a.at);
  }
}

function setup(opts: { retryMaxDelayMs?: number; discoveryIntervalMs?: number; random?: () => number } = {}) {
  return loopUnderTest({ ...opts, demand: (clock) => new TimedDemand(clock) });
}

const labels = followingLabels;

const failure = (kind: MassErrorKind, message = `injected ${kind}`): SystemReading => ({
  ok: false,
  error: { kind, message },
});

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('retry backoff while MASS fails', () => {
  test('the wait grows exponentially with jitter on repeated failures, is capped by RETRY_MAX_DELAY, and starts over after a success', async () => {
    // Jitter values handed out in order; only a failed evaluation draws one.
    const jitter = [0, 0.99, 0.5, 0.25, 0.75, 0, 0.99, 0.5, 0.1, 0.9];
    let drawn = 0;
    const { clock, mass, swarm, runFor } = setup({
      retryMaxDelayMs: 20_000,
      random: () => jitter[drawn++ % jitter.length]!,
    });
    const s = swarm.add(
      'a',
      labels('sa', {
        'com.mass.min_inst': '0',
        'com.mass.scale_down_delay': '0',
        'com.mass.min_schedule_interval': '2',
      }),
      4,
    );
    mass.demand.set('sa', 4);
    await runFor(1);
    const failedFrom = clock.now();
    mass.failAll = failure('unreachable');
    mass.demand.set('sa', 0); // what a failure misread as "no demand" would scale to
    await runFor(150);
    assert.equal(s.replicas, 4, 'no replica lost while MASS failed');
    assert.equal(swarm.scaleCalls.length, 0);

    // base = min_schedule_interval 2 s, doubling per failure, cap 20 s; the wait is
    // exp/2 + exp/2 × jitter: never under half the step, never over the cap.
    const expected = [
      1000 + 1000 * 0, //     failure 1: step 2 s
      2000 + 2000 * 0.99, //  failure 2: step 4 s
      4000 + 4000 * 0.5, //   failure 3: step 8 s
      8000 + 8000 * 0.25, //  failure 4: step 16 s
      10000 + 10000 * 0.75, // failure 5: step capped at 20 s
      10000 + 10000 * 0, //   failure 6
      10000 + 10000 * 0.99, // failure 7
      10000 + 10000 * 0.5, // failure 8
    ];
    const waits = gaps(mass.timesOf('sa', failedFrom));
    assert.deepEqual(waits.slice(0, expected.length), expected);
    assert.ok(
      waits.every((w) => w <= 20_000),
      `every wait within RETRY_MAX_DELAY: ${waits.join(', ')}`,
    );
    assert.ok(new Set(waits.slice(4)).size > 1, 'capped waits still carry jitter');

    // MASS answers again: the service follows the demand, and the next outage starts from the base step.
    mass.failAll = null;
    await runFor(30);
    assert.equal(s.replicas, 0);
    mass.demand.set('sa', 3);
    await runFor(10);
    assert.equal(s.replicas, 3);
    const again = clock.now();
    drawn = 0;
    mass.failAll = failure('timeout');
    await runFor(60);
    assert.deepEqual(gaps(mass.timesOf('sa', again)).slice(0, 3), [1000, 3980, 6000]);
  });

  test('RETRY_MAX_DELAY below min_schedule_interval: the cap wins from the first retry', async () => {
    const { clock, mass, swarm, runFor } = setup({ retryMaxDelayMs: 3000, random: () => 0.999 });
    swarm.add('a', labels('sa', { 'com.mass.min_schedule_interval': '10', 'com.mass.max_schedule_interval': '60' }), 4);
    mass.demand.set('sa', 4);
    await runFor(1);
    const from = clock.now();
    mass.failAll = failure('server-error');
    await runFor(120);
    const waits = gaps(mass.timesOf('sa', from));
    assert.ok(waits.length >= 15, `retried ${waits.length} times`);
    assert.ok(
      waits.every((w) => w <= 3000 && w >= 1500),
      waits.join(', '),
    );
  });

  test('services failing together do not retry in lockstep (jitter is drawn per service)', async () => {
    let n = 0;
    const { clock, mass, swarm, runFor } = setup({ random: () => [0.1, 0.9][n++ % 2]! });
    swarm.add('a', labels('sa'), 4);
    swarm.add('b', labels('sb'), 4);
    mass.demand.set('sa', 4);
    mass.demand.set('sb', 4);
    await runFor(1);
    const from = clock.now();
    mass.failAll = failure('unreachable');
    await runFor(120);
    const a = mass.timesOf('sa', from).slice(1);
    const b = mass.timesOf('sb', from).slice(1);
    assert.ok(a.length >= 3 && b.length >= 3);
    assert.ok(
      a.every((t) => !b.includes(t)),
      `a retried at ${a.join(',')}, b at ${b.join(',')}`,
    );
  });

  test('Docker failing: listing backs off with jitter up to RETRY_MAX_DELAY, and the MASS schedule is not run meanwhile', async () => {
    let n = 0;
    const { clock, mass, swarm, runFor, log } = setup({
      retryMaxDelayMs: 8000,
      discoveryIntervalMs: 1000,
      random: () => [0.2, 0.8][n++ % 2]!,
    });
    const s = swarm.add('a', labels('sa', { 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0' }), 4);
    mass.demand.set('sa', 4);
    await runFor(1);
    const listed: number[] = [];
    const list = swarm.listManaged.bind(swarm);
    swarm.listManaged = async () => {
      listed.push(clock.now());
      return list();
    };
    swarm.listError = Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { kind: 'unreachable' });
    const asked = mass.asked.length;
    mass.demand.set('sa', 0);
    await runFor(120);
    const waits = gaps(listed);
    // step 1 s doubling to the 8 s cap; the wait is step/2 + step/2 × jitter
    assert.deepEqual(waits.slice(0, 5), [600, 1800, 2400, 7200, 4800]);
    assert.ok(
      waits.every((w) => w <= 8000),
      waits.join(', '),
    );
    assert.equal(mass.asked.length, asked, 'no MASS reading is acted on while the services cannot be listed');
    assert.equal(s.replicas, 4);
    assert.equal(log.said('Docker: cannot list services').length, 1);
  });
});

describe('a restart never shrinks a service', () => {
  // A fresh Reconciler is what a restarted daemon is: no memory, the service as Docker shows it.
  const rows: { name: string; extra: Record<string, string>; replicas: number; demand: number }[] = [
    {
      name: 'EMA, default bounds and start demand',
      extra: { 'com.mass.calculation_technique': 'exponential moving average' },
      replicas: 5,
      demand: 5,
    },
    {
      name: 'EMA with min_inst 0 and start_demand 0',
      extra: {
        'com.mass.calculation_technique': 'exponential moving average',
        'com.mass.min_inst': '0',
        'com.mass.start_demand': '0',
      },
      replicas: 2,
      demand: 2,
    },
    {
      name: 'EMA with min_inst 0 at zero replicas and no demand',
      extra: {
        'com.mass.calculation_technique': 'exponential moving average',
        'com.mass.min_inst': '0',
        'com.mass.start_demand': '0',
      },
      replicas: 0,
      demand: 0,
    },
    {
      name: 'EMA with a low weight, scale_down_delay 0',
      extra: {
        'com.mass.calculation_technique': 'exponential moving average',
        'com.mass.e_m_a_weighting': '0.05',
        'com.mass.min_inst': '0',
        'com.mass.scale_down_delay': '0',
      },
      replicas: 7,
      demand: 7,
    },
    {
      name: 'moving average over 10 readings, min_inst 0',
      extra: { 'com.mass.m_a_sensitivity': '10', 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0' },
      replicas: 4,
      demand: 4,
    },
    {
      name: 'two analyses per replica',
      extra: {
        'com.mass.calculation_technique': 'exponential moving average',
        'com.mass.requests_per_instance': '2',
        'com.mass.min_inst': '0',
      },
      replicas: 3,
      demand: 6,
    },
    {
      name: 'half an analysis per replica',
      extra: { 'com.mass.requests_per_instance': '0.5', 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0' },
      replicas: 4,
      demand: 2,
    },
  ];
  for (const row of rows) {
    test(`replicas matching the demand are left alone: ${row.name}`, async () => {
      const { mass, swarm, log, runFor } = setup();
      const s = swarm.add('a', labels('sa', row.extra), row.replicas);
      mass.demand.set('sa', row.demand);
      await runFor(600);
      assert.deepEqual(
        swarm.scaleCalls,
        [],
        log
          .texts()
          .filter((m) => !m.startsWith('steady'))
          .join('\n'),
      );
      assert.equal(s.replicas, row.replicas);
      assert.ok(
        log
          .said('decision')
          .includes(
            `steady: demand ${row.demand.toFixed(1)}${row.extra['com.mass.requests_per_instance'] ? ` (${row.extra['com.mass.requests_per_instance']} per replica)` : ''} matches ${row.replicas} replicas`,
          ),
        log.texts().slice(0, 5).join('\n'),
      );
    });
  }

  test('a lower reading right after a restart removes nothing before scale_down_delay, then follows it', async () => {
    const { clock, mass, swarm, runFor } = setup();
    const start = clock.now();
    const s = swarm.add(
      'a',
      labels('sa', {
        'com.mass.calculation_technique': 'exponential moving average',
        'com.mass.min_inst': '0',
        'com.mass.scale_down_delay': '120',
      }),
      6,
    );
    mass.demand.set('sa', 1);
    await runFor(119);
    assert.equal(swarm.scaleCalls.length, 0);
    await runFor(600);
    assert.equal(s.replicas, 1, 'the lower demand is followed once it has held for the window');
    const firstDown = swarm.scaleCalls[0];
    assert.ok(
      firstDown && firstDown.at >= start + 120_000,
      `first scale-down at +${firstDown ? (firstDown.at - start) / 1000 : '-'} s`,
    );
  });

  test('a restart while MASS is failing holds every service, whatever its bounds', async () => {
    const { mass, swarm, runFor, log } = setup();
    const a = swarm.add(
      'a',
      labels('sa', { 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0', 'com.mass.start_demand': '0' }),
      5,
    );
    const b = swarm.add(
      'b',
      labels('sb', { 'com.mass.min_inst': '0', 'com.mass.max_inst': '2', 'com.mass.start_demand': '0' }),
      2,
    );
    mass.failAll = failure(
      'forbidden',
      'GET analysis_system/: 403 Forbidden: MASS rejected the API key; check API_KEY',
    );
    await runFor(300);
    assert.deepEqual(swarm.scaleCalls, []);
    assert.equal(a.replicas, 5);
    assert.equal(b.replicas, 2);
    assert.equal(log.said('MASS API: failing').filter((m) => m.includes('rejected the API key')).length, 1);
  });
});

describe('a dip shorter than scale_down_delay removes no replica', () => {
  const quick = {
    'com.mass.min_inst': '0',
    'com.mass.scale_down_delay': '60',
    'com.mass.min_schedule_interval': '1',
    'com.mass.max_schedule_interval': '2',
  };
  const techniques: { name: string; extra: Record<string, string> }[] = [
    { name: 'moving average of 1', extra: { 'com.mass.m_a_sensitivity': '1' } },
    { name: 'moving average of 3', extra: { 'com.mass.m_a_sensitivity': '3' } },
    { name: 'EMA 0.3', extra: { 'com.mass.calculation_technique': 'exponential moving average' } },
    {
      name: 'EMA 1 (newest reading only)',
      extra: { 'com.mass.calculation_technique': 'exponential moving average', 'com.mass.e_m_a_weighting': '1' },
    },
  ];
  for (const t of techniques) {
    // The window holds targets, which follow the smoothed demand: an EMA keeps targets low a
    // few evaluations after the demand is back, so the dip here leaves room for that.
    test(`${t.name}: a 40 s dip to zero inside a 60 s window keeps every replica; a 70 s one does not`, async () => {
      const { mass, swarm, runFor } = setup();
      const s = swarm.add('a', labels('sa', { ...quick, ...t.extra }), 10);
      mass.demand.set('sa', 10);
      await runFor(30);
      mass.demand.set('sa', 0);
      await runFor(40);
      mass.demand.set('sa', 10);
      await runFor(30);
      assert.deepEqual(swarm.scaleCalls, [], 'the short dip removed nothing');
      assert.equal(s.replicas, 10);
      // the control: the same dip held past the window does scale down
      mass.demand.set('sa', 0);
      await runFor(70);
      assert.ok(s.replicas < 10, `a dip longer than the window scales down (at ${s.replicas})`);
    });
  }

  test('a dip with a MASS outage inside it removes nothing either', async () => {
    const { mass, swarm, runFor } = setup();
    const s = swarm.add('a', labels('sa', quick), 10);
    mass.demand.set('sa', 10);
    await runFor(30);
    mass.demand.set('sa', 0);
    await runFor(20);
    mass.failAll = failure('server-error');
    await runFor(25);
    mass.failAll = null;
    await runFor(5);
    mass.demand.set('sa', 10);
    await runFor(30);
    assert.deepEqual(swarm.scaleCalls, []);
    assert.equal(s.replicas, 10);
  });
});

describe('bad labels, at the loop level', () => {
  // Every com.mass.* label with an empty value, a non-number, a negative, a fraction where a
  // whole number is needed, an absurdly large number; plus the min > max pairs.
  const numeric: { label: string; whole: boolean }[] = [
    { label: LABEL_NAMES.minInst, whole: true },
    { label: LABEL_NAMES.maxInst, whole: true },
    { label: LABEL_NAMES.startDemand, whole: false },
    { label: LABEL_NAMES.window, whole: true },
    { label: LABEL_NAMES.weight, whole: false },
    { label: LABEL_NAMES.minScheduleInterval, whole: false },
    { label: LABEL_NAMES.maxScheduleInterval, whole: false },
    { label: LABEL_NAMES.demandDeltaThreshold, whole: false },
    { label: LABEL_NAMES.requestsPerInstance, whole: false },
    { label: LABEL_NAMES.scaleDownDelay, whole: false },
  ];
  const cases: { labels: Record<string, string>; label: string; value: string }[] = [];
  for (const { label, whole } of numeric) {
    for (const value of ['', 'lots', '-1', ...(whole ? ['2.5'] : []), '1e400', '99999999999'])
      cases.push({ labels: { [label]: value }, label, value });
  }
  for (const value of ['', 'median', '-1', '2.5'])
    cases.push({ labels: { [LABEL_NAMES.technique]: value }, label: LABEL_NAMES.technique, value });
  for (const value of ['', 'maybe', '-1', '2.5'])
    cases.push({ labels: { [LABEL_NAMES.autoscale]: value }, label: LABEL_NAMES.autoscale, value });
  cases.push({ labels: { [SYSTEM_LABEL]: '' }, label: SYSTEM_LABEL, value: '' });
  cases.push({
    labels: { [LABEL_NAMES.minInst]: '9', [LABEL_NAMES.maxInst]: '4' },
    label: `${LABEL_NAMES.minInst} / ${LABEL_NAMES.maxInst}`,
    value: '9 > 4',
  });
  cases.push({
    labels: { [LABEL_NAMES.minInst]: '16' },
    label: `${LABEL_NAMES.minInst} / ${LABEL_NAMES.maxInst}`,
    value: '16 > 15',
  });
  cases.push({
    labels: { [LABEL_NAMES.minScheduleInterval]: '60', [LABEL_NAMES.maxScheduleInterval]: '30' },
    label: `${LABEL_NAMES.minScheduleInterval} / ${LABEL_NAMES.maxScheduleInterval}`,
    value: '60 > 30',
  });

  for (const c of cases) {
    test(`${c.label}=${JSON.stringify(c.value)}: reported once naming service, label and value; that service left alone, another scaled`, async () => {
      const { mass, swarm, log, runFor, reconciler } = setup();
      const bad = swarm.add('bad-svc', { ...labels('sa'), ...c.labels }, 2);
      const good = swarm.add('good-svc', labels('sb'), 3);
      mass.demand.set('sa', 9);
      mass.demand.set('sb', 9);
      await runFor(120);
      assert.equal(bad.replicas, 2);
      assert.ok(!swarm.scaleCalls.some((call) => call.id === bad.id), 'the bad service was never scaled');
      assert.equal(good.replicas, 9, 'the other service is scaled');
      const reports = log.lines.filter((l) => l.msg === 'bad labels: service left alone');
      assert.equal(reports.length, 1, 'reported once, not every round');
      const msg = String(reports[0]!.explanation);
      assert.ok(msg.startsWith('service bad-svc has bad labels'), msg);
      assert.ok(
        msg.includes(`${c.label}=${JSON.stringify(c.value)} `),
        `names ${c.label}=${JSON.stringify(c.value)}: ${msg}`,
      );
      assert.equal(reports[0]!.service, 'bad-svc');
      assert.equal(reconciler.snapshot().find((s) => s.name === 'bad-svc')?.status, 'invalid-labels');
    });
  }

  test('labels turning bad while a service is managed: it is left as it is, reported once per change, and picked up again when fixed', async () => {
    const { mass, swarm, log, runFor } = setup();
    const s = swarm.add('a', labels('sa', { 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0' }), 2);
    mass.demand.set('sa', 6);
    await runFor(10);
    assert.equal(s.replicas, 6);
    s.labels[LABEL_NAMES.maxInst] = 'many';
    mass.demand.set('sa', 1);
    await runFor(60);
    assert.equal(s.replicas, 6, 'left as it is, neither down to the demand nor to a default');
    s.labels[LABEL_NAMES.maxInst] = '0.5';
    await runFor(60);
    s.labels[LABEL_NAMES.maxInst] = '10';
    await runFor(10);
    assert.equal(s.replicas, 1, 'fixed labels apply again');
    const reports = log.said('bad labels: service left alone').filter((m) => m.includes('has bad labels'));
    assert.equal(reports.length, 2, reports.join('\n'));
    assert.match(reports[0]!, /com\.mass\.max_inst="many" is not a number/);
    assert.match(reports[1]!, /com\.mass\.max_inst="0\.5" must be a whole number/);
  });
});

describe('stopping while a round waits', () => {
  const never = <T>() => new Promise<T>(() => {});

  test('MASS never answers: run() returns as soon as the signal aborts, nothing is changed', async () => {
    const { mass, swarm, reconciler } = setup();
    swarm.add('a', labels('sa'), 2);
    let waiting = false;
    mass.readDemand = () => {
      waiting = true;
      return never();
    };
    const stop = new AbortController();
    const running = reconciler.run(stop.signal);
    await waitUntil(() => waiting);
    stop.abort();
    await running; // would hang here if the round waited for the answer
    assert.deepEqual(swarm.scaleCalls, []);
  });

  test('the list of services never comes: run() returns as soon as the signal aborts', async () => {
    const { swarm, reconciler, log } = setup();
    let waiting = false;
    swarm.listManaged = () => {
      waiting = true;
      return never();
    };
    const stop = new AbortController();
    const running = reconciler.run(stop.signal);
    await waitUntil(() => waiting);
    stop.abort();
    await running;
    assert.ok(!log.messages().some((m) => m.startsWith('Docker:')), 'an abandoned wait is not a Docker failure');
  });
});

/** Lets the event loop turn until `ready` holds (the fakes answer within a few ticks). */
async function waitUntil(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(ready(), 'the loop got there');
}

describe('memory stays bounded', () => {
  test('10,000 rounds of services appearing and disappearing while their systems fail: the failure bookkeeping forgets systems no service reads', async () => {
    const { clock, mass, swarm, reconciler } = setup();
    const kinds: MassErrorKind[] = [
      'unreachable',
      'timeout',
      'forbidden',
      'server-error',
      'not-json',
      'bad-shape',
      'paging',
      'unknown-system',
      'http-error',
    ];
    let maxTracked = 0;
    let maxFailing = 0;
    for (let round = 0; round < 10_000; round++) {
      // every service reads a system of its own, failing in one of the ways MASS can fail
      const system = `sys-${round}`;
      swarm.add(`svc-${round}`, labels(system), 1);
      mass.failing.set(system, failure(kinds[round % kinds.length]!));
      if (round >= 5) {
        swarm.services.delete(`id-svc-${round - 5}`);
        mass.failing.delete(`sys-${round - 5}`);
      }
      await reconciler.round();
      maxTracked = Math.max(maxTracked, reconciler.trackedCount());
      maxFailing = Math.max(maxFailing, reconciler.failingSystemsCount());
      clock.advance(2000);
    }
    assert.ok(maxTracked <= 6, `tracked ${maxTracked} services at once`);
    assert.ok(maxFailing <= 6, `remembered ${maxFailing} failing systems at once`);
    assert.ok(reconciler.health().massError !== null, 'the systems still read are still failing');
    swarm.services.clear();
    await reconciler.round();
    clock.advance(2000);
    await reconciler.round();
    assert.equal(reconciler.trackedCount(), 0);
    assert.equal(reconciler.failingSystemsCount(), 0);
    assert.equal(reconciler.health().massError, null, 'no stale MASS error once no service reads the failing systems');
  });

  test('a system that stops failing because its services are gone or paused is reported as no longer failing', async () => {
    const { mass, swarm, log, runFor, reconciler } = setup();
    const a = swarm.add('a', labels('sa'), 3);
    swarm.add('b', labels('sb'), 3);
    mass.demand.set('sb', 3);
    mass.failing.set('sa', failure('server-error', 'GET analysis_request/?...: 500'));
    await runFor(10);
    assert.equal(reconciler.failingSystemsCount(), 1);
    a.labels['com.mass.autoscale'] = 'false';
    await runFor(10);
    assert.equal(reconciler.failingSystemsCount(), 0);
    assert.ok(
      log
        .said('MASS API: failure no longer affects any service')
        .includes('MASS API: server-error no longer affects any managed service'),
      log.texts().join('\n'),
    );
    // managed again, still failing: a new line for the new occurrence
    delete a.labels['com.mass.autoscale'];
    await runFor(10);
    assert.equal(
      log.said('MASS API: failing').filter((m) => m.startsWith('MASS API: GET analysis_request/?...: 500')).length,
      2,
    );
  });
});
