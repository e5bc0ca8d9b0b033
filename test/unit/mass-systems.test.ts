// The system index (src/mass/systems.ts): which system a reference in an item names.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { safeDecode, SystemIndex } from '../../src/mass/systems';

const API = 'http://mass:8000/api/';

function index(): SystemIndex {
  const i = new SystemIndex();
  i.add({ id: '5f0000000000000000000001', identifier_name: 'ssdeep', url: `${API}analysis_system/ssdeep/` });
  i.add({ identifier_name: 'pe id', url: `${API}analysis_system/pe%20id/` });
  i.add({ identifier_name: 'yara' });
  return i;
}

describe('SystemIndex: what a reference names', () => {
  const cases: [string, string, string | undefined][] = [
    ['its listed URL', `${API}analysis_system/ssdeep/`, 'ssdeep'],
    ['its listed id', '5f0000000000000000000001', 'ssdeep'],
    ['another host’s URL ending in a listed name', 'http://elsewhere/api/analysis_system/yara/', 'yara'],
    ['a URL without the trailing slash', `${API}analysis_system/yara`, 'yara'],
    ['a URL with a query', `${API}analysis_system/yara/?format=json`, 'yara'],
    ['a URL with a fragment', `${API}analysis_system/yara#top`, 'yara'],
    ['an escaped name, decoded', 'http://other/analysis_system/pe%20id/', 'pe id'],
    ['a name that is not listed', `${API}analysis_system/peid/`, undefined],
    ['a deeper path under a system', `${API}analysis_system/yara/instances/`, undefined],
    ['a reference of another kind', `${API}analysis_request/yara/`, undefined],
    ['a broken escape that names nothing listed', `${API}analysis_system/%E0%A4%A/`, undefined],
    ['an id that is not listed', '5f0000000000000000000002', undefined],
  ];
  for (const [why, ref, name] of cases) {
    test(`${why} → ${name ?? 'nothing'}`, () => {
      assert.equal(index().nameOf(ref), name);
    });
  }

  test('an answer is remembered: a system added later does not change an earlier answer', () => {
    const i = index();
    const ref = `${API}analysis_system/clamav/`;
    assert.equal(i.nameOf(ref), undefined);
    i.add({ identifier_name: 'clamav' });
    assert.equal(i.nameOf(ref), undefined);
    assert.equal(i.nameOf('http://other/analysis_system/clamav/'), 'clamav');
  });

  test('two systems under one name: the last one is kept, both are listed as duplicates', () => {
    const i = new SystemIndex();
    const first = { id: 'a1', identifier_name: 'ssdeep', url: `${API}analysis_system/a1/` };
    const second = { id: 'b2', identifier_name: 'ssdeep', url: `${API}analysis_system/b2/` };
    const third = { id: 'c3', identifier_name: 'ssdeep' };
    i.add(first);
    assert.equal(i.duplicates.size, 0);
    i.add(second);
    i.add(third);
    i.add({ identifier_name: 'yara' });
    assert.equal(i.byName.get('ssdeep'), third);
    assert.deepEqual([...i.duplicates], [['ssdeep', [first, second, third]]]);
    assert.deepEqual(
      [i.nameOf('a1'), i.nameOf(`${API}analysis_system/b2/`), i.nameOf('c3')],
      ['ssdeep', 'ssdeep', 'ssdeep'],
    );
  });

  test('safeDecode: escapes decoded, a broken escape left as it is', () => {
    assert.equal(safeDecode('pe%20id'), 'pe id');
    assert.equal(safeDecode('%E0%A4%A'), '%E0%A4%A');
  });
});
