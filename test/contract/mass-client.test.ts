// MassClient against the fake MASS server (a real HTTP server on 127.0.0.1), both dialects.
// Every read goes through read(), which also checks that the key leaks nowhere and that the
// instances' heartbeat endpoint is never called.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MassClient, type MassClientOptions } from '../../src/mass/client';
import type { MassErrorKind, SystemDemand, SystemReading } from '../../src/types';
import { startFakeMass, type FakeMass, type FakeMassOptions } from '../fakes/mass-server';

const KEY = 'k3y-7f2c9e1a-do-not-leak';
const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const now = new Date(NOW);

async function withMass(
  opts: Partial<FakeMassOptions> & Pick<FakeMassOptions, 'dialect'>,
  body: (mass: FakeMass) => Promise<void>,
): Promise<void> {
  const mass = await startFakeMass({ apiKey: KEY, now: () => NOW, ...opts });
  try {
    await body(mass);
    const heartbeats = mass.requests.filter((r) => r.path.includes('/scheduled_analyses/'));
    assert.deepEqual(heartbeats, [], 'the heartbeat endpoint must never be called');
    assert.ok(
      mass.requests.every((r) => !r.url.includes(KEY)),
      'the key must never be in a URL',
    );
  } finally {
    await mass.close();
  }
}

function client(mass: { baseUrl: string }, opts: Partial<MassClientOptions> = {}): MassClient {
  return new MassClient({ baseUrl: mass.baseUrl, apiKey: KEY, timeoutMs: 5000, pageConcurrency: 4, ...opts });
}

async function read(c: MassClient, systems: string[]): Promise<Map<string, SystemReading>> {
  const readings = await c.readDemand(systems, now);
  assert.deepEqual([...readings.keys()], systems, 'one reading per requested system');
  assert.ok(!JSON.stringify([...readings]).includes(KEY), 'no reading or message contains the key');
  assert.ok(!JSON.stringify(c.stats).includes(KEY));
  return readings;
}

/** The system's counts; its instance records are checked by the tests that name them. */
function demandOf(readings: Map<string, SystemReading>, system: string): Omit<SystemDemand, 'instances'> {
  const reading = readings.get(system);
  assert.ok(reading?.ok, `${system}: expected a reading, got ${JSON.stringify(reading)}`);
  const { instances: _instances, ...counts } = reading.demand;
  return counts;
}

function failureOf(readings: Map<string, SystemReading>, system: string, kind: MassErrorKind): string {
  const reading = readings.get(system);
  assert.ok(reading && !reading.ok, `${system}: expected a failure, got ${JSON.stringify(reading)}`);
  assert.equal(reading.error.kind, kind, reading.error.message);
  return reading.error.message;
}

/** Every 8-character piece of the key found in text: half a key is as bad as the whole. */
function keyPieces(text: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i + 8 <= KEY.length; i += 1) {
    if (text.includes(KEY.slice(i, i + 8))) pieces.push(KEY.slice(i, i + 8));
  }
  return pieces;
}

