// What one demand round costs the MASS server, in requests (never in time: speed is measured by
// `npm run bench`, see BENCHMARKS.md). mass-client.test.ts already checks 2 systems at backlogs 10
// and 10,000 on 0.2, and pageConcurrency 2 and 3 on the older server; this file pins the exact
// cost formula on 0.2 — 1 + 2 × systems + ceil(instances / 100) when one listing of all
// instances is the cheaper way, and the cases where one listing per system is — and on the
// older server the page accounting of all three lists under several concurrency bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MassClient } from '../../src/mass/client';
import { REPROBE_ROUNDS } from '../../src/mass/listing-plan';
import { startFakeMass, type FakeMass, type FakeMassOptions } from '../fakes/mass-server';
import { captureLogger, FakeSwarm, ManualClock, specDefaults } from '../fakes/in-memory';
import { SYSTEM_LABEL } from '../../src/labels';
import { Reconciler } from '../../src/loop/reconciler';

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

/** Like populate, with `instances(i)` instances (2 scheduled analyses each) for system i. */
function populateInstances(mass: FakeMass, duePerSystem: number, instances: (i: number) => number): void {
  LISTED.forEach((system, i) => {
    const n = instances(i);
    mass.setDemand(system, { due: duePerSystem, notDue: 7, scheduledOnline: 2 * n, onlineInstances: n });
  });
}

async function readAll(c: MassClient, systems: string[]): Promise<void> {
  const readings = await c.readDemand(systems, new Date(NOW));
  for (const [system, reading] of readings) assert.ok(reading.ok, `${system}: ${JSON.stringify(reading)}`);
}

