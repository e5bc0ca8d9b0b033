// `curl …/metrics | promtool check metrics` as an operator runs it against the daemon: the whole
// scrape passes Prometheus's own linter, and a healthy daemon already has its error series at 0.
// .ci/run installs promtool (scripts/install-promtool.sh); under CI a missing promtool fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { startFakeMass } from '../fakes/mass-server';
import {
  createTestService,
  desiredReplicas,
  removeServicesWithPrefix,
  requireDocker,
  uniquePrefix,
  waitFor,
} from '../support/docker';
import { fastLabels, startDaemon, type Daemon } from './harness';

const API_KEY = 'promtool-secret-key-83a0c2';
const hasPromtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).status === 0;
const skip = !hasPromtool && !process.env.CI ? 'promtool is not installed (bash scripts/install-promtool.sh)' : false;

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('/metrics under promtool check metrics', () => {
  let docker: Docker;
  let mass: Awaited<ReturnType<typeof startFakeMass>>;
  let daemon: Daemon | undefined;
  const prefix = uniquePrefix('promtool');
  const svc = `${prefix}-a`;
  const system = `${prefix}-sys`;

  before(async () => {
    docker = await requireDocker();
    mass = await startFakeMass({ dialect: '0.2', apiKey: API_KEY });
    mass.addSystem(system);
    mass.setDemand(system, { due: 2 });
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    if (docker) await removeServicesWithPrefix(docker, prefix);
    await mass?.close();
  });

  test('promtool rejects a gauge named like a counter (the check can fail)', { skip }, () => {
    const r = promtool('# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n');
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /non-counter metrics should not have "_total" suffix/);
  });

  test(
    'a real scrape of a daemon that scaled a service passes, and the error counters start at 0',
    { skip },
    async () => {
      await createTestService(docker, { name: svc, replicas: 1, labels: fastLabels(system) });
      daemon = startDaemon({ API_KEY, MASS_SERVER_ADDRESS: mass.baseUrl });
      const port = await daemon.httpPort();
      await waitFor(`${svc} at 2 replicas`, async () => (await desiredReplicas(docker, svc)) === 2);
      const text = await waitFor('a scrape with the scale action and the service gauges', async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return body.includes(`mass_autoscaler_scale_actions_total{service="${svc}",direction="up"} 1`) &&
          body.includes(`mass_autoscaler_replicas_desired{service="${svc}"`)
          ? body
          : undefined;
      });
      const r = promtool(text);
      assert.equal(r.status, 0, r.output);
      for (const kind of ['unreachable', 'timeout', 'forbidden', 'server-error', 'bad-shape', 'paging'])
        assert.match(text, new RegExp(`^mass_autoscaler_mass_errors_total\\{kind="${kind}"\\} 0$`, 'm'));
      for (const kind of ['unreachable', 'api-error'])
        assert.match(text, new RegExp(`^mass_autoscaler_docker_errors_total\\{kind="${kind}"\\} 0$`, 'm'));
      // the per-type Node.js gauges stay; only the three named like counters are gone
      assert.match(text, /^# TYPE mass_autoscaler_nodejs_active_handles gauge$/m);
      assert.doesNotMatch(text, /_active_(handles|requests|resources)_total/);
    },
  );
});
