// npm run mutation: StrykerJS over src/labels.ts, config.ts and src/mass (stryker.config.json).
// StrykerJS 10's command line refuses to start on Node.js 20, the version this project runs on
// (its package declares Node.js >= 22); its Stryker class is started here directly instead.
// Options: --mutate FILE[,FILE...] narrows the files mutated; --concurrency N (default 2).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const options = {};
for (let i = 0; i < args.length; i += 2) {
  const [name, value] = [args[i], args[i + 1]];
  if (name === '--mutate' && value) options.mutate = value.split(',');
  else if (name === '--concurrency' && /^\d+$/.test(value ?? '')) options.concurrency = Number(value);
  else {
    console.error('usage: npm run mutation -- [--mutate FILE[,FILE...]] [--concurrency N]');
    process.exit(2);
  }
}

const require = createRequire(import.meta.url);
const core = dirname(require.resolve('@stryker-mutator/core/package.json'));
const { Stryker } = await import(pathToFileURL(join(core, 'dist', 'src', 'stryker.js')).href);
const results = await new Stryker(options).runMutationTest();
// Stryker's own score: detected (killed or timed out) over detected, survived and not covered.
const count = (...statuses) => results.filter((r) => statuses.includes(r.status)).length;
const detected = count('Killed', 'Timeout');
const valid = detected + count('Survived', 'NoCoverage');
console.log(
  `mutation score: ${((100 * detected) / Math.max(1, valid)).toFixed(2)} % (${detected} of ${valid} mutants detected)`,
);
