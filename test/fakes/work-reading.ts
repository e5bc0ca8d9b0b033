// Readings for the work policy's unit tests: instances by uuid → scheduled count, and the
// Reading the liveness rule would give for them (live = not dead; held = live ones with work).
import type { InstanceSeen, Reading } from '../../src/core/reading';

export function seen(counts: Record<string, number>, verdict: InstanceSeen['verdict'] = 'online'): InstanceSeen[] {
  return Object.entries(counts).map(([uuid, scheduled]) => ({ uuid, verdict, scheduled }));
}

/** `dueSoon` is set only when given, as a round that did not count it leaves it out. */
export function reading(due: number, instances: InstanceSeen[], dueSoon?: number): Reading {
  const live = instances.filter((i) => i.verdict !== 'dead');
  const held = live.filter((i) => i.scheduled > 0).map((i) => i.scheduled);
  return {
    due,
    demand: due + live.reduce((n, i) => n + i.scheduled, 0),
    floor: held.length,
    held,
    liveness: { instances },
    ...(dueSoon === undefined ? {} : { dueSoon }),
  };
}
