// What the dialect readers share: the round they read in, and the tally they count a system into.
import type { MassInstance, SystemDemand } from '../types';
import type { FetchJson } from './paging';
import type { AnalysisSystemInstanceItem, MassTime } from './schemas';

/** MASS counts an instance as online while its last poll is under 10 minutes old. */
export const ONLINE_WINDOW_MS = 10 * 60_000;

/** One readDemand call. */
export interface Round {
  /** ms since the epoch: what is due, who is online */
  now: number;
  /** GET through the round's Limiter */
  fetch: FetchJson;
  /** pages of one list in flight at once */
  width: number;
  /** items per page asked from a 0.2 server */
  perPage: number;
  /** a MASS time in ms since the epoch (one without a zone is in the server's zone) */
  timeOf: (time: MassTime) => number;
  /** system name → ms: count the requests that become due within that long after `now` (dueSoon) */
  horizons: ReadonlyMap<string, number>;
}

export function isOnline(instance: AnalysisSystemInstanceItem, round: Round): boolean {
  if (instance.is_online !== undefined) return instance.is_online;
  if (instance.last_seen == null) return false; // registered, never polled yet
  return round.now - round.timeOf(instance.last_seen) < ONLINE_WINDOW_MS;
}

/** Counts for one system while a round is in progress. */
export interface Tally {
  due: number;
  notDue: number;
  /** requests due within the system's horizon; only for a system with one */
  dueSoon?: number;
  scheduledOnline: number;
  stuckOffline: number;
  onlineInstances: number;
  offlineInstances: number;
  instances: MassInstance[];
}

export function emptyTally(): Tally {
  return {
    due: 0,
    notDue: 0,
    scheduledOnline: 0,
    stuckOffline: 0,
    onlineInstances: 0,
    offlineInstances: 0,
    instances: [],
  };
}

/** The instance's key for the liveness memory: its uuid, else the uuid in its URL, else the URL. */
export function instanceId(instance: AnalysisSystemInstanceItem): string | undefined {
  if (instance.uuid !== undefined && instance.uuid !== '') return instance.uuid;
  // Stryker disable next-line ConditionalExpression: without a URL the lookup below gives undefined too
  if (instance.url === undefined) return undefined;
  const match = /analysis_system_instance\/([^/?#]+)/.exec(instance.url);
  return match?.[1] ?? instance.url;
}

/** last_seen in ms since the epoch, or null when the instance never polled. */
export function lastSeenOf(instance: AnalysisSystemInstanceItem, round: Round): number | null {
  return instance.last_seen == null ? null : round.timeOf(instance.last_seen);
}

export function addInstance(
  tally: Tally,
  online: boolean,
  scheduled: number,
  record?: { uuid: string | undefined; lastSeen: number | null },
): void {
  if (record !== undefined) {
    tally.instances.push({
      uuid: record.uuid ?? `#${tally.instances.length}`,
      lastSeen: record.lastSeen,
      scheduled,
    });
  }
  if (online) {
    tally.onlineInstances += 1;
    tally.scheduledOnline += scheduled;
  } else {
    tally.offlineInstances += 1;
    tally.stuckOffline += scheduled;
  }
}

export function toDemand(system: string, tally: Tally): SystemDemand {
  return { system, ...tally, demand: tally.due + tally.scheduledOnline };
}
