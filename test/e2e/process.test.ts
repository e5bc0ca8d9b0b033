// The daemon as a process: which Node.js it accepts, and how it ends on SIGHUP (a closed
// terminal, a lost SSH session, `tmux kill-session`, a stray `kill -HUP`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { startFakeMass } from '../fakes/mass-server';
import { createTestService, removeServicesWithPrefix, requireDocker, uniquePrefix } from '../support/docker';
import { ENTRY, fastLabels, startDaemon } from './harness';

const API_KEY = 'process-secret-key-5d1e07';

describe('the Node.js version', () => {
  test('on Node.js 18 the entry point refuses with one line and exit 2, before touching anything', async () => {
    // A preload makes this Node.js report 18.19.0, as Debian 12's own `nodejs` would.
    const fake18 = "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'18.19.0'})";
    const child = spawn(process.execPath, ['--import', fake18, ENTRY], {
      env: { PATH: process.env.PATH ?? '', API_KEY, MASS_SERVER_ADDRESS: 'http://127.0.0.1:9/api/' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '', 'nothing started: no log line');
    assert.equal(
      stderr,
      `mass-autoscaler: needs Node.js 20 or later, but ${process.execPath} is Node.js 18.19.0; install Node.js 20 ` +
        '(README: "Node.js 20 on Debian and Ubuntu") and run the daemon with it\n',
    );
  });
});

describe('SIGHUP', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  const prefix = uniquePrefix('sighup');
  const svc = `${prefix}-a`;
  const system = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(system);
    mass.setDemand(system, { due: 2 });
  });

  after(async () => {
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('is an orderly stop like SIGTERM: the round finishes, the listener closes, exit 0', async () => {
    await createTestService(docker, { name: svc, replicas: 2, labels: fastLabels(system) });
    const daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl });
    try {
      const port = await daemon.httpPort();
      await daemon.waitForLog(
        `managing ${svc}`,
        (l) => l.msg === 'service managed' && l.explanation === `managing service ${svc} for analysis system ${system}`,
      );
      const result = await daemon.stop('SIGHUP');
      assert.equal(result.code, 0, `exit code ${result.code} (signal ${result.signal})`);
      assert.equal(result.signal, null);
      assert.ok(result.ms < 5000, `exited after ${result.ms} ms`);
      const msgs = daemon.lines.map((l) => l.msg);
      assert.ok(
        daemon.lines.some(
          (l) =>
            l.msg === 'signal received: stopping' &&
            l.explanation === 'SIGHUP received; finishing the current round and stopping',
        ),
        msgs.join('\n'),
      );
      // the orderly end, not the exit deadline: the listener was closed and `stopped` logged
      assert.ok(msgs.includes('stopped'), msgs.slice(-3).join('\n'));
      assert.ok(!msgs.includes('round did not finish in time; abandoning it'), msgs.slice(-3).join('\n'));
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the listener is closed');
    } finally {
      await daemon.stop('SIGKILL');
    }
  });
});
