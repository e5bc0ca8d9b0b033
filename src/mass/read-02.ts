// Reader for the 0.2 / 0.3 server: filters and `?count`, so a round costs per system three
// requests (due count, total count, first instance page) whatever the backlog.
import type { SystemDemand, SystemReading } from '../types';
import { MassError, parseAnswer, unknownSystemFailure } from './errors';
import { addInstance, emptyTally, instanceId, isOnline, lastSeenOf, type Round, type Tally, toDemand } from './demand';
import { pages02 } from './paging';
import { countSchema, pages } from './schemas';
import type { SystemIndex } from './systems';
import { query } from './transport';

export async function read02(
  round: Round,
  index: SystemIndex,
  wanted: string[],
  failureOf: (err: unknown) => SystemReading & { ok: false },
): Promise<Map<string, SystemReading>> {
  const entries = await Promise.all(
    wanted.map(async (name): Promise<[string, SystemReading]> => {
      try {
        return [name, { ok: true, demand: await readSystem(round, index, name) }];
      } catch (err) {
        return [name, failureOf(err)];
      }
    }),
  );
  return new Map(entries);
}

/**
 * notDue is total − due, not a `schedule_after__gte` count: a build without schedule_after
 * ignores both filters, and then the difference is 0 where a `__gte` count would repeat the
 * whole backlog. The two counts are not atomic (the scheduler deletes due requests between
 * them), so the difference is clamped at 0; notDue is informational only.
 */
async function readSystem(round: Round, index: SystemIndex, name: string): Promise<SystemDemand> {
  const system = index.byName.get(name);
  if (!system) throw unknownSystemFailure(name);
  if (!system.id) {
    throw new MassError('bad-shape', `GET analysis_system/: system ${name} has no id, which the 0.2 filters need`);
  }
  const id = system.id;
  const nowIso = new Date(round.now).toISOString();
  const [due, total, tally] = await Promise.all([
    count(
      round,
      `analysis_request/?${query([
        ['analysis_system', id],
        ['schedule_after__lte', nowIso],
        ['count', null],
      ])}`,
    ),
    count(
      round,
      `analysis_request/?${query([
        ['analysis_system', id],
        ['count', null],
      ])}`,
    ),
    instances(round, index, name, id),
  ]);
  tally.due = due;
  tally.notDue = Math.max(0, total - due);
  return toDemand(name, tally);
}

async function count(round: Round, path: string): Promise<number> {
  const step = `GET ${path}`;
  const body = await round.fetch(path, false);
  if (typeof body === 'object' && body !== null && !('count' in body) && 'results' in body) {
    // Never read as 0: a server that ignores ?count answers its unfiltered first page.
    throw new MassError(
      'bad-shape',
      `${step}: answered a list instead of {"count": N}; the server ignores ?count (an older MASS server?)`,
    );
  }
  return parseAnswer(countSchema, body, step).count;
}

/**
 * The system's instances. One that belongs to another system, or to one analysis_system/ does
 * not list, means the server ignored the filter or answered inconsistently: no reading for this
 * system, never someone else's work counted as its demand.
 */
async function instances(round: Round, index: SystemIndex, name: string, id: string): Promise<Tally> {
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
        if (instance.scheduled_analyses_count === undefined) {
          throw new MassError('bad-shape', `${step}: results.${i}.scheduled_analyses_count is missing`);
        }
        addInstance(tally, isOnline(instance, round), instance.scheduled_analyses_count, {
          uuid: instanceId(instance),
          lastSeen: lastSeenOf(instance, round),
        });
      });
    },
  });
  return tally;
}
