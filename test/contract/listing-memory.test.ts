// What one 0.2 round learns of the instance list decides how the next round lists it
// (src/mass/listing-plan.ts has the rule): through the client against the MASS stand-in, with
// 2 instances a page so that a few instances make several pages.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MassClient } from '../../src/mass/client';
import { startFakeMass, type FakeMass } from '../fakes/mass-server';

const KEY = 'listing-memory-key';
const NOW = Date.parse('2024-05-01T12:00:00.000Z');

async function withMass(body: (mass: FakeMass) => Promise<void>): Promise<void> {
  const mass = await startFakeMass({ dialect: '0.2', apiKey: KEY, now: () => NOW });
  try {
    await body(mass);
  } finally {
    await mass.close();
  }
}

const client = (mass: FakeMass) =>
  new MassClient({ baseUrl: mass.baseUrl, apiKey: KEY, timeoutMs: 5000, pageConcurrency: 1, perPage: 2 });

const instances = (mass: FakeMass, system: string, n: number) =>
  mass.setDemand(system, { due: 0, scheduledOnline: n, onlineInstances: n });

/** One round; every system read, and how it listed the instances. */
async function round(c: MassClient, systems: string[]): Promise<string> {
  const readings = await c.readDemand(systems, new Date(NOW));
  for (const [system, reading] of readings) assert.ok(reading.ok, `${system}: ${JSON.stringify(reading)}`);
  return `${c.lastListing?.listing} (gave up: ${c.lastListing?.gaveUp})`;
}

describe('0.2: the next round lists the instances the way the last ones showed to be cheaper', () => {
  test('a listing of all read to its end: its total is kept, and per system is cheaper next', async () => {
    await withMass(async (mass) => {
      // a, b, c one instance each: all 2 pages, a and b 1 page each. The first round tries all.
      for (const s of ['a', 'b', 'c']) instances(mass, s, 1);
      const c = client(mass);
      assert.equal(await round(c, ['a', 'b']), 'all (gave up: null)');
      // Known now: all = pages(3) = 2, not fewer than the 2 per system.
      assert.equal(await round(c, ['a', 'b']), 'per-system (gave up: null)');
    });
  });

  test('a listing of all that changed while read teaches nothing: the next round tries it again', async () => {
    await withMass(async (mass) => {
      // a, b, c one instance each: page 2 of all is not found once (as if the list shrank).
      for (const s of ['a', 'b', 'c']) instances(mass, s, 1);
      mass.fault = { kind: 'vanish-page', page: 2, path: /^\/api\/analysis_system_instance\/\?page=2&/, times: 1 };
      const c = client(mass);
      assert.equal(await round(c, ['a', 'b']), 'per-system (gave up: changed)');
      assert.equal(await round(c, ['a', 'b']), 'all (gave up: null)');
    });
  });

  test("a system's own listing is remembered: it prices the per-system way of a later round", async () => {
    await withMass(async (mass) => {
      instances(mass, 'a', 3);
      instances(mass, 'b', 3);
      const c = client(mass);
      assert.equal(await round(c, ['a']), 'per-system (gave up: null)');
      // All: 3 pages, so 2 more after the first; per system: a 2 pages (known) + b 1 (unknown).
      assert.equal(await round(c, ['a', 'b']), 'all (gave up: null)');
    });
  });
});
