// The README's tables are promises to users: they are generated from config.ts (npm run docs)
// and must match what it declares.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTIONS } from '../../config';
import { LABEL_NAMES, SYSTEM_LABEL } from '../../src/labels';
import { withTables } from '../../scripts/readme-tables';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

test('the README option and label tables are what `npm run docs` generates from config.ts', () => {
  assert.equal(readme, withTables(readme), 'README.md is out of date: run `npm run docs`');
});

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
    assert.ok(readme.includes(`| \`${label}\` |`), `${label} is missing`);
});

test('a README without the markers is refused, not silently left as it is', () => {
  assert.throws(() => withTables('# no tables here\n'), /markers of the options table are missing/);
});

test('the README has no unfilled placeholders', () => {
  assert.doesNotMatch(readme, /[A-Z]+_(TABLE|SECTION)\b/);
});
