// The paging engine on its own (src/mass/paging.ts), with an in-process `fetch` that can hold
// requests: pages must really be in flight together, not only bounded from above.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { MassError } from '../../src/mass/errors';
import { Limiter, NOT_FOUND, pagePool, pages02, pagesLegacy, type FetchJson } from '../../src/mass/paging';

const item = z.looseObject({ id: z.string() });
const envelope = z.looseObject({
  page: z.number(),
  page_count: z.number(),
  next: z.string().nullish(),
  results: z.array(item),
});
const legacyPage = z.looseObject({ results: z.array(item) });

const pathFor = (page: number) => `thing/?page=${page}`;
const pageOf = (path: string) => Number(/page=(\d+)/.exec(path)![1]);

/**
 * A fetch that holds every request until `together` are waiting, then answers them all (the
 * latest first, so pages finish out of order). A client that fetches one page at a time never
 * gets an answer: the test's timeout fails it.
 */
function heldFetch(together: number, answer: (page: number) => unknown) {
  let held: (() => void)[] = [];
  const seen = { inFlight: 0, maxInFlight: 0, pages: [] as number[] };
  const fetch: FetchJson = async (path) => {
    seen.inFlight += 1;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    seen.pages.push(pageOf(path));
    await new Promise<void>((resolve) => {
      held.push(resolve);
      if (held.length === together) {
        const go = held.reverse();
        held = [];
        go.forEach((r) => r());
      }
    });
    seen.inFlight -= 1;
    return answer(pageOf(path));
  };
  return { fetch, seen };
}

function page02(page: number, pageCount: number) {
  return {
    page,
    page_count: pageCount,
    next: page < pageCount ? `http://mass/api/thing/?page=${page + 1}` : null,
    results: [{ id: `item-${page}` }],
  };
}

describe('paging engine', () => {
  test('0.2: pages 2.. are fetched `width` at a time, really together', { timeout: 10_000 }, async () => {
    const { fetch, seen } = heldFetch(4, (page) => page02(page, 9));
    const got: number[] = [];
    await pages02({
      fetch,
      width: 4,
      pathFor,
      envelope,
      onItems: (_items, page) => got.push(page),
      firstBody: page02(1, 9),
    });
    assert.equal(seen.maxInFlight, 4);
    assert.deepEqual(
      [...seen.pages].sort((a, b) => a - b),
      [2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  test(
    'older server: pages in flight together, counts applied in page order, none after the 404',
    {
      timeout: 10_000,
    },
    async () => {
      const { fetch, seen } = heldFetch(3, (page) => (page <= 6 ? { results: [{ id: `item-${page}` }] } : NOT_FOUND));
      const applied: number[] = [];
      await pagesLegacy({
        fetch,
        width: 3,
        pathFor,
        page: legacyPage,
        count: (_items, page) => () => applied.push(page),
      });
      assert.equal(seen.maxInFlight, 3);
      assert.deepEqual(applied, [1, 2, 3, 4, 5, 6]);
    },
  );

  test('0.2: a page that ignores `page` is a paging loop', async () => {
    const fetch: FetchJson = async () => page02(1, 3);
    await assert.rejects(
      pages02({ fetch, width: 2, pathFor, envelope, onItems: () => {} }),
      (err: MassError) => err.kind === 'paging' && /asked for page 2, got page 1/.test(err.message),
    );
  });

  test('0.2: a next link to the wrong page is a paging loop', async () => {
    const fetch: FetchJson = async () => ({ ...page02(1, 3), next: 'http://mass/api/thing/?page=1' });
    await assert.rejects(
      pages02({ fetch, width: 2, pathFor, envelope, onItems: () => {} }),
      (err: MassError) => err.kind === 'paging' && /links next to page 1, not 2/.test(err.message),
    );
  });

  test('0.2: a page listed by page_count that answers 404 vanished', async () => {
    const fetch: FetchJson = async (path, allowNotFound) => {
      assert.equal(allowNotFound, pageOf(path) > 1, 'only pages after the first may be a 404');
      return pageOf(path) === 2 ? NOT_FOUND : page02(pageOf(path), 2);
    };
    await assert.rejects(
      pages02({ fetch, width: 2, pathFor, envelope, onItems: () => {} }),
      (err: MassError) => err.kind === 'paging' && /page 2 of 2 vanished/.test(err.message),
    );
  });

  test('older server: a page that starts like an earlier one is a paging loop', async () => {
    const fetch: FetchJson = async () => ({ results: [{ id: 'same' }] });
    await assert.rejects(
      pagesLegacy({ fetch, width: 1, pathFor, page: legacyPage, count: () => () => {} }),
      (err: MassError) => err.kind === 'paging' && /page 2 starts with the same item as page 1/.test(err.message),
    );
  });

  test('a wrong page shape is bad-shape naming the step', async () => {
    const fetch: FetchJson = async () => ({ results: [{ name: 'no id' }] });
    await assert.rejects(
      pagesLegacy({ fetch, width: 1, pathFor, page: legacyPage, count: () => () => {} }),
      (err: MassError) => err.kind === 'bad-shape' && /^GET thing\/\?page=1: .*results\.0\.id/.test(err.message),
    );
  });

  test('Limiter: never more than its limit, and it reaches it', { timeout: 10_000 }, async () => {
    const limiter = new Limiter(3);
    let inFlight = 0;
    let max = 0;
    let release!: () => void;
    const full = new Promise<void>((r) => (release = r));
    const task = async () => {
      inFlight += 1;
      max = Math.max(max, inFlight);
      if (inFlight === 3) release();
      await full;
      inFlight -= 1;
    };
    await Promise.all(Array.from({ length: 10 }, () => limiter.run(task)));
    assert.equal(max, 3);
  });

  test('pagePool: the first error stops the other workers from taking pages', async () => {
    const taken: number[] = [];
    await assert.rejects(
      pagePool(2, 1, 100, async (page) => {
        taken.push(page);
        if (page === 3) throw new Error('boom');
        return true;
      }),
      /boom/,
    );
    assert.ok(Math.max(...taken) <= 4, `pages taken after the error: ${taken.join(',')}`);
  });

  test('pagePool: an empty range does no work', async () => {
    await pagePool(4, 2, 1, async () => assert.fail('no page to take'));
  });
});
