// Reader for the 0.2 / 0.3 server: filters and `?count`, so a round costs per system two counts
// (due, total) whatever the backlog, and the instances are read either in one listing of all
// or in one listing per system, whichever costs fewer requests (listing-plan.ts has the rule).
import type { SystemReading } from '../types';
import { MassError, pagingFailure, parseAnswer, unknownSystemFailure } from './errors';
import { addInstance, emptyTally, instanceId, isOnline, lastSeenOf, type Round, type Tally, toDemand } from './demand';
import {
  chooseListing,
  keepListingAll,
  rememberAbandoned,
  rememberFull,
  type InstanceListing,
  type ListingMemory,
} from './listing-plan';
import { checkNext, MAX_PAGES, NOT_FOUND, pageOfUrl, pagePool, pages02, type FetchJson } from './paging';
import { countSchema, pages, type AnalysisSystemInstanceItem } from './schemas';
import type { SystemIndex } from './systems';
import { query } from './transport';

/** How this round lists the instances: by the cost rule, or one way (tests, bench). */
export type ListingMode = 'auto' | InstanceListing;

type Failed = SystemReading & { ok: false };

/** What the round did to read the instances (for tests and the bench). */
export interface ListingReport {
  listing: InstanceListing;
  /** the listing of all was started and given up: after page 1 (dearer) or on a change mid-listing */
  gaveUp: 'dearer' | 'changed' | null;
  /** systems read again on their own because a known instance was missing from a listing of several pages */
  confirmed: string[];
}

