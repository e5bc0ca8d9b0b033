// The liveness rule inside the loop (src/loop/liveness.ts), with in-memory fakes and a moved clock:
// work on busy-but-offline instances stays demand and keeps a floor under scale-down; work on
// dead instances is stuck (said once, shown per system); lost work is estimated; the opt-in
// recovery deletes only instances dead for RECOVER_STUCK_AFTER, obeys DRY_RUN, stops on a 403.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InstanceRemover } from '../../src/loop/liveness';
import type { MassFailure, MassInstance } from '../../src/types';
import { followingLabels, loopUnderTest } from '../fakes/in-memory';

const MIN = 60_000;
const WINDOW = 10 * MIN;

/** Labels where 10 analyses fit one replica: little demand asks for one replica, fast. */
const LABELS = followingLabels('sa', {
  'com.mass.min_inst': '0',
  'com.mass.max_inst': '8',
  'com.mass.requests_per_instance': '10',
  'com.mass.scale_down_delay': '30',
  'com.mass.min_schedule_interval': '5',
  'com.mass.max_schedule_interval': '5',
});

class FakeRemover implements InstanceRemover {
  lastDialect: '0.2' | 'legacy' | undefined = '0.2';
  readonly deleted: string[] = [];
  failure: MassFailure | null = null;
  /** the fake MASS's instance table, which a deletion changes */
  instances = new Map<string, MassInstance[]>();
  async deleteInstance(uuid: string) {
    if (this.failure !== null) return { ok: false as const, error: this.failure };
    this.deleted.push(uuid);
    for (const [system, list] of this.instances)
      this.instances.set(
        system,
        list.filter((i) => i.uuid !== uuid),
      );
    return { ok: true as const, gone: false };
  }
}

describe('liveness in the loop', () => {
  test('busy-but-offline instances: their work stays demand, and no scale-down goes below the working ones', async () => {
    const { clock, mass, swarm, log, runFor, reconciler } = loopUnderTest();
    const t0 = clock.now();
    // Four workers fetched 3 analyses each at t0 and poll again only when their batch is done.
    const workers = ['w1', 'w2', 'w3', 'w4'].map((uuid) => ({ uuid, lastSeen: t0, scheduled: 3 }));
    mass.demand.set('sa', 0);
    mass.instances.set('sa', workers);
    const service = swarm.add('a', LABELS, 4);
    service.running = 4;
    // Each analysis takes 5 minutes: one report per worker every 5 minutes, no poll for 15.
    for (let minute = 0; minute < 14; minute += 1) {
      await runFor(60);
      const left = 3 - Math.floor((minute + 1) / 5);
      for (const w of workers) w.scheduled = left;
      const current = swarm.services.get(service.id)!.replicas!;
      const floor = workers.filter((w) => w.scheduled > 0).length;
      assert.ok(current >= floor, `minute ${minute + 1}: ${current} replicas, ${floor} instances working`);
    }
    assert.equal(swarm.services.get(service.id)!.replicas, 4, 'all four kept while they work');
    const [sa] = reconciler.systemsSnapshot();
    assert.ok(sa !== undefined);
    assert.equal(sa.onlineInstances, 0, 'MASS calls every one offline by now');
    assert.equal(sa.workingInstances, 4);
    assert.equal(sa.stuck, 0);
    assert.ok(
      log.lines.some((l) => l.reason === 'hold-working' && l.limitedBy === 'working'),
      'the floor is what held the service',
    );
    // The batches end, the workers poll: online with nothing to do, and the service may shrink.
    for (const w of workers) Object.assign(w, { scheduled: 0, lastSeen: clock.now() });
    await runFor(120);
    assert.ok(swarm.services.get(service.id)!.replicas! < 4, 'idle workers are no floor');
  });

  test('work on dead instances is stuck: not demand, said once (and when it changes), shown per system', async () => {
    const { clock, mass, swarm, log, runFor, reconciler } = loopUnderTest();
    const now = clock.now();
    mass.demand.set('sa', 0);
    mass.instances.set('sa', [
      { uuid: 'live', lastSeen: now, scheduled: 2 },
      { uuid: 'ghost', lastSeen: now - 3 * WINDOW, scheduled: 30 },
    ]);
    swarm.add('a', LABELS, 1).running = 1;
    await runFor(60);
    const reading = log.lines.filter((l) => l.service === 'a' && typeof l.demand === 'number').at(-1)!;
    assert.equal(reading.demand, 2, 'the 30 analyses on the dead instance are not demand');
    assert.equal(reading.stuckOffline, 30);
    const stuckLines = () => log.lines.filter((l) => l.msg === 'work stuck');
    assert.equal(stuckLines().length, 1);
    assert.match(
      String(stuckLines()[0]!.explanation),
      /system sa: 30 analyses are stuck on 1 instance\(s\) judged dead/,
    );
    assert.deepEqual([stuckLines()[0]!.system, stuckLines()[0]!.stuck], ['sa', 30]);
    assert.deepEqual(reconciler.systemsSnapshot()[0]!.stuckInstances, ['ghost']);
    // A second dead instance: one more line; then the same picture: no more lines.
    mass.instances.get('sa')!.push({ uuid: 'ghost2', lastSeen: now - 3 * WINDOW, scheduled: 4 });
    await runFor(60);
    assert.equal(stuckLines().length, 2);
    assert.equal(reconciler.systemsSnapshot()[0]!.stuck, 34);
  });

  test('a running task that no polling instance accounts for keeps an offline instance with work alive; without it the instance is dead', async () => {
    const { clock, mass, swarm, runFor, reconciler } = loopUnderTest();
    const now = clock.now();
    mass.demand.set('sa', 0);
    // Offline for a minute past the window (inside the grace): working only if a task runs for it.
    mass.instances.set('sa', [{ uuid: 'quiet', lastSeen: now - WINDOW - MIN, scheduled: 5 }]);
    const service = swarm.add('a', LABELS, 1);
    service.running = 0;
    await runFor(10);
    assert.equal(reconciler.systemsSnapshot()[0]!.stuck, 5, 'no task runs: nobody is working on it');
    service.running = 1;
    await runFor(10);
    assert.deepEqual(
      [reconciler.systemsSnapshot()[0]!.workingInstances, reconciler.systemsSnapshot()[0]!.stuck],
      [1, 0],
    );
  });

  test('an instance that was working and vanished counts as one aborted analysis', async () => {
    const { clock, mass, swarm, runFor, reconciler, log } = loopUnderTest();
    mass.demand.set('sa', 0);
    mass.instances.set('sa', [
      { uuid: 'a1', lastSeen: clock.now(), scheduled: 3 },
      { uuid: 'a2', lastSeen: clock.now(), scheduled: 0 },
    ]);
    swarm.add('a', LABELS, 2).running = 2;
    await runFor(10);
    mass.instances.set('sa', [{ uuid: 'a2', lastSeen: clock.now(), scheduled: 0 }]);
    await runFor(10);
    assert.equal(reconciler.systemsSnapshot()[0]!.abortedTotal, 1);
    assert.ok(log.said('analyses aborted').some((m) => /1 instance\(s\) with work died or vanished/.test(m)));
  });
});

