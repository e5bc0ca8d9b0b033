// What one evaluation reads of a service's analysis system, after the liveness rule
// (src/core/liveness.ts) has judged its instances. The daemon's loop and the simulator both hand
// the evaluation step (src/core/evaluation.ts) one value of this shape.

/** One instance as judged at this reading. */
export interface InstanceSeen {
  uuid: string;
  verdict: 'online' | 'working' | 'dead';
  /** scheduled_analyses_count */
  scheduled: number;
}

export interface Reading {
  /** due analysis requests (not yet scheduled on any instance) */
  due: number;
  /**
   * requests that become due within the horizon the reading was asked for (now < schedule_after
   * ≤ now + horizon: a sample's time_schedule offset, a retry); absent when not counted
   */
  dueSoon?: number;
  /** due + scheduled analyses on live (online or working) instances */
  demand: number;
  /** live instances holding work: no scale-down goes below this */
  floor: number;
  /** the scheduled analyses of each live instance that holds work */
  held: readonly number[];
  /** every instance with its verdict: the work policy learns the service time from their counts */
  liveness: { instances: readonly InstanceSeen[] };
}

/** A reading that only knows the demand (no instance detail): what tests and older callers give. */
export function demandOnly(demand: number, floor = 0): Reading {
  return { due: demand, demand, floor, held: [], liveness: { instances: [] } };
}
