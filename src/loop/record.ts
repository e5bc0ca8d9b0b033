// What the loop remembers of one labelled service: a record keyed by its status, so that each
// status carries exactly the facts that are valid in it.
//
//                    labels bad                        mode is not replicated
//    (any) ─────────────────────▶ invalid-labels      (any, labels good) ─────▶ other-mode
//    (any, labels good, replicated):
//        com.mass.autoscale=false ───────────────────▶ paused
//        UpdateStatus.State updating | paused |
//          rollback_started | rollback_paused ───────▶ in-operation ──operation over──▶ managed
//        otherwise, first seen or back from above ───▶ managed
//
//    managed ────reading failed────▶ no-reading ────good reading────▶ managed
//       ▲  │                            ▲   │ (an update failure in progress is carried along
//       │  └──update refused──▶ update-failing   and comes back with the next good reading)
//       │                            │   │
//       └──update applied, or no change needed──┘   └──reading failed──▶ no-reading
//
//    Listing no longer shows it (removed or unlabelled), or an update finds it gone: forgotten.
//
// Only managed, no-reading and update-failing services are evaluated; `Memory` (the decision
// state) lives on through them and through paused and in-operation, and is dropped with bad
// labels, another mode, or a new analysis system.
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
    memory: r.memory,
  };
}
