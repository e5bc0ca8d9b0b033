// The client's side of recovering stuck work and of the no-instance-records trap, against the fake
// MASS with the twin's work cycle (test/fakes/work-cycle.ts): DELETE of an instance requeues its
// work on 0.2 and orphans it on the older server; a non-admin key gets a clear 'forbidden'.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MassClient } from '../../src/mass/client';
import { startFakeMass, type FakeDialect, type FakeMass } from '../fakes/mass-server';
import { attachWorkCycle, type WorkCycle } from '../fakes/work-cycle';

const KEY = 'worker-k3y-do-not-leak';
const ADMIN = 'admin-k3y-do-not-leak';
let mass: FakeMass | undefined;
let cycle: WorkCycle | undefined;
const now = 1_800_000_000_000;

afterEach(async () => {
  cycle?.stop();
  await mass?.close();
  mass = undefined;
  cycle = undefined;
});

async function setup(dialect: FakeDialect): Promise<{ mass: FakeMass; cycle: WorkCycle }> {
  mass = await startFakeMass({ dialect, apiKey: KEY, now: () => now });
  cycle = attachWorkCycle(mass, KEY, {
    schedulerIntervalMs: 30_000,
    schedulerPhaseMs: 3_600_000,
    onlineWindowMs: 600_000,
    adminKey: ADMIN,
    now: () => now,
  });
  mass.addSystem('ssdeep');
  return { mass, cycle };
}

/** An instance registered and polled through HTTP, holding `work` scheduled analyses. */
async function busyInstance(m: FakeMass, c: WorkCycle, work: number): Promise<string> {
  const headers = { Authorization: `APIKEY ${KEY}`, 'Content-Type': 'application/json' };
  const res = await fetch(`${m.baseUrl}analysis_system_instance/`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ analysis_system: `${m.baseUrl}analysis_system/ssdeep/` }),
  });
  const { uuid } = (await res.json()) as { uuid: string };
  await (await fetch(`${m.baseUrl}analysis_system_instance/${uuid}/scheduled_analyses/`, { headers })).text();
  c.arrive('ssdeep', work);
  c.schedule();
  return uuid;
}

function client(m: FakeMass, key: string, warn?: (line: string) => void): MassClient {
  return new MassClient({ baseUrl: m.baseUrl, apiKey: key, timeoutMs: 5000, pageConcurrency: 4, warn });
}

describe('MassClient.deleteInstance', () => {
  test('0.2: the instance is gone and its work is read as due on the next round', async () => {
    const { mass, cycle } = await setup('0.2');
    const uuid = await busyInstance(mass, cycle, 3);
    const c = client(mass, KEY);
    const admin = client(mass, ADMIN);
    const before = (await c.readDemand(['ssdeep'], new Date(now))).get('ssdeep');
    assert.ok(before?.ok);
    assert.deepEqual([before.demand.due, before.demand.instances.map((i) => [i.uuid, i.scheduled])], [0, [[uuid, 3]]]);
    assert.deepEqual(await admin.deleteInstance(uuid), { ok: true, gone: false });
    const after = (await c.readDemand(['ssdeep'], new Date(now))).get('ssdeep');
    assert.ok(after?.ok);
    assert.deepEqual([after.demand.due, after.demand.instances.length], [3, 0]);
    assert.equal(cycle.totals().stuck, 0);
    assert.deepEqual(await admin.deleteInstance(uuid), { ok: true, gone: true }, 'a second DELETE finds it gone');
  });

  test('the older server orphans the work (why the daemon never deletes there)', async () => {
    const { mass, cycle } = await setup('legacy');
    const uuid = await busyInstance(mass, cycle, 2);
    assert.deepEqual(await client(mass, ADMIN).deleteInstance(uuid), { ok: true, gone: false });
    assert.equal(cycle.totals().stuck, 2);
  });

  test('a key that is not an admin key: a forbidden failure saying so, without the key', async () => {
    const { mass, cycle } = await setup('0.2');
    const uuid = await busyInstance(mass, cycle, 1);
    const outcome = await client(mass, KEY).deleteInstance(uuid);
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.kind, 'forbidden');
    assert.match(
      outcome.error.message,
      /^DELETE analysis_system_instance\/.+\/: 403: deleting an instance needs an admin API key/,
    );
    assert.ok(!outcome.error.message.includes(KEY));
    assert.equal(mass.instances.length, 1, 'nothing was deleted');
  });
});

