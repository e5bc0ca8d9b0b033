// npm run docs: rewrites the README's option and label tables from config.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTables } from './readme-tables';

const path = join(__dirname, '..', 'README.md');
const before = readFileSync(path, 'utf8');
const after = withTables(before);
if (after === before) console.log('README.md: tables up to date');
else {
  writeFileSync(path, after);
  console.log('README.md: option and label tables rewritten from config.ts');
}
