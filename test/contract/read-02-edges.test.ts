// The 0.2 reader at the edges a real server can reach: what a `?count` answer may look like,
// a system listed without an id, and the listing of every instance when its pages disagree
// with each other, change under the reader or break. A small scripted HTTP server on 127.0.0.1
// gives these answers, which the stand-in (test/fakes/mass-server.ts) cannot.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { MassClient, type MassClientOptions } from '../../src/mass/client';
import type { SystemReading } from '../../src/types';

const KEY = 'read-02-edges-key';
const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const ID = '5a14596e613bc66400000001';

/** `answer(url, base)`: a JSON value (200), or a number for that status with an HTML page. */
type Answer = (url: URL, base: string) => unknown;

async function withScripted(answer: Answer, body: (baseUrl: string, urls: string[]) => Promise<void>): Promise<void> {
  const urls: string[] = [];
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    const base = `http://${req.headers.host}/api/`;
    const value = answer(new URL(req.url ?? '/', base), base);
    const status = typeof value === 'number' ? value : 200;
    res.writeHead(status, { 'Content-Type': status === 200 ? 'application/json' : 'text/html' });
    res.end(status === 200 ? JSON.stringify(value) : `<h1>${status}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, urls);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function client(baseUrl: string, opts: Partial<MassClientOptions> = {}): MassClient {
  return new MassClient({ baseUrl, apiKey: KEY, timeoutMs: 5000, pageConcurrency: 1, dialect: '0.2', ...opts });
}

const envelope = (results: unknown[], page = 1, pageCount = 1, next: string | null = null) => ({
  page,
  page_count: pageCount,
  previous: null,
  next,
  results,
});

function failure(readings: Map<string, SystemReading>, system: string): { kind: string; message: string } {
  const reading = readings.get(system);
  assert.ok(reading && !reading.ok, `${system}: expected a failure, got ${JSON.stringify(reading)}`);
  return reading.error;
}

const STEP = 'GET analysis_request/?schedule_after__lte=2024-05-01T12:00:00.000Z&count';
const SHAPE = `${STEP}: unexpected answer shape: (answer): Invalid input: expected object`;

describe('a ?count answer: only {"count": N} is a count', () => {
  const rows: { why: string; body: unknown; want: { ok: true; count: number } | { kind: string; message: string } }[] =
    [
      { why: 'a count', body: { count: 4 }, want: { ok: true, count: 4 } },
      { why: 'a count with results beside it', body: { count: 3, results: [] }, want: { ok: true, count: 3 } },
      {
        why: 'a list (a server that ignores ?count): never read as 0',
        body: { results: [] },
        want: {
          kind: 'bad-shape',
          message: `${STEP}: answered a list instead of {"count": N}; the server ignores ?count (an older MASS server?)`,
        },
      },
      {
        why: 'an envelope of pages: a list too',
        body: envelope([]),
        want: {
          kind: 'bad-shape',
          message: `${STEP}: answered a list instead of {"count": N}; the server ignores ?count (an older MASS server?)`,
        },
      },
      { why: 'null', body: null, want: { kind: 'bad-shape', message: `${SHAPE}, received null` } },
      { why: 'a bare list', body: [], want: { kind: 'bad-shape', message: `${SHAPE}, received array` } },
      { why: 'a bare string', body: '7', want: { kind: 'bad-shape', message: `${SHAPE}, received string` } },
      {
        why: 'a 404: a failed request, not a shape',
        body: 404,
        want: { kind: 'http-error', message: `${STEP}: 404 Not Found` },
      },
    ];
  for (const r of rows) {
    test(r.why, async () => {
      await withScripted(
        () => r.body,
        async (baseUrl) => {
          const got = await client(baseUrl).countDue(new Date(NOW));
          assert.deepEqual(got, 'ok' in r.want ? r.want : { ok: false, error: r.want });
        },
      );
    });
  }
});

/** MASS with systems a and b (b only with `withB`); `instances(url)` answers the instance listings. */
function massWith(instances: (url: URL, base: string) => unknown, withB = false, ids = true): Answer {
  return (url, base) => {
    const p = url.searchParams;
    if (url.pathname === '/api/analysis_system/') {
      const systems = (withB ? ['a', 'b'] : ['a']).map((name, i) => ({
        ...(ids ? { id: `${ID.slice(0, -1)}${i + 1}` } : {}),
        identifier_name: name,
        url: `${base}analysis_system/${name}/`,
      }));
      return envelope(systems);
    }
    if (url.pathname === '/api/analysis_request/' && p.has('count')) return { count: 0 };
    if (url.pathname === '/api/analysis_system_instance/') return instances(url, base);
    return 404;
  };
}

const instance = (base: string, system: string, uuid: string | null, extra: object = {}) => ({
  ...(uuid === null ? {} : { uuid, url: `${base}analysis_system_instance/${uuid}/` }),
  analysis_system: `${base}analysis_system/${system}/`,
  is_online: true,
  scheduled_analyses_count: 1,
  last_seen: null,
  ...extra,
});

const ALL_1 = 'analysis_system_instance/?page=1&per_page=100';

describe('0.2: a system listed without an id', () => {
  test('fails by name, and a round with no other system asks nothing more', async () => {
    await withScripted(
      massWith(() => envelope([]), false, false),
      async (baseUrl, urls) => {
        const c = client(baseUrl);
        const readings = await c.readDemand(['a'], new Date(NOW));
        assert.deepEqual(failure(readings, 'a'), {
          kind: 'bad-shape',
          message: 'GET analysis_system/: system a has no id, which the 0.2 filters need',
        });
        assert.deepEqual(urls, ['/api/analysis_system/?page=1&per_page=100']);
        assert.equal(c.lastListing, undefined);
      },
    );
  });
});

test('0.2: two systems of one name, neither with an id nor a URL: said once, as such', async () => {
  await withScripted(
    (url) =>
      url.pathname === '/api/analysis_system/' ? envelope([{ identifier_name: 'a' }, { identifier_name: 'a' }]) : 404,
    async (baseUrl) => {
      const warnings: string[] = [];
      const c = client(baseUrl, { warn: (m) => warnings.push(m) });
      for (const _ of [1, 2]) failure(await c.readDemand(['a'], new Date(NOW)), 'a');
      assert.deepEqual(warnings, [
        'MASS lists 2 analysis systems named "a" ((no id), (no id)); reading the last one listed ((no id))',
      ]);
    },
  );
});

describe('0.2: page 1 of the listing of all must be right, or no system is read', () => {
  const rows: { why: string; page1: (base: string) => unknown; message: string; kind: string }[] = [
    {
      why: 'it says it is page 2',
      page1: (base) => envelope([instance(base, 'a', 'u1')], 2, 3),
      kind: 'paging',
      message: `GET ${ALL_1}: asked for page 1, got page 2: the server ignores page (paging loop)`,
    },
    {
      why: 'it links next to itself',
      page1: (base) => envelope([instance(base, 'a', 'u1')], 1, 3, `${base}${ALL_1}`),
      kind: 'paging',
      message: `GET ${ALL_1}: page 1 links next to page 1, not 2: paging loop`,
    },
    {
      why: 'it counts more pages than the limit',
      page1: (base) => envelope([instance(base, 'a', 'u1')], 1, 100_001),
      kind: 'paging',
      message: `GET ${ALL_1}: page_count 100001 exceeds the limit of 100000 pages`,
    },
    {
      why: 'it is not found',
      page1: () => 404,
      kind: 'http-error',
      message: `GET ${ALL_1}: 404 Not Found`,
    },
    {
      why: 'an instance lacks scheduled_analyses_count',
      page1: (base) => envelope([instance(base, 'a', 'u1', { scheduled_analyses_count: undefined })]),
      kind: 'bad-shape',
      message: `GET ${ALL_1}: results.0.scheduled_analyses_count is missing`,
    },
  ];
  for (const r of rows) {
    test(r.why, async () => {
      await withScripted(
        massWith((url, base) => (url.searchParams.has('analysis_system') ? envelope([]) : r.page1(base))),
        async (baseUrl) => {
          const c = client(baseUrl, { instanceListing: 'all' });
          const readings = await c.readDemand(['a'], new Date(NOW));
          assert.deepEqual(failure(readings, 'a'), { kind: r.kind, message: r.message });
          assert.deepEqual(c.lastListing, { listing: 'all', gaveUp: null, confirmed: [] });
        },
      );
    });
  }

  test('page_count exactly at the limit is no fault: too dear, so read per system', async () => {
    await withScripted(
      massWith(
        (url, base) =>
          url.searchParams.has('analysis_system')
            ? envelope([instance(base, 'a', 'u1')])
            : envelope([instance(base, 'a', 'u1')], 1, 100_000),
        true,
      ),
      async (baseUrl) => {
        const c = client(baseUrl);
        const reading = (await c.readDemand(['a', 'b'], new Date(NOW))).get('a');
        assert.ok(reading?.ok, JSON.stringify(reading));
        assert.deepEqual(reading.demand.instances, [{ uuid: 'u1', lastSeen: null, scheduled: 1 }]);
        assert.deepEqual(c.lastListing, { listing: 'per-system', gaveUp: 'dearer', confirmed: [] });
      },
    );
  });
});

describe('0.2: a later page of the listing of all that disagrees: read per system instead, no page more', () => {
  const link = (base: string, n: number) => `${base}analysis_system_instance/?page=${n}&per_page=100`;
  const rows: { why: string; page2: (base: string) => unknown }[] = [
    { why: 'it says it is page 3', page2: (base) => envelope([instance(base, 'a', 'u2')], 3, 4, link(base, 3)) },
    { why: 'it links next to page 5', page2: (base) => envelope([instance(base, 'a', 'u2')], 2, 4, link(base, 5)) },
    { why: 'it counts 5 pages', page2: (base) => envelope([instance(base, 'a', 'u2')], 2, 5, link(base, 3)) },
    { why: 'it is not found', page2: () => 404 },
    {
      why: 'it repeats an instance of page 1',
      page2: (base) => envelope([instance(base, 'a', 'u1')], 2, 4, link(base, 3)),
    },
  ];
  for (const r of rows) {
    test(r.why, async () => {
      await withScripted(
        massWith((url, base) => {
          if (url.searchParams.has('analysis_system')) return envelope([instance(base, 'a', 'own')]);
          const page = Number(url.searchParams.get('page'));
          if (page === 2) return r.page2(base);
          return envelope([instance(base, 'a', `u${page}`)], page, 4, page < 4 ? link(base, page + 1) : null);
        }),
        async (baseUrl, urls) => {
          const c = client(baseUrl, { instanceListing: 'all' });
          const reading = (await c.readDemand(['a'], new Date(NOW))).get('a');
          assert.ok(reading?.ok, JSON.stringify(reading));
          assert.deepEqual(reading.demand.instances, [{ uuid: 'own', lastSeen: null, scheduled: 1 }]);
          assert.deepEqual(c.lastListing, { listing: 'per-system', gaveUp: 'changed', confirmed: [] });
          const all = urls.filter((u) => u.startsWith('/api/analysis_system_instance/?page='));
          assert.deepEqual(all, [`/api/${ALL_1}`, '/api/analysis_system_instance/?page=2&per_page=100']);
        },
      );
    });
  }

  test('pages that agree: one listing of all, instances without uuid or URL numbered, others skipped', async () => {
    await withScripted(
      massWith((url, base) => {
        if (url.searchParams.has('analysis_system')) return 404;
        const page = Number(url.searchParams.get('page'));
        const items = [instance(base, 'a', `u${page}`), instance(base, 'a', null), instance(base, 'zz', `z${page}`)];
        return envelope(items, page, 2, page < 2 ? link(base, 2) : null);
      }),
      async (baseUrl, urls) => {
        const c = client(baseUrl, { instanceListing: 'all' });
        const reading = (await c.readDemand(['a'], new Date(NOW))).get('a');
        assert.ok(reading?.ok, JSON.stringify(reading));
        assert.deepEqual(
          reading.demand.instances.map((i) => i.uuid),
          ['u1', '#1', 'u2', '#3'],
        );
        assert.deepEqual(c.lastListing, { listing: 'all', gaveUp: null, confirmed: [] });
        assert.equal(urls.filter((u) => u.startsWith('/api/analysis_system_instance/')).length, 2);
      },
    );
  });
});

describe('0.2: the listing of all was too dear and one system cannot be read on its own', () => {
  test('the other systems are still read', async () => {
    await withScripted(
      massWith((url, base) => {
        const system = url.searchParams.get('analysis_system');
        if (system === null) return envelope([instance(base, 'a', 'u1')], 1, 3);
        if (system.endsWith('1')) return 500;
        return envelope([instance(base, 'b', 'v1')]);
      }, true),
      async (baseUrl) => {
        const c = client(baseUrl);
        const readings = await c.readDemand(['a', 'b'], new Date(NOW));
        assert.equal(failure(readings, 'a').kind, 'server-error');
        const b = readings.get('b');
        assert.ok(b?.ok, JSON.stringify(b));
        assert.deepEqual(b.demand.instances, [{ uuid: 'v1', lastSeen: null, scheduled: 1 }]);
        assert.deepEqual(c.lastListing, { listing: 'per-system', gaveUp: 'dearer', confirmed: [] });
      },
    );
  });
});

describe('0.2: a system listing answering with an instance of a system MASS does not list', () => {
  test('no reading, and the message quotes at most 120 characters of its reference', async () => {
    const long = 'x'.repeat(200);
    await withScripted(
      massWith((url, base) => envelope([instance(base, long, 'u1')])),
      async (baseUrl) => {
        const readings = await client(baseUrl, { instanceListing: 'per-system' }).readDemand(['a'], new Date(NOW));
        const { kind, message } = failure(readings, 'a');
        assert.equal(kind, 'bad-shape');
        const ref = `${baseUrl}analysis_system/${long}/`.slice(0, 120);
        assert.equal(
          message,
          `GET analysis_system_instance/?analysis_system=${ID}&page=1&per_page=100: results.0 belongs to a system analysis_system/ does not list (${JSON.stringify(ref)}), not a; the server ignored the analysis_system filter or answered inconsistently`,
        );
      },
    );
  });
});