/** A bare node:http server on 127.0.0.1, for answers the fake cannot give. */
interface LocalServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** http://127.0.0.1:PORT/api/ */
  baseUrl: string;
  /** requests received */
  hits: number;
  /** stops listening and destroys every socket */
  close(): Promise<void>;
}

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    local.hits += 1;
    handler(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const local: LocalServer = {
    origin,
    baseUrl: `${origin}/api/`,
    hits: 0,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return local;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const SSDEEP: Omit<SystemDemand, 'instances'> = {
  system: 'ssdeep',
  due: 7,
  notDue: 2,
  scheduledOnline: 5,
  stuckOffline: 4,
  onlineInstances: 2,
  offlineInstances: 2,
  demand: 12,
};

function setSsdeep(mass: FakeMass): void {
  mass.setDemand('ssdeep', {
    due: SSDEEP.due,
    notDue: SSDEEP.notDue!,
    scheduledOnline: SSDEEP.scheduledOnline,
    stuckOffline: SSDEEP.stuckOffline,
    onlineInstances: SSDEEP.onlineInstances,
    offlineInstances: SSDEEP.offlineInstances,
  });
}

for (const dialect of ['0.2', 'legacy'] as const) {
  describe(`MassClient, ${dialect} server: reading demand`, () => {
    test('demand = due + scheduled on online instances; not-yet-due and stuck-offline apart', async () => {
      await withMass({ dialect }, async (mass) => {
        setSsdeep(mass);
        mass.setDemand('peid', { due: 1, notDue: 3 });
        const c = client(mass);
        const readings = await read(c, ['ssdeep', 'peid']);
        assert.deepEqual(demandOf(readings, 'ssdeep'), SSDEEP);
        assert.deepEqual(demandOf(readings, 'peid'), {
          system: 'peid',
          due: 1,
          notDue: 3,
          scheduledOnline: 0,
          stuckOffline: 0,
          onlineInstances: 0,
          offlineInstances: 0,
          demand: 1,
        });
        assert.equal(c.lastDialect, dialect);
        assert.ok(mass.requests.every((r) => r.authOk && r.method === 'GET'));
      });
    });

    test('each instance record: its uuid, last_seen in ms and scheduled count (for the liveness rule)', async () => {
      await withMass({ dialect }, async (mass) => {
        const seen = Date.now() - 45_000;
        mass.addInstance('ssdeep', { uuid: 'aaaa-1', lastSeen: seen, scheduled: 3 });
        mass.addInstance('ssdeep', { uuid: 'bbbb-2', lastSeen: null, scheduled: 0 });
        mass.addInstance('ssdeep', { uuid: 'cccc-3', online: false, scheduled: 2 });
        mass.addInstance('peid', { uuid: 'dddd-4', scheduled: 9 });
        const readings = await read(client(mass), ['ssdeep']);
        const reading = readings.get('ssdeep');
        assert.ok(reading?.ok);
        const byUuid = new Map(reading.demand.instances.map((i) => [i.uuid, i]));
        assert.deepEqual([...byUuid.keys()].sort(), ['aaaa-1', 'bbbb-2', 'cccc-3']);
        assert.deepEqual(byUuid.get('aaaa-1'), { uuid: 'aaaa-1', lastSeen: seen, scheduled: 3 });
        assert.deepEqual(byUuid.get('bbbb-2'), { uuid: 'bbbb-2', lastSeen: null, scheduled: 0 });
        assert.equal(byUuid.get('cccc-3')?.scheduled, 2);
        assert.ok(byUuid.get('cccc-3')!.lastSeen! < Date.now() - 30 * 60_000);
      });
    });

    test('a request due exactly at now is due, one a millisecond later is not', async () => {
      await withMass({ dialect }, async (mass) => {
        mass.addRequests('ssdeep', 1, NOW);
        mass.addRequests('ssdeep', 1, NOW + 1);
        mass.addRequests('ssdeep', 2, NOW - 1);
        const d = demandOf(await read(client(mass), ['ssdeep']), 'ssdeep');
        assert.equal(d.due, 3);
        assert.equal(d.notDue, 1);
      });
    });

    test('an instance that never polled (last_seen null) is offline', async () => {
      await withMass({ dialect }, async (mass) => {
        mass.addInstance('ssdeep', { lastSeen: null, scheduled: 2 });
        mass.addInstance('ssdeep', { lastSeen: NOW - 9 * 60_000, scheduled: 1 });
        mass.addInstance('ssdeep', { lastSeen: NOW - 11 * 60_000, scheduled: 5 });
        const d = demandOf(await read(client(mass), ['ssdeep']), 'ssdeep');
        assert.deepEqual([d.onlineInstances, d.scheduledOnline, d.offlineInstances, d.stuckOffline], [1, 1, 2, 7]);
      });
    });

    test('base URL with and without the trailing slash', async () => {
      await withMass({ dialect }, async (mass) => {
        setSsdeep(mass);
        assert.ok(mass.baseUrl.endsWith('/api/'));
        for (const baseUrl of [mass.baseUrl, mass.baseUrl.slice(0, -1)]) {
          const readings = await read(client(mass, { baseUrl }), ['ssdeep']);
          assert.deepEqual(demandOf(readings, 'ssdeep'), SSDEEP, baseUrl);
        }
        assert.ok(mass.requests.every((r) => r.path.startsWith('/api/') && !r.path.startsWith('/api//')));
      });
    });

    test('a system MASS does not list gets unknown-system; the others are read', async () => {
      await withMass({ dialect }, async (mass) => {
        setSsdeep(mass);
        const readings = await read(client(mass), ['ssdeep', 'no-such-system']);
        assert.deepEqual(demandOf(readings, 'ssdeep'), SSDEEP);
        assert.match(failureOf(readings, 'no-such-system', 'unknown-system'), /no-such-system/);
      });
    });

    test('no systems asked: no request', async () => {
      await withMass({ dialect }, async (mass) => {
        const c = client(mass);
        assert.equal((await read(c, [])).size, 0);
        assert.equal(c.stats.requests, 0);
      });
    });
  });
}

describe('MassClient, 0.2 server: cheap reads', () => {
  test('?count with the filters, one systems listing, no request paging', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      const id = mass.addSystem('ssdeep').id;
      const c = client(mass);
      demandOf(await read(c, ['ssdeep']), 'ssdeep');
      const urls = mass.requests.map((r) => r.url).sort();
      assert.deepEqual(urls, [
        `/api/analysis_request/?analysis_system=${id}&count`,
        `/api/analysis_request/?analysis_system=${id}&schedule_after__lte=2024-05-01T12:00:00.000Z&count`,
        `/api/analysis_system/?page=1&per_page=100`,
        `/api/analysis_system_instance/?analysis_system=${id}&page=1&per_page=100`,
      ]);
      assert.equal(c.stats.requests, 4);
    });
  });

  test('instance pages and systems pages are all read, and page URLs keep the filters', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      for (const name of ['a-sys', 'b-sys', 'c-sys', 'd-sys']) mass.addSystem(name);
      mass.setDemand('ssdeep', {
        due: 0,
        scheduledOnline: 5,
        onlineInstances: 5,
        stuckOffline: 2,
        offlineInstances: 2,
      });
      const id = mass.addSystem('ssdeep').id;
      const c = client(mass, { perPage: 2 });
      const d = demandOf(await read(c, ['ssdeep', 'a-sys']), 'ssdeep');
      assert.deepEqual([d.onlineInstances, d.scheduledOnline, d.offlineInstances, d.stuckOffline], [5, 5, 2, 2]);

      const systemPages = mass.requests
        .filter((r) => r.path === '/api/analysis_system/')
        .map((r) => r.url)
        .sort();
      assert.deepEqual(
        systemPages,
        [1, 2, 3].map((p) => `/api/analysis_system/?page=${p}&per_page=2`),
      );
      const instancePages = mass.requests
        .filter((r) => r.path === '/api/analysis_system_instance/' && r.url.includes(id))
        .map((r) => r.url)
        .sort();
      assert.deepEqual(
        instancePages,
        [1, 2, 3, 4].map((p) => `/api/analysis_system_instance/?analysis_system=${id}&page=${p}&per_page=2`),
      );
    });
  });

  test('requests per round do not grow with the backlog (10 vs 10,000)', async () => {
    const counts: number[] = [];
    for (const backlog of [10, 10_000]) {
      await withMass({ dialect: '0.2' }, async (mass) => {
        mass.setDemand('ssdeep', { due: backlog, notDue: backlog, scheduledOnline: 3, stuckOffline: 1 });
        mass.setDemand('peid', { due: backlog });
        const c = client(mass);
        const readings = await read(c, ['ssdeep', 'peid']);
        assert.equal(demandOf(readings, 'ssdeep').due, backlog);
        assert.equal(demandOf(readings, 'ssdeep').notDue, backlog);
        assert.equal(demandOf(readings, 'peid').demand, backlog);
        assert.equal(c.stats.requests, mass.requests.length);
        assert.ok(c.stats.requests <= 1 + 3 * 2, `requests: ${c.stats.requests}`);
        counts.push(c.stats.requests);
      });
    }
    assert.equal(counts[0], counts[1]);
  });

  test('stats.requests adds up over rounds', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      const c = client(mass);
      await read(c, ['ssdeep']);
      await read(c, ['ssdeep']);
      assert.equal(c.stats.requests, 8);
    });
  });

  test('an answer to ?count without count is never read as 0', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      // What an older server behind the same address answers: its unfiltered first page.
      mass.fault = { kind: 'status', code: 200, body: '{"results": []}', path: /schedule_after__lte=.*&count$/ };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'bad-shape');
      assert.match(message, /ignores \?count/);
    });
  });

  test('dialect forced to 0.2 against an older server: bad-shape, not zero', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      setSsdeep(mass);
      const message = failureOf(await read(client(mass, { dialect: '0.2' }), ['ssdeep']), 'ssdeep', 'bad-shape');
      assert.match(message, /page_count/);
    });
  });

  test('an instance item without scheduled_analyses_count is bad-shape, never read as 0 scheduled analyses', async () => {
    await withMass({ dialect: '0.2', instanceFields: { isOnline: true, scheduledCount: false } }, async (mass) => {
      setSsdeep(mass);
      const id = mass.addSystem('ssdeep').id;
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'bad-shape');
      assert.match(
        message,
        new RegExp(
          `^GET analysis_system_instance/\\?analysis_system=${id}&page=1&per_page=100: results\\.0\\.scheduled_analyses_count is missing$`,
        ),
      );
    });
  });

  test('is_online wins over last_seen: is_online false with a fresh last_seen is offline, true with an old one online', async () => {
    // The fake derives is_online from last_seen, so this server answers the 0.2 endpoints itself.
    const id = '5a14596e613bc66400000001';
    const iso = (ms: number) => new Date(ms).toISOString();
    const server = await startServer((req, res) => {
      const base = `http://${req.headers.host}/api/`;
      const url = new URL(req.url ?? '/', base);
      const params = url.searchParams;
      const envelope = (results: unknown[]) => ({ page: 1, page_count: 1, next: null, previous: null, results });
      if (req.headers.authorization !== `APIKEY ${KEY}`) return sendJson(res, 403, { error: 'no access' });
      if (url.pathname === '/api/analysis_system/' && params.get('page') === '1') {
        return sendJson(res, 200, envelope([{ id, identifier_name: 'ssdeep', url: `${base}analysis_system/ssdeep/` }]));
      }
      if (url.pathname === '/api/analysis_request/' && params.get('analysis_system') === id && params.has('count')) {
        return sendJson(res, 200, { count: params.has('schedule_after__lte') ? 1 : 3 });
      }
      if (
        url.pathname === '/api/analysis_system_instance/' &&
        params.get('analysis_system') === id &&
        params.get('page') === '1'
      ) {
        const item = (n: number, isOnline: boolean, lastSeen: number, scheduled: number) => ({
          id: `5a2ec3a1613bc6000000000${n}`,
          uuid: `0e6c0e3c-5d1c-4c56-a3f6-00000000000${n}`,
          analysis_system: `${base}analysis_system/ssdeep/`,
          last_seen: iso(lastSeen),
          is_online: isOnline,
          scheduled_analyses_count: scheduled,
          url: `${base}analysis_system_instance/0e6c0e3c-5d1c-4c56-a3f6-00000000000${n}/`,
        });
        return sendJson(res, 200, envelope([item(1, false, NOW - 30_000, 3), item(2, true, NOW - 60 * 60_000, 2)]));
      }
      return sendJson(res, 404, { error: 'not found' });
    });
    try {
      const d = demandOf(await read(client(server), ['ssdeep']), 'ssdeep');
      assert.deepEqual(d, {
        system: 'ssdeep',
        due: 1,
        notDue: 2,
        scheduledOnline: 2,
        stuckOffline: 3,
        onlineInstances: 1,
        offlineInstances: 1,
        demand: 3,
      });
      assert.equal(server.hits, 4);
    } finally {
      await server.close();
    }
  });

  for (const dialect of ['0.2', 'legacy'] as const) {
    test(`${dialect}: last_seen exactly 10 minutes old is offline; a second younger is online`, async () => {
      await withMass({ dialect, instanceFields: { isOnline: false } }, async (mass) => {
        mass.addSystem('ssdeep');
        mass.addInstance('ssdeep', { lastSeen: NOW - 10 * 60_000, scheduled: 2 });
        mass.addInstance('ssdeep', { lastSeen: NOW - 10 * 60_000 + 1000, scheduled: 5 });
        const demand = demandOf(await read(client(mass), ['ssdeep']), 'ssdeep');
        assert.deepEqual(
          [demand.onlineInstances, demand.scheduledOnline, demand.offlineInstances, demand.stuckOffline],
          [1, 5, 1, 2],
        );
      });
    });
  }

  test('without is_online, last_seen decides who is online', async () => {
    await withMass({ dialect: '0.2', instanceFields: { isOnline: false } }, async (mass) => {
      setSsdeep(mass);
      assert.deepEqual(demandOf(await read(client(mass), ['ssdeep']), 'ssdeep'), SSDEEP);
    });
  });
});

