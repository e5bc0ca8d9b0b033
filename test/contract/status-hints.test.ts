// The suggestion a failed read carries when the step and the server tell more than the status:
// a 403 on the older server's request lists (admin keys only) and a 404 on analysis_system/
// (an address that is not the API base). Against the stand-in (test/fakes/mass-server.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MassClient } from '../../src/mass/client';
import type { SystemReading } from '../../src/types';
import { startFakeMass, type FakeDialect, type FakeFault } from '../fakes/mass-server';

const KEY = 'status-hints-key';
const NOW = Date.parse('2024-05-01T12:00:00.000Z');

async function messageOf(dialect: FakeDialect, fault: FakeFault | null, path = 'api/'): Promise<string> {
  const mass = await startFakeMass({ dialect, apiKey: KEY, now: () => NOW });
  try {
    mass.setDemand('ssdeep', { due: 1, scheduledOnline: 1 });
    mass.fault = fault;
    const baseUrl = mass.baseUrl.replace(/api\/$/, path);
    const c = new MassClient({ baseUrl, apiKey: KEY, timeoutMs: 5000, pageConcurrency: 1 });
    const reading: SystemReading | undefined = (await c.readDemand(['ssdeep'], new Date(NOW))).get('ssdeep');
    assert.ok(reading && !reading.ok, JSON.stringify(reading));
    return reading.error.message.replace(mass.addSystem('ssdeep').id, '<id>');
  } finally {
    await mass.close();
  }
}

const REJECTED = ' 403 Forbidden (You do not have access to this resource.): MASS rejected the API key; check API_KEY';
const COUNT = 'GET analysis_request/?analysis_system=<id>&schedule_after__lte=2024-05-01T12:00:00.000Z&count';

describe('a failed read names the likely cause when the step tells it', () => {
  const rows: { why: string; dialect: FakeDialect; fault: FakeFault | null; path?: string; want: string }[] = [
    {
      why: 'older server, 403 on analysis_request/: admin keys only',
      dialect: 'legacy',
      fault: { kind: 'forbidden', path: 'analysis_request/' },
      want: `GET analysis_request/?page=1&per_page=100:${REJECTED}; the older MASS server lists analysis_request/ and scheduled_analysis/ only for admin keys`,
    },
    {
      why: 'older server, 500 on analysis_request/: no hint',
      dialect: 'legacy',
      fault: { kind: 'status', code: 500, path: 'analysis_request/' },
      want: 'GET analysis_request/?page=1&per_page=100: 500 Internal Server Error',
    },
    {
      why: 'older server, 403 on analysis_system_instance/: no hint',
      dialect: 'legacy',
      fault: { kind: 'forbidden', path: 'analysis_system_instance/' },
      want: `GET analysis_system_instance/?page=1&per_page=100:${REJECTED}`,
    },
    {
      why: '0.2 server, 403 on analysis_request/: no hint',
      dialect: '0.2',
      fault: { kind: 'forbidden', path: 'analysis_request/' },
      want: `${COUNT}:${REJECTED}`,
    },
    {
      why: 'a 404 on analysis_system/: the address is not the API base',
      dialect: '0.2',
      fault: null,
      path: '',
      want: 'GET analysis_system/?page=1&per_page=100: 404 Not Found; is the MASS address the API base, like http://host:8000/api/ ?',
    },
    {
      why: 'a 404 on a count: no hint',
      dialect: '0.2',
      fault: { kind: 'status', code: 404, path: 'analysis_request/' },
      want: `${COUNT}: 404 Not Found`,
    },
  ];
  for (const r of rows) {
    test(r.why, async () => {
      assert.equal(await messageOf(r.dialect, r.fault, r.path), r.want);
    });
  }
});
