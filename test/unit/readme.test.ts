// The README's tables are promises to users: they must match config.ts and the label names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTIONS } from '../../config';
import { LABEL_NAMES, SYSTEM_LABEL } from '../../src/labels';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

test('the README options table lists every option with its default', () => {
  for (const [name, option] of Object.entries(OPTIONS)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `${name} is missing from the README`);
    const shown = option.default === undefined ? '—' : option.default === '' ? '(empty)' : `\`${option.default}\``;
    assert.ok(row.endsWith(`| ${shown} |`), `${name}: README says ${row}, config.ts says ${shown}`);
  }
});

test('the README labels table names every com.mass.* label', () => {
  for (const label of [SYSTEM_LABEL, ...Object.values(LABEL_NAMES)])
    assert.ok(readme.includes(`\`${label}\``), `${label} is missing`);
});

test('the README has no unfilled placeholders', () => {
  assert.doesNotMatch(readme, /[A-Z]+_(TABLE|SECTION)\b/);
});