describe('MassClient, older server: counting by paging', () => {
  test('pages through every request, instance and scheduled analysis until 404', async () => {
    await withMass({ dialect: 'legacy', perPage: 3 }, async (mass) => {
      setSsdeep(mass); // 9 requests, 4 instances, 9 scheduled analyses
      mass.setDemand('peid', { due: 4, scheduledOnline: 1 }); // 4 requests, 1 instance, 1 analysis
      const c = client(mass, { pageConcurrency: 2 });
      const readings = await read(c, ['ssdeep', 'peid']);
      assert.deepEqual(demandOf(readings, 'ssdeep'), SSDEEP);
      assert.equal(demandOf(readings, 'peid').demand, 5);

      const pagesOf = (collection: string) =>
        mass.requests
          .filter((r) => r.path === `/api/${collection}/`)
          .map((r) => Number(new URL(r.url, 'http://x').searchParams.get('page')));
      // 13 requests = 5 pages of 3; 5 instances = 2 pages; 10 analyses = 4 pages. Then a 404.
      for (const [collection, pages] of [
        ['analysis_request', 5],
        ['analysis_system_instance', 2],
        ['scheduled_analysis', 4],
      ] as const) {
        const seen = pagesOf(collection);
        for (let p = 1; p <= pages + 1; p += 1) assert.ok(seen.includes(p), `${collection} page ${p} requested`);
      }
      assert.ok(
        mass.requests.every((r) => !/analysis_system=|count/.test(r.url)),
        'no filters on the older server',
      );
      assert.equal(c.lastDialect, 'legacy');
      assert.ok(mass.maxInFlight <= 2, `in flight at once: ${mass.maxInFlight}`);
    });
  });

  test('instances that carry scheduled_analyses_count: no scheduled_analysis paging', async () => {
    await withMass({ dialect: 'legacy', instanceFields: { scheduledCount: true } }, async (mass) => {
      setSsdeep(mass);
      assert.deepEqual(demandOf(await read(client(mass), ['ssdeep']), 'ssdeep'), SSDEEP);
      assert.ok(!mass.requests.some((r) => r.path === '/api/scheduled_analysis/'));
    });
  });

  test('requests without schedule_after are due', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      mass.addRequests('ssdeep', 4, null);
      mass.addRequests('ssdeep', 1, NOW + 60_000);
      const d = demandOf(await read(client(mass), ['ssdeep']), 'ssdeep');
      assert.deepEqual([d.due, d.notDue, d.demand], [4, 1, 4]);
    });
  });

  test('a large backlog is counted exactly, with at most pageConcurrency pages in flight', async () => {
    await withMass({ dialect: 'legacy', perPage: 100, latencyMs: 2 }, async (mass) => {
      mass.setDemand('ssdeep', { due: 2_345, notDue: 55, scheduledOnline: 3 });
      mass.setDemand('other', { due: 1_000 });
      const c = client(mass, { pageConcurrency: 3 });
      const d = demandOf(await read(c, ['ssdeep']), 'ssdeep');
      assert.deepEqual([d.due, d.notDue, d.demand], [2_345, 55, 2_348]);
      assert.ok(mass.maxInFlight <= 3, `in flight at once: ${mass.maxInFlight}`);
    });
  });

  test('dialect forced to legacy also works against a 0.2 server', async () => {
    await withMass({ dialect: '0.2', perPage: 3 }, async (mass) => {
      setSsdeep(mass);
      const c = client(mass, { dialect: 'legacy', perPage: 3 });
      assert.deepEqual(demandOf(await read(c, ['ssdeep']), 'ssdeep'), SSDEEP);
    });
  });

  test('403 on analysis_request/ says the older server wants an admin key', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      setSsdeep(mass);
      mass.fault = { kind: 'forbidden', path: 'analysis_request/' };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'forbidden');
      assert.match(message, /API key/);
      assert.match(message, /admin/);
    });
  });

  test('pages after the first 404 are not counted (a vanished page reads as the end)', async () => {
    await withMass({ dialect: 'legacy', perPage: 2 }, async (mass) => {
      mass.addRequests('ssdeep', 7, NOW - 1); // pages 1..4, all in flight at once
      mass.fault = { kind: 'vanish-page', page: 2, path: 'analysis_request/' };
      const d = demandOf(await read(client(mass, { pageConcurrency: 4 }), ['ssdeep']), 'ssdeep');
      const requested = mass.requests.filter((r) => r.path === '/api/analysis_request/').length;
      assert.ok(requested >= 4, `pages requested: ${requested}`);
      assert.equal(d.due, 2);
    });
  });

  test('a server that ignores page (no 404 ever): paging loop', async () => {
    await withMass({ dialect: 'legacy', perPage: 3 }, async (mass) => {
      setSsdeep(mass);
      mass.fault = { kind: 'next-loop', path: 'analysis_request/' };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'paging');
      assert.match(message, /^GET analysis_request\/\?page=\d+.*same item as page \d+/);
      // Caught at once, not by the page limit.
      assert.ok(mass.requests.filter((r) => r.path === '/api/analysis_request/').length < 20);
    });
  });
});

