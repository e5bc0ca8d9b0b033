// The loop's rooms with in-memory fakes and a moved clock: the shared evaluation step, update
// failures that back off, operators' operations and job modes that are held, updates in parallel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { healthVerdict } from '../../src/health';
import { decisionStep, type Control } from '../../src/sim/model';
import type { ScaleOutcome } from '../../src/types';
import { FakeDemand, followingLabels, loopUnderTest, type ManualClock } from '../fakes/in-memory';
import { policy } from '../fakes/policy';

const HEALTH_MAX_AGE_MS = 45_000;

/** Demand that follows a list, one value per reading, and remembers when each was read. */
class ScriptedDemand extends FakeDemand {
  readonly readAt: number[] = [];
  constructor(
    private readonly clock: ManualClock,
    private readonly system: string,
    private readonly script: number[],
  ) {
    super();
  }
  override async readDemand(systems: readonly string[]) {
    const value = this.script[Math.min(this.readAt.length, this.script.length - 1)]!;
    this.readAt.push(this.clock.now());
    this.demand.set(this.system, value);
    return super.readDemand(systems);
  }
}

describe('one evaluation step for the daemon and the simulator', () => {
  test('the same readings give the same decisions in the daemon loop and in the simulator', async () => {
    const script = [0, 2, 9, 25, 25, 18, 4, 0, 0, 0, 0, 0, 0, 7, 1, 0, 0, 0, 0, 0];
    const labels = followingLabels('sa', {
      'com.mass.min_inst': '1',
      'com.mass.max_inst': '20',
      'com.mass.scale_down_delay': '60',
      'com.mass.calculation_technique': 'exponential moving average',
      'com.mass.e_m_a_weighting': '0.5',
    });
    const { swarm, log, runFor, mass } = loopUnderTest({
      demand: (clock) => new ScriptedDemand(clock, 'sa', script),
    });
    swarm.add('a', labels, 3);
    await runFor(3600);
    const daemon = log.lines
      .filter((l) => l.service === 'a' && typeof l.recommendation === 'number')
      .slice(0, script.length)
      .map((l) => ({
        action: l.action,
        reason: l.reason,
        limitedBy: l.limitedBy,
        recommendation: l.recommendation,
        bounded: l.bounded,
        desired: l.desired,
      }));
    assert.equal(daemon.length, script.length, 'the daemon evaluated every scripted reading');

    // The simulator's decision step, fed the same readings at the times the daemon read them.
    const p = policy({
      system: 'sa',
      minInst: 1,
      maxInst: 20,
      scaleDownDelay: 60,
      technique: 'exponential moving average',
      weight: 0.5,
    });
    let control: Control = { state: null, replicas: 3 };
    const simulated = script.map((demand, i) => {
      const out = decisionStep(control, demand, p, mass.readAt[i]!);
      control = out.control;
      const d = out.decision;
      const { action, reason, limitedBy, recommendation, bounded, desired } = d;
      return { action, reason, limitedBy, recommendation, bounded, desired };
    });
    assert.deepEqual(daemon, simulated);
    assert.ok(
      simulated.some((d) => d.action === 'up') && simulated.some((d) => d.action === 'down'),
      'the sequence exercised both directions',
    );
  });
});