export async function read02(
  round: Round,
  index: SystemIndex,
  wanted: string[],
  failureOf: (err: unknown) => Failed,
  memory: ListingMemory,
  mode: ListingMode,
  report: (r: ListingReport) => void = () => {},
): Promise<Map<string, SystemReading>> {
  const readings = new Map<string, SystemReading>();
  const ids = new Map<string, string>();
  for (const name of wanted) {
    const system = index.byName.get(name);
    if (!system) readings.set(name, failureOf(unknownSystemFailure(name)));
    else if (!system.id)
      readings.set(
        name,
        failureOf(
          new MassError('bad-shape', `GET analysis_system/: system ${name} has no id, which the 0.2 filters need`),
        ),
      );
    else ids.set(name, system.id);
  }
  const names = [...ids.keys()];
  const [counted, listed] = await Promise.all([
    Promise.all(names.map((name) => settle(counts(round, ids.get(name)!, round.horizons.get(name))))),
    readInstances(round, index, ids, memory, mode, report),
  ]);
  names.forEach((name, i) => {
    const c = counted[i]!;
    const tally = listed.get(name)!;
    if (!c.ok) readings.set(name, failureOf(c.error));
    else if (!tally.ok) readings.set(name, failureOf(tally.error));
    else {
      tally.value.due = c.value.due;
      tally.value.notDue = c.value.notDue;
      if (c.value.dueSoon !== undefined) tally.value.dueSoon = c.value.dueSoon;
      readings.set(name, { ok: true, demand: toDemand(name, tally.value) });
    }
  });
  return readings;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(work: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * notDue is total − due, not a `schedule_after__gte` count: a build without schedule_after
 * ignores both filters, and then the difference is 0 where a `__gte` count would repeat the
 * whole backlog. The two counts are not atomic (the scheduler deletes due requests between
 * them), so the difference is clamped at 0; notDue is informational only.
 *
 * With a horizon (ms; a service of the system sizes ahead), a third count up to now + horizon:
 * dueSoon is its difference to the due count, clamped at 0 the same way. Without one, no third
 * request: a round of services that do not size ahead costs what it did.
 */
async function counts(
  round: Round,
  id: string,
  horizon: number | undefined,
): Promise<{ due: number; notDue: number; dueSoon?: number }> {
  const upTo = (ms: number | null) =>
    count(
      round.fetch,
      `analysis_request/?${query([
        ['analysis_system', id],
        ...(ms === null ? [] : [['schedule_after__lte', new Date(ms).toISOString()] as [string, string]]),
        ['count', null],
      ])}`,
    );
  const [due, total, soon] = await Promise.all([
    upTo(round.now),
    upTo(null),
    horizon === undefined ? undefined : upTo(round.now + horizon),
  ]);
  const counted = { due, notDue: Math.max(0, total - due) };
  return soon === undefined ? counted : { ...counted, dueSoon: Math.max(0, soon - due) };
}

export async function count(fetch: FetchJson, path: string): Promise<number> {
  const step = `GET ${path}`;
  const body = await fetch(path, false);
  if (typeof body === 'object' && body !== null && !('count' in body) && 'results' in body) {
    // Never read as 0: a server that ignores ?count answers its unfiltered first page.
    throw new MassError(
      'bad-shape',
      `${step}: answered a list instead of {"count": N}; the server ignores ?count (an older MASS server?)`,
    );
  }
  return parseAnswer(countSchema, body, step).count;
}

/** The instances of each wanted system (name → id), the cheaper way, and what was learnt of the list. */
async function readInstances(
  round: Round,
  index: SystemIndex,
  ids: Map<string, string>,
  memory: ListingMemory,
  mode: ListingMode,
  report: (r: ListingReport) => void,
): Promise<Map<string, Settled<Tally>>> {
  const names = [...ids.keys()];
  const out = new Map<string, Settled<Tally>>();
  if (names.length === 0) return out;
  const choice = chooseListing(names, memory, round.perPage);
  const listing = mode === 'auto' ? choice.listing : mode;
  const perSystem = async (list: string[]) => {
    const read = await Promise.all(list.map((name) => settle(systemInstances(round, index, name, ids.get(name)!))));
    list.forEach((name, i) => out.set(name, read[i]!));
  };
  const done: ListingReport = { listing, gaveUp: null, confirmed: [] };

  if (listing === 'per-system') {
    memory.roundsSinceFull += 1;
    await perSystem(names);
  } else {
    // Forced to 'all' (tests, bench): read it to the end whatever its first page says.
    const limit = mode === 'all' ? Infinity : choice.perSystemPages;
    let all: Awaited<ReturnType<typeof listAll>>;
    try {
      all = await listAll(round, index, new Set(names), limit);
    } catch (error) {
      for (const name of names) out.set(name, { ok: false, error });
      report(done);
      return out;
    }
    if (all.kind === 'read') {
      rememberFull(memory, all.total, all.counts);
      for (const name of names) out.set(name, { ok: true, value: all.tallies.get(name)! });
      // One answer is one snapshot; over several pages an instance that vanished before a page
      // was read shifts the next one onto the page already read. A known instance missing from
      // such a listing may be that one: its system is read again on its own.
      if (all.pages > 1) {
        done.confirmed = names.filter((name) => {
          const before = memory.uuids.get(name);
          if (before === undefined) return false;
          const now = new Set(all.tallies.get(name)!.instances.map((i) => i.uuid));
          return [...before].some((uuid) => !now.has(uuid));
        });
        await perSystem(done.confirmed);
      }
    } else {
      done.gaveUp = all.kind;
      done.listing = 'per-system';
      await perSystem(names);
      if (all.kind === 'dearer') {
        const read = new Map<string, number>();
        for (const [name, tally] of out) if (tally.ok) read.set(name, tally.value.instances.length);
        rememberAbandoned(memory, all.pageCount, round.perPage, read);
      }
    }
  }
  for (const [name, tally] of out) {
    if (!tally.ok) continue;
    memory.latest.set(name, tally.value.instances.length);
    memory.uuids.set(name, new Set(tally.value.instances.map((i) => i.uuid)));
  }
  report(done);
  return out;
}

type ListAll =
  | { kind: 'read'; tallies: Map<string, Tally>; total: number; counts: Map<string, number>; pages: number }
  | { kind: 'dearer'; pageCount: number }
  | { kind: 'changed' };

/**
 * Every page of `analysis_system_instance/` without a filter, each instance counted into its
 * system's tally. Given up after page 1 when the other pages would cost `limit` requests or
 * more ('dearer'), and on any sign that the list changed while it was read or does not page
 * right ('changed': a later page 404s, gives another page_count or page number, links next
 * elsewhere, or an instance comes twice), so that the round reads per system instead.
 */
async function listAll(round: Round, index: SystemIndex, wanted: Set<string>, limit: number): Promise<ListAll> {
  const pathFor = (page: number) =>
    `analysis_system_instance/?${query([
      ['page', page],
      ['per_page', round.perPage],
    ])}`;
  const tallies = new Map([...wanted].map((name) => [name, emptyTally()]));
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  let total = 0;
  let changed = false;
  let pageCount = 1;

  const readPage = async (page: number): Promise<boolean> => {
    const path = pathFor(page);
    const step = `GET ${path}`;
    const body = await round.fetch(path, page > 1);
    if (body === NOT_FOUND) {
      changed = true;
      return false;
    }
    const parsed = parseAnswer(pages['0.2'].instances, body, step);
    // Page 1 must be right. A later page that is not the one asked for, links next elsewhere or
    // gives another page_count makes the round read per system: the list shifted under the
    // reader, or a paging fault that then stays with the systems whose lists it hits.
    const linksNext = typeof parsed.next !== 'string' || pageOfUrl(parsed.next) === page + 1;
    if (page > 1 && (parsed.page !== page || !linksNext || parsed.page_count !== pageCount)) {
      changed = true;
      return false;
    }
    if (parsed.page !== page)
      throw pagingFailure(step, `asked for page 1, got page ${parsed.page}: the server ignores page (paging loop)`);
    checkNext(step, page, parsed.next);
    // Stryker disable next-line ConditionalExpression: a later page reaching here gave page 1's page_count (checked above)
    if (page === 1) pageCount = parsed.page_count;
    for (const [i, instance] of parsed.results.entries()) {
      const uuid = instanceId(instance);
      if (uuid !== undefined) {
        if (seen.has(uuid)) {
          changed = true;
          return false;
        }
        seen.add(uuid);
      }
      total += 1;
      const name = index.nameOf(instance.analysis_system);
      // Stryker disable next-line ConditionalExpression: counts and the memory are only ever looked up by system name
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
      // Stryker disable next-line ConditionalExpression: tallies.get(undefined) is undefined too
      const tally = name === undefined ? undefined : tallies.get(name);
      if (tally !== undefined) addTo(tally, instance, round, `${step}: results.${i}`);
    }
    return true;
  };

  await readPage(1);
  if (pageCount > MAX_PAGES)
    throw pagingFailure(`GET ${pathFor(1)}`, `page_count ${pageCount} exceeds the limit of ${MAX_PAGES} pages`);
  if (!keepListingAll(pageCount, limit)) return { kind: 'dearer', pageCount };
  await pagePool(round.width, 2, pageCount, readPage);
  if (changed) return { kind: 'changed' };
  return { kind: 'read', tallies, total, counts, pages: Math.max(1, pageCount) };
}

function addTo(tally: Tally, instance: AnalysisSystemInstanceItem, round: Round, where: string): void {
  if (instance.scheduled_analyses_count === undefined) {
    throw new MassError('bad-shape', `${where}.scheduled_analyses_count is missing`);
  }
  addInstance(tally, isOnline(instance, round), instance.scheduled_analyses_count, {
    uuid: instanceId(instance),
    lastSeen: lastSeenOf(instance, round),
  });
}

/**
 * One system's instances, by its own listing. One that belongs to another system, or to one
 * analysis_system/ does not list, means the server ignored the filter or answered
 * inconsistently: no reading for this system, never someone else's work counted as its demand.
 */
async function systemInstances(round: Round, index: SystemIndex, name: string, id: string): Promise<Tally> {
  const tally = emptyTally();
  const pathFor = (page: number) =>
    `analysis_system_instance/?${query([
      ['analysis_system', id],
      ['page', page],
      ['per_page', round.perPage],
    ])}`;
  await pages02({
    fetch: round.fetch,
    width: round.width,
    pathFor,
    envelope: pages['0.2'].instances,
    onItems: (items, page) => {
      items.forEach((instance, i) => {
        const step = `GET ${pathFor(page)}`;
        const owner = index.nameOf(instance.analysis_system);
        if (owner !== name) {
          const whose =
            owner === undefined
              ? `a system analysis_system/ does not list (${JSON.stringify(instance.analysis_system.slice(0, 120))})`
              : owner;
          throw new MassError(
            'bad-shape',
            `${step}: results.${i} belongs to ${whose}, not ${name}; the server ignored the analysis_system filter or answered inconsistently`,
          );
        }
        addTo(tally, instance, round, `${step}: results.${i}`);
      });
    },
  });
  return tally;
}