describe('MassClient: failures', () => {
  test('wrong key: forbidden for every system, the message says the key was rejected', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.setDemand('peid', { due: 1 });
      const c = new MassClient({
        baseUrl: mass.baseUrl,
        apiKey: 'wrong-key-123456',
        timeoutMs: 5000,
        pageConcurrency: 4,
      });
      const readings = await c.readDemand(['ssdeep', 'peid'], now);
      const message = failureOf(readings, 'ssdeep', 'forbidden');
      assert.match(message, /API key/);
      assert.match(message, /rejected/);
      assert.match(message, /^GET analysis_system\/\?page=1&per_page=100: 403/);
      assert.ok(!message.includes('wrong-key-123456'));
      assert.deepEqual(readings.get('peid'), readings.get('ssdeep'), 'a failed round fails every system alike');
      assert.ok(mass.requests.every((r) => !r.authOk));
    });
  });

  // Each row: a fault on the whole server and the failure every system must get.
  const rows: {
    name: string;
    dialect: '0.2' | 'legacy';
    fault: Parameters<FakeMass['setFault']>[0];
    kind: MassErrorKind;
    message: RegExp;
    perPage?: number;
  }[] = [
    {
      name: '500 HTML page',
      dialect: '0.2',
      fault: { kind: 'status', code: 500 },
      kind: 'server-error',
      message: /^GET analysis_system\/\?page=1&per_page=100: 500 Internal Server Error$/,
    },
    {
      name: '503 on the older server',
      dialect: 'legacy',
      fault: { kind: 'status', code: 503, path: 'analysis_system_instance/' },
      kind: 'server-error',
      message: /analysis_system_instance\/\?page=1.*: 503/,
    },
    {
      name: '200 with malformed JSON',
      dialect: '0.2',
      fault: { kind: 'malformed-json' },
      kind: 'not-json',
      message: /malformed JSON/,
    },
    {
      name: '200 with an HTML page',
      dialect: 'legacy',
      fault: { kind: 'status', code: 200, body: '<html><body>Login</body></html>', contentType: 'text/html' },
      kind: 'not-json',
      message: /HTML/,
    },
    {
      name: 'JSON of the wrong shape',
      dialect: '0.2',
      fault: { kind: 'wrong-shape' },
      kind: 'bad-shape',
      message: /results\.0\.identifier_name/,
    },
    {
      name: 'wrong shape on the older server',
      dialect: 'legacy',
      fault: { kind: 'wrong-shape', path: 'analysis_request/' },
      kind: 'bad-shape',
      message: /results\.0\.analysis_system/,
    },
    {
      name: 'a 418 answer',
      dialect: '0.2',
      fault: { kind: 'status', code: 418, path: 'analysis_system_instance/' },
      kind: 'http-error',
      message: /418/,
    },
    {
      name: 'a page that vanishes mid-paging (0.2)',
      dialect: '0.2',
      perPage: 2,
      fault: { kind: 'vanish-page', page: 2, path: 'analysis_system_instance/' },
      kind: 'paging',
      message: /page 2 of 2 vanished/,
    },
    {
      name: 'a server that ignores page (0.2)',
      dialect: '0.2',
      perPage: 2,
      fault: { kind: 'next-loop', path: 'analysis_system_instance/' },
      kind: 'paging',
      message: /asked for page 2, got page 1/,
    },
  ];
  for (const row of rows) {
    test(`${row.name} → ${row.kind}`, async () => {
      await withMass({ dialect: row.dialect }, async (mass) => {
        setSsdeep(mass);
        mass.setDemand('peid', { due: 1, scheduledOnline: 1 });
        mass.fault = row.fault;
        const readings = await read(client(mass, { perPage: row.perPage }), ['ssdeep']);
        assert.match(failureOf(readings, 'ssdeep', row.kind), row.message);
      });
    });
  }

  test('connection refused → unreachable, and the next round recovers', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      const c = client(mass);
      await mass.setFault({ kind: 'refuse' });
      assert.match(failureOf(await read(c, ['ssdeep']), 'ssdeep', 'unreachable'), /ECONNREFUSED/);
      await mass.setFault(null);
      assert.deepEqual(demandOf(await read(c, ['ssdeep']), 'ssdeep'), SSDEEP);
    });
  });

  test('no answer → timeout for the hung request only; the rest of the round is read', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.setDemand('peid', { due: 2, scheduledOnline: 1 });
      const id = mass.addSystem('ssdeep').id;
      // Only ssdeep's instance page hangs; the deadline leaves every other request ample time.
      mass.fault = { kind: 'hang', system: 'ssdeep', path: 'analysis_system_instance/' };
      const c = client(mass, { timeoutMs: 2000, instanceListing: 'per-system' });
      const readings = await read(c, ['ssdeep', 'peid']);
      assert.match(
        failureOf(readings, 'ssdeep', 'timeout'),
        new RegExp(
          `^GET analysis_system_instance/\\?analysis_system=${id}&page=1&per_page=100: no answer within 2000 ms$`,
        ),
      );
      assert.equal(demandOf(readings, 'peid').demand, 3);
    });
  });

  test(
    'an answer that trickles in byte by byte still ends at the per-request deadline: timeout',
    { timeout: 10_000 },
    async () => {
      const timers = new Set<NodeJS.Timeout>();
      const server = await startServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{');
        // One byte every 50 ms, never the end: the socket is never idle for long.
        const timer = setInterval(() => res.write(' '), 50);
        timers.add(timer);
        res.on('close', () => {
          clearInterval(timer);
          timers.delete(timer);
        });
      });
      // Without the deadline the read would last forever: end it here so the test fails, not hangs.
      const guard = setTimeout(() => void server.close(), 5_000);
      try {
        const started = performance.now();
        const readings = await read(client(server, { timeoutMs: 500 }), ['ssdeep']);
        const elapsed = performance.now() - started;
        assert.match(
          failureOf(readings, 'ssdeep', 'timeout'),
          /^GET analysis_system\/\?page=1&per_page=100: no answer within 500 ms$/,
        );
        assert.ok(elapsed < 4_000, `ended after ${Math.round(elapsed)} ms`);
      } finally {
        clearTimeout(guard);
        for (const timer of timers) clearInterval(timer);
        await server.close();
      }
    },
  );

  test('a redirect is reported as http-error and not followed, so the key does not travel on', async () => {
    const target = await startServer((_req, res) =>
      sendJson(res, 200, { page: 1, page_count: 1, next: null, previous: null, results: [] }),
    );
    const origin = await startServer((req, res) => {
      res.writeHead(302, { Location: `${target.origin}${req.url ?? '/'}`, 'Content-Length': 0 });
      res.end();
    });
    try {
      const message = failureOf(await read(client(origin), ['ssdeep']), 'ssdeep', 'http-error');
      assert.match(message, /^GET analysis_system\/\?page=1&per_page=100: 302 Found: redirected to /);
      assert.ok(message.includes(`redirected to ${target.origin}/api/analysis_system/`), message);
      assert.equal(origin.hits, 1);
      assert.equal(target.hits, 0, 'the redirect target must get no request');
    } finally {
      await Promise.all([origin.close(), target.close()]);
    }
  });

  test("one system's count failing does not affect another system", async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.setDemand('peid', { due: 2, scheduledOnline: 1 });
      mass.fault = { kind: 'status', code: 503, system: 'ssdeep', path: '&count' };
      const readings = await read(client(mass), ['ssdeep', 'peid']);
      const ssdeepId = mass.addSystem('ssdeep').id;
      assert.match(
        failureOf(readings, 'ssdeep', 'server-error'),
        new RegExp(`^GET analysis_request/\\?analysis_system=${ssdeepId}&.*count: 503 Service Unavailable$`),
      );
      assert.equal(demandOf(readings, 'peid').demand, 3);
    });
  });

  test('a server echoing the key in its error: the message is redacted', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.fault = { kind: 'status', code: 500, body: JSON.stringify({ error: `bad token APIKEY ${KEY}` }) };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'server-error');
      assert.match(message, /\[redacted\]/);
    });
  });

  test('a key cut by the 200-character quote of an error body is scrubbed before quoting', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      // The quote keeps the first 200 characters of "error": the cut falls inside the key.
      mass.fault = { kind: 'status', code: 500, body: JSON.stringify({ error: 'x'.repeat(190) + KEY }) };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'server-error');
      assert.ok(message.includes('x'.repeat(190)), `the error text is quoted: ${message}`);
      assert.deepEqual(keyPieces(message), [], message);
    });
  });

  test('a key where JSON.parse stops in a malformed 200 answer is scrubbed from the quoted parse error', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      // JSON.parse quotes about ten characters either side of where it stops: the key's first ten.
      const body = `{"page": 1, "page_count": 1, "note": "${'y'.repeat(40)}", "results": ${KEY}]}`;
      mass.fault = { kind: 'status', code: 200, body, contentType: 'application/json' };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'not-json');
      assert.match(message, /malformed JSON \(.*esults": /, 'the parse error quotes the text where it stopped');
      assert.deepEqual(keyPieces(message), [], message);
    });
  });

  test('a fault limited by `times` clears itself: the next round reads again', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      setSsdeep(mass);
      mass.fault = { kind: 'status', code: 502, times: 1 };
      const c = client(mass);
      failureOf(await read(c, ['ssdeep']), 'ssdeep', 'server-error');
      assert.deepEqual(demandOf(await read(c, ['ssdeep']), 'ssdeep'), SSDEEP);
    });
  });
});

