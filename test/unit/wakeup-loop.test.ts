// The wake-up in the loop (src/loop/wakeup.ts, src/loop/reconciler.ts) on the in-memory fakes and
// a manual clock: a burst after a quiet period is acted on within min_schedule_interval, not
// max_schedule_interval; a failing or hanging count never stops or delays an evaluation; the older
// MASS server switches it off, said once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Reconciler } from '../../src/loop/reconciler';
import type { WakeUpOptions } from '../../src/loop/wakeup';
import type { DueCounter, MassFailure } from '../../src/types';
import { captureLogger, FakeDemand, FakeSwarm, followingLabels, ManualClock, specDefaults } from '../fakes/in-memory';

/** Every due request of every system, as the MASS client's countDue would give it. */
class FakeCounter implements DueCounter {
  lastDialect: '0.2' | 'legacy' | undefined = '0.2';
  count = 0;
  calls: number[] = [];
  failure: MassFailure | null = null;
  hang = false;
  constructor(private readonly clock: ManualClock) {}
  countDue(): Promise<{ ok: true; count: number } | { ok: false; error: MassFailure }> {
    this.calls.push(this.clock.now());
    if (this.hang) return new Promise(() => {});
    return Promise.resolve(this.failure ? { ok: false, error: this.failure } : { ok: true, count: this.count });
  }
}

const SYSTEM = 'sys';

function setup(wakeUp: 'on' | 'off', interval: WakeUpOptions['interval'] = 'auto') {
  const clock = new ManualClock();
  const start = clock.now();
  const mass = new FakeDemand();
  const counter = new FakeCounter(clock);
  const swarm = new FakeSwarm();
  swarm.now = () => clock.now();
  const log = captureLogger();
  mass.demand.set(SYSTEM, 3);
  mass.demand.set('other', 3);
  // min_schedule_interval 10 s, max_schedule_interval 30 s (the defaults)
  swarm.add('svc', followingLabels(SYSTEM), 3);
  swarm.add('quiet', followingLabels('other'), 3);
  const reconciler = new Reconciler(
    mass,
    swarm,
    clock,
    log.logger,
    {
      dryRun: false,
      defaults: specDefaults(),
      discoveryIntervalMs: 2000,
      retryMaxDelayMs: 30_000,
      ...(wakeUp === 'on' && { wakeUp: { counter, interval } }),
    },
    undefined,
    () => 0.5,
  );
  /** rounds and wake-ups as run() makes them, jumping the clock to the next of either */
  async function runUntil(seconds: number) {
    const end = start + seconds * 1000;
    for (let steps = 0; clock.now() < end; steps += 1) {
      assert.ok(steps < 10_000, 'the loop makes progress');
      if (clock.now() >= reconciler.wakeAt()) await reconciler.round();
      if (clock.now() >= reconciler.wakeUpAt()) await reconciler.wakeUpNow();
      const next = Math.min(reconciler.wakeAt(), reconciler.wakeUpAt(), end);
      clock.time =
        next <= clock.now() && clock.now() < reconciler.wakeAt() ? clock.now() + 1 : Math.max(next, clock.now());
    }
  }
  /** a burst right after the round at `at` s: the next evaluation is max_schedule_interval away */
  function burst(due: number) {
    mass.demand.set(SYSTEM, due);
    counter.count = due;
  }
  const scalesOf = (name: string) => swarm.scaleCalls.filter((c) => c.id === `id-${name}`);
  return { clock, start, mass, counter, swarm, log, reconciler, runUntil, burst, scalesOf };
}