describe('round cost on a 0.2 server', () => {
  // Round cost when one listing of every instance is the cheaper way (listing-plan.ts):
  // 1 systems page + 2 counts per system + ceil(all instances / per_page) instance pages.
  const formula = (systems: number, instances: number, perPage = 100) =>
    1 + 2 * systems + Math.max(1, Math.ceil(instances / perPage));

  test('1 + 2 × systems + ceil(instances / 100), the same at 10 and 10,000 due requests per system and in the next round', async () => {
    // System i has 5 × i instances: 330 in all, 4 pages; per system it would be 10 pages.
    const counts: number[] = [];
    for (const backlog of [10, 10_000]) {
      await withMass({ dialect: '0.2' }, async (mass) => {
        populateInstances(mass, backlog, (i) => 5 * i);
        const c = client(mass, 4);
        const expected = formula(WANTED.length, mass.instances.length);
        assert.equal(mass.instances.length, 330);
        for (const round of [1, 2]) {
          mass.clearLog();
          await readAll(c, WANTED);
          const urls = mass.requests.map((r) => r.url);
          assert.equal(urls.length, expected, `backlog ${backlog}, round ${round}:\n${urls.sort().join('\n')}`);
          assert.equal(c.lastListing?.listing, 'all');
          // The request list is only ever counted, never paged.
          const requestReads = urls.filter((u) => u.startsWith('/api/analysis_request/'));
          assert.equal(requestReads.length, 2 * WANTED.length);
          assert.ok(requestReads.every((u) => u.endsWith('&count')));
          assert.ok(!urls.some((u) => u.startsWith('/api/scheduled_analysis/')));
          // One listing of all: no instance page carries a system filter.
          const instancePages = urls.filter((u) => u.startsWith('/api/analysis_system_instance/'));
          assert.ok(instancePages.every((u) => !u.includes('analysis_system=')));
        }
        assert.equal(c.stats.requests, 2 * expected);
        counts.push(c.stats.requests);
      });
    }
    assert.equal(counts[0], counts[1]);
  });

  test('systems whose services size ahead: one more count each, the rest of the round as it was', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      populateInstances(mass, 10, (i) => 5 * i);
      const c = client(mass, 4);
      await readAll(c, WANTED);
      const plain = c.stats.requests;
      assert.equal(plain, formula(WANTED.length, mass.instances.length));
      const horizons = new Map([
        [WANTED[0]!, 45_000],
        [WANTED[3]!, 120_000],
      ]);
      mass.clearLog();
      const readings = await c.readDemand(WANTED, new Date(NOW), horizons);
      assert.equal(c.stats.requests - plain, formula(WANTED.length, mass.instances.length) + 2);
      const requestReads = mass.requests.map((r) => r.url).filter((u) => u.startsWith('/api/analysis_request/'));
      assert.equal(requestReads.length, 2 * WANTED.length + 2);
      for (const [system, reading] of readings) {
        assert.ok(reading.ok);
        assert.equal(reading.demand.dueSoon, horizons.has(system) ? 0 : undefined, system);
      }
    });
  });

  test('systems of more than 100 instances: the listing of all takes fewer pages than theirs', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      for (const name of ['big-a', 'big-b'])
        mass.setDemand(name, { due: 3, scheduledOnline: 150, onlineInstances: 150 });
      const c = client(mass, 4);
      // Round 1 knows no counts (1 page each, it assumes): page 1 of all says 3 pages, not < 2.
      await readAll(c, ['big-a', 'big-b']);
      assert.equal(c.stats.requests, 1 + 2 * 2 + 1 + 2 * 2);
      assert.equal(c.lastListing?.gaveUp, 'dearer');
      // Now known: per system 2 + 2 pages; all: ceil(300 / 100) = 3 pages.
      const before = c.stats.requests;
      await readAll(c, ['big-a', 'big-b']);
      assert.equal(c.stats.requests - before, formula(2, 300));
      assert.equal(c.lastListing?.listing, 'all');
    });
  });

  test('one managed system among many: its own listing, 1 + 2 + its pages', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      populateInstances(mass, 100, (i) => 5 * i);
      const c = client(mass, 4);
      for (const round of [1, 2, 3]) {
        mass.clearLog();
        await readAll(c, ['sys-05']);
        assert.equal(mass.requests.length, 1 + 2 + 1, `round ${round}`);
        assert.equal(c.lastListing?.listing, 'per-system');
      }
    });
  });

  test('a huge instance total: after one look at its first page, per system; looked at again after REPROBE_ROUNDS', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      const wanted = ['sys-a', 'sys-b', 'sys-c'];
      for (const name of wanted) mass.setDemand(name, { due: 1, scheduledOnline: 2, onlineInstances: 2 });
      mass.setDemand('crowded', { due: 0, scheduledOnline: 1000, onlineInstances: 1000 }); // 1,006 instances: 11 pages
      const c = client(mass, 4);
      const perSystem = 1 + 2 * wanted.length + wanted.length;
      const costs: number[] = [];
      for (let round = 1; round <= REPROBE_ROUNDS + 3; round += 1) {
        const before = c.stats.requests;
        await readAll(c, wanted);
        costs.push(c.stats.requests - before);
      }
      // Round 1: page 1 of the listing of all says 11 pages > 3 per system: one request spent.
      assert.equal(costs[0], perSystem + 1);
      // Then per system, until the total is looked at again.
      assert.deepEqual(costs.slice(1, REPROBE_ROUNDS + 1), Array(REPROBE_ROUNDS).fill(perSystem));
      assert.equal(costs[REPROBE_ROUNDS + 1], perSystem + 1);
      assert.equal(costs[REPROBE_ROUNDS + 2], perSystem);
      assert.equal(c.lastListing?.listing, 'per-system');
    });
  });

  test('the crowd leaves: the next look at the whole list switches to the listing of all', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      const wanted = ['sys-a', 'sys-b', 'sys-c'];
      for (const name of wanted) mass.setDemand(name, { due: 1, scheduledOnline: 2, onlineInstances: 2 });
      mass.setDemand('crowded', { due: 0, scheduledOnline: 1000, onlineInstances: 1000 });
      const c = client(mass, 4);
      await readAll(c, wanted);
      mass.removeInstances('crowded');
      for (let round = 1; round <= REPROBE_ROUNDS; round += 1) await readAll(c, wanted);
      const before = c.stats.requests;
      await readAll(c, wanted);
      assert.equal(c.stats.requests - before, formula(3, 6));
      assert.equal(c.lastListing?.listing, 'all');
    });
  });

  test('two systems and a few hundred other instances: per system (2 pages) beats all (3 pages)', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      for (const name of ['sys-a', 'sys-b']) mass.setDemand(name, { due: 1, scheduledOnline: 2, onlineInstances: 2 });
      mass.setDemand('others', { due: 0, scheduledOnline: 250, onlineInstances: 250 });
      const c = client(mass, 4);
      await readAll(c, ['sys-a', 'sys-b']);
      assert.equal(c.lastListing?.gaveUp, 'dearer');
      mass.clearLog();
      await readAll(c, ['sys-a', 'sys-b']);
      assert.equal(mass.requests.length, 1 + 2 * 2 + 2);
      assert.equal(c.lastListing?.listing, 'per-system');
    });
  });

  test('with per-system listings forced: systems pages + 3 per system + extra instance pages', async () => {
    const perPage = 4;
    const systemPages = Math.ceil(LISTED.length / perPage); // 3
    // System i has i instances: ceil(i / 4) pages, and an empty list is still one page.
    const extraInstancePages = WANTED.reduce((n, _, i) => n + Math.max(0, Math.ceil(i / perPage) - 1), 0);
    await withMass({ dialect: '0.2' }, async (mass) => {
      populate(mass, 100);
      const c = new MassClient({
        baseUrl: mass.baseUrl,
        apiKey: KEY,
        timeoutMs: 10_000,
        pageConcurrency: 4,
        perPage,
        instanceListing: 'per-system',
      });
      await readAll(c, WANTED);
      assert.equal(c.stats.requests, systemPages + 3 * WANTED.length + extraInstancePages);
    });
  });

  test('the whole round, all systems together, stays within pageConcurrency requests in flight', async () => {
    for (const pageConcurrency of [1, 3]) {
      for (const instanceListing of ['all', 'per-system'] as const) {
        await withMass({ dialect: '0.2', latencyMs: 2 }, async (mass) => {
          populate(mass, 100);
          const c = new MassClient({
            baseUrl: mass.baseUrl,
            apiKey: KEY,
            timeoutMs: 10_000,
            pageConcurrency,
            perPage: 4,
            instanceListing,
          });
          await readAll(c, WANTED);
          assert.ok(
            mass.maxInFlight <= pageConcurrency,
            `concurrency ${pageConcurrency}, ${instanceListing}: ${mass.maxInFlight} in flight at once`,
          );
        });
      }
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

describe('round cost through the loop: only a service that sizes ahead adds a count', () => {
  // One service of one system, read by the real client through the daemon's own round.
  const cases: { why: string; labels: Record<string, string>; extra: number }[] = [
    { why: 'classic', labels: { 'com.mass.policy': 'classic' }, extra: 0 },
    { why: 'work, size_ahead=off', labels: { 'com.mass.policy': 'work', 'com.mass.size_ahead': 'off' }, extra: 0 },
    {
      why: 'work, size_ahead=on: one more count, up to now + startup_time',
      labels: { 'com.mass.policy': 'work', 'com.mass.size_ahead': 'on', 'com.mass.startup_time': '45' },
      extra: 1,
    },
  ];
  for (const c of cases) {
    test(c.why, async () => {
      await withMass({ dialect: '0.2' }, async (mass) => {
        mass.setDemand('ssdeep', { due: 2, notDue: 1, scheduledOnline: 1, onlineInstances: 1 });
        mass.addRequests('ssdeep', 3, NOW + 30_000);
        const id = mass.addSystem('ssdeep').id;
        const clock = new ManualClock(NOW);
        const swarm = new FakeSwarm();
        swarm.now = () => clock.now();
        swarm.add('svc', { [SYSTEM_LABEL]: 'ssdeep', 'com.mass.min_inst': '1', ...c.labels }, 1);
        const log = captureLogger();
        const options = { dryRun: true, defaults: specDefaults(), discoveryIntervalMs: 2000, retryMaxDelayMs: 30_000 };
        const reconciler = new Reconciler(client(mass, 4), swarm, clock, log.logger, options);
        await reconciler.round();
        const urls = mass.requests.map((r) => r.url);
        assert.equal(urls.length, 1 + 2 + 1 + c.extra, urls.join('\n'));
        const soon = `/api/analysis_request/?analysis_system=${id}&schedule_after__lte=2024-05-01T12:00:45.000Z&count`;
        assert.equal(urls.includes(soon), c.extra === 1);
        const decision = log.lines.find((l) => l.service === 'svc' && l.action !== undefined) as
          { work?: { dueSoon: number | null } } | undefined;
        assert.ok(decision, 'the service was evaluated');
        if (c.labels['com.mass.policy'] === 'work') assert.equal(decision.work?.dueSoon, c.extra === 1 ? 3 : null);
      });
    });
  }
});