describe('MassClient: inconsistent answers (0.2)', () => {
  test('an instance of another system in a filtered instance list: no reading, never its demand', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.setDemand('peid', { due: 1, scheduledOnline: 9 });
      mass.fault = { kind: 'ignore-filter', path: 'analysis_system_instance/' };
      const readings = await read(client(mass), ['ssdeep']);
      assert.match(
        failureOf(readings, 'ssdeep', 'bad-shape'),
        /^GET analysis_system_instance\/\?analysis_system=\w+&page=1&per_page=100: results\.\d+ belongs to peid, not ssdeep; the server ignored the analysis_system filter/,
      );
    });
  });

  test('an instance of a system analysis_system/ does not list: no reading, never its demand', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.addInstance('ghost', { online: true, scheduled: 9 });
      mass.unlisted.add('ghost');
      mass.fault = { kind: 'ignore-filter', path: 'analysis_system_instance/' };
      const readings = await read(client(mass), ['ssdeep']);
      assert.match(
        failureOf(readings, 'ssdeep', 'bad-shape'),
        /results\.\d+ belongs to a system analysis_system\/ does not list \(".*\/api\/analysis_system\/ghost\/"\), not ssdeep/,
      );
    });
  });

  test('two systems with the same identifier_name: the last one listed is read, and that is said once', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      const first = mass.systems.find((s) => s.identifier_name === 'ssdeep')!;
      mass.systems.unshift({ ...first, id: '5a14596e613bc664ffffffff' });
      const warnings: string[] = [];
      const c = client(mass, { warn: (m) => warnings.push(m) });
      assert.deepEqual(demandOf(await read(c, ['ssdeep']), 'ssdeep'), SSDEEP);
      await read(c, ['ssdeep']);
      assert.deepEqual(warnings, [
        `MASS lists 2 analysis systems named "ssdeep" (5a14596e613bc664ffffffff, ${first.id}); reading the last one listed (${first.id})`,
      ]);
      assert.ok(
        mass.requests.some((r) => r.url.includes(`analysis_system=${first.id}`)),
        'the filters take the last one listed',
      );
    });
  });

  test('a system named once: no warning', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      const warnings: string[] = [];
      await read(client(mass, { warn: (m) => warnings.push(m) }), ['ssdeep']);
      assert.deepEqual(warnings, []);
    });
  });
});

