// The twin's MASS work cycle (test/fakes/work-cycle.ts) over real HTTP: registration, the
// worker's poll, reports, deleting an instance in both dialects, and the scheduler's rules.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { startFakeMass, type FakeDialect, type FakeMass } from '../fakes/mass-server';
import { attachWorkCycle, type WorkCycle } from '../fakes/work-cycle';

const KEY = 'worker-key';
const ADMIN = 'admin-key';
const WINDOW = 600_000;
let mass: FakeMass | undefined;
let cycle: WorkCycle | undefined;
let now = 1_800_000_000_000;

afterEach(async () => {
  cycle?.stop();
  await mass?.close();
  mass = undefined;
  cycle = undefined;
});

async function setup(
  dialect: FakeDialect = '0.2',
  maxScheduled?: number,
): Promise<{ mass: FakeMass; cycle: WorkCycle }> {
  now = 1_800_000_000_000;
  mass = await startFakeMass({ dialect, apiKey: KEY, now: () => now });
  // The timer never fires in a test: each test runs the scheduler itself.
  cycle = attachWorkCycle(mass, KEY, {
    schedulerIntervalMs: 30_000,
    schedulerPhaseMs: 3_600_000,
    onlineWindowMs: WINDOW,
    adminKey: ADMIN,
    now: () => now,
    ...(maxScheduled === undefined ? {} : { maxScheduled }),
  });
  mass.addSystem('ssdeep');
  return { mass, cycle };
}

