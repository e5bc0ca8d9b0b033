// Reader for the older Flask server: no filters and no `?count`, so the whole request and
// instance lists are paged through and counted per system here, without keeping the items.
import type { SystemReading } from '../types';
import { MassError, unknownSystemFailure } from './errors';
import { addInstance, emptyTally, isOnline, lastSeenOf, type Round, type Tally, toDemand } from './demand';
import { pagesLegacy } from './paging';
import { pages } from './schemas';
import { safeDecode, type SystemIndex } from './systems';
import { query } from './transport';

/** Scheduled analyses name their instance by URL; instances may carry url and/or uuid. */
function instanceKey(ref: string): string {
  const match = /analysis_system_instance\/([^/?#]+)/.exec(ref);
  return match?.[1] !== undefined ? safeDecode(match[1]) : ref;
}

function listPath(list: string, perPage: number): (page: number) => string {
  return (page) =>
    `${list}/?${query([
      ['page', page],
      ['per_page', perPage],
    ])}`;
}

export async function readLegacy(
  round: Round,
  index: SystemIndex,
  wanted: string[],
  failureOf: (err: unknown) => SystemReading & { ok: false },
): Promise<Map<string, SystemReading>> {
  const readings = new Map<string, SystemReading>();
  const tallies = new Map<string, Tally>();
  for (const name of wanted) {
    if (!index.byName.has(name)) readings.set(name, failureOf(unknownSystemFailure(name)));
    else tallies.set(name, round.horizons.has(name) ? { ...emptyTally(), dueSoon: 0 } : emptyTally());
  }
  if (tallies.size === 0) return readings;
  try {
    await Promise.all([requests(round, index, tallies), instances(round, index, tallies)]);
    for (const [name, tally] of tallies) readings.set(name, { ok: true, demand: toDemand(name, tally) });
  } catch (err) {
    // Every system is counted from the same lists, so a failed list fails them all.
    const failure = failureOf(err);
    for (const name of tallies.keys()) readings.set(name, failure);
  }
  return readings;
}

async function requests(round: Round, index: SystemIndex, tallies: Map<string, Tally>): Promise<void> {
  await pagesLegacy({
    fetch: round.fetch,
    width: round.width,
    pathFor: listPath('analysis_request', round.perPage),
    page: pages.legacy.requests,
    count: (items) => {
      const counts = new Map<string, { due: number; notDue: number; dueSoon: number }>();
      for (const request of items) {
        const name = index.nameOf(request.analysis_system);
        if (name === undefined || !tallies.has(name)) continue;
        let entry = counts.get(name);
        if (!entry) counts.set(name, (entry = { due: 0, notDue: 0, dueSoon: 0 }));
        // A build without schedule_after makes every request due at once.
        const at = request.schedule_after == null ? null : round.timeOf(request.schedule_after);
        if (at === null || at <= round.now) entry.due += 1;
        else {
          entry.notDue += 1;
          // Due within the system's horizon (when it has one): counted in the same pass.
          const horizon = round.horizons.get(name);
          // Stryker disable next-line ConditionalExpression: without a horizon, at <= now + undefined (NaN) is false anyway
          if (horizon !== undefined && at <= round.now + horizon) entry.dueSoon += 1;
        }
      }
      return () => {
        for (const [name, { due, notDue, dueSoon }] of counts) {
          const tally = tallies.get(name)!;
          tally.due += due;
          tally.notDue += notDue;
          if (tally.dueSoon !== undefined) tally.dueSoon += dueSoon;
        }
      };
    },
  });
}

async function instances(round: Round, index: SystemIndex, tallies: Map<string, Tally>): Promise<void> {
  // Instances without scheduled_analyses_count: counted from scheduled_analysis/ afterwards.
  const uncounted = new Map<string, { name: string; online: boolean; lastSeen: number | null; scheduled: number }>();
  const pathFor = listPath('analysis_system_instance', round.perPage);
  await pagesLegacy({
    fetch: round.fetch,
    width: round.width,
    pathFor,
    page: pages.legacy.instances,
    count: (items, page) => {
      // Stryker disable ArrayDeclaration: an extra entry without count or key is skipped when applied
      const seen: {
        name: string;
        online: boolean;
        lastSeen: number | null;
        uuid: string | undefined;
        count?: number;
        key?: string;
      }[] = [];
      // Stryker restore ArrayDeclaration
      items.forEach((instance, i) => {
        const name = index.nameOf(instance.analysis_system);
        if (name === undefined || !tallies.has(name)) return;
        const online = isOnline(instance, round);
        const lastSeen = lastSeenOf(instance, round);
        const ref = instance.url ?? instance.uuid;
        const uuid = ref === undefined ? undefined : instanceKey(ref);
        if (instance.scheduled_analyses_count !== undefined) {
          seen.push({ name, online, lastSeen, uuid, count: instance.scheduled_analyses_count });
          return;
        }
        if (ref === undefined || uuid === undefined) {
          throw new MassError(
            'bad-shape',
            `GET ${pathFor(page)}: results.${i} has neither scheduled_analyses_count nor url/uuid to count its scheduled analyses by`,
          );
        }
        seen.push({ name, online, lastSeen, uuid, key: uuid });
      });
      return () => {
        for (const entry of seen) {
          if (entry.count !== undefined) addInstance(tallies.get(entry.name)!, entry.online, entry.count, entry);
          else if (entry.key !== undefined)
            uncounted.set(entry.key, {
              name: entry.name,
              online: entry.online,
              lastSeen: entry.lastSeen,
              scheduled: 0,
            });
        }
      };
    },
  });
  if (uncounted.size === 0) return;

  await pagesLegacy({
    fetch: round.fetch,
    width: round.width,
    pathFor: listPath('scheduled_analysis', round.perPage),
    page: pages.legacy.scheduled,
    count: (items) => {
      const perInstance = new Map<string, number>();
      for (const analysis of items) {
        const key = instanceKey(analysis.analysis_system_instance);
        if (uncounted.has(key)) perInstance.set(key, (perInstance.get(key) ?? 0) + 1);
      }
      return () => {
        for (const [key, n] of perInstance) uncounted.get(key)!.scheduled += n;
      };
    },
  });
  for (const [uuid, { name, online, lastSeen, scheduled }] of uncounted)
    addInstance(tallies.get(name)!, online, scheduled, { uuid, lastSeen });
}
