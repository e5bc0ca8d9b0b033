// The one evaluation step, "reading → decision → desired count", shared by the daemon's loop
// (src/loop/evaluation.ts) and the simulator (src/sim/model.ts). Pure: `now` is passed in.
import { decide, holdWithoutReading, initialState, type Decision, type ServiceState } from './decision';
import { floorDecision } from './liveness';
import type { Policy } from './policy';
import type { Reading } from './reading';
import { decideWork } from './work';

/** What one round learnt about a service's system: the reading, or why there is none. */
export type DemandInput =
  | { ok: true; reading: Reading }
  /** no reading: `why` names the failure, `retryAfterMs` is when to try again */
  | { ok: false; why: string; retryAfterMs: number };

export interface Evaluation {
  /** the decision state to keep for the next evaluation (still null when a first evaluation had no reading) */
  state: ServiceState | null;
  decision: Decision;
}

/**
 * Evaluates one service. `state` is null on the first evaluation (or after its system changed):
 * it then starts from the current replicas, so that a start or restart never shrinks a service.
 * Without a reading the state is left as it is (a first state is made only from a reading) and
 * the replicas are held. With one, the service's policy decides (`classic`: decide() in
 * decision.ts; `work`: decideWork() in work.ts), and no scale-down goes below the live instances
 * holding work (floorDecision in liveness.ts).
 */
export function evaluate(
  state: ServiceState | null,
  input: DemandInput,
  current: number,
  policy: Policy,
  now: number,
): Evaluation {
  const start = state ?? initialState(policy, current, now);
  if (!input.ok) {
    return { state, decision: holdWithoutReading(current, input.why, now, input.retryAfterMs, start, policy) };
  }
  const { reading } = input;
  const step =
    policy.policy === 'work'
      ? decideWork(start, reading, current, policy, now)
      : decide(start, reading.demand, current, policy, now);
  return { state: step.state, decision: floorDecision(step.decision, reading.floor) };
}
