// Imported first by the entry point, so the check runs before any dependency is loaded.
import { nodeVersionProblem } from './node-version';

const problem = nodeVersionProblem(process.versions.node, process.execPath);
if (problem !== null) {
  console.error(problem);
  process.exit(2);
}
