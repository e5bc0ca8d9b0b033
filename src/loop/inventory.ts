// Inventory: brings the listed services into the table of records, parses their labels, and
// says once what changed (bad labels, another mode, paused, an operator's operation, managed).
import type { Logger } from 'pino';
import type { Policy } from '../core/policy';
import { describeProblem, parseLabels, type PolicyDefaults } from '../labels';
import { LOG } from '../log-messages';
import { DEFAULT_STOP_GRACE_MS, type ManagedService } from '../types';
import { isEvaluated, type Memory, type ServiceRecord } from './record';

export type ServiceTable = Map<string, ServiceRecord>;

/** Syncs the table with one listing; forgets services no longer listed. */
export function syncInventory(
  table: ServiceTable,
  listed: readonly ManagedService[],
  defaults: PolicyDefaults,
  now: number,
  log: Logger,
): void {
  const seen = new Set<string>();
  for (const service of listed) {
    seen.add(service.id);
    const previous = table.get(service.id);
    table.set(service.id, syncOne(previous, service, defaults, now, log.child({ service: service.name })));
  }
  for (const [id, r] of table) {
    if (!seen.has(id)) {
      table.delete(id);
      log.info(
        { service: r.name, explanation: `service ${r.name} is gone or no longer labelled; forgetting it` },
        LOG.forgotten,
      );
    }
  }
}

function labelsKeyOf(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k.startsWith('com.mass.'))
      .sort(),
  );
}

function policyOf(r: ServiceRecord | undefined): Policy | null {
  return r === undefined || r.status === 'invalid-labels' ? null : r.policy;
}

function memoryOf(r: ServiceRecord | undefined): Memory | null {
  return r === undefined || r.status === 'invalid-labels' || r.status === 'other-mode' ? null : r.memory;
}

function syncOne(
  previous: ServiceRecord | undefined,
  service: ManagedService,
  defaults: PolicyDefaults,
  now: number,
  log: Logger,
): ServiceRecord {
  const name = service.name;
  const labelsKey = labelsKeyOf(service.labels);
  const labelsChanged = previous === undefined || previous.labelsKey !== labelsKey;
  const base = { id: service.id, name, labelsKey, lastAction: previous?.lastAction ?? null };

  if (service.mode !== 'replicated' && (previous === undefined || previous.mode !== service.mode)) {
    log.warn(
      {
        mode: service.mode,
        explanation: `service ${name} runs in ${service.mode} mode; it is left alone (only replicated services are scaled)`,
      },
      LOG.otherMode,
    );
  }

  // Labels are parsed again only when they change, so that a problem is reported once per change.
  let policy: Policy;
  if (labelsChanged) {
    const parsed = parseLabels(service.labels, defaults);
    if (!parsed.ok) {
      const problems = parsed.problems.map(describeProblem);
      log.error(
        {
          problems,
          explanation: `service ${name} has bad labels and is left alone until they are fixed: ${problems.join('; ')}`,
        },
        LOG.badLabels,
      );
      return { ...base, mode: service.mode, status: 'invalid-labels', problems: parsed.problems };
    }
    policy = parsed.policy;
  } else if (previous.status === 'invalid-labels') {
    return { ...previous, ...base, mode: service.mode };
  } else {
    policy = previous.policy;
  }

  if (service.mode !== 'replicated' || service.replicas === null) {
    return { ...base, mode: service.mode === 'replicated' ? 'global' : service.mode, status: 'other-mode', policy };
  }

  const before = policyOf(previous);
  let memory = memoryOf(previous);
  if (memory === null) memory = { state: null, nextAt: now, reading: null, decision: null };
  if (before?.system !== policy.system) memory.state = null;
  if (labelsChanged) memory.nextAt = Math.min(memory.nextAt, now);
  const held = {
    ...base,
    mode: 'replicated' as const,
    policy,
    replicas: service.replicas,
    running: service.running ?? null,
    stopGraceMs: service.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
    memory,
  };

  if (!policy.autoscale) {
    if (labelsChanged)
      log.info(
        { explanation: `service ${name} is paused (com.mass.autoscale=false); it is left as it is` },
        LOG.paused,
      );
    return { ...held, status: 'paused' };
  }

  if (labelsChanged) {
    const fields = { system: policy.system, policy };
    if (previous === undefined)
      log.info(
        { ...fields, explanation: `managing service ${name} for analysis system ${policy.system}` },
        LOG.managed,
      );
    else if (before === null || !before.autoscale || previous.status === 'other-mode')
      log.info({ ...fields, explanation: `service ${name} is managed again` }, LOG.managedAgain);
    else
      log.info(
        { ...fields, explanation: `labels of service ${name} changed; they apply from this evaluation` },
        LOG.labelsChanged,
      );
  }

  if (service.operation !== null) {
    if (previous?.status !== 'in-operation' || previous.operation !== service.operation) {
      log.warn(
        { operation: service.operation, explanation: inOperationText(name, service.operation) },
        LOG.inOperation,
      );
    }
    return { ...held, status: 'in-operation', operation: service.operation };
  }
  if (previous?.status === 'in-operation') {
    log.info({ explanation: `the update or rollback of service ${name} is over; scaling it again` }, LOG.operationOver);
    memory.nextAt = Math.min(memory.nextAt, now);
  }
  if (previous !== undefined && isEvaluated(previous)) {
    // Keep what the evaluation knows (a reading or update failure in progress), with the fresh listing.
    return { ...previous, ...held, status: previous.status } as ServiceRecord;
  }
  return { ...held, status: 'managed' };
}

/** The sentence of a service held by an operator's update or rollback. */
export function inOperationText(name: string, state: string): string {
  return `service ${name} is in the middle of an update or rollback (UpdateStatus.State ${state}); not scaling it until that operation ends`;
}
