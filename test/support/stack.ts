// The autoscaler as a Swarm service for the tests that deploy deploy/stack.yml (test/e2e/stack.test.ts
// on the local swarm, test/multinode/stack-node-lost.test.ts on several nodes). No registry is
// reachable here, so the image is assembled from this machine's node binary and the built project
// instead of `docker build` (the Dockerfile's base image cannot be pulled).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * A runnable image of the project as a tar of its root file system, written into `dir`: node and
 * its libraries, dist, package.json and the production node_modules (what `npm prune --omit=dev`
 * keeps, as the Dockerfile does, read from the lock file). Returns the tar's path.
 */
export function assembleImageTar(dir: string): string {
  const fs = join(dir, 'root');
  const node = process.execPath;
  const libs = execFileSync('ldd', [node], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.match(/(\/\S+)/)?.[1])
    .filter((p): p is string => p !== undefined);
  for (const file of [node, ...libs]) {
    mkdirSync(join(fs, dirname(file)), { recursive: true });
    cpSync(file, join(fs, file), { dereference: true });
  }
  mkdirSync(join(fs, 'tmp'), { recursive: true });
  chmodSync(join(fs, 'tmp'), 0o1777);
  const app = join(fs, 'app');
  mkdirSync(app);
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || meta.dev === true || !existsSync(join(ROOT, path))) continue;
    cpSync(join(ROOT, path), join(app, path), { recursive: true, dereference: true });
  }
  const tar = join(dir, 'image.tar');
  execFileSync('tar', ['-C', fs, '-cf', tar, '.']);
  rmSync(fs, { recursive: true, force: true });
  return tar;
}

/** `docker import` of an assembled tar as `image`, on the Engine at `host` (default: DOCKER_HOST or the local one). */
export function importImage(tar: string, image: string, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'docker',
      [
        ...(host === undefined ? [] : ['-H', host]),
        'import',
        '-c',
        'WORKDIR /app',
        '-c',
        'ENV METRICS_HOST=0.0.0.0 METRICS_PORT=9464',
        '-c',
        `ENTRYPOINT ["${process.execPath}", "dist/autoscaler.js"]`,
        tar,
        image,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`docker import on ${host ?? 'the local Engine'}: ${err}`)),
    );
  });
}

/**
 * deploy/stack.yml as shipped, with the test's image, MASS address and secret name, the host
 * network (to reach the test's MASS), and the test's own `changes`. Each change must find its
 * text: a stack file that no longer has it fails the test instead of being deployed unchanged.
 */
export function deriveStack(
  opts: { image: string; massUrl: string; secretName: string },
  changes: [RegExp, string][] = [],
): string {
  const shipped = readFileSync(join(ROOT, 'deploy', 'stack.yml'), 'utf8');
  const replacements: [RegExp, string][] = [
    [/image: mass-autoscaler:latest/, `image: ${opts.image}`],
    [/MASS_SERVER_ADDRESS: (['"])https:\/\/mass\.example\.org\/api\/\1/, `MASS_SERVER_ADDRESS: '${opts.massUrl}'`],
    ...changes,
    [/ {4}stop_grace_period: 10s\n/, '    stop_grace_period: 10s\n    networks:\n      - hostnet\n'],
    [/ {2}mass_api_key:\n {4}external: true\n/, `  mass_api_key:\n    external: true\n    name: ${opts.secretName}\n`],
  ];
  let text = shipped;
  for (const [pattern, replacement] of replacements) {
    assert.match(text, pattern, `deploy/stack.yml no longer has ${pattern}: update this test with it`);
    text = text.replace(pattern, replacement);
  }
  return `${text}\nnetworks:\n  hostnet:\n    external: true\n    name: host\n`;
}
