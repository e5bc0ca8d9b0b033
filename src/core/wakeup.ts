// The wake-up after a quiet period: between evaluations, one request counts every due request
// of every system (`analysis_request/?schedule_after__lte=<now>&count` on MASS 0.2/0.3), once per
// interval; when that count jumps, the services whose next evaluation is later are evaluated now.
// Without it, a burst after a quiet spell waits up to max_schedule_interval. Pure arithmetic;
// `now` is passed in (ms).
//
// "Jumps", precisely: the count rose above the lowest count read since the last jump (or since
// the wake-up started) by more than `threshold` × that lowest count, and by at least one request
// when the lowest count was 0 or 1 — the relative rule com.mass.demand_delta_threshold applies to
// smoothed demand (src/core/decision.ts, demandMoved), with the smallest threshold among the
// managed services. Measuring from the lowest count, not the previous one, catches a backlog that
// builds up slowly over several wake-ups; the scheduler emptying the queue between readings only
// lowers that floor. After a jump the floor starts again from the count that jumped.
//
// When: one reading per `intervalMs` (the smallest min_schedule_interval among the managed
// services, or WAKE_UP_INTERVAL), counted from the later of the last reading and the moment the
// last round that evaluated every managed service decided (their next evaluations count from it,
// so no count comes just before them; while every service is evaluated each
// min_schedule_interval anyway, the wake-up costs nothing). With steady services that is
// ceil(max_schedule_interval / interval) − 1 requests per max_schedule_interval.

export interface WakeUpState {
  /** the lowest count read since the last jump; null before the first reading */
  floor: number | null;
  /** the last reading, or the last round that evaluated every service (ms); null = never */
  lastAt: number | null;
}

export const WAKE_UP_START: WakeUpState = { floor: null, lastAt: null };

/** When the next reading is due (ms); at once when nothing was read yet. */
export function wakeUpDueAt(state: WakeUpState, intervalMs: number): number {
  return state.lastAt === null ? -Infinity : state.lastAt + intervalMs;
}

/** A round evaluated every managed service at `now`: the next reading is an interval away. */
export function afterSweep(state: WakeUpState, now: number): WakeUpState {
  return { ...state, lastAt: Math.max(state.lastAt ?? -Infinity, now) };
}

/** Whether `count` is a jump from `floor` (see above). */
export function isJump(floor: number, count: number, threshold: number): boolean {
  return count - floor > threshold * Math.max(floor, 1);
}

export interface WakeUpReading {
  state: WakeUpState;
  jump: boolean;
  /** the floor the count was compared with (null on the first reading) */
  from: number | null;
}

/** One reading of the count of every due request, at `now`. */
export function observeDueCount(state: WakeUpState, count: number, threshold: number, now: number): WakeUpReading {
  const from = state.floor;
  const jump = from !== null && isJump(from, count, threshold);
  const floor = from === null || jump ? count : Math.min(from, count);
  return { state: { floor, lastAt: now }, jump, from };
}

/** A reading that failed at `now`: the next attempt is an interval away; the floor is kept. */
export function afterFailedReading(state: WakeUpState, now: number): WakeUpState {
  return { ...state, lastAt: now };
}

/** The services to evaluate now after a jump: those whose next evaluation is later than `now`. */
export function toBringForward<T>(services: readonly T[], nextAtOf: (s: T) => number, now: number): T[] {
  return services.filter((s) => nextAtOf(s) > now);
}
