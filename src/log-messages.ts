// The messages of the daemon's log lines: one fixed string per kind of line, so that an operator
// can filter on `msg`. The details are fields of the line; the sentence a person reads is the
// field `explanation`. Lines whose whole text never changes (`stopped`, ...) are their own message.
export const LOG = {
  // Decisions (src/loop/evaluation.ts, src/loop/updates.ts): one line per decision, with the
  // decision as data (action, reason, limitedBy, recommendation, bounded, current, desired, ...).
  /** a decision that changes nothing (steady, hold, no reading) */
  decision: 'decision',
  /** DRY_RUN: a change that would have been made (a replica count, or an instance deletion) */
  dryRun: 'dry run: not applied',
  /** Swarm accepted the new replica count */
  scaled: 'scaled',
  /** the service already had the desired count when it was updated */
  alreadyScaled: 'already at the desired count',
  /** the Engine refused or failed a service update (error when it starts, debug while it lasts) */
  scaleFailed: 'Docker: could not scale',
  /** the end of a run of failed updates of a service */
  scaleWorksAgain: 'Docker: scaling works again',

  // Services (src/loop/inventory.ts, src/loop/updates.ts)
  managed: 'service managed',
  managedAgain: 'service managed again',
  labelsChanged: 'labels changed',
  badLabels: 'bad labels: service left alone',
  paused: 'service paused',
  otherMode: 'not a replicated service: left alone',
  inOperation: 'update or rollback in progress: service held',
  operationOver: 'update or rollback over: scaling again',
  forgotten: 'service forgotten',
  removedWhileUpdating: 'service removed while being updated',

  // Failures (src/loop/failures.ts, src/loop/reconciler.ts)
  listFailed: 'Docker: cannot list services',
  listWorksAgain: 'Docker: reachable again',
  massFailing: 'MASS API: failing',
  massFailureOver: 'MASS API: failure over',
  massFailureForgotten: 'MASS API: failure no longer affects any service',
  massWarning: 'MASS API: warning',
  roundFailed: 'round failed unexpectedly',

  // The wake-up after a quiet period (src/loop/wakeup.ts, src/loop/reconciler.ts)
  wakeUp: 'wake-up: due requests rose',
  wakeUpFailing: 'wake-up: count failed',
  wakeUpWorksAgain: 'wake-up: count works again',
  wakeUpFailed: 'wake-up failed unexpectedly',

  // The work policy (src/loop/evaluation.ts)
  stopGraceShort: 'stop_grace_period shorter than the service time',

  // Liveness of MASS instances (src/loop/liveness.ts)
  workStuck: 'work stuck',
  workNoLongerStuck: 'no work stuck any more',
  analysesAborted: 'analyses aborted',
  instanceDeleted: 'instance deleted',
  instanceNotDeleted: 'instance not deleted',
  recoveryStopped: 'recovery stopped',

  // The lease (src/swarm/lease.ts)
  leaseAcquired: 'lease acquired',
  leaseStandingBy: 'lease held by another daemon: standing by',
  leaseTakenOver: 'lease taken over',
  leaseFailing: 'lease: cannot read or renew it',
  leaseWorksAgain: 'lease: the Engine answers again',
  leaseLost: 'lease lost',
  leaseReleased: 'lease released',
  leaseNotReleased: 'lease: could not release it',

  // The process (src/autoscaler.ts)
  starting: 'mass-autoscaler starting',
  plainHttp: 'MASS_SERVER_ADDRESS is plain http',
  listening: 'listening',
  cannotListen: 'cannot listen',
  signal: 'signal received: stopping',
  loopFailed: 'reconcile loop failed',
} as const;