describe('MassClient: due requests and no instance records', () => {
  for (const dialect of ['0.2', 'legacy'] as const) {
    test(`${dialect}: warned once per system, again only after it cleared`, async () => {
      const { mass } = await setup(dialect);
      mass.addSystem('peid');
      mass.setDemand('ssdeep', { due: 4 });
      mass.setDemand('peid', { due: 2, scheduledOnline: 1 });
      const warnings: string[] = [];
      const c = client(mass, KEY, (line) => warnings.push(line));
      await c.readDemand(['ssdeep', 'peid'], new Date(now));
      await c.readDemand(['ssdeep', 'peid'], new Date(now));
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /"ssdeep" has 4 due requests and no instance records/);
      assert.match(warnings[0]!, /com\.mass\.min_inst >= 1/);
      assert.match(warnings[0]!, /delete_instance_on_exit/);
      mass.setDemand('ssdeep', { due: 0 });
      await c.readDemand(['ssdeep'], new Date(now));
      mass.setDemand('ssdeep', { due: 1 });
      await c.readDemand(['ssdeep'], new Date(now));
      assert.equal(warnings.length, 2);
    });
  }
});

describe('MassClient.deleteInstance: when the DELETE gets no usable answer', () => {
  const admin = (m: FakeMass, timeoutMs = 5000) =>
    new MassClient({ baseUrl: m.baseUrl, apiKey: ADMIN, timeoutMs, pageConcurrency: 4 });

  test('connection refused: an unreachable failure naming the DELETE; nothing deleted', async () => {
    const { mass, cycle } = await setup('0.2');
    const uuid = await busyInstance(mass, cycle, 1);
    await mass.setFault({ kind: 'refuse' });
    const outcome = await admin(mass).deleteInstance(uuid);
    await mass.setFault(null);
    assert.deepEqual(outcome, {
      ok: false,
      error: {
        kind: 'unreachable',
        message: `DELETE analysis_system_instance/${uuid}/: MASS unreachable (ECONNREFUSED)`,
      },
    });
    assert.equal(mass.instances.length, 1);
  });

  test('no answer within the deadline: a timeout failure', async () => {
    const { mass, cycle } = await setup('0.2');
    const uuid = await busyInstance(mass, cycle, 1);
    mass.fault = { kind: 'hang', path: `analysis_system_instance/${uuid}/` };
    const outcome = await admin(mass, 300).deleteInstance(uuid);
    assert.deepEqual(outcome, {
      ok: false,
      error: { kind: 'timeout', message: `DELETE analysis_system_instance/${uuid}/: no answer within 300 ms` },
    });
  });

  test('any 2xx is a deletion, a 300 is not; each DELETE is one request', async () => {
    const { mass, cycle } = await setup('0.2');
    const uuid = await busyInstance(mass, cycle, 1);
    const c = admin(mass);
    const path = `analysis_system_instance/${uuid}/`;
    mass.fault = { kind: 'status', code: 200, body: '{}', path, times: 1 };
    assert.deepEqual(await c.deleteInstance(uuid), { ok: true, gone: false });
    mass.fault = { kind: 'status', code: 300, body: '{}', path, times: 1 };
    const outcome = await c.deleteInstance(uuid);
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.kind, 'http-error');
    assert.match(outcome.error.message, /^DELETE analysis_system_instance\/.+\/: 300 Multiple Choices: redirected/);
    assert.equal(c.stats.requests, 2);
  });

  test('a 500 echoing the key: a server error with the key redacted', async () => {
    const { mass, cycle } = await setup('0.2');
    const uuid = await busyInstance(mass, cycle, 1);
    mass.fault = {
      kind: 'status',
      code: 500,
      body: JSON.stringify({ error: `bad key ${ADMIN}` }),
      path: `analysis_system_instance/${uuid}/`,
    };
    const outcome = await admin(mass).deleteInstance(uuid);
    assert.deepEqual(outcome, {
      ok: false,
      error: {
        kind: 'server-error',
        message: `DELETE analysis_system_instance/${uuid}/: 500 Internal Server Error (bad key [redacted])`,
      },
    });
  });
});
