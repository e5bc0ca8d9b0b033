// The paging engine: every page of a list, with a bounded number of requests in flight. It knows
// nothing of HTTP or of what the items mean: it is given a `fetch` (path → parsed JSON body, or
// NOT_FOUND for a 404 the caller allowed) and a schema for one page.
import type { z } from 'zod';
import { parseAnswer, pagingFailure } from './errors';

/** What `fetch` gives for a 404 when the caller pages until one. */
export const NOT_FOUND = Symbol('404');

/** Guards against a server that never ends a list (ignores `page`, never answers 404). */
export const MAX_PAGES = 100_000;

/** path → JSON body; NOT_FOUND for a 404 when `allowNotFound`. Throws a MassError otherwise. */
export type FetchJson = (path: string, allowNotFound: boolean) => Promise<unknown>;

/** Bounds the tasks in flight at once (over a whole round: every system and list shares one). */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/**
 * Runs work(first), work(first + 1), ... up to `last` with `width` workers, each taking the
 * next page number. A worker stops when work returns false; the first error stops them all.
 */
export async function pagePool(
  width: number,
  first: number,
  last: number,
  work: (page: number) => Promise<boolean>,
): Promise<void> {
  if (last < first) return;
  let next = first;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && next <= last) {
      const page = next;
      next += 1;
      try {
        if (!(await work(page))) stopped = true;
      } catch (err) {
        stopped = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(width, last - first + 1));
  await Promise.all(Array.from({ length: workers }, worker));
}

export function pageOfUrl(url: string): number | undefined {
  try {
    const page = new URL(url, 'http://placeholder/').searchParams.get('page');
    return page === null ? undefined : Number(page);
    // Stryker disable next-line BlockStatement: an empty catch gives undefined as well
  } catch {
    return undefined;
  }
}

/** The 0.2 paged envelope, as the engine needs it (see schemas.ts). */
interface Envelope02<T> {
  page: number;
  page_count: number;
  next?: string | null;
  results: T[];
}

export interface Pages02<T> {
  fetch: FetchJson;
  /** pages in flight at once (each fetch also passes the round's Limiter) */
  width: number;
  pathFor: (page: number) => string;
  /** schema of one whole page (built once, in schemas.ts) */
  envelope: z.ZodType<Envelope02<T>>;
  onItems: (items: T[], page: number) => void;
  /** page 1's body when the caller already has it */
  firstBody?: unknown;
}

/**
 * All pages of a 0.2 list. Page URLs are built by the caller (the server's `next` drops the
 * filters); `page` and `next` in each answer are only checked, to catch a server that ignores
 * `page`. Page 1 gives page_count; pages 2.. are then fetched `width` at a time.
 */
export async function pages02<T>(p: Pages02<T>): Promise<void> {
  let pageCount = 1;
  const readPage = async (page: number): Promise<void> => {
    const path = p.pathFor(page);
    const step = `GET ${path}`;
    const body = page === 1 && p.firstBody !== undefined ? p.firstBody : await p.fetch(path, page > 1);
    if (body === NOT_FOUND) throw pagingFailure(step, `page ${page} of ${pageCount} vanished while paging (404)`);
    const parsed = parseAnswer(p.envelope, body, step);
    if (parsed.page !== page) {
      throw pagingFailure(
        step,
        `asked for page ${page}, got page ${parsed.page}: the server ignores page (paging loop)`,
      );
    }
    checkNext(step, page, parsed.next);
    if (page === 1) pageCount = parsed.page_count;
    p.onItems(parsed.results, page);
  };
  await readPage(1);
  if (pageCount > MAX_PAGES) {
    throw pagingFailure(`GET ${p.pathFor(1)}`, `page_count ${pageCount} exceeds the limit of ${MAX_PAGES} pages`);
  }
  await pagePool(p.width, 2, pageCount, async (page) => {
    await readPage(page);
    return true;
  });
}

export interface PagesLegacy<T> {
  fetch: FetchJson;
  width: number;
  pathFor: (page: number) => string;
  /** schema of one whole page: `{results: [...]}` (built once, in schemas.ts) */
  page: z.ZodType<{ results: T[] }>;
  /** counts a page's items and returns how to apply the counts (called in page order) */
  count: (items: T[], page: number) => () => void;
  firstBody?: unknown;
}

