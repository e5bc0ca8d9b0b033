// Which way a 0.2 round reads the instances of the systems it wants: one listing per system
// (`analysis_system_instance/?analysis_system=<id>`), or one listing of every instance of every
// system, split per system here. Pure: it only weighs page counts from what earlier rounds saw.
//
// The rule. Let `pages(n)` = max(1, ceil(n / per_page)) (an empty list is still one page).
// - per system: Σ over the wanted systems of pages(instances of that system at its last reading;
//   0 when never read).
// - all at once: pages(every instance in MASS), estimated as the total of the last listing of
//   all, with the wanted systems' counts replaced by their latest ones.
// The listing of all is used when it is estimated to cost fewer requests than the listings per
// system, never on a tie (a one-page listing per system is one answer; several pages are not):
// - one wanted system: always per system (a listing of all holds its instances and more);
// - the total never seen (first round), or last seen more than REPROBE_ROUNDS rounds ago while
//   it alone decided for per system: the listing of all is tried, and its first page decides;
// - after the first page of the listing of all (which says page_count P), the rest is read only
//   while P − 1 < the per-system cost; otherwise the round reads per system (one request spent,
//   and the total is remembered, so the next rounds go per system at once).
// So a round on 0.2 costs 1 + 2 × systems + pages(instances) when the listing of all is cheaper,
// and 1 + 2 × systems + Σ pages(instances of each) otherwise (plus the systems pages past 100).

/** Rounds after which a total that alone argued for per-system listings is looked at again. */
export const REPROBE_ROUNDS = 20;

export type InstanceListing = 'all' | 'per-system';

/** What earlier rounds saw of the instance list, kept by the client between rounds. */
export interface ListingMemory {
  /** instances per system name at each system's latest reading */
  latest: Map<string, number>;
  /** the last listing of all: its total and its count per system name; null = never listed */
  full: { total: number; counts: Map<string, number> } | null;
  /** rounds on 0.2 since the listing of all was last looked at */
  roundsSinceFull: number;
  /** the instance uuids of each system at its latest reading (to notice one missing) */
  uuids: Map<string, Set<string>>;
}

export function emptyListingMemory(): ListingMemory {
  return { latest: new Map(), full: null, roundsSinceFull: 0, uuids: new Map() };
}

export function pagesFor(items: number, perPage: number): number {
  return Math.max(1, Math.ceil(items / perPage));
}

export interface ListingChoice {
  listing: InstanceListing;
  /** estimated requests of the listings per system */
  perSystemPages: number;
  /** estimated requests of the listing of all; null when its total is not known */
  allPages: number | null;
  /** the listing of all is tried on an unknown or old total: its first page decides */
  probe: boolean;
}

export function chooseListing(wanted: readonly string[], memory: ListingMemory, perPage: number): ListingChoice {
  const latestOf = (name: string) => memory.latest.get(name) ?? memory.full?.counts.get(name) ?? 0;
  const perSystemPages = wanted.reduce((n, name) => n + pagesFor(latestOf(name), perPage), 0);
  if (wanted.length <= 1) return { listing: 'per-system', perSystemPages, allPages: null, probe: false };
  if (memory.full === null) return { listing: 'all', perSystemPages, allPages: null, probe: true };
  const full = memory.full;
  const others = wanted.reduce((n, name) => n - (full.counts.get(name) ?? 0), full.total);
  const wantedNow = wanted.reduce((n, name) => n + latestOf(name), 0);
  const allPages = pagesFor(Math.max(0, others) + wantedNow, perPage);
  if (allPages < perSystemPages) return { listing: 'all', perSystemPages, allPages, probe: false };
  // Only the other systems' instances argue for per system: look at them again now and then.
  const couldWin = pagesFor(wantedNow, perPage) < perSystemPages;
  if (couldWin && memory.roundsSinceFull >= REPROBE_ROUNDS)
    return { listing: 'all', perSystemPages, allPages, probe: true };
  return { listing: 'per-system', perSystemPages, allPages, probe: false };
}

/** After page 1 of the listing of all: whether reading its other pages is cheaper than per system. */
export function keepListingAll(pageCount: number, perSystemPages: number): boolean {
  return Math.max(1, pageCount) - 1 < perSystemPages;
}

/** A listing of all was read to its end: its total and its count per system. */
export function rememberFull(memory: ListingMemory, total: number, counts: Map<string, number>): void {
  memory.full = { total, counts };
  memory.roundsSinceFull = 0;
  for (const [name, n] of counts) memory.latest.set(name, n);
}

/**
 * A listing of all was given up after page 1 (page_count P) and the wanted systems were read on
 * their own (`wanted`: their instance counts): the list holds more than (P − 1) × per_page
 * instances, at least those of the wanted systems.
 */
export function rememberAbandoned(
  memory: ListingMemory,
  pageCount: number,
  perPage: number,
  wanted: Map<string, number>,
): void {
  const atLeast = (Math.max(1, pageCount) - 1) * perPage + 1;
  const ofWanted = [...wanted.values()].reduce((a, b) => a + b, 0);
  memory.full = { total: Math.max(atLeast, ofWanted), counts: wanted };
  memory.roundsSinceFull = 0;
}
