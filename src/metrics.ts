// Prometheus metrics. Per-service gauges are read from the reconciler at scrape time, so a
// removed service disappears from /metrics with it; counters are fed by reconciler events.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReconcileEvents, Reconciler } from './loop/reconciler';
import type { ServiceSnapshot } from './loop/status-view';
import type { SystemLiveness } from './loop/liveness';
import type { SwarmErrorKind } from './swarm/docker-swarm';
import type { MassErrorKind } from './types';

const PREFIX = 'mass_autoscaler_';

// Every kind of failure starts at 0, so a healthy daemon already has the error series (a
// dashboard shows 0, not "No data"). The type checks below fail the build when a kind is added
// to MassErrorKind or SwarmErrorKind but not here.
const MASS_ERROR_KINDS = [
  'unreachable',
  'timeout',
  'forbidden',
  'server-error',
  'not-json',
  'bad-shape',
  'paging',
  'unknown-system',
  'http-error',
] as const satisfies readonly MassErrorKind[];
const DOCKER_ERROR_KINDS = ['unreachable', 'api-error', 'conflict'] as const satisfies readonly SwarmErrorKind[];
const everyMassKind: [Exclude<MassErrorKind, (typeof MASS_ERROR_KINDS)[number]>] extends [never] ? true : never = true;
const everyDockerKind: [Exclude<SwarmErrorKind, (typeof DOCKER_ERROR_KINDS)[number]>] extends [never] ? true : never =
  true;
void everyMassKind;
void everyDockerKind;

// prom-client's default metrics include three gauges named like counters
// (nodejs_active_handles_total, _requests_total, _resources_total), which `promtool check
// metrics` rejects. Their per-type gauges (nodejs_active_handles{type} ...) stay: a sum over
// them is the same number.
const GAUGES_NAMED_LIKE_COUNTERS = ['active_handles_total', 'active_requests_total', 'active_resources_total'].map(
  (name) => `${PREFIX}nodejs_${name}`,
);

export class Metrics implements ReconcileEvents {
  readonly registry = new Registry();
  private readonly scaleActions: Counter<'service' | 'direction'>;
  private readonly massErrors: Counter<'kind'>;
  private readonly dockerErrors: Counter<'kind'>;
  private readonly roundDuration: Histogram;
  private readonly abortedAnalyses: Counter<'system'>;
  private readonly recoveredInstances: Counter<'system'>;

