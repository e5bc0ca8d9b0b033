// The daemon is built for Node.js 20 (engines in package.json). An older node — Debian 12's own
// `nodejs` is 18 — must not run it silently: the entry point refuses with one line and exit 2.
export const MIN_NODE_MAJOR = 20;

/** Why this Node.js cannot run the daemon, or null when it can. `version` as in process.versions.node. */
export function nodeVersionProblem(version: string, execPath: string): string | null {
  const major = /^v?(\d+)\./.exec(version)?.[1];
  if (major !== undefined && Number(major) >= MIN_NODE_MAJOR) return null;
  return (
    `mass-autoscaler: needs Node.js ${MIN_NODE_MAJOR} or later, but ${execPath} is Node.js ${version}; ` +
    `install Node.js ${MIN_NODE_MAJOR} (README: "Node.js ${MIN_NODE_MAJOR} on Debian and Ubuntu") and run the daemon with it`
  );
}
