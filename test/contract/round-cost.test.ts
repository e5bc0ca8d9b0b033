// What one demand round costs the MASS server, in requests (never in time: speed is measured by
// `npm run bench`, see BENCHMARKS.md). mass-client.test.ts already checks 2 systems at backlogs 10
// and 10,000 on 0.2, and pageConcurrency 2 and 3 on the older server; this file pins the exact
// cost formula on 0.2 with multi-page systems and instance lists, and on the older server the
// page accounting of all three lists under several concurrency bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MassClient } from '../../src/mass/client';
import { startFakeMass, type FakeMass, type FakeMassOptions } from '../fakes/mass-server';

const KEY = 'round-cost-key';
const NOW = Date.parse('2024-05-01T12:00:00.000Z');

async function withMass(
  opts: Partial<FakeMassOptions> & Pick<FakeMassOptions, 'dialect'>,
  body: (mass: FakeMass) => Promise<void>,
): Promise<void> {
  const mass = await startFakeMass({ apiKey: KEY, now: () => NOW, ...opts });
  try {
    await body(mass);
  } finally {
    await mass.close();
  }
}

function client(mass: FakeMass, pageConcurrency: number, perPage?: number): MassClient {
  return new MassClient({ baseUrl: mass.baseUrl, apiKey: KEY, timeoutMs: 10_000, pageConcurrency, perPage });
}

/** 12 systems in MASS, 10 of them asked for; system i has i instances (0..11). */
const LISTED = Array.from({ length: 12 }, (_, i) => `sys-${String(i).padStart(2, '0')}`);
const WANTED = LISTED.slice(0, 10);

function populate(mass: FakeMass, duePerSystem: number): void {
  LISTED.forEach((system, i) => {
    const online = Math.ceil(i / 2);
    const offline = i - online;
    mass.setDemand(system, {
      due: duePerSystem,
      notDue: 7,
      scheduledOnline: online * 3,
      onlineInstances: online,
      stuckOffline: offline * 2,
      offlineInstances: offline,
    });
  });
}

async function readAll(c: MassClient, systems: string[]): Promise<void> {
  const readings = await c.readDemand(systems, new Date(NOW));
  for (const [system, reading] of readings) assert.ok(reading.ok, `${system}: ${JSON.stringify(reading)}`);
}

describe('round cost on a 0.2 server', () => {
  test('systems pages + 3 per system + extra instance pages, the same at 10 and 10,000 due requests per system', async () => {
    const perPage = 4;
    const systemPages = Math.ceil(LISTED.length / perPage); // 3
    // System i has i instances: ceil(i / 4) pages, and an empty list is still one page.
    const extraInstancePages = WANTED.reduce((n, _, i) => n + Math.max(0, Math.ceil(i / perPage) - 1), 0);
    const expected = systemPages + 3 * WANTED.length + extraInstancePages; // 3 + 30 + 3

    const counts: number[] = [];
    for (const backlog of [10, 10_000]) {
      await withMass({ dialect: '0.2' }, async (mass) => {
        populate(mass, backlog);
        const c = client(mass, 4, perPage);
        await readAll(c, WANTED);
        const urls = mass.requests.map((r) => r.url);
        assert.equal(c.stats.requests, urls.length);
        assert.equal(urls.length, expected, `backlog ${backlog}: ${urls.length} requests\n${urls.sort().join('\n')}`);
        // The request list is only ever counted, never paged.
        const requestReads = urls.filter((u) => u.startsWith('/api/analysis_request/'));
        assert.equal(requestReads.length, 2 * WANTED.length);
        assert.ok(requestReads.every((u) => u.endsWith('&count')));
        assert.ok(!urls.some((u) => u.startsWith('/api/scheduled_analysis/')));
        counts.push(urls.length);
      });
    }
    assert.equal(counts[0], counts[1]);
  });

  test('a second round costs what the first did', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      populate(mass, 100);
      const c = client(mass, 4);
      await readAll(c, WANTED);
      const first = c.stats.requests;
      mass.setDemand('sys-03', { due: 5_000, notDue: 5_000 });
      await readAll(c, WANTED);
      assert.equal(c.stats.requests, 2 * first);
      assert.equal(first, 1 + 3 * WANTED.length);
    });
  });

  test('the whole round, all systems together, stays within pageConcurrency requests in flight', async () => {
    for (const pageConcurrency of [1, 3]) {
      await withMass({ dialect: '0.2', latencyMs: 2 }, async (mass) => {
        populate(mass, 100);
        const c = client(mass, pageConcurrency, 4);
        await readAll(c, WANTED);
        assert.ok(
          mass.maxInFlight <= pageConcurrency,
          `concurrency ${pageConcurrency}: ${mass.maxInFlight} in flight at once`,
        );
      });
    }
  });
});

describe('round cost on the older server', () => {
  const PER_PAGE = 10;

  for (const pageConcurrency of [1, 2, 5]) {
    test(`pageConcurrency ${pageConcurrency}: at most that many in flight, every page once, at most ${pageConcurrency} requests past the last page of each list`, async () => {
      await withMass({ dialect: 'legacy', perPage: PER_PAGE, latencyMs: 2 }, async (mass) => {
        populate(mass, 30); // 12 × (30 due + 7 not due) = 444 requests
        const items = {
          analysis_system: LISTED.length,
          analysis_request: mass.requestGroups.reduce((n, g) => n + g.count, 0),
          analysis_system_instance: mass.instances.length,
          scheduled_analysis: mass.instances.reduce((n, i) => n + i.scheduled, 0),
        };
        const c = client(mass, pageConcurrency);
        await readAll(c, WANTED);
        assert.ok(mass.maxInFlight <= pageConcurrency, `${mass.maxInFlight} in flight at once`);
        assert.equal(c.stats.requests, mass.requests.length);

        for (const [collection, count] of Object.entries(items)) {
          const dataPages = Math.ceil(count / PER_PAGE);
          const pages = mass.requests
            .filter((r) => r.path === `/api/${collection}/`)
            .map((r) => Number(new URL(r.url, 'http://x').searchParams.get('page')));
          assert.equal(
            new Set(pages).size,
            pages.length,
            `${collection}: a page was fetched twice: ${pages.join(',')}`,
          );
          for (let p = 1; p <= dataPages + 1; p += 1)
            assert.ok(pages.includes(p), `${collection}: page ${p} not fetched`);
          assert.ok(
            pages.length <= dataPages + pageConcurrency,
            `${collection}: ${pages.length} pages fetched for ${dataPages} pages of items (at most ${pageConcurrency} past the end)`,
          );
          if (pageConcurrency === 1)
            assert.equal(pages.length, dataPages + 1, `${collection}: one page after another, then the 404`);
        }
      });
    });
  }
});
