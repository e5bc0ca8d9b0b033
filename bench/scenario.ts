// The MASS data every round-cost case runs against: 10 analysis systems sharing a backlog of due
// requests, plus work that is not demand (not-yet-due requests, analyses stuck on offline
// instances) and scheduled analyses on online instances. Only the due backlog changes between
// cases, so any change in a round's cost comes from the backlog.
import type { FakeMass } from '../test/fakes/mass-server';

export const SYSTEMS = Array.from({ length: 10 }, (_, i) => `sys-${String(i).padStart(2, '0')}`);

/** Per system, the same in every case. */
export const PER_SYSTEM = {
  notDue: 100,
  onlineInstances: 3,
  scheduledOnline: 120,
  offlineInstances: 1,
  stuckOffline: 25,
} as const;

export interface ExpectedDemand {
  due: number;
  notDue: number;
  scheduledOnline: number;
  stuckOffline: number;
}

/** Spreads `backlog` due requests evenly over SYSTEMS; returns what each system should read. */
export function populate(mass: FakeMass, backlog: number): Map<string, ExpectedDemand> {
  const expected = new Map<string, ExpectedDemand>();
  SYSTEMS.forEach((system, i) => {
    const due = Math.floor(backlog / SYSTEMS.length) + (i < backlog % SYSTEMS.length ? 1 : 0);
    mass.setDemand(system, { due, ...PER_SYSTEM });
    expected.set(system, {
      due,
      notDue: PER_SYSTEM.notDue,
      scheduledOnline: PER_SYSTEM.scheduledOnline,
      stuckOffline: PER_SYSTEM.stuckOffline,
    });
  });
  return expected;
}

/** Items in each list of the fake, for page arithmetic. */
export function listSizes(mass: FakeMass): {
  systems: number;
  requests: number;
  instances: number;
  scheduled: number;
  instancesPerSystem: Map<string, number>;
} {
  const instancesPerSystem = new Map<string, number>();
  for (const i of mass.instances) instancesPerSystem.set(i.system, (instancesPerSystem.get(i.system) ?? 0) + 1);
  return {
    systems: mass.systems.length,
    requests: mass.requestGroups.reduce((n, g) => n + g.count, 0),
    instances: mass.instances.length,
    scheduled: mass.instances.reduce((n, i) => n + i.scheduled, 0),
    instancesPerSystem,
  };
}