describe('RECOVER_STUCK_AFTER', () => {
  async function recoveryRun(opts: { dryRun?: boolean; dialect?: '0.2' | 'legacy'; failure?: MassFailure } = {}) {
    const remover = new FakeRemover();
    remover.lastDialect = opts.dialect ?? '0.2';
    remover.failure = opts.failure ?? null;
    const loop = loopUnderTest({ dryRun: opts.dryRun, liveness: { recoverStuckAfterMs: 5 * MIN }, remover });
    const now = loop.clock.now();
    remover.instances = loop.mass.instances;
    loop.mass.instances.set('sa', [
      { uuid: 'online', lastSeen: now, scheduled: 2 },
      { uuid: 'dead', lastSeen: now - 3 * WINDOW, scheduled: 7 },
    ]);
    loop.mass.demand.set('sa', 0);
    loop.swarm.add('a', LABELS, 1).running = 1;
    await loop.runFor(240);
    const early = [...remover.deleted];
    await loop.runFor(180);
    return { ...loop, remover, early };
  }

  test('deletes only the instance judged dead, once it has been dead that long; one line per deletion', async () => {
    const { remover, early, log, reconciler } = await recoveryRun();
    assert.deepEqual(early, [], 'not before RECOVER_STUCK_AFTER');
    assert.deepEqual(remover.deleted, ['dead']);
    const lines = log.said('instance deleted');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /deleted instance dead of system sa \(dead for \d+s\) so MASS requeues its 7 stuck analyses/,
    );
    assert.equal(reconciler.systemsSnapshot()[0]!.recoveredTotal, 1);
    assert.equal(reconciler.systemsSnapshot()[0]!.stuck, 0);
  });

  test('DRY_RUN: says once what it would delete, deletes nothing', async () => {
    const { remover, log } = await recoveryRun({ dryRun: true });
    assert.deepEqual(remover.deleted, []);
    assert.equal(log.said('dry run: not applied').filter((m) => /^delete instance dead/.test(m)).length, 1);
  });

  test('a 403: said once, clearly, and no more attempts', async () => {
    const failure: MassFailure = {
      kind: 'forbidden',
      message: 'DELETE analysis_system_instance/dead/: 403: deleting an instance needs an admin API key',
    };
    const { remover, log } = await recoveryRun({ failure });
    assert.deepEqual(remover.deleted, []);
    const lines = log.lines.filter((l) => l.msg === 'recovery stopped');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 50);
    assert.match(String(lines[0]!.explanation), /^RECOVER_STUCK_AFTER: DELETE/);
    assert.match(String(lines[0]!.explanation), /needs an admin API key; no further deletions are tried/);
  });

  test('the older server: only reported (deleting there orphans the work)', async () => {
    const { remover, log } = await recoveryRun({ dialect: 'legacy' });
    assert.deepEqual(remover.deleted, []);
    assert.equal(log.messages().filter((m) => /the MASS server is the older one/.test(m)).length, 1);
  });
});