describe('MassClient: gaps found by a mutation review', () => {
  test('a key echoed in the HTTP reason phrase is scrubbed', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(500, `Bad token ${KEY} given`, { 'Content-Type': 'text/html' });
      res.end('<html></html>');
    });
    try {
      const message = failureOf(await read(client(server), ['ssdeep']), 'ssdeep', 'server-error');
      assert.match(message, /500 Bad token \[redacted\] given/);
      assert.deepEqual(keyPieces(message), [], message);
    } finally {
      await server.close();
    }
  });

  test('a key echoed in the content type of a non-JSON answer is scrubbed', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': `text/html; token=${KEY}` });
      res.end('<html>login</html>');
    });
    try {
      const message = failureOf(await read(client(server), ['ssdeep']), 'ssdeep', 'not-json');
      assert.match(message, /\[text\/html; token=\[redacted\], 18 bytes\]/);
      assert.deepEqual(keyPieces(message), [], message);
    } finally {
      await server.close();
    }
  });

  for (const bad of [-1, 2.5]) {
    test(`a count of ${bad} is bad-shape, never a demand`, async () => {
      await withMass({ dialect: '0.2' }, async (mass) => {
        setSsdeep(mass);
        mass.fault = {
          kind: 'status',
          code: 200,
          body: JSON.stringify({ count: bad }),
          contentType: 'application/json',
          path: 'count',
        };
        assert.match(failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'bad-shape'), /count: /);
      });
    });
  }

  for (const bad of [-1, 2.5]) {
    test(`a scheduled_analyses_count of ${bad} is bad-shape, never a demand`, async () => {
      await withMass({ dialect: '0.2' }, async (mass) => {
        setSsdeep(mass);
        const system = mass.systems.find((s) => s.identifier_name === 'ssdeep')!;
        const body = {
          page: 1,
          page_count: 1,
          next: null,
          previous: null,
          results: [
            {
              analysis_system: `${mass.baseUrl}analysis_system/ssdeep/`,
              uuid: 'u-1',
              is_online: true,
              scheduled_analyses_count: bad,
            },
          ],
        };
        mass.fault = {
          kind: 'status',
          code: 200,
          body: JSON.stringify(body),
          contentType: 'application/json',
          path: `analysis_system_instance/?analysis_system=${system.id}`,
        };
        assert.match(
          failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'bad-shape'),
          /results\.0\.scheduled_analyses_count/,
        );
      });
    });
  }
});

for (const dialect of ['0.2', 'legacy'] as const) {
  describe(`MassClient, ${dialect} server: requests due within a horizon (dueSoon)`, () => {
    const HORIZON = 45_000;
    const readSoon = (c: MassClient, systems: string[], horizons: [string, number][]) =>
      c.readDemand(systems, now, new Map(horizons));

    test('now < schedule_after ≤ now + horizon: exactly at the horizon is in, a millisecond later out, now itself is due', async () => {
      await withMass({ dialect }, async (mass) => {
        mass.addRequests('ssdeep', 5, NOW - 1);
        mass.addRequests('ssdeep', 1, NOW);
        mass.addRequests('ssdeep', 2, NOW + 1);
        mass.addRequests('ssdeep', 3, NOW + HORIZON);
        mass.addRequests('ssdeep', 4, NOW + HORIZON + 1);
        mass.addRequests('peid', 2, NOW + 1000);
        const readings = await readSoon(client(mass), ['ssdeep', 'peid'], [['ssdeep', HORIZON]]);
        const d = demandOf(readings, 'ssdeep');
        assert.deepEqual([d.due, d.notDue, d.dueSoon], [6, 9, 5]);
        // A system without a horizon is not counted: no dueSoon at all, not 0.
        assert.ok(!('dueSoon' in demandOf(readings, 'peid')));
      });
    });

    test('a horizon and nothing due soon: 0', async () => {
      await withMass({ dialect }, async (mass) => {
        mass.setDemand('ssdeep', { due: 3, notDue: 2 });
        const d = demandOf(await readSoon(client(mass), ['ssdeep'], [['ssdeep', HORIZON]]), 'ssdeep');
        assert.deepEqual([d.due, d.notDue, d.dueSoon], [3, 2, 0]);
      });
    });

    test('requests without schedule_after are due, never due soon', async () => {
      await withMass({ dialect }, async (mass) => {
        mass.addRequests('ssdeep', 2, null);
        mass.addRequests('ssdeep', 1, NOW + 10_000);
        const d = demandOf(await readSoon(client(mass), ['ssdeep'], [['ssdeep', HORIZON]]), 'ssdeep');
        assert.equal(d.dueSoon, 1);
        if (dialect === 'legacy') assert.equal(d.due, 2);
      });
    });
  });
}

describe('MassClient: what counting the requests due soon costs', () => {
  test('0.2: one more ?count per system with a horizon, up to now + horizon; none for the others', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      mass.setDemand('ssdeep', { due: 2, notDue: 1 });
      mass.setDemand('peid', { due: 1 });
      const ssdeep = mass.addSystem('ssdeep').id;
      const c = client(mass);
      await read(c, ['ssdeep', 'peid']);
      const without = c.stats.requests;
      mass.clearLog();
      await c.readDemand(['ssdeep', 'peid'], now, new Map([['ssdeep', 45_000]]));
      assert.equal(c.stats.requests - without, without + 1);
      const counts = mass.requests.map((r) => r.url).filter((u) => u.startsWith('/api/analysis_request/'));
      assert.equal(counts.length, 5);
      assert.deepEqual(counts.filter((u) => u.includes(`analysis_system=${ssdeep}&schedule_after__lte=`)).sort(), [
        `/api/analysis_request/?analysis_system=${ssdeep}&schedule_after__lte=2024-05-01T12:00:00.000Z&count`,
        `/api/analysis_request/?analysis_system=${ssdeep}&schedule_after__lte=2024-05-01T12:00:45.000Z&count`,
      ]);
    });
  });

  test('legacy: counted in the same pass over the request list, no request more', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      mass.setDemand('ssdeep', { due: 250, notDue: 1, scheduledOnline: 2, onlineInstances: 1 });
      mass.addRequests('ssdeep', 3, NOW + 30_000);
      const plain = client(mass);
      await read(plain, ['ssdeep']);
      const ahead = client(mass);
      const d = demandOf(await ahead.readDemand(['ssdeep'], now, new Map([['ssdeep', 45_000]])), 'ssdeep');
      assert.equal(d.dueSoon, 3);
      assert.equal(ahead.stats.requests, plain.stats.requests);
    });
  });

  test('0.2: the counts are not atomic; a due-soon count below the due count reads as 0, never negative', async () => {
    const id = '5a14596e613bc66400000001';
    const server = await startServer((req, res) => {
      const base = `http://${req.headers.host}/api/`;
      const url = new URL(req.url ?? '/', base);
      const params = url.searchParams;
      const envelope = (results: unknown[]) => ({ page: 1, page_count: 1, next: null, previous: null, results });
      if (url.pathname === '/api/analysis_system/' && params.get('page') === '1')
        return sendJson(res, 200, envelope([{ id, identifier_name: 'ssdeep', url: `${base}analysis_system/ssdeep/` }]));
      if (url.pathname === '/api/analysis_request/' && params.has('count')) {
        // The scheduler handed out 4 due requests between the due count and the due-soon count.
        const lte = params.get('schedule_after__lte');
        return sendJson(res, 200, { count: lte === null ? 9 : Date.parse(lte) === NOW ? 7 : 3 });
      }
      if (url.pathname === '/api/analysis_system_instance/' && params.get('page') === '1')
        return sendJson(res, 200, envelope([]));
      return sendJson(res, 404, { error: 'not found' });
    });
    try {
      const readings = await client(server).readDemand(['ssdeep'], now, new Map([['ssdeep', 45_000]]));
      const d = demandOf(readings, 'ssdeep');
      assert.deepEqual([d.due, d.notDue, d.dueSoon], [7, 2, 0]);
    } finally {
      await server.close();
    }
  });

  test('legacy, times without a zone: due soon on the MASS server clock (MASS_TIME_ZONE)', async () => {
    // 21:00:30 in Tokyo is 12:00:30 UTC: 30 s after NOW. Read as UTC it is nine hours away.
    const server = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.get('page') !== '1') return sendJson(res, 404, { message: 'not found' });
      const system = `http://${req.headers.host}/api/analysis_system/ssdeep/`;
      const lists: Record<string, unknown[]> = {
        '/api/analysis_system/': [{ identifier_name: 'ssdeep', url: system }],
        '/api/analysis_request/': [{ id: 'r1', analysis_system: system, schedule_after: '2024-05-01T21:00:30' }],
        '/api/analysis_system_instance/': [],
      };
      const results = lists[url.pathname];
      if (results === undefined) return sendJson(res, 404, { message: 'not found' });
      sendJson(res, 200, { results });
    });
    try {
      const horizons = new Map([['ssdeep', 45_000]]);
      const tokyo = await client(server, { serverTimeZone: 'Asia/Tokyo' }).readDemand(['ssdeep'], now, horizons);
      assert.equal(demandOf(tokyo, 'ssdeep').dueSoon, 1);
      const utc = await client(server).readDemand(['ssdeep'], now, horizons);
      assert.deepEqual([demandOf(utc, 'ssdeep').dueSoon, demandOf(utc, 'ssdeep').notDue], [0, 1]);
    } finally {
      await server.close();
    }
  });
});

