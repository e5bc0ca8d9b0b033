// One listing of every instance (0.2), split per system by the client, against the MASS stand-in:
// it reads exactly what one listing per system reads, over several pages too, and it stays true
// when instances appear or vanish while it is being paged (src/mass/read-02.ts, listAll).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MassClient, type ListingMode } from '../../src/mass/client';
import type { SystemReading } from '../../src/types';
import { startFakeMass, type FakeMass } from '../fakes/mass-server';

const KEY = 'instance-listing-key';
const NOW = Date.parse('2024-05-01T12:00:00.000Z');

async function withMass(body: (mass: FakeMass) => Promise<void>): Promise<void> {
  const mass = await startFakeMass({ dialect: '0.2', apiKey: KEY, now: () => NOW });
  try {
    await body(mass);
  } finally {
    await mass.close();
  }
}

function client(mass: FakeMass, instanceListing: ListingMode = 'auto', pageConcurrency = 1): MassClient {
  return new MassClient({ baseUrl: mass.baseUrl, apiKey: KEY, timeoutMs: 10_000, pageConcurrency, instanceListing });
}

async function readOk(c: MassClient, systems: string[]): Promise<Map<string, SystemReading & { ok: true }>> {
  const readings = await c.readDemand(systems, new Date(NOW));
  const out = new Map<string, SystemReading & { ok: true }>();
  for (const [system, reading] of readings) {
    assert.ok(reading.ok, `${system}: ${JSON.stringify(reading)}`);
    out.set(system, reading);
  }
  return out;
}

function uuidsOf(reading: SystemReading & { ok: true }): string[] {
  return reading.demand.instances.map((i) => i.uuid).sort();
}

/** alpha 150 instances (listed first), beta 60, gamma 40: 250 instances, 3 pages of 100. */
function threeSystems(mass: FakeMass, alpha = 150): void {
  mass.setDemand('alpha', { due: 4, scheduledOnline: alpha, onlineInstances: alpha });
  mass.setDemand('beta', {
    due: 2,
    notDue: 3,
    scheduledOnline: 30,
    onlineInstances: 50,
    stuckOffline: 20,
    offlineInstances: 10,
  });
  mass.setDemand('gamma', { due: 0, scheduledOnline: 40, onlineInstances: 40 });
}

const SYSTEMS = ['alpha', 'beta', 'gamma'];

/** Runs `change` once, as the request for page `page` of the unfiltered instance list arrives. */
function onPage(mass: FakeMass, page: number, change: () => void): void {
  mass.onRequest = (entry) => {
    if (entry.path === '/api/analysis_system_instance/' && entry.url.includes(`?page=${page}&`)) {
      mass.onRequest = null;
      change();
    }
  };
}

