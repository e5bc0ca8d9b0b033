// The API key never reaches the operator's screen, even when MASS (or a proxy in front of it)
// echoes the Authorization header back in an error answer. The whole daemon against the fake
// MASS server and the real swarm; every line it prints and every answer of its own listener
// (/healthz, /status, /metrics) is searched for the key and for any 8-character piece of it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import type { MassErrorKind } from '../../src/types';
import { startFakeMass, type FakeFault, type FakeMass } from '../fakes/mass-server';
import { createTestService, removeServicesWithPrefix, requireDocker, uniquePrefix, waitFor } from '../support/docker';
import { allOutput, startDaemon, type Daemon } from './harness';

const API_KEY = 'K9fQ2xLm7Vb4Rt8Zp1Wc6Yh3Nd5Gs0Ju';
const HEADER = `Authorization: APIKEY ${API_KEY}`;
/** Every 8-character piece of the key: a key cut in half by a length limit is still a leak. */
const PIECES = Array.from({ length: API_KEY.length - 7 }, (_, i) => API_KEY.slice(i, i + 8));

function leakIn(text: string): string | undefined {
  return PIECES.find((piece) => text.includes(piece));
}

describe('the API key never appears in the output, even when MASS echoes it back', () => {
  let docker: Docker;
  let mass: FakeMass;
  let daemon: Daemon;
  let port: number;
  /** bodies of /healthz, /status and /metrics seen while the faults were on */
  const served: string[] = [];
  const prefix = uniquePrefix('secrets');
  const system = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.setDemand(system, { due: 1 });
    await createTestService(docker, {
      name: `${prefix}-a`,
      replicas: 1,
      labels: {
        'com.mass.anal_system': system,
        'com.mass.min_inst': '1',
        'com.mass.max_inst': '2',
        'com.mass.min_schedule_interval': '1',
        'com.mass.max_schedule_interval': '2',
      },
    });
    // HEALTH_MAX_AGE=1: /healthz soon quotes the failure, which is one more place a key could show.
    daemon = startDaemon({
      API_KEY,
      MASS_SERVER_ADDRESS: mass.baseUrl,
      RETRY_MAX_DELAY: '1',
      HEALTH_MAX_AGE: '1',
      DRY_RUN: 'true',
    });
    port = await daemon.httpPort();
    await daemon.waitForLog(
      'a first reading',
      (l) =>
        l.service === `${prefix}-a` && l.msg === 'decision' && String(l.explanation).startsWith('steady: demand 1.0'),
    );
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  const echoes: { name: string; fault: FakeFault; kind: MassErrorKind; line: RegExp }[] = [
    {
      name: '500 whose JSON error quotes the header',
      fault: { kind: 'status', code: 500, body: JSON.stringify({ error: `upstream rejected request with ${HEADER}` }) },
      kind: 'server-error',
      line: /500 Internal Server Error \(upstream rejected request with Authorization: APIKEY \[redacted\]\)/,
    },
    {
      name: '403 whose JSON error quotes the key',
      fault: { kind: 'status', code: 403, body: JSON.stringify({ error: `key ${API_KEY} is not valid` }) },
      kind: 'forbidden',
      line: /403 Forbidden \(key \[redacted\] is not valid\): MASS rejected the API key/,
    },
    {
      // MASS quotes at most 200 characters of an error; the key must not be cut in two there.
      name: '500 whose long error has the key across the 200-character cut',
      // 162 + 1 + 'Authorization: APIKEY '.length = 185: the cut falls 15 characters into the key
      fault: { kind: 'status', code: 500, body: JSON.stringify({ error: `${'x'.repeat(162)} ${HEADER} and more` }) },
      kind: 'server-error',
      line: /500 Internal Server Error \(x{162} Authorization: APIKEY /,
    },
    {
      name: '502 HTML page with the header in it',
      fault: {
        kind: 'status',
        code: 502,
        body: `<html><body><h1>Bad gateway</h1><pre>${HEADER}</pre></body></html>`,
        contentType: 'text/html',
      },
      kind: 'server-error',
      line: /502 Bad Gateway/,
    },
    {
      name: '200 text answer echoing the request headers',
      fault: {
        kind: 'status',
        code: 200,
        body: `GET /api/analysis_system/ HTTP/1.1\r\n${HEADER}\r\n`,
        contentType: 'text/plain',
      },
      kind: 'not-json',
      line: /200 answered with malformed JSON/,
    },
    {
      // JSON.parse quotes the text around a syntax error in its message
      name: '200 broken JSON with the key where the parser stops',
      fault: { kind: 'status', code: 200, body: `{"echo": ${API_KEY}}` },
      kind: 'not-json',
      line: /200 answered with malformed JSON \(/,
    },
    {
      name: '418 JSON error quoting the key twice',
      fault: { kind: 'status', code: 418, body: JSON.stringify({ error: `${API_KEY}/${API_KEY}` }) },
      kind: 'http-error',
      line: /418 I'm a Teapot \(\[redacted\]\/\[redacted\]\)/,
    },
  ];

  for (const e of echoes) {
    test(`${e.name}: the failure is logged, the key is not`, async () => {
      const mark = daemon.lines.length;
      await mass.setFault(e.fault);
      try {
        await throughEcho(e, mark);
      } finally {
        await mass.setFault(null);
      }
      await daemon.waitForLog(
        `${e.kind} is over`,
        (l) =>
          daemon.lines.indexOf(l) >= mark &&
          l.msg === 'MASS API: failure over' &&
          l.explanation === `MASS API: ${e.kind} is over; readings are back`,
      );
      for (const l of daemon.lines.slice(mark)) {
        const text = JSON.stringify(l);
        assert.equal(leakIn(text), undefined, `a piece of the key leaked in: ${text.slice(0, 400)}`);
      }
    });
  }

  /** The error line, and /healthz quoting it; what the daemon serves is kept for the last test. */
  async function throughEcho(e: (typeof echoes)[number], mark: number): Promise<void> {
    const line = await daemon.waitForLog(
      `${e.kind} line`,
      (l) => daemon.lines.indexOf(l) >= mark && l.level === 50 && l.kind === e.kind && l.msg === 'MASS API: failing',
    );
    assert.match(String(line.explanation), e.line);
    const health = await waitFor('/healthz quoting the failure', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      const text = await res.text();
      return res.status === 503 && text.includes('no successful MASS reading') ? text : undefined;
    });
    served.push(health);
    served.push(await (await fetch(`http://127.0.0.1:${port}/status`)).text());
    served.push(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  }

  test('no piece of the key in anything the daemon printed or served', async () => {
    const result = await daemon.stop('SIGTERM');
    assert.equal(result.code, 0);
    assert.ok(served.length >= echoes.length * 3);
    for (const text of [...allOutput, ...served]) {
      const piece = leakIn(text);
      assert.equal(piece, undefined, `"${piece}" of the key leaked in: ${text.slice(0, 400)}`);
    }
  });
});