  constructor(source: () => { reconciler: Reconciler | null; dryRun: boolean }) {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
    const perService = (name: string, help: string, value: (s: ServiceSnapshot) => number | null) =>
      new Gauge({
        name: PREFIX + name,
        help,
        labelNames: ['service', 'system'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const s of source().reconciler?.snapshot() ?? []) {
            const v = value(s);
            if (v !== null) this.set({ service: s.name, system: s.system ?? '' }, v);
          }
        },
      });
    perService(
      'demand_raw',
      'Demand read from MASS in the last round: due requests + analyses scheduled on online instances',
      (s) => s.rawDemand,
    );
    perService('demand_smoothed', 'Smoothed demand the last decision used', (s) => s.smoothedDemand);
    perService('requests_due', 'Analysis requests due now (schedule_after <= now)', (s) => s.due);
    perService('requests_not_due', 'Analysis requests that become due later', (s) => s.notDue);
    perService(
      'analyses_stuck_offline',
      'Analyses scheduled on offline instances (fixed by deleting them, not by replicas)',
      (s) => s.stuckOffline,
    );
    perService(
      'replicas_desired',
      'Replica count the last decision set or holds (after min_inst/max_inst and stabilization)',
      (s) => s.desired,
    );
    perService(
      'replicas_recommended',
      'Replica count the last demand reading alone asked for (before bounds and stabilization)',
      (s) => s.recommendation,
    );
    perService('replicas_current', 'Desired replica count of the Swarm service as last seen', (s) => s.replicas);
    perService('replicas_running', 'Tasks of the service running now, over all nodes', (s) => s.running);
    const perSystem = (name: string, help: string, value: (s: SystemLiveness) => number) =>
      new Gauge({
        name: PREFIX + name,
        help,
        labelNames: ['system'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const s of source().reconciler?.systemsSnapshot() ?? []) this.set({ system: s.system }, value(s));
        },
      });
    perSystem(
      'stuck_analyses',
      'Analyses scheduled on instances judged dead (not demand; MASS 0.2/0.3 requeues them when the instance is deleted)',
      (s) => s.stuck,
    );
    perSystem('stuck_instances', 'Instances judged dead that hold scheduled analyses', (s) => s.stuckInstances.length);
    perSystem(
      'working_instances',
      'Instances offline for MASS but judged working (busy with a long batch); counted as live',
      (s) => s.workingInstances,
    );
    perSystem(
      'online_instances',
      'Instances MASS counts as online (polled within the online window)',
      (s) => s.onlineInstances,
    );
    perSystem(
      'working_floor',
      'Live instances holding work: no scale-down of the system goes below this',
      (s) => s.floor,
    );
    this.abortedAnalyses = new Counter({
      name: `${PREFIX}analyses_aborted_total`,
      help: 'Analyses estimated lost: one per live instance with work that died or vanished (e.g. killed by a scale-in)',
      labelNames: ['system'],
      registers: [this.registry],
    });
    this.recoveredInstances = new Counter({
      name: `${PREFIX}instances_recovered_total`,
      help: 'Instances judged dead deleted (RECOVER_STUCK_AFTER) so that MASS requeues their work',
      labelNames: ['system'],
      registers: [this.registry],
    });
    new Gauge({
      name: `${PREFIX}service_info`,
      help: 'One series per labelled service; status is managed, paused, invalid-labels, global-mode, replicated-job-mode, global-job-mode, in-operation, no-reading or update-failing',
      labelNames: ['service', 'system', 'status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of source().reconciler?.snapshot() ?? [])
          this.set({ service: s.name, system: s.system ?? '', status: s.status }, 1);
      },
    });
    new Gauge({
      name: `${PREFIX}dry_run`,
      help: '1 when DRY_RUN is on: decisions are logged, never applied',
      registers: [this.registry],
      collect() {
        this.set(source().dryRun ? 1 : 0);
      },
    });
    this.scaleActions = new Counter({
      name: `${PREFIX}scale_actions_total`,
      help: 'Replica changes applied to Swarm services',
      labelNames: ['service', 'direction'],
      registers: [this.registry],
    });
    this.massErrors = new Counter({
      name: `${PREFIX}mass_errors_total`,
      help: 'System readings that failed, by kind of failure',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    for (const kind of MASS_ERROR_KINDS) this.massErrors.inc({ kind }, 0);
    this.dockerErrors = new Counter({
      name: `${PREFIX}docker_errors_total`,
      help: 'Docker Engine calls that failed, by kind of failure',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    for (const kind of DOCKER_ERROR_KINDS) this.dockerErrors.inc({ kind }, 0);
    this.roundDuration = new Histogram({
      name: `${PREFIX}round_duration_seconds`,
      help: 'Duration of one round: discovery, MASS reading and updates',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  aborted(system: string, analyses: number): void {
    this.abortedAnalyses.inc({ system }, analyses);
  }

  recovered(system: string): void {
    this.recoveredInstances.inc({ system });
  }

  scaled(service: string, direction: 'up' | 'down'): void {
    this.scaleActions.inc({ service, direction });
  }
  massError(kind: MassErrorKind): void {
    this.massErrors.inc({ kind });
  }
  dockerError(kind: string): void {
    this.dockerErrors.inc({ kind });
  }
  round(durationMs: number): void {
    this.roundDuration.observe(durationMs / 1000);
  }
}