async function call(
  method: string,
  path: string,
  opts: { key?: string; body?: unknown } = {},
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${mass!.baseUrl}${path}`, {
    method,
    headers: { Authorization: `APIKEY ${opts.key ?? KEY}`, 'Content-Type': 'application/json' },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    /* an HTML page */
  }
  return { status: res.status, json };
}

async function register(system = 'ssdeep'): Promise<string> {
  const r = await call('POST', 'analysis_system_instance/', {
    body: { analysis_system: `${mass!.baseUrl}analysis_system/${system}/` },
  });
  assert.equal(r.status, 201);
  return (r.json as { uuid: string }).uuid;
}

async function poll(
  uuid: string,
  page = 1,
  perPage = 100,
): Promise<{ status: number; ids: string[]; body: { page_count?: number; next?: string | null } }> {
  const r = await call('GET', `analysis_system_instance/${uuid}/scheduled_analyses/?page=${page}&per_page=${perPage}`);
  const body = r.json as { results?: { id: string }[]; page_count?: number; next?: string | null };
  return { status: r.status, ids: (body?.results ?? []).map((x) => x.id), body };
}

async function instanceList(): Promise<{ uuid: string; is_online: boolean; scheduled_analyses_count: number }[]> {
  const r = await call('GET', 'analysis_system_instance/');
  return (r.json as { results: never[] }).results;
}

describe('work cycle: an instance registers, polls, works and reports', () => {
  test('a registered instance is offline until its first poll, which refreshes last_seen', async () => {
    await setup();
    const uuid = await register();
    assert.deepEqual(
      (await instanceList()).map((i) => [i.uuid, i.is_online]),
      [[uuid, false]],
    );
    await poll(uuid);
    assert.equal((await instanceList())[0]!.is_online, true);
    now += WINDOW;
    assert.equal((await instanceList())[0]!.is_online, false, 'offline once the poll is 10 minutes old');
  });

  test('registering for an unknown system is a 400 naming it', async () => {
    await setup();
    const r = await call('POST', 'analysis_system_instance/', { body: { analysis_system: 'nope' } });
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.json), /nope/);
  });

  test('a wrong key gets 403 on every work-cycle route', async () => {
    await setup();
    for (const [method, path] of [
      ['POST', 'analysis_system_instance/'],
      ['POST', 'scheduled_analysis/x/submit_report/'],
      ['DELETE', 'analysis_system_instance/x/'],
    ] as const) {
      assert.equal((await call(method, path, { key: 'wrong', body: {} })).status, 403, `${method} ${path}`);
    }
  });

  test('the poll pages the whole batch; a report ends one analysis and records its start and end', async () => {
    const { cycle } = await setup();
    const uuid = await register();
    await poll(uuid);
    cycle.arrive('ssdeep', 5);
    cycle.schedule();
    const page1 = await poll(uuid, 1, 2);
    const page3 = await poll(uuid, 3, 2);
    assert.deepEqual([page1.ids.length, page1.body.page_count, page3.ids.length, page3.body.next], [2, 3, 1, null]);
    assert.equal((await poll(uuid, 4, 2)).status, 404, 'a page past the end is a 404 page');
    const fetchedAt = now;
    now += 30_000;
    assert.equal((await call('POST', `scheduled_analysis/${page1.ids[0]}/submit_report/`, { body: {} })).status, 204);
    const done = cycle.records.find((r) => r.id === page1.ids[0])!;
    assert.deepEqual([done.startedAt, done.endedAt], [fetchedAt, fetchedAt + 30_000]);
    assert.equal((await instanceList())[0]!.scheduled_analyses_count, 4);
    assert.equal((await call('POST', `scheduled_analysis/${page1.ids[0]}/submit_report/`, { body: {} })).status, 404);
    assert.deepEqual([cycle.totals().completed, cycle.totals().scheduled], [1, 4]);
  });

  test('a worker that exits mid-batch aborts the analysis in progress; the rest is stuck', async () => {
    const { cycle } = await setup();
    const uuid = await register();
    await poll(uuid);
    cycle.arrive('ssdeep', 3);
    cycle.schedule();
    await poll(uuid);
    assert.equal((await call('POST', `twin/exit/${uuid}/`, { body: {} })).status, 200);
    const t = cycle.totals();
    assert.deepEqual([t.aborted, t.stuck, t.completed], [1, 3, 0]);
  });
});

describe('work cycle: a worker that vanishes without a word', () => {
  test('silent for longer than the limit with work: its work is stuck, the fetched one aborted', async () => {
    const { cycle } = await setup();
    const quiet = await register();
    await poll(quiet);
    cycle.arrive('ssdeep', 2);
    cycle.schedule();
    await poll(quiet);
    now += 60_000;
    assert.equal(cycle.markSilent(90_000), 0, 'not yet');
    now += 31_000;
    assert.equal(cycle.markSilent(90_000), 1);
    const t = cycle.totals();
    assert.deepEqual([t.aborted, t.stuck, t.exitedInstances], [1, 2, 1]);
  });
});

describe('work cycle: an exited worker still looks online', () => {
  test('the scheduler may give it work until its last poll is 10 minutes old; that work is stuck', async () => {
    const { cycle } = await setup();
    const gone = await register();
    await poll(gone);
    await call('POST', `twin/exit/${gone}/`, { body: {} });
    cycle.arrive('ssdeep', 2);
    cycle.schedule();
    assert.deepEqual([cycle.totals().stuck, cycle.totals().scheduled], [2, 0]);
  });
});

describe('work cycle: deleting an instance (admin key)', () => {
  const cases: { dialect: FakeDialect; waiting: number; stuck: number; why: string }[] = [
    { dialect: '0.2', waiting: 3, stuck: 0, why: '0.2 turns its scheduled analyses into requests due now' },
    { dialect: 'legacy', waiting: 0, stuck: 3, why: 'the older server orphans them' },
  ];
  for (const c of cases) {
    test(c.why, async () => {
      const { cycle, mass } = await setup(c.dialect);
      const uuid = await register();
      await poll(uuid);
      cycle.arrive('ssdeep', 3);
      cycle.schedule();
      assert.equal((await call('DELETE', `analysis_system_instance/${uuid}/`)).status, 403, 'needs the admin key');
      now += 5000;
      assert.equal((await call('DELETE', `analysis_system_instance/${uuid}/`, { key: ADMIN })).status, 204);
      assert.deepEqual([cycle.totals().waiting, cycle.totals().stuck], [c.waiting, c.stuck]);
      assert.equal(mass.instances.length, 0);
      if (c.dialect === '0.2') {
        const due = await call('GET', `analysis_request/?schedule_after__lte=${new Date(now).toISOString()}&count`);
        assert.deepEqual(due.json, { count: 3 }, 'the daemon reads them as due');
      }
    });
  }
});

describe('work cycle: the scheduler', () => {
  test('gives each due request to the least-loaded online instance; an instance is eligible up to 100 (so 101)', async () => {
    const { cycle } = await setup();
    const a = await register();
    const b = await register();
    await poll(a);
    await poll(b);
    cycle.arrive('ssdeep', 250);
    cycle.schedule();
    const counts = (await instanceList()).map((i) => i.scheduled_analyses_count);
    assert.deepEqual(counts, [101, 101]);
    assert.equal(cycle.totals().waiting, 48);
  });

  test('an instance busy for longer than the online window gets no new work (busy but offline)', async () => {
    const { cycle } = await setup();
    const a = await register();
    const b = await register();
    await poll(a);
    cycle.arrive('ssdeep', 1);
    cycle.schedule();
    now += WINDOW + 1000; // a works through its batch; only b polls
    await poll(b);
    cycle.arrive('ssdeep', 4);
    cycle.schedule();
    const list = await instanceList();
    assert.deepEqual(
      list.map((i) => [i.uuid === a ? 'a' : 'b', i.is_online, i.scheduled_analyses_count]),
      [
        ['a', false, 1],
        ['b', true, 4],
      ],
    );
  });

  test('requests not yet due wait (time_schedule offsets); due ones are scheduled', async () => {
    const { cycle } = await setup();
    const a = await register();
    await poll(a);
    cycle.arrive('ssdeep', 2, [0, 60_000]);
    cycle.schedule();
    assert.deepEqual([cycle.totals().scheduled, cycle.totals().waiting], [2, 2]);
    now += 60_000;
    await poll(a);
    cycle.schedule();
    assert.deepEqual([cycle.totals().scheduled, cycle.totals().waiting], [4, 0]);
  });

  test('on 0.2 a system with due requests and no instance records stops the whole run', async () => {
    const { cycle, mass } = await setup();
    mass.addSystem('other');
    const a = await register();
    await poll(a);
    cycle.arrive('ssdeep', 2);
    cycle.arrive('other', 1);
    cycle.schedule();
    assert.deepEqual([cycle.totals().scheduled, cycle.schedulerFailures], [0, 1]);
  });
});
