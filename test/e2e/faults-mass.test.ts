// Fail safe while the MASS API fails (SPEC "When things go wrong"): the whole daemon
// (`node dist/autoscaler.js`) against the fake MASS server with injected faults and the real swarm.
//
// One daemon goes through every fault in turn. Before each fault, service A has the replicas
// its high demand needs; in the same tick as the fault starts, A's demand on the fake drops.
// A is labelled min_inst 0 and scale_down_delay 0, so a failure misread as zero (or any) demand
// would remove replicas at the very next evaluation. During the fault A must keep its replicas
// over several evaluations, the daemon must log one line for the failure kind (not one per
// round), /metrics must count it, and once the fault is cleared A must follow the lower demand
// without any help. Service B shows that a fault limited to A's system leaves B managed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import type { MassErrorKind } from '../../src/types';
import { startFakeMass, type FakeFault, type FakeMass } from '../fakes/mass-server';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { allOutput, fastLabels, startDaemon, type Daemon, type LogLine } from './harness';

const API_KEY = 'faults-mass-key-5d09a7c4e1b3';
const HIGH = 3;
const LOW = 1;
const B_STEADY = 2;
/** The client asks for per_page=100, so 150 instances make A's instance list two pages long. */
const A_INSTANCES = 150;
/** Evaluations a service must hold through before a fault is cleared. */
const HOLDS = 3;

function labels(system: string): Record<string, string> {
  return fastLabels(system, { 'com.mass.min_inst': '0', 'com.mass.scale_down_delay': '0' });
}