/**
 * All pages of an older server's list: `?page=N` until the first 404, with up to `width` pages
 * in flight. Pages can finish out of order and the list can shrink while paging, so each page's
 * counts are applied only once every page before it answered; counts of pages after the first
 * 404 are dropped.
 */
export async function pagesLegacy<T>(p: PagesLegacy<T>): Promise<void> {
  const pending = new Map<number, () => void>();
  const firstItemPage = new Map<string, number>();
  let applied = 0; // pages 1..applied are counted
  let end = Infinity; // first page that answered 404 (or came back empty)

  await pagePool(p.width, 1, MAX_PAGES + 1, async (page) => {
    // Stryker disable next-line EqualityOperator,BooleanLiteral: pagePool stops every worker at the first false anyway
    if (page >= end) return false;
    const path = p.pathFor(page);
    const step = `GET ${path}`;
    if (page > MAX_PAGES) throw pagingFailure(step, `more than ${MAX_PAGES} pages without a 404: paging loop?`);
    const body = page === 1 && p.firstBody !== undefined ? p.firstBody : await p.fetch(path, page > 1);
    if (body === NOT_FOUND) {
      // Stryker disable next-line MethodExpression: `end` only repeats the stop pagePool makes at the first false
      end = Math.min(end, page);
      // Stryker disable next-line BooleanLiteral: the worker's next page is past `end` and stops it at once
      return false;
    }
    const parsed = parseAnswer(p.page, body, step);
    if (parsed.results.length === 0) {
      // Stryker disable next-line MethodExpression: `end` only repeats the stop pagePool makes at the first false
      end = Math.min(end, page);
      // Stryker disable next-line BooleanLiteral: the worker's next page is past `end` and stops it at once
      return false;
    }
    checkLegacyPage(step, page, parsed as unknown as Record<string, unknown>, parsed.results[0], firstItemPage);
    pending.set(page, p.count(parsed.results, page));
    // Stryker disable next-line EqualityOperator: page `end` is never pending, so the chain stops there either way
    while (applied + 1 < end && pending.has(applied + 1)) {
      pending.get(applied + 1)!();
      // Stryker disable next-line ArithmeticOperator: only memory; pages up to `applied` are never read again
      pending.delete(applied + 1);
      applied += 1;
    }
    return true;
  });
}

export function checkNext(step: string, page: number, next: unknown): void {
  if (typeof next !== 'string') return;
  const linked = pageOfUrl(next);
  if (linked !== page + 1) {
    throw pagingFailure(
      step,
      `page ${page} links next to ${linked === undefined ? 'no page number' : `page ${linked}`}, not ${page + 1}: paging loop`,
    );
  }
}

/**
 * A server that ignores `page` serves page 1 forever: the older one has no page_count to stop
 * at, so a page that starts with the same item as an earlier page is taken as a loop. (A list
 * that grew by exactly a page's worth between two reads would look the same; that costs one
 * round without a reading, never a wrong one.) Paging fields, when a build sends them, must agree.
 */
function checkLegacyPage(
  step: string,
  page: number,
  envelope: Record<string, unknown>,
  first: unknown,
  firstItemPage: Map<string, number>,
): void {
  if (typeof envelope['page'] === 'number' && envelope['page'] !== page) {
    throw pagingFailure(
      step,
      `asked for page ${page}, got page ${envelope['page']}: the server ignores page (paging loop)`,
    );
  }
  checkNext(step, page, envelope['next']);
  const item = first as { id?: unknown; url?: unknown } | undefined;
  // Stryker disable next-line OptionalChaining: an empty page returned before this, so the first item exists
  const key = typeof item?.id === 'string' ? item.id : typeof item?.url === 'string' ? item.url : undefined;
  if (key === undefined) return;
  const earlier = firstItemPage.get(key);
  if (earlier !== undefined && earlier !== page) {
    throw pagingFailure(
      step,
      `page ${page} starts with the same item as page ${earlier}: the server ignores page (paging loop)`,
    );
  }
  firstItemPage.set(key, page);
}
