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
      const broken = readFileSync(join(root, 'deploy', 'mass-autoscaler.service'), 'utf8').replace(
        'ExecStart=/usr/bin/node',
        'ExecStart=/usr/bin/no-such-node',
      );
      writeFileSync(join(dir, 'mass-autoscaler.service'), broken);
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'mass-autoscaler.service')], {
        encoding: 'utf8',
        cwd: dir,
      });
      assert.notEqual(r.status, 0);
    },
  );

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