/** `mass_autoscaler_mass_errors_total{kind="..."}`, 0 when the series is not there yet. */
async function massErrorsTotal(port: number, kind: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = new RegExp(`^mass_autoscaler_mass_errors_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

async function healthz(port: number): Promise<{ code: number; reasons: string[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  const body = (await res.json()) as { reasons: string[] };
  return { code: res.status, reasons: body.reasons };
}

const isMassErrorLine = (l: LogLine) => l.level === 50 && l.msg === 'MASS API: failing';

describe('MASS failing in every way: no managed service loses a replica, the daemon recovers by itself', () => {
  let docker: Docker;
  let mass: FakeMass;
  let daemon: Daemon;
  let port: number;
  const prefix = uniquePrefix('faults-mass');
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  const sysA = `${prefix}-sys-a`;
  const sysB = `${prefix}-sys-b`;
  const demandA = (due: number) => mass.setDemand(sysA, { due, onlineInstances: A_INSTANCES });

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    demandA(HIGH);
    mass.setDemand(sysB, { due: B_STEADY });
    await createTestService(docker, { name: a, replicas: HIGH, labels: labels(sysA) });
    await createTestService(docker, { name: b, replicas: B_STEADY, labels: labels(sysB) });
    daemon = startDaemon({
      API_KEY,
      MASS_SERVER_ADDRESS: mass.baseUrl,
      MASS_REQUEST_TIMEOUT: '1',
      RETRY_MAX_DELAY: '2',
      HEALTH_MAX_AGE: '3',
    });
    port = await daemon.httpPort();
    await daemon.waitForLog(
      `a steady reading of ${a}`,
      (l) =>
        l.service === a &&
        l.msg === 'decision' &&
        l.explanation === `steady: demand ${HIGH}.0 matches ${HIGH} replicas`,
    );
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  interface Case {
    fault: FakeFault;
    kind: MassErrorKind;
    /** the one error line for this failure */
    line: RegExp;
    /** whether B's system fails as well (every request fails) or B keeps being read */
    hitsB: boolean;
    /** extra checks while the fault lasts */
    during?: (mark: number) => Promise<void>;
    /** B's demand while the fault lasts (default: unchanged) */
    bDemand?: number;
  }

  /**
   * Sets A's demand high and waits for A to have those replicas; then, in one tick, starts the
   * fault and drops A's demand. Checks A holds over HOLDS evaluations, one error line, the
   * metric, then clears the fault and waits for A to follow the lower demand.
   */
  async function throughFault(c: Case): Promise<void> {
    demandA(HIGH);
    mass.setDemand(sysB, { due: B_STEADY });
    await waitFor(`${a} at ${HIGH} replicas before the fault`, async () => (await desiredReplicas(docker, a)) === HIGH);
    await waitFor(
      `${b} at ${B_STEADY} replicas before the fault`,
      async () => (await desiredReplicas(docker, b)) === B_STEADY,
    );
    const countedBefore = await massErrorsTotal(port, c.kind);
    const mark = daemon.lines.length;

    // From the next round's first request: a round in flight finishes, so the first failure (the
    // line each case checks) is that of the round's first request, analysis_system/.
    await mass.setFault(c.fault.kind === 'refuse' ? c.fault : { ...c.fault, from: 'analysis_system/' });
    demandA(LOW);
    if (c.bDemand !== undefined) mass.setDemand(sysB, { due: c.bDemand });
    try {
      await duringFault(c, mark, countedBefore);
    } finally {
      await mass.setFault(null); // also when a check failed: the next case starts without this fault
    }
    await waitFor(
      `${a} follows the lower demand after the fault (${LOW})`,
      async () => (await desiredReplicas(docker, a)) === LOW,
      60_000,
    );
    await daemon.waitForLog(
      `${c.kind} is over`,
      (l) =>
        daemon.lines.indexOf(l) >= mark &&
        l.msg === 'MASS API: failure over' &&
        l.explanation === `MASS API: ${c.kind} is over; readings are back`,
    );
    const later = daemon.lines
      .slice(mark)
      .filter((l) => isMassErrorLine(l) && (l.kind === c.kind || l.system === sysA || l.system === sysB));
    assert.equal(
      later.length,
      1,
      `no further error line once the fault cleared, got:\n${later.map((l) => l.explanation).join('\n')}`,
    );
    assert.equal(daemon.child.exitCode, null, 'the daemon keeps running');
  }

  /** What must hold while the fault lasts. */
  async function duringFault(c: Case, mark: number, countedBefore: number): Promise<void> {
    const hold = (service: string, replicas: number) => (l: LogLine) =>
      l.service === service &&
      l.msg === 'decision' &&
      l.explanation === `hold: no demand reading (${c.kind}); keeping ${replicas} replicas`;
    // Stops early when A's replicas change: that is the failure this suite is about.
    const outcome = await waitFor(
      `${HOLDS} evaluations of ${a} without a reading (${c.kind})`,
      async () => {
        if ((await desiredReplicas(docker, a)) !== HIGH) return 'replicas changed';
        return daemon.lines.slice(mark).filter(hold(a, HIGH)).length >= HOLDS && 'held';
      },
      60_000,
    );
    assert.equal(outcome, 'held', `${a} kept its replicas while MASS failed (now ${await desiredReplicas(docker, a)})`);
    if (c.hitsB) {
      await waitFor(`${b} holding too`, async () => daemon.lines.slice(mark).some(hold(b, B_STEADY)));
      assert.equal(await desiredReplicas(docker, b), B_STEADY);
    } else if (c.bDemand !== undefined) {
      await waitFor(
        `${b} scaled to ${c.bDemand} while ${a} holds`,
        async () => (await desiredReplicas(docker, b)) === c.bDemand,
      );
    } else {
      const steadyB = `steady: demand ${B_STEADY}.0 matches ${B_STEADY} replicas`;
      await waitFor(`${b} still read while ${a} holds`, async () =>
        daemon.lines.slice(mark).some((l) => l.service === b && l.msg === 'decision' && l.explanation === steadyB),
      );
    }
    if (!c.hitsB) {
      assert.ok(
        !daemon.lines
          .slice(mark)
          .some((l) => l.service === b && String(l.explanation).startsWith('hold: no demand reading')),
        `${b} got every reading`,
      );
    }
    await c.during?.(mark);
    assert.equal(await desiredReplicas(docker, a), HIGH, `${a} kept its replicas while MASS failed`);

    // The swarm is shared: services of other suites are labelled too, and this daemon reads
    // their (unknown) systems as well. Failure lines are one per kind, whichever system they name.
    const errors = daemon.lines.slice(mark).filter((l) => isMassErrorLine(l) && l.kind === c.kind);
    assert.equal(
      errors.length,
      1,
      `one error line for ${c.kind}, got:\n${errors.map((l) => l.explanation).join('\n')}`,
    );
    const ours = daemon.lines.slice(mark).filter((l) => isMassErrorLine(l) && (l.system === sysA || l.system === sysB));
    assert.ok(
      ours.every((l) => l.kind === c.kind),
      `no other failure kind for our systems:\n${ours.map((l) => l.explanation).join('\n')}`,
    );
    const explanation = String(errors[0]!.explanation);
    assert.match(explanation, c.line);
    assert.match(explanation, /affected services keep their replicas; retrying with backoff/);
    assert.ok(!/[<>]/.test(JSON.stringify(errors[0])), `no HTML in the log line: ${explanation}`);
    assert.ok(
      (await massErrorsTotal(port, c.kind)) > countedBefore,
      `mass_errors_total{kind="${c.kind}"} counted the failures`,
    );
  }

  test('connection refused', () =>
    throughFault({
      fault: { kind: 'refuse' },
      kind: 'unreachable',
      line: /^MASS API: GET analysis_system\/\?page=1&per_page=100: MASS unreachable \(ECONN(REFUSED|RESET)\)/,
      hitsB: true,
    }));

  test('a server that accepts and never answers (MASS_REQUEST_TIMEOUT=1)', () =>
    throughFault({
      fault: { kind: 'hang' },
      kind: 'timeout',
      line: /^MASS API: GET analysis_system\/\?page=1&per_page=100: no answer within 1000 ms/,
      hitsB: true,
    }));

  test('500 with an HTML body', () =>
    throughFault({
      fault: { kind: 'status', code: 500 },
      kind: 'server-error',
      line: /^MASS API: GET analysis_system\/\?page=1&per_page=100: 500 Internal Server Error \(/,
      hitsB: true,
    }));

  test('403: the log says the API key was rejected, once across many rounds; /healthz turns 503 and back', async () => {
    await throughFault({
      fault: { kind: 'forbidden' },
      kind: 'forbidden',
      line: /^MASS API: GET analysis_system\/\?page=1&per_page=100: 403 Forbidden \(You do not have access to this resource\.\): MASS rejected the API key; check API_KEY/,
      hitsB: true,
      during: async (mark) => {
        const unhealthy = await waitFor('/healthz 503 while every reading fails', async () => {
          const h = await healthz(port);
          return h.code === 503 ? h : undefined;
        });
        assert.match(unhealthy.reasons.join('\n'), /no successful MASS reading for \d+s \(.*MASS rejected the API key/);
        // many more rounds, still the one line
        await waitFor(
          'more rounds with the key rejected',
          async () =>
            daemon.lines
              .slice(mark)
              .filter(
                (l) =>
                  l.service === a &&
                  l.msg === 'decision' &&
                  l.explanation === `hold: no demand reading (forbidden); keeping ${HIGH} replicas`,
              ).length >=
            HOLDS + 3,
          60_000,
        );
        assert.equal(daemon.lines.filter((l) => /rejected the API key/.test(String(l.explanation))).length, 1);
      },
    });
    await waitFor('/healthz 200 once readings are back', async () => (await healthz(port)).code === 200);
  });

  test('200 with malformed JSON', () =>
    throughFault({
      fault: { kind: 'malformed-json' },
      kind: 'not-json',
      line: /^MASS API: GET analysis_system\/\?page=1&per_page=100: 200 answered with malformed JSON \(.*\) \[application\/json, \d+ bytes\], not JSON/,
      hitsB: true,
    }));

  test('200 with JSON of the wrong shape', () =>
    throughFault({
      fault: { kind: 'wrong-shape' },
      kind: 'bad-shape',
      line: /^MASS API: GET analysis_system\/\?page=1&per_page=100: unexpected answer shape: results\.0\./,
      hitsB: true,
    }));

  test('a next link that loops back (a server that ignores page): only the system with a second page holds', () =>
    throughFault({
      fault: { kind: 'next-loop', path: 'analysis_system_instance/' },
      kind: 'paging',
      line: /^MASS API: GET analysis_system_instance\/\?analysis_system=[0-9a-f]{24}&page=2&per_page=100: asked for page 2, got page 1: the server ignores page \(paging loop\)/,
      hitsB: false,
    }));

  test('a page that turns 404 in the middle of paging the instance list', () =>
    throughFault({
      fault: { kind: 'vanish-page', page: 2, path: 'analysis_system_instance/' },
      kind: 'paging',
      line: /^MASS API: GET analysis_system_instance\/\?analysis_system=[0-9a-f]{24}&page=2&per_page=100: page 2 of 2 vanished while paging \(404\)/,
      hitsB: false,
    }));

  test("one system's count failing while the other's succeeds: only that system holds, the other scales", async () => {
    await throughFault({
      fault: { kind: 'status', code: 500, system: sysA, path: /[?&]count(&|$)/ },
      kind: 'server-error',
      line: /^MASS API: GET analysis_request\/\?analysis_system=[0-9a-f]{24}&(schedule_after__lte=[^&]+&)?count: 500 Internal Server Error/,
      hitsB: false,
      bDemand: 4,
      during: async () => {
        await waitFor(
          '/healthz stays 200: MASS answers for the other system',
          async () => (await healthz(port)).code === 200,
        );
      },
    });
    const error = daemon.lines.filter((l) => isMassErrorLine(l) && l.kind === 'server-error').at(-1)!;
    assert.equal(error.system, sysA, 'the line names the failing system');
  });

  test('SIGTERM: exit 0; no plain-http warning for 127.0.0.1', async () => {
    const result = await daemon.stop('SIGTERM');
    assert.equal(result.code, 0);
    assert.ok(
      !daemon.lines.some((l) => l.msg === 'MASS_SERVER_ADDRESS is plain http' || /unencrypted/.test(JSON.stringify(l))),
      'no warning for a loopback MASS address',
    );
  });
});

describe('plain http:// to a non-loopback MASS host', () => {
  test('one warning at start that the key travels unencrypted, naming NODE_EXTRA_CA_CERTS', async () => {
    // DRY_RUN: this daemon sees every labelled service in the swarm and must change none.
    const daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: 'http://mass.invalid:8000/api', DRY_RUN: 'true' });
    try {
      await daemon.httpPort();
      // a few discovery rounds later, still the one line
      await waitFor('three rounds', async () => (await roundsSeen(daemon)) >= 3);
      const warnings = daemon.lines.filter((l) => /unencrypted/.test(JSON.stringify(l)));
      assert.equal(warnings.length, 1, warnings.map((l) => l.explanation).join('\n'));
      assert.equal(warnings[0]!.level, 40);
      assert.equal(warnings[0]!.msg, 'MASS_SERVER_ADDRESS is plain http');
      assert.equal(warnings[0]!.host, 'mass.invalid:8000');
      assert.equal(
        warnings[0]!.explanation,
        'MASS_SERVER_ADDRESS uses plain http:// to mass.invalid:8000: the API key travels unencrypted; prefer https:// (a private CA can be given with NODE_EXTRA_CA_CERTS)',
      );
    } finally {
      await daemon.stop('SIGTERM');
    }
  });
});

/** Rounds the daemon has finished, from its own histogram. */
async function roundsSeen(daemon: Daemon): Promise<number> {
  const port = await daemon.httpPort();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /^mass_autoscaler_round_duration_seconds_count (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

describe('the API key in the output of this file', () => {
  test('appears in no line any daemon printed (403s, 500s and error lines with URLs included)', () => {
    assert.ok(allOutput.length > 50, `captured ${allOutput.length} lines`);
    assert.ok(
      allOutput.some((line) => /rejected the API key/.test(line)),
      'lines from the 403 rounds were captured',
    );
    for (const line of allOutput) assert.ok(!line.includes(API_KEY), `key leaked in: ${line.slice(0, 300)}`);
  });
});
