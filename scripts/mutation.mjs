// npm run mutation: StrykerJS over src/core, src/labels.ts, config.ts and src/mass (stryker.config.json).
// StrykerJS 10's command line refuses to start on Node.js 20, the version this project runs on
// (its package declares Node.js >= 22); its Stryker class is started here directly instead.
// Options: --mutate FILE[,FILE...] narrows the files mutated; --concurrency N (default 2);
// --force reruns every mutant instead of reusing unchanged results from the incremental file.
// The incremental file (reports/stryker-incremental.json) keeps the results of every file ever
// mutated: a narrowed run redoes only its own files and carries the others over unchanged, so the
// summary printed at the end covers every file in that report.
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const options = {};
for (let i = 0; i < args.length; i += 1) {
  const [name, value] = [args[i], args[i + 1]];
  if (name === '--force') options.force = true;
  else if (name === '--mutate' && value) options.mutate = value.split(',');
  else if (name === '--concurrency' && /^\d+$/.test(value ?? '')) options.concurrency = Number(value);
  else {
    console.error('usage: npm run mutation -- [--mutate FILE[,FILE...]] [--concurrency N] [--force]');
    process.exit(2);
  }
  if (name !== '--force') i += 1;
}

const require = createRequire(import.meta.url);
const core = dirname(require.resolve('@stryker-mutator/core/package.json'));
const { Stryker } = await import(pathToFileURL(join(core, 'dist', 'src', 'stryker.js')).href);
const results = await new Stryker(options).runMutationTest();

// Stryker's own score: detected (killed or timed out) over detected, survived and not covered.
const STATUSES = ['Killed', 'Timeout', 'Survived', 'NoCoverage'];
const tally = (list) => {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, list.filter((r) => r.status === s).length]));
  const detected = counts.Killed + counts.Timeout;
  const valid = detected + counts.Survived + counts.NoCoverage;
  const score = `${((100 * detected) / Math.max(1, valid)).toFixed(2)} %`;
  return `${score} (${detected} of ${valid} detected; ${STATUSES.map((s) => `${s} ${counts[s]}`).join(', ')})`;
};
const byFile = new Map();
for (const result of results) {
  const file = relative(process.cwd(), result.fileName);
  byFile.set(file, [...(byFile.get(file) ?? []), result]);
}
for (const [file, list] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) console.log(`${file}: ${tally(list)}`);
console.log(`mutation score: ${tally(results)}`);
