// `npm run mass-standin` as the README tells a user to try the daemon by hand without MASS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type Docker from 'dockerode';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { fastLabels, startDaemon, type Daemon } from './harness';

const root = join(__dirname, '..', '..');
const prefix = uniquePrefix('standin');
let docker: Docker | undefined;
let daemon: Daemon | undefined;

after(async () => {
  await daemon?.stop('SIGKILL');
  if (docker) await removeServicesWithPrefix(docker, prefix);
});

test('the stand-in serves demand typed on its input to a daemon run by hand', async () => {
  docker = await requireDocker();
  const system = `${prefix}-sys`;
  const standin = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'scripts', 'mass-standin.ts'),
      '--api-key',
      'by-hand-key',
      '--port',
      '0',
      '--system',
      `${system}=1`,
    ],
    {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  standin.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  standin.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => standin.on('exit', resolve));
  const url = await waitFor('the stand-in URL', async () => /MASS_SERVER_ADDRESS=(\S+)/.exec(out)?.[1]);

  await createTestService(docker, { name: `${prefix}-svc`, replicas: 1, labels: fastLabels(system) });
  daemon = startDaemon({ API_KEY: 'by-hand-key', MASS_SERVER_ADDRESS: url });
  standin.stdin.write(`${system} 4 2\n`);
  await waitFor(
    '4 replicas from the typed demand',
    async () => (await desiredReplicas(docker!, `${prefix}-svc`)) === 4,
  );
  await daemon.waitForLog('not-due count read', (l) => l.notDue === 2);

  standin.stdin.write('quit\n');
  assert.equal(await exited, 0, out);
});

test('SIGHUP (a closed terminal) closes the stand-in in order: exit 0, its port free again', async () => {
  const standin = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'scripts', 'mass-standin.ts'), '--api-key', 'k', '--port', '0'],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  standin.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  standin.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => standin.on('exit', resolve));
  try {
    const url = await waitFor('the stand-in URL', async () => /MASS_SERVER_ADDRESS=(\S+)/.exec(out)?.[1]);
    assert.equal((await fetch(`${url}analysis_system/`)).status, 403, 'serving (a request without the key)');
    standin.kill('SIGHUP');
    assert.equal(await exited, 0, out);
    assert.match(out, /SIGHUP: closing the MASS stand-in at http:\/\/127\.0\.0\.1:\d+/);
    await assert.rejects(fetch(`${url}analysis_system/`), 'the port is closed');
  } finally {
    standin.kill('SIGKILL');
  }
});