describe('wake-up after a quiet period (in-memory loop)', () => {
  test('a burst after a quiet period is acted on within min_schedule_interval (10 s), not max (30 s)', async () => {
    const withWake = setup('on');
    await withWake.runUntil(30.5); // rounds at 0 and 30 s: steady, next at 60 s
    assert.deepEqual(withWake.scalesOf('svc'), []);
    withWake.burst(20);
    const burstAt = withWake.clock.now();
    await withWake.runUntil(65);
    const scale = withWake.scalesOf('svc')[0];
    assert.ok(scale, 'scaled');
    assert.equal(scale.replicas, 15);
    assert.ok(scale.at - burstAt <= 10_000, `reaction ${scale.at - burstAt} ms`);
    const line = withWake.log.lines.find(
      (l) =>
        l.msg === 'wake-up: due requests rose' && String(l.explanation).startsWith('wake-up: due requests over all'),
    );
    assert.ok(line, withWake.log.messages().join('\n'));
    assert.deepEqual([line.from, line.count, line.threshold], [0, 20, 0.3]);
    // Every service is brought forward (the count does not say which system), the quiet one too.
    assert.deepEqual(line.services, ['svc', 'quiet']);

    const without = setup('off');
    await without.runUntil(30.5);
    without.burst(20);
    await without.runUntil(65);
    const late = without.scalesOf('svc')[0];
    assert.ok(late);
    assert.equal(late.at - burstAt, 30_000 - 500, 'without the wake-up: the next steady evaluation, at 60 s');
    assert.deepEqual(without.counter.calls, []);
  });

  test('one count per interval between sweeps; none while every service is evaluated each interval anyway', async () => {
    const quiet = setup('on');
    await quiet.runUntil(90);
    // Rounds evaluating every service at 0, 30 and 60 s; counts 10 and 20 s after each.
    assert.deepEqual(
      quiet.counter.calls.map((t) => (t - quiet.start) / 1000),
      [10, 20, 40, 50, 70, 80],
    );
    const fixed = setup('on', 30_000);
    await fixed.runUntil(90);
    assert.deepEqual(fixed.counter.calls, [], 'WAKE_UP_INTERVAL 30 s: every sweep comes first');
  });

  test('a rise within demand_delta_threshold does not wake anything', async () => {
    const s = setup('on');
    s.counter.count = 10;
    await s.runUntil(30.5);
    s.counter.count = 13; // 30 % of 10: not more
    await s.runUntil(59);
    assert.equal(s.reconciler.wakeUpReadings(), 4);
    assert.deepEqual(s.log.said('wake-up: due requests rose'), []);
  });

  test('a failing count: evaluations go on as scheduled, one line per kind of failure, one when it works again', async () => {
    const s = setup('on');
    s.counter.failure = {
      kind: 'timeout',
      message: 'GET analysis_request/?schedule_after__lte=...&count: no answer within 10000 ms',
    };
    await s.runUntil(30.5);
    s.burst(20);
    await s.runUntil(65);
    // No wake-up worked: the burst waited for the steady evaluation at 60 s.
    assert.equal(s.scalesOf('svc')[0]?.at, s.start + 60_000);
    const failed = s.log.lines.filter((l) => l.msg === 'wake-up: count failed');
    assert.equal(failed.length, 1, s.log.messages().join('\n'));
    assert.equal(failed[0]!.level, 40);
    assert.ok(s.counter.calls.length >= 3);
    s.counter.failure = { kind: 'server-error', message: 'GET ...: 503' };
    await s.runUntil(85);
    s.counter.failure = null;
    await s.runUntil(120);
    const lines = s.log.texts().filter((m) => m.startsWith('wake-up: counting'));
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0]!, /failed \(timeout\)/);
    assert.match(lines[1]!, /failed \(server-error\)/);
    const second = s.log.lines.find((l) => l.explanation === lines[1]);
    assert.match(String(second?.error), /503/);
    assert.equal(lines[2], 'wake-up: counting the due requests works again');
  });

  test('the older MASS server: no count is made, said once', async () => {
    const s = setup('on');
    s.counter.lastDialect = 'legacy';
    await s.runUntil(120);
    assert.deepEqual(s.counter.calls, []);
    const said = s.log.messages().filter((m) => m.startsWith('wake-up after quiet periods is off'));
    assert.equal(said.length, 1);
    assert.match(said[0]!, /no \?count/);
  });

  test('run(): a count that never answers holds no evaluation up', async () => {
    const s = setup('on');
    s.counter.hang = true;
    const stop = new AbortController();
    const clock = s.clock;
    const sleep = clock.sleep.bind(clock);
    clock.sleep = async (ms: number) => {
      if (clock.now() >= s.start + 30_500 && s.mass.demand.get(SYSTEM) === 3) s.burst(20);
      await sleep(ms);
      if (clock.now() >= s.start + 90_000) stop.abort();
    };
    await s.reconciler.run(stop.signal);
    assert.equal(s.counter.calls.length, 1, 'one count in flight, never answered, none started beside it');
    assert.equal(s.scalesOf('svc')[0]?.at, s.start + 60_000, 'the steady evaluation at 60 s came on time');
  });
});
