// The README's option and label tables, generated from config.ts (each setting is declared once
// there). `npm run docs` rewrites the regions between the markers; test/unit/readme.test.ts
// checks that the README holds exactly what this generates.
import { describeRule, LABEL_SETTINGS, OPTIONS } from '../config';
import { POLICY_FIELDS, type PolicyField } from '../src/core/policy';
import { SYSTEM_LABEL } from '../src/labels';

const escape = (text: string) => text.replace(/\|/g, '\\|');

export function optionsTable(): string {
  const rows = Object.entries(OPTIONS).map(([name, option]) => {
    const shown = option.default === undefined ? '—' : option.default === '' ? '(empty)' : `\`${option.default}\``;
    return `| \`${name}\` | ${escape(option.help)} | ${shown} |`;
  });
  return ['| variable | meaning | default |', '|---|---|---|', ...rows].join('\n');
}

export function labelsTable(): string {
  const rows = (Object.keys(LABEL_SETTINGS) as PolicyField[]).map((field) => {
    const s = LABEL_SETTINGS[field];
    const meaning = `${s.help}; ${describeRule(POLICY_FIELDS[field])}`;
    return `| \`${s.label}\` | ${escape(meaning)} | \`${s.default}\` (\`${s.option}\`) |`;
  });
  return [
    '| label | meaning | default |',
    '|---|---|---|',
    `| \`${SYSTEM_LABEL}\` | the analysis system's \`identifier_name\` in MASS | required |`,
    ...rows,
  ].join('\n');
}

const REGIONS: [string, () => string][] = [
  ['options', optionsTable],
  ['labels', labelsTable],
];

/** `readme` with each generated region rewritten; throws when a marker is missing. */
export function withTables(readme: string): string {
  let text = readme;
  for (const [name, table] of REGIONS) {
    const begin = `<!-- generated:${name} (npm run docs; do not edit by hand) -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md: the markers of the ${name} table are missing`);
    text = `${text.slice(0, from + begin.length)}\n${table()}\n${text.slice(to)}`;
  }
  return text;
}
