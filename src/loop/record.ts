// What the loop remembers of one labelled service: a record keyed by its status, so that each
// status carries exactly the facts that are valid in it.
//
// On every listing (inventory.ts), whatever the status was, the first rule that holds wins:
//
//   labels bad ─────────────────────────────────────────────▶ invalid-labels
//   mode global, replicated-job or global-job ──────────────▶ other-mode
//   com.mass.autoscale=false ───────────────────────────────▶ paused
//   UpdateStatus.State updating, paused, rollback_started,
//     rollback_paused (an operator's operation) ────────────▶ in-operation
//   otherwise ──────────────────────────────────────────────▶ managed (or stays no-reading /
//                                                               update-failing if it was)
//
// On each evaluation (evaluation.ts) and update (updates.ts) of an evaluated service:
//
//              reading failed                       update refused
//   managed ──────────────────▶ no-reading   managed ──────────────▶ update-failing
//      ▲                            │           ▲                       │    │
//      └──── good reading ──────────┘           └─ update applied, or ──┘    │ reading failed:
//            (back to update-failing if          no change needed            ▼ no-reading, the
//             an update failure was carried)                                   failure carried
//
//   an update finds an operation under way ───▶ in-operation;  finds another mode ───▶ other-mode
//   no longer listed, or an update finds it gone ───▶ forgotten
//
// Only managed, no-reading and update-failing services are evaluated. `Memory` (the decision
// state) lives on through them and through paused and in-operation; it is dropped with bad
// labels or another mode, and its decision state is reset when the analysis system changes.
import type { Decision, ServiceState } from '../core/decision';
import type { Policy } from '../core/policy';
import type { LabelProblem } from '../labels';
import type { MassErrorKind, ServiceMode, SystemDemand } from '../types';

/** The evaluation memory of a service. */
export interface Memory {
  /** decision state; null until the first evaluation with a reading */
  state: ServiceState | null;
  /** when the service is due for evaluation (ms) */
  nextAt: number;
  reading: SystemDemand | null;
  decision: Decision | null;
  /** the stop_grace_period warning last said (scale-in by window), or null */
  graceWarning?: string | null;
}

export interface LastAction {
  action: string;
  reason: string;
  at: number;
}

/** Updates of a service that the Engine refuses, since `since` (ms). */
export interface UpdateFailure {
  kind: string;
  message: string;
  failures: number;
  since: number;
}

interface Base {
  id: string;
  name: string;
  /** the com.mass.* labels as last seen, to notice a change */
  labelsKey: string;
  mode: ServiceMode;
  lastAction: LastAction | null;
}

interface Evaluated extends Base {
  policy: Policy;
  replicas: number;
  /** tasks running now over all nodes (replicas is what is wanted); null when unknown */
  running: number | null;
  /** stop_grace_period, ms (Docker's 10 s when the spec gives none) */
  stopGraceMs: number;
  memory: Memory;
}

export type ServiceRecord =
  | (Base & { status: 'invalid-labels'; problems: LabelProblem[] })
  | (Base & { status: 'other-mode'; mode: Exclude<ServiceMode, 'replicated'>; policy: Policy })
  | (Evaluated & { status: 'paused' })
  | (Evaluated & { status: 'in-operation'; operation: string })
  | (Evaluated & { status: 'managed' })
  | (Evaluated & {
      status: 'no-reading';
      readFailures: number;
      missing: MassErrorKind;
      /** an update failure in progress when the reading failed */
      update: UpdateFailure | null;
    })
  | (Evaluated & { status: 'update-failing'; update: UpdateFailure });

export type RecordStatus = ServiceRecord['status'];
export type EvaluatedRecord = Extract<ServiceRecord, { status: 'managed' | 'no-reading' | 'update-failing' }>;

export function isEvaluated(r: ServiceRecord): r is EvaluatedRecord {
  return r.status === 'managed' || r.status === 'no-reading' || r.status === 'update-failing';
}

/** The update failure a record carries, if any. */
export function updateFailureOf(r: ServiceRecord): UpdateFailure | null {
  if (r.status === 'update-failing') return r.update;
  if (r.status === 'no-reading') return r.update;
  return null;
}

/** The record with only the fields common to the evaluated statuses, to build the next status from. */
export function evaluatedBase(r: EvaluatedRecord | Extract<ServiceRecord, { status: 'paused' | 'in-operation' }>) {
  return {
    id: r.id,
    name: r.name,
    labelsKey: r.labelsKey,
    mode: r.mode,
    lastAction: r.lastAction,
    policy: r.policy,
    replicas: r.replicas,
    running: r.running,
    stopGraceMs: r.stopGraceMs,
    memory: r.memory,
  };
}