describe('MassClient: times without a zone are the MASS server clock (MASS_TIME_ZONE)', () => {
  // An older server whose database is not zone-aware: its clock runs on Tokyo time (UTC+9).
  // At NOW (12:00 UTC = 21:00 in Tokyo) the request became due at 20:30 Tokyo time (11:30 UTC)
  // and the instance last polled at 11:55 Tokyo time (02:55 UTC): nine hours ago, not five minutes.
  async function tokyoServer(): Promise<LocalServer> {
    return startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.get('page') !== '1') return sendJson(res, 404, { message: 'not found' });
      const system = `http://${req.headers.host}/api/analysis_system/ssdeep/`;
      if (url.pathname === '/api/analysis_system/')
        return sendJson(res, 200, { results: [{ identifier_name: 'ssdeep', url: system }] });
      if (url.pathname === '/api/analysis_request/')
        return sendJson(res, 200, {
          results: [{ id: 'r1', analysis_system: system, schedule_after: '2024-05-01T20:30:00' }],
        });
      if (url.pathname === '/api/analysis_system_instance/')
        return sendJson(res, 200, {
          results: [
            { uuid: 'i1', analysis_system: system, last_seen: '2024-05-01T11:55:00', scheduled_analyses_count: 3 },
          ],
        });
      sendJson(res, 404, { message: 'not found' });
    });
  }

  test('read in the server zone: the request is due and the instance offline', async () => {
    const server = await tokyoServer();
    try {
      const demand = demandOf(await read(client(server, { serverTimeZone: 'Asia/Tokyo' }), ['ssdeep']), 'ssdeep');
      assert.deepEqual([demand.due, demand.notDue, demand.offlineInstances, demand.stuckOffline], [1, 0, 1, 3]);
    } finally {
      await server.close();
    }
  });

  test('read as UTC (the default): the same answer says not due and online', async () => {
    const server = await tokyoServer();
    try {
      const demand = demandOf(await read(client(server), ['ssdeep']), 'ssdeep');
      assert.deepEqual([demand.due, demand.notDue, demand.onlineInstances, demand.scheduledOnline], [0, 1, 1, 3]);
    } finally {
      await server.close();
    }
  });
});

describe('MassClient: the older server’s lists, edge by edge', () => {
  /** An older server answering page 1 of each list with `lists[path]`, 404 for anything else. */
  async function olderServer(lists: (system: string) => Record<string, unknown[]>): Promise<LocalServer> {
    return startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const system = `http://${req.headers.host}/api/analysis_system/ssdeep/`;
      const results = lists(system)[url.pathname];
      if (url.searchParams.get('page') !== '1' || results === undefined) return sendJson(res, 404, { message: 'no' });
      sendJson(res, 200, { results });
    });
  }
  const withServer = async (server: LocalServer, body: (s: LocalServer) => Promise<void>) => {
    try {
      await body(server);
    } finally {
      await server.close();
    }
  };

  test('an instance with neither a count nor url/uuid is bad-shape, naming the page and item', async () => {
    const server = await olderServer((system) => ({
      '/api/analysis_system/': [{ identifier_name: 'ssdeep', url: system }],
      '/api/analysis_request/': [],
      '/api/analysis_system_instance/': [{ analysis_system: system, last_seen: null }],
    }));
    await withServer(server, async () => {
      const message = failureOf(await read(client(server), ['ssdeep']), 'ssdeep', 'bad-shape');
      assert.equal(
        message,
        'GET analysis_system_instance/?page=1&per_page=100: results.0 has neither scheduled_analyses_count nor url/uuid to count its scheduled analyses by',
      );
    });
  });

  test('instance records are named by the uuid in their URL, or by their uuid without a URL', async () => {
    const server = await olderServer((system) => ({
      '/api/analysis_system/': [{ identifier_name: 'ssdeep', url: system }],
      '/api/analysis_request/': [],
      '/api/analysis_system_instance/': [
        {
          analysis_system: system,
          url: `${system.replace('analysis_system/ssdeep/', 'analysis_system_instance/u-url/')}`,
          last_seen: '2024-05-01T11:59:00+00:00',
          scheduled_analyses_count: 2,
        },
        { analysis_system: system, uuid: 'u-bare', last_seen: null, scheduled_analyses_count: 0 },
        { analysis_system: system, uuid: 'u-counted', last_seen: '2024-05-01T11:58:00+00:00' },
      ],
      '/api/scheduled_analysis/': [
        {
          analysis_system_instance: `${system.replace('analysis_system/ssdeep/', 'analysis_system_instance/u-counted/')}`,
        },
        { analysis_system_instance: 'u-counted' },
        { analysis_system_instance: 'u-elsewhere' },
      ],
    }));
    await withServer(server, async () => {
      const reading = (await read(client(server), ['ssdeep'])).get('ssdeep');
      assert.ok(reading?.ok);
      assert.deepEqual(
        reading.demand.instances.map((i) => [i.uuid, i.scheduled]),
        [
          ['u-url', 2],
          ['u-bare', 0],
          ['u-counted', 2],
        ],
      );
    });
  });

  test('requests and instances of a system not asked for are not counted, nor do they fail the read', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      setSsdeep(mass);
      mass.setDemand('peid', { due: 3, scheduledOnline: 2, stuckOffline: 1 });
      assert.deepEqual(demandOf(await read(client(mass), ['ssdeep']), 'ssdeep'), SSDEEP);
    });
  });

  test('only systems MASS does not know: nothing but analysis_system/ is asked for', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      setSsdeep(mass);
      failureOf(await read(client(mass), ['nope']), 'nope', 'unknown-system');
      assert.deepEqual([...new Set(mass.requests.map((r) => r.path))], ['/api/analysis_system/']);
    });
  });

  test('every list page asks for per_page (a build that honours it answers bigger pages)', async () => {
    await withMass({ dialect: 'legacy', perPage: 2 }, async (mass) => {
      setSsdeep(mass);
      await read(client(mass, { perPage: 2 }), ['ssdeep']);
      const lists = mass.requests.filter((r) => r.path !== '/api/analysis_system/');
      assert.ok(lists.length > 3);
      for (const r of lists) assert.match(r.url, /\?page=\d+&per_page=2$/);
    });
  });
});

