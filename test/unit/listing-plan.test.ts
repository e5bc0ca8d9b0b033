// The choice between one listing of all instances and one listing per system (src/mass/listing-plan.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  chooseListing,
  emptyListingMemory,
  keepListingAll,
  pagesFor,
  REPROBE_ROUNDS,
  rememberAbandoned,
  rememberFull,
  type ListingMemory,
} from '../../src/mass/listing-plan';

function memory(opts: {
  latest?: Record<string, number>;
  full?: { total: number; counts: Record<string, number> } | null;
  roundsSinceFull?: number;
}): ListingMemory {
  const m = emptyListingMemory();
  for (const [k, v] of Object.entries(opts.latest ?? {})) m.latest.set(k, v);
  if (opts.full) m.full = { total: opts.full.total, counts: new Map(Object.entries(opts.full.counts)) };
  m.roundsSinceFull = opts.roundsSinceFull ?? 0;
  return m;
}

describe('pagesFor', () => {
  for (const [items, perPage, pages] of [
    [0, 100, 1],
    [1, 100, 1],
    [100, 100, 1],
    [101, 100, 2],
    [330, 100, 4],
    [9, 4, 3],
  ] as const) {
    test(`${items} items at ${perPage} a page: ${pages} page(s)`, () => assert.equal(pagesFor(items, perPage), pages));
  }
});

describe('chooseListing', () => {
  const rows: {
    name: string;
    wanted: string[];
    memory: ListingMemory;
    expect: { listing: 'all' | 'per-system'; perSystemPages: number; allPages: number | null; probe: boolean };
  }[] = [
    {
      name: 'one system: per system, whatever is known',
      wanted: ['a'],
      memory: memory({ full: { total: 5, counts: { a: 5 } } }),
      expect: { listing: 'per-system', perSystemPages: 1, allPages: null, probe: false },
    },
    {
      name: 'nothing known, two systems: the listing of all is tried',
      wanted: ['a', 'b'],
      memory: memory({}),
      expect: { listing: 'all', perSystemPages: 2, allPages: null, probe: true },
    },
    {
      name: 'small systems, few others: all (1 page) beats 3',
      wanted: ['a', 'b', 'c'],
      memory: memory({ full: { total: 40, counts: { a: 5, b: 5, c: 5, x: 25 } } }),
      expect: { listing: 'all', perSystemPages: 3, allPages: 1, probe: false },
    },
    {
      name: 'the latest counts replace the full listing’s for wanted systems',
      wanted: ['a', 'b'],
      memory: memory({ latest: { a: 150, b: 150 }, full: { total: 20, counts: { a: 10, b: 10 } } }),
      expect: { listing: 'all', perSystemPages: 4, allPages: 3, probe: false },
    },
    {
      name: 'a tie goes per system',
      wanted: ['a', 'b'],
      memory: memory({ full: { total: 150, counts: { a: 5, b: 5, x: 140 } } }),
      expect: { listing: 'per-system', perSystemPages: 2, allPages: 2, probe: false },
    },
    {
      name: 'many others: per system',
      wanted: ['a', 'b', 'c'],
      memory: memory({ full: { total: 1006, counts: { a: 2, b: 2, c: 2 } }, roundsSinceFull: REPROBE_ROUNDS - 1 }),
      expect: { listing: 'per-system', perSystemPages: 3, allPages: 11, probe: false },
    },
    {
      name: 'many others, looked at REPROBE_ROUNDS ago: tried again',
      wanted: ['a', 'b', 'c'],
      memory: memory({ full: { total: 1006, counts: { a: 2, b: 2, c: 2 } }, roundsSinceFull: REPROBE_ROUNDS }),
      expect: { listing: 'all', perSystemPages: 3, allPages: 11, probe: true },
    },
    {
      name: 'the wanted systems alone fill more pages than their own listings: never tried again',
      wanted: ['a', 'b'],
      memory: memory({ full: { total: 200, counts: { a: 100, b: 100 } }, roundsSinceFull: 10 * REPROBE_ROUNDS }),
      expect: { listing: 'per-system', perSystemPages: 2, allPages: 2, probe: false },
    },
  ];
  for (const row of rows) {
    test(row.name, () => assert.deepEqual(chooseListing(row.wanted, row.memory, 100), row.expect));
  }
});

describe('keepListingAll after page 1', () => {
  for (const [pageCount, perSystem, keep] of [
    [0, 2, true],
    [1, 2, true],
    [2, 2, true],
    [3, 2, false],
    [11, 3, false],
    [4, 10, true],
  ] as const) {
    test(`page_count ${pageCount}, per system ${perSystem}: ${keep ? 'read on' : 'give up'}`, () =>
      assert.equal(keepListingAll(pageCount, perSystem), keep));
  }
});

describe('what is remembered', () => {
  test('a full listing: its total, each system’s count, and the latest counts', () => {
    const m = memory({ roundsSinceFull: 7, latest: { a: 1 } });
    rememberFull(m, 30, new Map([['a', 10]]));
    assert.deepEqual(m.full, { total: 30, counts: new Map([['a', 10]]) });
    assert.equal(m.latest.get('a'), 10);
    assert.equal(m.roundsSinceFull, 0);
  });

  test('a listing given up after page 1 (P pages): more than (P − 1) × per_page, at least the wanted ones', () => {
    const m = memory({ roundsSinceFull: 7 });
    rememberAbandoned(m, 11, 100, new Map([['a', 2]]));
    assert.deepEqual(m.full, { total: 1001, counts: new Map([['a', 2]]) });
    assert.equal(m.roundsSinceFull, 0);
    rememberAbandoned(
      m,
      3,
      100,
      new Map([
        ['a', 150],
        ['b', 150],
      ]),
    );
    assert.equal(m.full?.total, 300);
    // and then the listing of all is chosen for these two (3 pages < 4)
    m.latest.set('a', 150).set('b', 150);
    assert.equal(chooseListing(['a', 'b'], m, 100).listing, 'all');
  });
});
