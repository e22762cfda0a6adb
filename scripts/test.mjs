// `npm test`: the dependency rules beside the build, then the type check beside the suite.
//
// The type check (tsc, one thread, ~22 CPU-s) used to run alone before the suite, leaving the
// second core idle for its ~25 s; the suite does not need it (vitest runs the TypeScript
// sources through esbuild, and dist/ is the build's), so both now run at once. The run fails if
// either does: tsc's report is held and printed after vitest's, with its exit status, so a type
// error is the last thing on screen and never lost in the suite's output. Arguments go to
// vitest (`npm test -- test/lib/x.test.ts`).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** A devDependency's command, as npm puts it on PATH for a script. */
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const c of children) c.kill(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Runs `command args…` from the repository root; resolves with its exit status and, if held, its output. */
function run(command, args, { hold = false, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: hold ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    children.add(child);
    let output = '';
    if (hold) {
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
    }
    child.on('error', (e) => {
      output += `${e.message}\n`;
      resolve({ status: 1, output });
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ status: code ?? (signal ? 1 : 0), output });
    });
  });
}

// The dependency rules and the build side by side too: neither needs the other, and each
// is mostly one thread (~3 and ~2 CPU-s, ~5 s of wall each on a loaded 2-core machine), so
// one after the other left a core idle. Both must pass before the suite starts; depcruise's
// report is held and printed after the build's line, so the two never interleave.
const rules = run(bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err-long'], { hold: true });
const built = await run(process.execPath, [join(ROOT, 'scripts', 'build.mjs')]);
const cruised = await rules;
process.stdout.write(cruised.output);
if (cruised.status !== 0) {
  console.error(`npm test: the dependency rules (depcruise) failed (exit ${cruised.status})`);
  process.exit(cruised.status);
}
if (built.status !== 0) {
  console.error(`npm test: the build failed (exit ${built.status})`);
  process.exit(built.status);
}
const typecheck = run(bin('tsc'), ['-p', 'tsconfig.json'], { hold: true });
// The suite runs without NODE_EXTRA_CA_CERTS. Where it is set (a machine that trusts its
// system's certificate bundle so, as this project's development VM does with 144 of them),
// every Node process parses that file at start-up: ~50-60 ms of CPU each (bare `node -e 0`
// ~26 ms of CPU without it, ~80 ms with it), and the suite starts a few thousand — the CLI
// it runs as a child, the peers' helpers. Nothing the suite does trusts a certificate: every
// peer it talks to (bitcoind, lightningd, Nutshell, PostgreSQL) listens on 127.0.0.1 without
// TLS. Two e2e files measured so: 25.2 -> 22.5 CPU-s.
const suiteEnv = { ...process.env };
delete suiteEnv.NODE_EXTRA_CA_CERTS;
const suite = await run(bin('vitest'), ['run', ...process.argv.slice(2)], { env: suiteEnv });
const types = await typecheck;
if (types.status !== 0) {
  process.stderr.write(types.output);
  console.error(`npm test: the type check (tsc -p tsconfig.json) failed (exit ${types.status})`);
}
process.exit(suite.status !== 0 ? suite.status : types.status);
