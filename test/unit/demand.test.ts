// The key an instance is remembered by (liveness memory, listing checks) and how one instance is
// counted into its system's tally: pure helpers of src/mass/demand.ts, table-driven.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addInstance, emptyTally, instanceId, toDemand } from '../../src/mass/demand';

const BASE = 'http://mass.example:8000/api/';
const SYSTEM = `${BASE}analysis_system/ssdeep/`;

describe('instanceId: the uuid, else the uuid in its URL, else the URL', () => {
  const rows: { why: string; uuid?: string; url?: string; want: string | undefined }[] = [
    { why: 'uuid given', uuid: 'u-1', url: `${BASE}analysis_system_instance/other/`, want: 'u-1' },
    { why: 'uuid given, no URL', uuid: 'u-2', want: 'u-2' },
    { why: 'empty uuid: taken from the URL', uuid: '', url: `${BASE}analysis_system_instance/u-3abc/`, want: 'u-3abc' },
    { why: 'no uuid: taken from the URL', url: `${BASE}analysis_system_instance/5a14596e6130/`, want: '5a14596e6130' },
    { why: 'URL with a query', url: `${BASE}analysis_system_instance/u-4?x=1`, want: 'u-4' },
    {
      why: 'URL of another shape: the URL itself',
      url: 'http://h/api/instances/9/',
      want: 'http://h/api/instances/9/',
    },
    { why: 'empty uuid and no URL: none', uuid: '', want: undefined },
    { why: 'neither: none', want: undefined },
  ];
  for (const r of rows) {
    test(r.why, () => {
      const instance = {
        analysis_system: SYSTEM,
        ...(r.uuid === undefined ? {} : { uuid: r.uuid }),
        ...(r.url === undefined ? {} : { url: r.url }),
      };
      assert.equal(instanceId(instance), r.want);
    });
  }
});

describe('addInstance: online work counts as scheduled, offline as stuck; records keep their order', () => {
  test('records without a uuid are numbered by their place; a call without a record keeps none', () => {
    const tally = emptyTally();
    addInstance(tally, true, 3, { uuid: 'a', lastSeen: 1000 });
    addInstance(tally, false, 2, { uuid: undefined, lastSeen: null });
    addInstance(tally, true, 4);
    addInstance(tally, true, 1, { uuid: undefined, lastSeen: 5 });
    assert.deepEqual(tally.instances, [
      { uuid: 'a', lastSeen: 1000, scheduled: 3 },
      { uuid: '#1', lastSeen: null, scheduled: 2 },
      { uuid: '#2', lastSeen: 5, scheduled: 1 },
    ]);
    assert.deepEqual(
      [tally.onlineInstances, tally.scheduledOnline, tally.offlineInstances, tally.stuckOffline],
      [3, 8, 1, 2],
    );
    tally.due = 6;
    assert.equal(toDemand('ssdeep', tally).demand, 14);
  });
});
