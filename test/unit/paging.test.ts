// The paging engine on its own (src/mass/paging.ts), with an in-process `fetch` that can hold
// requests: pages must really be in flight together, not only bounded from above.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { MassError } from '../../src/mass/errors';
import { Limiter, MAX_PAGES, NOT_FOUND, pagePool, pages02, pagesLegacy, type FetchJson } from '../../src/mass/paging';

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

// The engine's edges: its limits, its stops and the checks of each page, one clause per test.
describe('paging engine: limits, stops and page checks', () => {
  const rejectsPaging = (run: Promise<void>, message: string) =>
    assert.rejects(run, (err: MassError) => {
      assert.equal(err.kind, 'paging');
      assert.equal(err.message, message);
      return true;
    });

  test('0.2: page_count above the limit fails before any other page is asked for', async () => {
    const asked: number[] = [];
    const fetch: FetchJson = async (path) => {
      asked.push(pageOf(path));
      return page02(1, MAX_PAGES + 1);
    };
    await rejectsPaging(
      pages02({ fetch, width: 2, pathFor, envelope, onItems: () => {} }),
      `GET thing/?page=1: page_count ${MAX_PAGES + 1} exceeds the limit of ${MAX_PAGES} pages`,
    );
    assert.deepEqual(asked, [1]);
  });

  test('0.2: page_count exactly at the limit is paged', async () => {
    const fetch: FetchJson = async (path) => (pageOf(path) === 1 ? page02(1, MAX_PAGES) : NOT_FOUND);
    await rejectsPaging(
      pages02({ fetch, width: 1, pathFor, envelope, onItems: () => {} }),
      `GET thing/?page=2: page 2 of ${MAX_PAGES} vanished while paging (404)`,
    );
  });

  test('0.2: page 1 is fetched (404 not allowed) unless given; every page’s items reach onItems', async () => {
    const calls: [number, boolean][] = [];
    const fetch: FetchJson = async (path, allowNotFound) => {
      calls.push([pageOf(path), allowNotFound]);
      return page02(pageOf(path), 3);
    };
    const got: [string[], number][] = [];
    await pages02({
      fetch,
      width: 1,
      pathFor,
      envelope,
      onItems: (items, page) => got.push([items.map((i) => i.id), page]),
    });
    assert.deepEqual(calls, [
      [1, false],
      [2, true],
      [3, true],
    ]);
    assert.deepEqual(got, [
      [['item-1'], 1],
      [['item-2'], 2],
      [['item-3'], 3],
    ]);
  });

  test('0.2: a single page needs no other request; the given first body is not fetched again', async () => {
    const fetch: FetchJson = async () => assert.fail('nothing to fetch');
    const got: number[] = [];
    await pages02({
      fetch,
      width: 4,
      pathFor,
      envelope,
      onItems: (_i, page) => got.push(page),
      firstBody: page02(1, 1),
    });
    assert.deepEqual(got, [1]);
  });

  test('0.2: page_count comes from page 1 only; a later page cannot extend the list', async () => {
    const fetch: FetchJson = async (path) => ({ ...page02(pageOf(path), 2), page_count: pageOf(path) === 1 ? 2 : 5 });
    const got: number[] = [];
    await pages02({ fetch, width: 1, pathFor, envelope, onItems: (_i, page) => got.push(page) });
    assert.deepEqual(got, [1, 2]);
  });

  const nextCases: [string, unknown, string | null][] = [
    ['no next link on the last page', null, null],
    ['a next link without a page number', 'http://mass/api/thing/', 'page 1 links next to no page number, not 2'],
    ['a next link that is not a URL at all', 'http://[', 'page 1 links next to no page number, not 2'],
    ['a relative next link to the right page', '/api/thing/?page=2', null],
    ['a next link to a later page', 'http://mass/api/thing/?page=3', 'page 1 links next to page 3, not 2'],
  ];
  for (const [why, next, problem] of nextCases) {
    test(`0.2: ${why}: ${problem ?? 'fine'}`, async () => {
      const fetch: FetchJson = async (path) => (pageOf(path) === 1 ? { ...page02(1, 2), next } : page02(2, 2));
      const run = pages02({ fetch, width: 1, pathFor, envelope, onItems: () => {} });
      if (problem === null) await run;
      else await rejectsPaging(run, `GET thing/?page=1: ${problem}: paging loop`);
    });
  }

  test('older server: an empty page ends the list like a 404', async () => {
    const asked: number[] = [];
    const applied: number[] = [];
    const fetch: FetchJson = async (path) => {
      asked.push(pageOf(path));
      return { results: pageOf(path) <= 2 ? [{ id: `item-${pageOf(path)}` }] : [] };
    };
    await pagesLegacy({ fetch, width: 1, pathFor, page: legacyPage, count: (_i, page) => () => applied.push(page) });
    assert.deepEqual(
      [asked, applied],
      [
        [1, 2, 3],
        [1, 2],
      ],
    );
  });

  test('older server: page 1 given is not fetched; later pages may be a 404', async () => {
    const calls: [number, boolean][] = [];
    const fetch: FetchJson = async (path, allowNotFound) => {
      calls.push([pageOf(path), allowNotFound]);
      return NOT_FOUND;
    };
    const applied: number[] = [];
    await pagesLegacy({
      fetch,
      width: 1,
      pathFor,
      page: legacyPage,
      count: (_i, page) => () => applied.push(page),
      firstBody: { results: [{ id: 'a' }] },
    });
    assert.deepEqual([calls, applied], [[[2, true]], [1]]);
  });

  test('older server: a page answered after an earlier 404 is not counted', async () => {
    // Page 3 answers 404 last; page 4 (asked before the 404 was known) answered: dropped.
    let release404!: () => void;
    const late = new Promise<void>((r) => (release404 = r));
    const fetch: FetchJson = async (path) => {
      const page = pageOf(path);
      if (page === 3) {
        await late;
        return NOT_FOUND;
      }
      if (page === 4) {
        setImmediate(release404);
        return { results: [{ id: 'four' }] };
      }
      if (page > 4) return NOT_FOUND;
      return { results: [{ id: `item-${page}` }] };
    };
    const applied: number[] = [];
    await pagesLegacy({ fetch, width: 2, pathFor, page: legacyPage, count: (_i, page) => () => applied.push(page) });
    assert.deepEqual(applied, [1, 2]);
  });

  test('older server: a build that sends page numbers must send the right one', async () => {
    const fetch: FetchJson = async () => ({ page: 1, results: [{ id: 'x' }] });
    await rejectsPaging(
      pagesLegacy({
        fetch,
        width: 1,
        pathFor,
        page: legacyPage,
        count: () => () => {},
        firstBody: { page: 1, results: [{ id: 'a' }] },
      }),
      'GET thing/?page=2: asked for page 2, got page 1: the server ignores page (paging loop)',
    );
  });

  test('older server: a next link is checked too', async () => {
    const fetch: FetchJson = async () => ({ next: 'thing/?page=7', results: [{ id: 'x' }] });
    await rejectsPaging(
      pagesLegacy({ fetch, width: 1, pathFor, page: legacyPage, count: () => () => {} }),
      'GET thing/?page=1: page 1 links next to page 7, not 2: paging loop',
    );
  });

  test('older server: items known by url are checked for a loop too; items without either are not', async () => {
    const byUrl = z.looseObject({ results: z.array(z.looseObject({ url: z.string().optional() })) });
    const loop: FetchJson = async () => ({ results: [{ url: 'http://mass/api/thing/1/' }] });
    await rejectsPaging(
      pagesLegacy({ fetch: loop, width: 1, pathFor, page: byUrl, count: () => () => {} }),
      'GET thing/?page=2: page 2 starts with the same item as page 1: the server ignores page (paging loop)',
    );
    const anonymous: FetchJson = async (path) => (pageOf(path) <= 3 ? { results: [{}] } : NOT_FOUND);
    const applied: number[] = [];
    await pagesLegacy({
      fetch: anonymous,
      width: 1,
      pathFor,
      page: byUrl,
      count: (_i, page) => () => applied.push(page),
    });
    assert.deepEqual(applied, [1, 2, 3]);
  });

  test('older server: more than MAX_PAGES pages without a 404 is a paging loop', { timeout: 120_000 }, async () => {
    const fetch: FetchJson = async (path) => ({ results: [{ id: path }] });
    let counted = 0;
    await rejectsPaging(
      pagesLegacy({ fetch, width: 8, pathFor, page: legacyPage, count: () => () => (counted += 1) }),
      `GET thing/?page=${MAX_PAGES + 1}: more than ${MAX_PAGES} pages without a 404: paging loop?`,
    );
    assert.equal(counted, MAX_PAGES);
  });

  test(
    '0.2: two pages after the first are fetched together, not one after the other',
    { timeout: 10_000 },
    async () => {
      const { fetch, seen } = heldFetch(2, (page) => page02(page, 3));
      await pages02({ fetch, width: 4, pathFor, envelope, onItems: () => {}, firstBody: page02(1, 3) });
      assert.equal(seen.maxInFlight, 2);
    },
  );

  test('0.2: a vanished page is counted against page 1’s page_count, whatever later pages say', async () => {
    const fetch: FetchJson = async (path) => {
      const page = pageOf(path);
      if (page === 3) return NOT_FOUND;
      return { ...page02(page, 3), page_count: page === 1 ? 3 : 5 };
    };
    await rejectsPaging(
      pages02({ fetch, width: 1, pathFor, envelope, onItems: () => {} }),
      'GET thing/?page=3: page 3 of 3 vanished while paging (404)',
    );
  });

  test('older server: page 1 is fetched with no 404 allowed, the next pages with', async () => {
    const calls: [number, boolean][] = [];
    const fetch: FetchJson = async (path, allowNotFound) => {
      calls.push([pageOf(path), allowNotFound]);
      return pageOf(path) === 1 ? { results: [{ id: 'a' }] } : NOT_FOUND;
    };
    await pagesLegacy({ fetch, width: 1, pathFor, page: legacyPage, count: () => () => {} });
    assert.deepEqual(calls, [
      [1, false],
      [2, true],
    ]);
  });

  test('older server: once a 404 is known, no worker asks for a page past it', async () => {
    // Page 2's 404 arrives while page 1 is still out; the worker that had page 1 then stops.
    let page2Answered!: () => void;
    const answered = new Promise<void>((r) => (page2Answered = r));
    const asked: number[] = [];
    const fetch: FetchJson = async (path) => {
      const page = pageOf(path);
      asked.push(page);
      if (page === 1) {
        await answered;
        await new Promise((r) => setImmediate(r));
        return { results: [{ id: 'a' }] };
      }
      if (page === 2) setImmediate(page2Answered);
      return NOT_FOUND;
    };
    await pagesLegacy({ fetch, width: 2, pathFor, page: legacyPage, count: () => () => {} });
    assert.deepEqual(asked, [1, 2]);
  });

  test('pagePool: a worker stops at the first page that says stop', async () => {
    const taken: number[] = [];
    await pagePool(1, 1, 10, async (page) => {
      taken.push(page);
      return page < 4;
    });
    assert.deepEqual(taken, [1, 2, 3, 4]);
  });

  test('pagePool: a width under 1 still has one worker; the last page is taken', async () => {
    const taken: number[] = [];
    await pagePool(0, 3, 5, async (page) => {
      taken.push(page);
      return true;
    });
    assert.deepEqual(taken, [3, 4, 5]);
  });

  test('pagePool: one page, one call, however wide', async () => {
    const taken: number[] = [];
    await pagePool(8, 2, 2, async (page) => {
      taken.push(page);
      return true;
    });
    assert.deepEqual(taken, [2]);
  });

  test('Limiter: a failed task frees its slot; tasks wait their turn in order', async () => {
    const limiter = new Limiter(1);
    await assert.rejects(
      limiter.run(async () => Promise.reject(new Error('no'))),
      /no/,
    );
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => limiter.run(async () => void order.push(n))));
    assert.deepEqual(order, [1, 2, 3]);
    let inFlight = 0;
    let max = 0;
    const task = async () => {
      inFlight += 1;
      max = Math.max(max, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight -= 1;
    };
    await Promise.all(Array.from({ length: 5 }, () => limiter.run(task)));
    assert.equal(max, 1, 'still one at a time after the failure and the queue');
  });
});