describe('a refused update backs off like every other failure', () => {
  test('doubling to RETRY_MAX_DELAY, one line when it starts and one when it ends, status and health', async () => {
    const { clock, mass, swarm, log, runFor, reconciler } = loopUnderTest({ random: () => 0.5 });
    swarm.add('a', followingLabels('sa'), 3);
    mass.demand.set('sa', 3);
    await runFor(5);
    const start = clock.now();
    swarm.updateError = Object.assign(new Error('update service a: HTTP 400: refused by a proxy'), {
      kind: 'api-error',
    });
    mass.demand.set('sa', 9);
    await runFor(300);
    const attempts = swarm.scaleCalls.filter((c) => c.at >= start).map((c) => c.at);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // base DISCOVERY_INTERVAL 2 s, doubled per failure, capped at 30 s, jitter 0.5 → ¾ of each step
    assert.deepEqual(gaps.slice(0, 6), [1500, 3000, 6000, 12_000, 22_500, 22_500]);
    assert.ok(attempts.length < 20, `${attempts.length} attempts in 300 s`);
    const errors = log.lines.filter(
      (l) => l.msg === 'Docker: could not scale' && String(l.explanation).startsWith('Docker: could not scale a to 9:'),
    );
    assert.ok(errors.every((l) => l.level === 50));
    assert.equal(errors.length, 1, 'one error line for the failure kind, however many attempts');
    const snap = reconciler.snapshot()[0]!;
    assert.equal(snap.status, 'update-failing');
    assert.match(snap.updateError!, /refused by a proxy/);
    const verdict = healthVerdict(reconciler.health(), clock.now(), HEALTH_MAX_AGE_MS);
    assert.equal(verdict.ok, false);
    assert.match(verdict.reasons.join(';'), /only failed service updates for \d+s \(update service a: HTTP 400/);

    swarm.updateError = null;
    await runFor(60);
    assert.equal(swarm.services.get('id-a')?.replicas, 9);
    assert.equal(log.said('Docker: scaling works again').filter((m) => m.includes('are no longer failing')).length, 1);
    assert.equal(reconciler.snapshot()[0]?.status, 'managed');
    assert.equal(healthVerdict(reconciler.health(), clock.now(), HEALTH_MAX_AGE_MS).ok, true);
  });

  test('a failed update followed by a failed reading keeps its backoff', async () => {
    const { mass, swarm, runFor, reconciler } = loopUnderTest({ random: () => 0.5 });
    swarm.add('a', followingLabels('sa'), 3);
    mass.demand.set('sa', 9);
    swarm.updateError = Object.assign(new Error('refused'), { kind: 'api-error' });
    await runFor(4);
    mass.failAll = { ok: false, error: { kind: 'timeout', message: 'no answer' } };
    await runFor(20);
    assert.equal(reconciler.snapshot()[0]?.status, 'no-reading');
    assert.equal(reconciler.snapshot()[0]?.updateError, 'refused', 'the update failure is not forgotten');
    mass.failAll = null;
    await runFor(30);
    assert.equal(reconciler.snapshot()[0]?.status, 'update-failing');
  });
});

describe('services that are not the autoscaler’s to touch', () => {
  test('an operator’s paused update holds the service, with one line, until it ends', async () => {
    const { mass, swarm, log, runFor, reconciler } = loopUnderTest();
    const s = swarm.add('a', followingLabels('sa'), 3);
    s.operation = 'paused';
    mass.demand.set('sa', 9);
    await runFor(60);
    assert.equal(swarm.scaleCalls.length, 0);
    assert.equal(reconciler.snapshot()[0]?.status, 'in-operation');
    assert.equal(reconciler.snapshot()[0]?.operation, 'paused');
    const held = () => log.said('update or rollback in progress: service held');
    assert.equal(held().filter((m) => m.includes('in the middle of an update or rollback')).length, 1);
    assert.equal(reconciler.health().massIdle, true, 'a held service needs no reading');
    s.operation = 'rollback_paused';
    await runFor(10);
    assert.equal(held().filter((m) => m.includes('UpdateStatus.State rollback_paused')).length, 1);
    s.operation = null;
    await runFor(10);
    assert.equal(swarm.services.get('id-a')?.replicas, 9);
    assert.equal(
      log.said('update or rollback over: scaling again').filter((m) => m.includes('is over; scaling it again')).length,
      1,
    );
    assert.equal(reconciler.snapshot()[0]?.status, 'managed');
  });

  test('an operation that starts between listing and update: nothing is sent, the service is held', async () => {
    const { mass, swarm, log, reconciler } = loopUnderTest();
    swarm.add('a', followingLabels('sa'), 3);
    mass.demand.set('sa', 9);
    const scale = swarm.scale.bind(swarm);
    swarm.scale = async (id, replicas): Promise<ScaleOutcome> => {
      swarm.services.get(id)!.operation = 'updating';
      return scale(id, replicas);
    };
    await reconciler.round();
    assert.equal(swarm.services.get('id-a')?.replicas, 3);
    assert.equal(reconciler.snapshot()[0]?.status, 'in-operation');
    assert.ok(
      log.said('update or rollback in progress: service held').some((m) => m.includes('UpdateStatus.State updating')),
    );
  });

  for (const mode of ['replicated-job', 'global-job', 'global'] as const) {
    test(`a ${mode} service is named as such and never said to be managed`, async () => {
      const { mass, swarm, log, runFor, reconciler } = loopUnderTest();
      const s = swarm.add('j', followingLabels('sa'), null);
      s.mode = mode;
      mass.demand.set('sa', 9);
      await runFor(30);
      assert.equal(swarm.scaleCalls.length, 0);
      const said = log.said('not a replicated service: left alone');
      assert.equal(said.filter((m) => m.includes(`runs in ${mode} mode`)).length, 1);
      assert.ok(!log.messages().some((m) => m.startsWith('service managed')), log.texts().join('\n'));
      assert.ok(!log.texts().some((m) => m.startsWith('managing service')), log.texts().join('\n'));
      assert.equal(reconciler.snapshot()[0]?.status, `${mode}-mode`);
      assert.equal(reconciler.snapshot()[0]?.mode, mode);
    });
  }
});

test('updates of one round are sent in parallel, a bounded number at a time', async () => {
  const { mass, swarm, reconciler } = loopUnderTest();
  for (let i = 0; i < 30; i++) {
    swarm.add(`s${i}`, followingLabels(`sys${i}`), 3);
    mass.demand.set(`sys${i}`, 5);
  }
  const scale = swarm.scale.bind(swarm);
  let inFlight = 0;
  let peak = 0;
  swarm.scale = async (id, replicas) => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight -= 1;
    return scale(id, replicas);
  };
  await reconciler.round();
  assert.equal([...swarm.services.values()].filter((s) => s.replicas === 5).length, 30);
  assert.equal(peak, 8, 'eight updates in flight at once');
});
