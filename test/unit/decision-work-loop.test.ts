// The work policy inside the loop, with in-memory fakes and a moved clock: the reading the loop
// hands the evaluation carries the held work, a scale-in waits for a moment without it, `status`
// shows why, and a stop_grace_period shorter than the service time under scale_in=window is said once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loopUnderTest } from '../fakes/in-memory';
import { SYSTEM_LABEL } from '../../src/labels';

const WORK = {
  [SYSTEM_LABEL]: 'sa',
  'com.mass.policy': 'work',
  'com.mass.min_inst': '1',
  'com.mass.max_inst': '8',
  'com.mass.service_time': '30',
  'com.mass.target_wait': '120',
  'com.mass.min_schedule_interval': '5',
  'com.mass.max_schedule_interval': '5',
};

describe('the work policy in the loop', () => {
  test('scale_in=idle: held while an instance holds work, then down at once; status says why', async () => {
    const { clock, mass, swarm, log, runFor, reconciler } = loopUnderTest();
    const t0 = clock.now();
    const workers = ['w1', 'w2', 'w3', 'w4'].map((uuid) => ({ uuid, lastSeen: t0, scheduled: 0 }));
    workers[0]!.scheduled = 2;
    mass.demand.set('sa', 0);
    mass.instances.set('sa', workers);
    const service = swarm.add('a', WORK, 4);
    service.running = 4;
    await runFor(20);
    assert.equal(swarm.services.get(service.id)!.replicas, 4, 'no scale-in while w1 holds work');
    const [held] = reconciler.snapshot();
    assert.equal(held!.reason, 'hold-work-held');
    assert.equal(held!.limitedBy, 'scale-in-hold');
    assert.equal(held!.recommendation, 1);
    assert.equal(held!.work?.holders, 1);
    assert.match(held!.reasonText!, /^hold: 1 replicas would do, but 1 instances hold work/);

    for (const w of workers) w.lastSeen = clock.now();
    workers[0]!.scheduled = 0;
    await runFor(10);
    assert.equal(swarm.services.get(service.id)!.replicas, 1, 'down once no instance holds work');
    const reasons = log.lines.map((l) => l.reason).filter((r) => r !== undefined);
    assert.equal(reasons.filter((r) => r === 'scale-down-idle').length, 1, 'scaled in because no instance held work');
    assert.ok(reasons.indexOf('hold-work-held') < reasons.indexOf('scale-down-idle'));
  });

  test('size_ahead=on: the round asks for its system with startup_time as horizon, and the requests due soon are sized for', async () => {
    const { mass, swarm, log, runFor } = loopUnderTest();
    mass.demand.set('sa', 0);
    mass.demand.set('sb', 0);
    mass.dueSoon.set('sa', 10);
    mass.dueSoon.set('sb', 10);
    const ahead = swarm.add('ahead', { ...WORK, 'com.mass.size_ahead': 'on', 'com.mass.startup_time': '30' }, 1);
    const plain = swarm.add('plain', { ...WORK, [SYSTEM_LABEL]: 'sb' }, 1);
    await runFor(10);
    assert.ok(mass.horizonsAsked.length > 0);
    for (const asked of mass.horizonsAsked) assert.deepEqual([...asked], [['sa', 30_000]]);
    // 10 due soon, no idle instance seen: each new replica starts (120 − 30)/30 = 3 within 120 s.
    assert.equal(swarm.services.get(ahead.id)!.replicas, 4);
    assert.equal(swarm.services.get(plain.id)!.replicas, 1);
    const line = log.lines.find((l) => l.service === 'ahead' && l.action === 'up') as { work?: { dueSoon?: number } };
    assert.equal(line?.work?.dueSoon, 10);
  });

  test('classic and work services without size_ahead: no horizon is asked for', async () => {
    const { mass, swarm, runFor } = loopUnderTest();
    mass.demand.set('sa', 3);
    swarm.add('classic', { [SYSTEM_LABEL]: 'sa' }, 1);
    swarm.add('work', { ...WORK, 'com.mass.size_ahead': 'off' }, 1);
    await runFor(10);
    assert.ok(mass.horizonsAsked.length > 0);
    assert.ok(mass.horizonsAsked.every((asked) => asked.size === 0));
  });

  test('scale_in=window with a stop_grace_period shorter than the service time: warned once, shown in status', async () => {
    const { mass, swarm, log, runFor, reconciler } = loopUnderTest();
    mass.demand.set('sa', 2);
    const service = swarm.add('w', { ...WORK, 'com.mass.scale_in': 'window' }, 2);
    service.stopGraceMs = 10_000;
    await runFor(30);
    const warnings = log.said('stop_grace_period shorter than the service time');
    assert.deepEqual(warnings, [
      'stop_grace_period 10s is shorter than the service time 30s under com.mass.scale_in=window: a removed worker is killed before it can finish its analysis (raise stop_grace_period, or use com.mass.policy=work with scale_in=idle)',
    ]);
    assert.equal(reconciler.snapshot()[0]!.warning, warnings[0]);
  });

  test('no warning under scale_in=idle, or when stop_grace_period covers the service time', async () => {
    const { mass, swarm, log, runFor, reconciler } = loopUnderTest();
    mass.demand.set('sa', 2);
    swarm.add('idle', WORK, 2).stopGraceMs = 10_000;
    swarm.add('long', { ...WORK, 'com.mass.scale_in': 'window' }, 2).stopGraceMs = 60_000;
    await runFor(30);
    assert.deepEqual(log.said('stop_grace_period shorter than the service time'), []);
    assert.deepEqual(
      reconciler.snapshot().map((s) => s.warning),
      [null, null],
    );
  });
});
