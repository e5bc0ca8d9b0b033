// MASS writes times without a zone when its database connection is not zone-aware; such a time
// is the MASS server's (UTC by default, docs/MASS_API.md "Times"), never the daemon's local time.
// The daemon's zone is moved away from UTC here, so reading it as local time would show.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pages, parseMassTime, readMassTime } from '../../src/mass/schemas';
import { isTimeZone, serverTime } from '../../src/mass/server-time';

const savedTz = process.env.TZ;
before(() => {
  process.env.TZ = 'Asia/Tokyo'; // UTC+9 all year
});
after(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const at = Date.UTC(2018, 0, 15, 14, 5, 8);

describe('MASS times', () => {
  test('the daemon runs off UTC here (otherwise these tests could not fail)', () => {
    assert.equal(new Date(at).getTimezoneOffset(), -540);
    assert.notEqual(Date.parse('2018-01-15T14:05:08'), at);
  });

  const rows: { text: string; ms: number }[] = [
    { text: '2018-01-15T14:05:08', ms: at }, // no zone: UTC, not Tokyo
    { text: '2018-01-15T14:05:08.250000', ms: at + 250 },
    { text: '2018-01-15T14:05:08+00:00', ms: at },
    { text: '2018-01-15T14:05:08Z', ms: at },
    { text: '2018-01-15T15:05:08+01:00', ms: at },
    { text: '2018-01-15T09:05:08-0500', ms: at },
  ];
  for (const row of rows) {
    test(`${row.text} is ${new Date(row.ms).toISOString()}`, () => {
      assert.equal(parseMassTime(row.text), row.ms);
    });
  }

  test('a request whose schedule_after has no zone is read as UTC by the reader schema', () => {
    const page = pages.legacy.requests.parse({
      results: [{ analysis_system: 'http://mass/api/analysis_system/ssdeep/', schedule_after: '2018-01-15T14:05:08' }],
    });
    assert.deepEqual(page.results[0]!.schedule_after, { ms: at, zoned: false });
  });

  test('an instance whose last_seen has no zone is read as UTC by the reader schema', () => {
    const page = pages.legacy.instances.parse({
      results: [{ analysis_system: 'http://mass/api/analysis_system/ssdeep/', last_seen: '2018-01-15T14:05:08' }],
    });
    assert.deepEqual(page.results[0]!.last_seen, { ms: at, zoned: false });
  });

  test('text that is no time is bad-shape, naming the text', () => {
    const result = pages.legacy.requests.safeParse({
      results: [{ analysis_system: 'x', schedule_after: 'tomorrow' }],
    });
    assert.equal(result.success, false);
    assert.match(result.error!.issues[0]!.message, /not an ISO-8601 time: "tomorrow"/);
  });

  // The server's zone (MASS_TIME_ZONE), not the daemon's (Tokyo here), places a time without a zone.
  const placed: { zone: string; text: string; iso: string }[] = [
    { zone: 'UTC', text: '2018-01-15T14:05:08', iso: '2018-01-15T14:05:08.000Z' },
    { zone: 'Europe/Berlin', text: '2018-01-15T14:05:08', iso: '2018-01-15T13:05:08.000Z' }, // winter, +1
    { zone: 'Europe/Berlin', text: '2018-07-15T14:05:08', iso: '2018-07-15T12:05:08.000Z' }, // summer, +2
    { zone: 'Europe/Berlin', text: '2018-03-25T03:30:00', iso: '2018-03-25T01:30:00.000Z' }, // just after the change
    { zone: 'America/New_York', text: '2018-01-15T09:05:08.500000', iso: '2018-01-15T14:05:08.500Z' },
    { zone: 'Asia/Kolkata', text: '2018-01-15T19:35:08', iso: '2018-01-15T14:05:08.000Z' }, // +5:30
    { zone: 'Europe/Berlin', text: '2018-01-15T14:05:08+00:00', iso: '2018-01-15T14:05:08.000Z' }, // has a zone
  ];
  for (const row of placed) {
    test(`in ${row.zone}, ${row.text} is ${row.iso}`, () => {
      assert.equal(new Date(serverTime(row.zone)(readMassTime(row.text))).toISOString(), row.iso);
    });
  }

  test('time zone names: IANA names and UTC are known, others are not', () => {
    assert.ok(isTimeZone('UTC'));
    assert.ok(isTimeZone('Europe/Berlin'));
    assert.ok(!isTimeZone('Mars/Olympus_Mons'));
    assert.ok(!isTimeZone(''));
  });
});

// The two steps of placing a zone-less time, each where it can go wrong.
describe('server time: milliseconds and the hour before a change of offset', () => {
  const rows: { zone: string; text: string; iso: string }[] = [
    // the zone's wall clock has whole seconds: the milliseconds of the time must not shift its offset
    { zone: 'Europe/Berlin', text: '2018-07-15T14:05:08.250', iso: '2018-07-15T12:05:08.250Z' },
    { zone: 'Asia/Kolkata', text: '2018-01-15T19:35:08.999', iso: '2018-01-15T14:05:08.999Z' },
    // still winter time at that wall-clock reading, summer time an hour later (01:00Z on 25 March)
    { zone: 'Europe/Berlin', text: '2018-03-25T00:30:00', iso: '2018-03-24T23:30:00.000Z' },
    { zone: 'Europe/Berlin', text: '2018-03-25T01:59:59', iso: '2018-03-25T00:59:59.000Z' },
  ];
  for (const row of rows) {
    test(`in ${row.zone}, ${row.text} is ${row.iso}`, () => {
      assert.equal(new Date(serverTime(row.zone)(readMassTime(row.text))).toISOString(), row.iso);
    });
  }

  test('an unknown zone name is false, not merely falsy', () => {
    assert.equal(isTimeZone('Mars/Olympus_Mons'), false);
    assert.equal(isTimeZone('Europe/Berlin'), true);
  });
});

describe('MASS times and list items: the edges of their schemas', () => {
  test('text that is no time is quoted to its first 40 characters', () => {
    const result = pages.legacy.requests.safeParse({
      results: [{ analysis_system: 'x', schedule_after: 'y'.repeat(60) }],
    });
    assert.equal(result.success, false);
    assert.equal(result.error!.issues[0]!.message, `not an ISO-8601 time: "${'y'.repeat(40)}"`);
  });

  test('a scheduled analysis without its instance is the wrong shape', () => {
    const result = pages.legacy.scheduled.safeParse({ results: [{ url: 'x' }] });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error!.issues[0]!.path), /analysis_system_instance/);
  });
});