describe('MassClient: the system listing', () => {
  for (const dialect of ['0.2', 'legacy'] as const) {
    test(`${dialect}: analysis_system/ answering 404 (a wrong API path) is an http-error, not an unknown system`, async () => {
      await withMass({ dialect }, async (mass) => {
        setSsdeep(mass);
        mass.fault = { kind: 'status', code: 404, path: 'analysis_system/?' };
        const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'http-error');
        assert.match(message, /^GET analysis_system\/\?page=1&per_page=100: 404/);
      });
    });
  }

  test('dialect set to 0.2 against an older server: the message says what was expected', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      setSsdeep(mass);
      const message = failureOf(await read(client(mass, { dialect: '0.2' }), ['ssdeep']), 'ssdeep', 'bad-shape');
      assert.equal(
        message,
        'GET analysis_system/?page=1&per_page=100: expected the 0.2 paged envelope (page_count) but got none; an older MASS server? (dialect is set to 0.2)',
      );
    });
  });
});

describe('MassClient.countDue: the wake-up count', () => {
  test('0.2: one request counting every due request of every system, no system filter', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      mass.setDemand('ssdeep', { due: 4, notDue: 3 });
      mass.setDemand('peid', { due: 2 });
      const c = client(mass);
      assert.deepEqual(await c.countDue(now), { ok: true, count: 6 });
      assert.deepEqual(
        mass.requests.map((r) => r.url),
        [`/api/analysis_request/?schedule_after__lte=${now.toISOString()}&count`],
      );
      assert.equal(c.stats.requests, 1);
    });
  });

  test('the older server answers a list: bad-shape, never a count', async () => {
    await withMass({ dialect: 'legacy' }, async (mass) => {
      mass.setDemand('ssdeep', { due: 4 });
      const answer = await client(mass).countDue(now);
      assert.ok(!answer.ok);
      assert.equal(answer.error.kind, 'bad-shape');
      assert.match(answer.error.message, /ignores \?count/);
    });
  });

  test('a failure comes back as a MassFailure, without the key', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      mass.fault = { kind: 'status', code: 503 };
      const answer = await client(mass).countDue(now);
      assert.ok(!answer.ok);
      assert.equal(answer.error.kind, 'server-error');
      assert.match(answer.error.message, /^GET analysis_request\/\?schedule_after__lte=.*&count: /);
      assert.ok(!answer.error.message.includes(KEY));
    });
  });
});

describe('MassClient: the HTTP edges of a read', () => {
  test('a base URL with spaces around it is read as the URL', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      assert.deepEqual(
        demandOf(await read(client(mass, { baseUrl: `  ${mass.baseUrl} ` }), ['ssdeep']), 'ssdeep'),
        SSDEEP,
      );
    });
  });

  test('every request asks for JSON and carries the key in the Authorization header only', async () => {
    const seen: { accept?: string; authorization?: string }[] = [];
    const server = await startServer((req, res) => {
      seen.push({ accept: req.headers.accept, authorization: req.headers.authorization });
      sendJson(res, 200, { results: [] });
    });
    try {
      failureOf(await read(client(server), ['ssdeep']), 'ssdeep', 'unknown-system');
      assert.ok(seen.length > 0);
      for (const s of seen) assert.deepEqual(s, { accept: 'application/json', authorization: `APIKEY ${KEY}` });
    } finally {
      await server.close();
    }
  });

  test('a 300 answer with a JSON body is a redirect, not a page', async () => {
    await withMass({ dialect: '0.2' }, async (mass) => {
      setSsdeep(mass);
      mass.fault = { kind: 'status', code: 300, body: '{"results": []}', contentType: 'application/json' };
      const message = failureOf(await read(client(mass), ['ssdeep']), 'ssdeep', 'http-error');
      assert.match(message, /: 300 Multiple Choices: redirected; set the MASS address to the final URL/);
    });
  });

  test('a 200 answer that is not JSON and has no content type says so', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': 5 });
      res.end('hello');
    });
    try {
      const message = failureOf(await read(client(server), ['ssdeep']), 'ssdeep', 'not-json');
      assert.match(message, /: 200 answered with malformed JSON \(.+\) \[no content type, 5 bytes\], not JSON$/);
    } finally {
      await server.close();
    }
  });

  for (const body of ['null', '"systems"']) {
    test(`analysis_system/ answering ${body}: the older dialect is assumed and the shape is wrong`, async () => {
      const server = await startServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(body);
      });
      try {
        const c = client(server);
        const message = failureOf(await read(c, ['ssdeep']), 'ssdeep', 'bad-shape');
        assert.match(message, /^GET analysis_system\/\?page=1&per_page=100: unexpected answer shape: \(answer\): /);
        assert.equal(c.lastDialect, 'legacy');
      } finally {
        await server.close();
      }
    });
  }

  test('the warning about two systems under one name never quotes the key', async () => {
    const warnings: string[] = [];
    const server = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/api/analysis_system/' || url.searchParams.get('page') !== '1')
        return sendJson(res, 404, { message: 'no' });
      sendJson(res, 200, {
        results: [
          { identifier_name: 'ssdeep', url: `http://${req.headers.host}/api/analysis_system/${KEY}/` },
          { identifier_name: 'ssdeep', url: `http://${req.headers.host}/api/analysis_system/ssdeep/` },
        ],
      });
    });
    try {
      await read(client(server, { warn: (line) => warnings.push(line) }), ['ssdeep']);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /analysis_system\/\[redacted\]\//);
      assert.ok(!warnings[0]!.includes(KEY));
    } finally {
      await server.close();
    }
  });
});
