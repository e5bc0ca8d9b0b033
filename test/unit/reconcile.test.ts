import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config';
import { healthVerdict } from '../../src/health';
import { followingLabels, loopUnderTest } from '../fakes/in-memory';

function setup(opts: { dryRun?: boolean } = {}) {
  return loopUnderTest({ dryRun: opts.dryRun });
}

const labels = followingLabels;

describe('reconciler', () => {
  test('demand becomes replicas, one log line per decision with its reason and inputs', async () => {
    const { mass, swarm, log, runFor } = setup();
    swarm.add('ssdeep-svc', labels('ssdeep'), 3);
    mass.demand.set('ssdeep', 7);
    await runFor(1);
    assert.equal(swarm.services.get('id-ssdeep-svc')?.replicas, 7);
    const line = log.lines.find((l) => l.explanation === 'scale up: demand 7.0 > 3 replicas');
    assert.ok(line, log.texts().join('\n'));
    assert.equal(line.msg, 'scaled', 'a fixed message; the sentence is the field explanation');
    assert.equal(line.service, 'ssdeep-svc');
    assert.equal(line.due, 7);
    assert.equal(line.current, 3);
    assert.equal(line.desired, 7);
  });

  test('while MASS fails, no service loses a replica, and each failure kind is logged once', async () => {
    const { mass, swarm, log, runFor } = setup();
    swarm.add('a', labels('sa', { 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0' }), 6);
    mass.demand.set('sa', 6);
    await runFor(5);
    mass.failAll = {
      ok: false,
      error: { kind: 'forbidden', message: 'GET analysis_system/: 403, the API key was rejected' },
    };
    await runFor(600);
    assert.equal(swarm.services.get('id-a')?.replicas, 6);
    assert.equal(log.said('MASS API: failing').filter((m) => m.includes('API key was rejected')).length, 1);
    mass.failAll = null;
    mass.demand.set('sa', 2);
    await runFor(60);
    assert.equal(swarm.services.get('id-a')?.replicas, 2, 'recovers by itself once MASS answers again');
    assert.ok(log.said('MASS API: failure over').some((m) => m.includes('forbidden is over')));
  });

  test('one system failing holds only that system', async () => {
    const { mass, swarm, runFor } = setup();
    swarm.add('a', labels('sa'), 4);
    swarm.add('b', labels('sb'), 4);
    mass.demand.set('sa', 9);
    mass.demand.set('sb', 9);
    mass.failing.set('sa', { ok: false, error: { kind: 'server-error', message: '500' } });
    await runFor(3);
    assert.equal(swarm.services.get('id-a')?.replicas, 4);
    assert.equal(swarm.services.get('id-b')?.replicas, 9);
  });

  test('bad labels are reported once per change and leave that service alone; others are scaled', async () => {
    const { mass, swarm, log, runFor, reconciler } = setup();
    const bad = swarm.add('bad', labels('sa', { 'com.mass.min_inst': '-2' }), 2);
    swarm.add('good', labels('sb'), 3);
    mass.demand.set('sa', 9);
    mass.demand.set('sb', 9);
    await runFor(120);
    assert.equal(swarm.services.get('id-bad')?.replicas, 2);
    assert.equal(swarm.services.get('id-good')?.replicas, 9);
    const reports = log.said('bad labels: service left alone');
    assert.equal(reports.length, 1);
    assert.match(reports[0]!, /service bad .*com\.mass\.min_inst="-2" must be at least 0/);
    assert.deepEqual(reconciler.snapshot().find((s) => s.name === 'bad')?.status, 'invalid-labels');
    bad.labels['com.mass.min_inst'] = '1';
    await runFor(10);
    assert.equal(swarm.services.get('id-bad')?.replicas, 9, 'fixed labels are picked up');
  });

  test('a global-mode service is reported and left alone', async () => {
    const { mass, swarm, log, runFor } = setup();
    swarm.add('g', labels('sa'), null);
    mass.demand.set('sa', 9);
    await runFor(60);
    assert.equal(swarm.scaleCalls.length, 0);
    assert.equal(log.said('not a replicated service: left alone').filter((m) => m.includes('global mode')).length, 1);
  });

  test('dry run decides and logs but never updates', async () => {
    const { mass, swarm, log, runFor } = setup({ dryRun: true });
    swarm.add('a', labels('sa'), 3);
    mass.demand.set('sa', 8);
    await runFor(30);
    assert.equal(swarm.scaleCalls.length, 0);
    assert.ok(log.said('dry run: not applied').some((m) => m === 'scale up: demand 8.0 > 3 replicas'));
  });

  test('com.mass.autoscale=false pauses a service; removing the label resumes it', async () => {
    const { mass, swarm, runFor, reconciler } = setup();
    const s = swarm.add('a', labels('sa', { 'com.mass.autoscale': 'false' }), 3);
    mass.demand.set('sa', 8);
    await runFor(60);
    assert.equal(swarm.scaleCalls.length, 0);
    assert.equal(reconciler.snapshot()[0]?.status, 'paused');
    delete s.labels['com.mass.autoscale'];
    await runFor(5);
    assert.equal(s.replicas, 8);
  });

  test('Docker failing: everything holds, then resumes without a restart', async () => {
    const { mass, swarm, log, runFor } = setup();
    const s = swarm.add('a', labels('sa'), 3);
    mass.demand.set('sa', 3);
    await runFor(5);
    swarm.listError = Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { kind: 'unreachable' });
    mass.demand.set('sa', 10);
    await runFor(120);
    assert.equal(s.replicas, 3);
    assert.equal(log.said('Docker: cannot list services').length, 1);
    swarm.listError = null;
    await runFor(60);
    assert.equal(s.replicas, 10);
    assert.ok(log.said('Docker: reachable again').some((m) => m.startsWith('Docker: reachable again after')));
  });

  test('a service removed while being updated is logged and forgotten', async () => {
    const { mass, swarm, log, reconciler } = setup();
    swarm.add('a', labels('sa'), 3);
    mass.demand.set('sa', 9);
    swarm.scale = async () => ({ kind: 'gone' });
    await reconciler.round();
    assert.ok(log.said('service removed while being updated').some((m) => m.includes('removed while being updated')));
    assert.equal(reconciler.trackedCount(), 0);
  });

  test('a dip shorter than scale_down_delay removes no replica', async () => {
    const { mass, swarm, runFor } = setup();
    const s = swarm.add('a', labels('sa', { 'com.mass.scale_down_delay': '120' }), 3);
    mass.demand.set('sa', 10);
    await runFor(30);
    assert.equal(s.replicas, 10);
    mass.demand.set('sa', 3);
    await runFor(100);
    mass.demand.set('sa', 10);
    await runFor(30);
    assert.deepEqual(
      swarm.scaleCalls.map((c) => c.replicas),
      [10],
    );
  });

  test('10,000 rounds with services appearing and disappearing keep state bounded', async () => {
    const { clock, mass, swarm, reconciler } = setup();
    let maxTracked = 0;
    for (let round = 0; round < 10_000; round++) {
      const name = `svc-${round}`;
      swarm.add(name, labels(`sys-${round % 7}`), 1);
      mass.demand.set(`sys-${round % 7}`, round % 13);
      if (round >= 5) swarm.services.delete(`id-svc-${round - 5}`);
      await reconciler.round();
      maxTracked = Math.max(maxTracked, reconciler.trackedCount());
      clock.advance(2000);
    }
    assert.ok(maxTracked <= 6, `tracked ${maxTracked} services at once`);
    assert.equal(reconciler.trackedCount(), 5);
    assert.equal(mass.calls, 10_000, 'every round evaluated the service that had just appeared');
  });
});

test('an unexpected failure in a round is logged and the loop goes on', async () => {
  const { clock, mass, swarm, log, reconciler } = loopUnderTest({ random: () => 0 });
  swarm.add('a', labels('sa'), 3);
  mass.demand.set('sa', 6);
  let calls = 0;
  const real = mass.readDemand.bind(mass);
  mass.readDemand = async (systems) => {
    calls += 1;
    if (calls === 1) throw new TypeError('boom');
    return real(systems);
  };
  const stop = new AbortController();
  const origSleep = clock.sleep.bind(clock);
  clock.sleep = async (ms) => {
    await origSleep(ms);
    if (swarm.services.get('id-a')?.replicas === 6) stop.abort();
  };
  await reconciler.run(stop.signal);
  assert.ok(log.said('round failed unexpectedly').includes('round failed unexpectedly: boom; retrying'));
  assert.equal(swarm.services.get('id-a')?.replicas, 6);
});

test('a failure that turns into another kind is not reported as readings being back', async () => {
  const { clock, mass, swarm, log, reconciler } = loopUnderTest({ random: () => 0 });
  swarm.add('a', labels('sa'), 3);
  mass.failAll = { ok: false, error: { kind: 'timeout', message: 'no answer' } };
  await reconciler.round();
  clock.time = reconciler.wakeAt() + 60_000;
  mass.failAll = { ok: false, error: { kind: 'server-error', message: '500' } };
  await reconciler.round();
  assert.ok(
    log.said('MASS API: failure over').includes('MASS API: timeout is over; now failing with server-error'),
    log.texts().join('\n'),
  );
  assert.ok(!log.texts().some((m) => m.includes('readings are back')));
});

test('a failed update of one service does not stop the round for the others, and is retried with backoff', async () => {
  const { clock, mass, swarm, log, reconciler } = loopUnderTest({ random: () => 0 });
  swarm.add('a', labels('sa'), 3);
  swarm.add('b', labels('sb'), 3);
  mass.demand.set('sa', 9);
  mass.demand.set('sb', 9);
  const realScale = swarm.scale.bind(swarm);
  let failing = true;
  swarm.scale = async (id, replicas) => {
    if (failing && id === 'id-a')
      throw Object.assign(new Error('update service a: update out of sequence'), { kind: 'conflict' });
    return realScale(id, replicas);
  };
  const start = clock.now();
  await reconciler.round();
  assert.equal(swarm.services.get('id-b')?.replicas, 9, 'b is scaled in the same round');
  assert.equal(swarm.services.get('id-a')?.replicas, 3);
  assert.ok(
    log.said('Docker: could not scale').some((m) => m.startsWith('Docker: could not scale a to 9')),
    log.texts().join('\n'),
  );
  assert.ok(!log.messages().some((m) => m.startsWith('round failed unexpectedly')));
  const next = reconciler.snapshot().find((x) => x.name === 'a')?.nextEvaluation;
  assert.equal(Date.parse(next!) - start, 1000, 'first retry after half the discovery interval (jitter 0)');
  failing = false;
  clock.time = reconciler.wakeAt();
  await reconciler.round();
  assert.equal(swarm.services.get('id-a')?.replicas, 9);
});

test('a service relabelled to another system starts from a fresh state', async () => {
  const { mass, swarm, log, runFor } = loopUnderTest();
  const s = swarm.add(
    'a',
    labels('sa', {
      'com.mass.calculation_technique': 'exponential moving average',
      'com.mass.min_inst': '0',
      'com.mass.scale_down_delay': '0',
    }),
    2,
  );
  mass.demand.set('sa', 40);
  mass.demand.set('sb', 2);
  await runFor(120);
  assert.equal(s.replicas, 15);
  s.labels['com.mass.anal_system'] = 'sb';
  const mark = log.lines.length;
  await runFor(3);
  const first = log.lines.slice(mark).find((l) => l.service === 'a' && l.action !== undefined);
  // start state max(start_demand 3, 15 replicas × 1) = 15, then one EMA step: 0.3 × 2 + 0.7 × 15
  assert.equal(first?.smoothed, 11.1, JSON.stringify(first));
});

test('with the default DISCOVERY_INTERVAL a service created at run time is acted on within 5 s', async () => {
  const cfg = loadConfig({ API_KEY: 'k' });
  assert.ok(cfg.ok);
  const { clock, mass, swarm, runFor } = loopUnderTest({ discoveryIntervalMs: cfg.config.discoveryIntervalMs });
  swarm.add('old', labels('sa'), 3);
  mass.demand.set('sa', 3);
  mass.demand.set('sb', 6);
  await runFor(37.3);
  const added = clock.now();
  swarm.add('new', labels('sb'), 1);
  await runFor(5);
  const call = swarm.scaleCalls.find((c) => c.id === 'id-new');
  assert.ok(call, 'the new service was scaled');
  assert.ok(call.at - added <= 5000, `acted on after ${call.at - added} ms`);
});

test('with default settings /healthz turns 503 within 60 s of MASS failing and 200 within 60 s of its recovery', async () => {
  const cfg = loadConfig({ API_KEY: 'k' });
  assert.ok(cfg.ok);
  const c = cfg.config;
  const { clock, mass, swarm, reconciler } = loopUnderTest({
    discoveryIntervalMs: c.discoveryIntervalMs,
    retryMaxDelayMs: c.retryMaxDelayMs,
    random: () => 0.99,
  });
  swarm.add('a', { 'com.mass.anal_system': 'sa' }, 3);
  mass.demand.set('sa', 3);
  /** advances virtual time in steps of at most 1 s, running rounds when due; the first time `until` holds */
  async function firstTime(limitS: number, until: (ok: boolean) => boolean): Promise<number | null> {
    const end = clock.now() + limitS * 1000;
    while (clock.now() <= end) {
      if (clock.now() >= reconciler.wakeAt()) await reconciler.round();
      if (until(healthVerdict(reconciler.health(), clock.now(), c.healthMaxAgeMs).ok)) return clock.now();
      clock.time = Math.min(reconciler.wakeAt(), clock.now() + 1000);
    }
    return null;
  }
  assert.notEqual(await firstTime(60, (ok) => ok), null, 'healthy at first');
  await firstTime(300, () => false); // a while of normal running
  const failedAt = clock.now();
  mass.failAll = { ok: false, error: { kind: 'server-error', message: '500' } };
  const down = await firstTime(120, (ok) => !ok);
  assert.ok(
    down !== null && down - failedAt <= 60_000,
    `503 after ${down === null ? 'never' : (down - failedAt) / 1000} s`,
  );
  await firstTime(600, () => false); // a long outage: the backoff is at its cap
  const recoveredAt = clock.now();
  mass.failAll = null;
  const up = await firstTime(120, (ok) => ok);
  assert.ok(
    up !== null && up - recoveredAt <= 60_000,
    `200 after ${up === null ? 'never' : (up - recoveredAt) / 1000} s`,
  );
});
