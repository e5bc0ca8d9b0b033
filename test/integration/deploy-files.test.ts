// The deployment files are checked by the tools that will read them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LABEL_NAMES, SYSTEM_LABEL } from '../../src/labels';

const root = join(__dirname, '..', '..');
const hasSystemdAnalyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).status === 0;

describe('deployment files', () => {
  // Debian's systemd package brings systemd-analyze; .ci/run installs it, so CI never skips this.
  test(
    'systemd-analyze verify accepts deploy/mass-autoscaler.service',
    { skip: !hasSystemdAnalyze && !process.env.CI ? 'systemd-analyze is not installed' : false },
    () => {
      const r = spawnSync('systemd-analyze', ['verify', join(root, 'deploy', 'mass-autoscaler.service')], {
        encoding: 'utf8',
        cwd: tmpdir(),
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stderr.trim(), '', r.stderr);
    },
  );

  test(
    'systemd-analyze verify would catch a broken unit (the check can fail)',
    { skip: !hasSystemdAnalyze && !process.env.CI ? 'systemd-analyze is not installed' : false },
    (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'unit-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const shipped = readFileSync(join(root, 'deploy', 'mass-autoscaler.service'), 'utf8');
      assert.match(shipped, /^ExecStart=\/usr\/bin\/env /m);
      const broken = shipped.replace(/^ExecStart=\/usr\/bin\/env /m, 'ExecStart=/usr/bin/no-such-env ');
      writeFileSync(join(dir, 'mass-autoscaler.service'), broken);
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'mass-autoscaler.service')], {
        encoding: 'utf8',
        cwd: dir,
      });
      assert.notEqual(r.status, 0);
    },
  );

  test('the unit survives a restarting Docker, and finds Node.js on a PATH it states', () => {
    const unit = readFileSync(join(root, 'deploy', 'mass-autoscaler.service'), 'utf8');
    const values = (key: string) =>
      [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((m) => m[1]!.trim().split(/\s+/));
    // Requires= (or BindsTo=) would stop the autoscaler with Docker; Wants= + After= only order the start.
    assert.deepEqual(values('Requires'), []);
    assert.deepEqual(values('BindsTo'), []);
    assert.ok(values('Wants').includes('docker.service'), unit);
    assert.ok(values('After').includes('docker.service'), unit);
    // No node binary hard-coded: the first node on the unit's PATH, which the daemon checks (>= 20, else exit 2).
    assert.equal(values('ExecStart').join(' '), '/usr/bin/env node /opt/mass-autoscaler/dist/autoscaler.js');
    assert.deepEqual(values('Environment'), ['PATH=/opt/mass-autoscaler/node/bin:/usr/local/bin:/usr/bin:/bin']);
    assert.deepEqual(values('RestartPreventExitStatus'), ['2']);
    assert.deepEqual(values('Restart'), ['on-failure']);
  });

  test('compose.example.yml carries every com.mass.* label, each with a comment, and a stop_grace_period', () => {
    const text = readFileSync(join(root, 'compose.example.yml'), 'utf8');
    const lines = text.split('\n');
    for (const label of [SYSTEM_LABEL, ...Object.values(LABEL_NAMES)]) {
      const at = lines.findIndex((l) => l.trim().startsWith(`${label}:`));
      assert.ok(at > 0, `${label} missing`);
      assert.match(lines[at - 1]!.trim(), /^#/, `${label} has no comment above it`);
    }
    assert.match(text, /stop_grace_period: \d+m/);
    assert.match(text, /deploy:\n(.*\n)*\s+labels:/);
  });
});