describe('one listing of all instances (0.2)', () => {
  test('over several pages it reads exactly what the listings per system read, other systems and strays left out', async () => {
    await withMass(async (mass) => {
      threeSystems(mass);
      mass.setDemand('unmanaged', { due: 9, scheduledOnline: 70, onlineInstances: 70 });
      mass.addInstance('stray', { scheduled: 5 });
      mass.unlisted.add('stray'); // an instance of a system analysis_system/ does not list
      const all = client(mass, 'all', 3);
      const byAll = await readOk(all, SYSTEMS);
      assert.equal(all.lastListing?.listing, 'all');
      const perSystem = client(mass, 'per-system', 3);
      const bySystem = await readOk(perSystem, SYSTEMS);
      assert.deepEqual(byAll, bySystem);
      assert.equal(byAll.get('alpha')!.demand.instances.length, 150);
      const beta = byAll.get('beta')!.demand;
      assert.deepEqual(
        [beta.due, beta.notDue, beta.onlineInstances, beta.offlineInstances, beta.scheduledOnline, beta.stuckOffline],
        [2, 3, 50, 10, 30, 20],
      );
      // 321 instances: 4 pages, no filter on any of them
      const pages = mass.requests.filter((r) => r.url.startsWith('/api/analysis_system_instance/?page='));
      assert.equal(pages.length, 4);
    });
  });

  test('an instance appearing before the page being read (a uuid comes twice): the round reads per system instead', async () => {
    await withMass(async (mass) => {
      threeSystems(mass);
      const c = client(mass);
      await readOk(c, SYSTEMS);
      assert.equal(c.lastListing?.listing, 'all');
      const added = '00000000-0000-4000-8000-000000000000'; // listed first: everything shifts by one
      onPage(mass, 2, () => mass.addInstance('alpha', { uuid: added, scheduled: 1 }));
      const readings = await readOk(c, SYSTEMS);
      assert.deepEqual(c.lastListing, { listing: 'per-system', gaveUp: 'changed', confirmed: [] });
      assert.equal(readings.get('alpha')!.demand.instances.length, 151);
      assert.ok(uuidsOf(readings.get('alpha')!).includes(added));
      assert.equal(readings.get('beta')!.demand.instances.length, 60);
      assert.equal(readings.get('gamma')!.demand.instances.length, 40);
    });
  });

  test('an instance vanishing from a page already read (the next page skips one): the system missing a known instance is read again', async () => {
    await withMass(async (mass) => {
      threeSystems(mass);
      const c = client(mass);
      await readOk(c, SYSTEMS);
      const alpha = mass.instances.filter((i) => i.system === 'alpha');
      const first = alpha[0]!; // on page 1
      const skipped = alpha[100]!.uuid; // first of page 2 until `first` goes
      onPage(mass, 2, () => mass.instances.splice(mass.instances.indexOf(first), 1));
      mass.clearLog();
      const readings = await readOk(c, SYSTEMS);
      // 249 instances: still 3 pages, nothing to see but the missing instance
      assert.deepEqual(c.lastListing, { listing: 'all', gaveUp: null, confirmed: ['alpha'] });
      const uuids = uuidsOf(readings.get('alpha')!);
      assert.equal(uuids.length, 149);
      assert.ok(uuids.includes(skipped), 'the instance the shifted page skipped is read');
      assert.ok(!uuids.includes(first.uuid), 'the instance that vanished is gone');
      assert.equal(readings.get('beta')!.demand.instances.length, 60);
      // the cost: 1 + 2 × 3 + 3 pages of all + alpha's own 2 pages
      assert.equal(mass.requests.length, 1 + 6 + 3 + 2);
    });
  });

  test('the list shrinks by a page while it is read (page_count changes): the round reads per system instead', async () => {
    await withMass(async (mass) => {
      threeSystems(mass, 101); // 201 instances: 3 pages
      const c = client(mass);
      await readOk(c, SYSTEMS);
      onPage(mass, 2, () => {
        const gamma = mass.instances.filter((i) => i.system === 'gamma');
        mass.instances.splice(mass.instances.indexOf(gamma[gamma.length - 1]!), 1);
      });
      const readings = await readOk(c, SYSTEMS);
      assert.equal(c.lastListing?.gaveUp, 'changed');
      assert.equal(readings.get('gamma')!.demand.instances.length, 39);
      assert.equal(readings.get('alpha')!.demand.instances.length, 101);
    });
  });

  test('one page holds every instance: one answer, nothing read again even when instances vanish', async () => {
    await withMass(async (mass) => {
      for (const name of ['a', 'b']) mass.setDemand(name, { due: 1, scheduledOnline: 6, onlineInstances: 3 });
      const c = client(mass);
      await readOk(c, ['a', 'b']);
      mass.instances.splice(0, 1);
      mass.clearLog();
      const readings = await readOk(c, ['a', 'b']);
      assert.deepEqual(c.lastListing, { listing: 'all', gaveUp: null, confirmed: [] });
      assert.equal(readings.get('a')!.demand.instances.length + readings.get('b')!.demand.instances.length, 5);
      assert.equal(mass.requests.length, 1 + 2 * 2 + 1);
    });
  });

  test('a failing listing of all: every wanted system has no reading, with the step named', async () => {
    await withMass(async (mass) => {
      for (const name of ['a', 'b']) mass.setDemand(name, { due: 1, scheduledOnline: 2, onlineInstances: 1 });
      mass.fault = { kind: 'status', code: 503, path: 'analysis_system_instance/' };
      const readings = await client(mass).readDemand(['a', 'b'], new Date(NOW));
      for (const name of ['a', 'b']) {
        const reading = readings.get(name);
        assert.ok(reading && !reading.ok);
        assert.equal(reading.error.kind, 'server-error');
        assert.match(reading.error.message, /^GET analysis_system_instance\/\?page=1&per_page=100: /);
      }
    });
  });

  // A paging fault of the listing of all stays with the systems whose own lists it hits.
  const faults = [
    { name: 'a server that ignores page', fault: { kind: 'next-loop', path: 'analysis_system_instance/' } },
    { name: 'a page that 404s', fault: { kind: 'vanish-page', page: 2, path: 'analysis_system_instance/' } },
  ] as const;
  for (const row of faults) {
    test(`${row.name}: read per system, so only the system with a second page has no reading`, async () => {
      await withMass(async (mass) => {
        mass.setDemand('alpha', { due: 1, scheduledOnline: 150, onlineInstances: 150 });
        mass.setDemand('beta', { due: 2, scheduledOnline: 3, onlineInstances: 3 });
        const c = client(mass);
        await readOk(c, ['alpha', 'beta']); // learns the counts: all (2 pages) beats 2 + 1
        mass.fault = { ...row.fault };
        const readings = await c.readDemand(['alpha', 'beta'], new Date(NOW));
        assert.deepEqual(c.lastListing, { listing: 'per-system', gaveUp: 'changed', confirmed: [] });
        const alpha = readings.get('alpha');
        assert.ok(alpha && !alpha.ok);
        assert.equal(alpha.error.kind, 'paging');
        assert.match(
          alpha.error.message,
          /^GET analysis_system_instance\/\?analysis_system=[0-9a-f]{24}&page=2&per_page=100: /,
        );
        const beta = readings.get('beta');
        assert.ok(beta?.ok, JSON.stringify(beta));
        assert.equal(beta.demand.demand, 5);
      });
    });
  }
});
