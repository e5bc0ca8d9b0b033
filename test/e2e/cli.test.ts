// The command line as a user meets it: bad configuration, status without a daemon, usage.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startDaemon } from './harness';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('command line', () => {
  test('without API_KEY the daemon exits 2 and names API_KEY', async () => {
    const r = await runCli([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /API_KEY is not set/);
  });

  test('every configuration problem is reported at once, exit 2', async () => {
    const r = await runCli([], { API_KEY: 'k', LOG_LEVEL: 'chatty', METRICS_PORT: 'x', DEFAULT_MAX_INST: '0' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /3 problem\(s\)/);
    assert.match(r.stderr, /LOG_LEVEL="chatty"/);
    assert.match(r.stderr, /METRICS_PORT="x"/);
    assert.match(r.stderr, /DEFAULT_MAX_INST="0" must be at least 1/);
    assert.doesNotMatch(r.stderr + r.stdout, /"k"/);
  });

  test('.env in the working directory is read, and the environment wins over it', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dotenv-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, '.env'), 'API_KEY=from-dotenv\nLOG_LEVEL=loud\nDRY_RUN=maybe\n');
    const r = await runCli([], { DRY_RUN: 'sometimes' }, 60_000, dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LOG_LEVEL="loud"/);
    assert.match(r.stderr, /DRY_RUN="sometimes"/);
    assert.doesNotMatch(r.stderr, /API_KEY is not set/);
    assert.ok(!(r.stdout + r.stderr).includes('from-dotenv'));
  });

  test('DRY_RUN=1, YES and on are each a dry run; any other spelling exits 2 naming DRY_RUN', async () => {
    for (const spelling of ['1', 'YES', 'on']) {
      // No Docker, no MASS, no listener needed: the start-up line says whether this is a dry run.
      const daemon = startDaemon({
        API_KEY: 'k-dry',
        DRY_RUN: spelling,
        METRICS_PORT: 'off',
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
        MASS_SERVER_ADDRESS: 'http://127.0.0.1:9/api/',
      });
      try {
        const line = await daemon.waitForLog('start-up line', (l) => l.msg === 'mass-autoscaler starting');
        assert.match(String(line.explanation), /in DRY RUN mode/, `DRY_RUN=${spelling}`);
      } finally {
        await daemon.stop();
      }
    }
    const refused = await runCli([], { API_KEY: 'k', DRY_RUN: 'yess' });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /DRY_RUN="yess" must be true or false/);
  });

  test('status with no daemon listening says so and exits 1', async () => {
    const port = await closedPort();
    const r = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      new RegExp(`No mass-autoscaler daemon answered at http://127.0.0.1:${port}/status \\(ECONNREFUSED\\)`),
    );
  });

  test('an unknown command prints the usage and exits 2', async () => {
    const r = await runCli(['scale-everything']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "scale-everything"/);
    assert.match(r.stderr, /mass-autoscaler status/);
  });

  test('help lists the commands', async () => {
    const r = await runCli(['help']);
    assert.equal(r.code, 0);
    for (const command of ['status', 'simulate']) assert.match(r.stdout, new RegExp(`mass-autoscaler ${command}`));
  });
});
