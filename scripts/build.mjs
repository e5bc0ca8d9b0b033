// Bundles the entry point (and config.ts, which sits at the repository root) into
// dist/autoscaler.js; node_modules stay external so `npm ci` decides their versions.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: ['src/autoscaler.ts'],
  outfile: 'dist/autoscaler.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync('dist/autoscaler.js', 0o755);
