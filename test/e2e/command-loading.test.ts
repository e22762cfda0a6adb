/**
 * The built CLI loads a command's module only when that command runs (src/cli.ts LOADERS):
 * a run of one command leaves every other class unread, help and "did you mean" answer
 * from the manifest and the ids, and a class gets its aliases as it loads. Checked in a
 * child process that requires dist/offchain.cjs, as bin/run.js does, and reads the table
 * oclif reads (COMMANDS) after each step. And through the CLI: an alias written with `:`,
 * words that are names of every JavaScript object, and an installation without its
 * oclif.manifest.json (oclif then reads every class: the CLI loads them all and runs again).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { assertFreshBuild, cleanEnv, run } from './cli.ts';

/** Runs `steps` (argv lists for main, or 'all' for loadCommands()) and reports, after each, which of `ids` COMMANDS can hand out. */
const PROBE = `
globalThis[Symbol.for('offchain.import')] = (s) => import(s);
const cli = require(process.argv[1]);
const [ids, steps] = JSON.parse(process.argv[2]);
const state = () => Object.fromEntries(ids.map((id) => {
  try {
    return [id, { aliases: cli.COMMANDS[id].aliases }];
  } catch (e) {
    return [id, { refused: e.message }];
  }
}));
(async () => {
  const report = { count: Object.keys(cli.COMMANDS).length, before: state(), after: [] };
  for (const step of steps) {
    if (step === 'all') await cli.loadCommands();
    else await cli.main(step);
    report.after.push(state());
  }
  require('node:fs').writeSync(3, JSON.stringify(report));
})();
`;

type Seen = Record<string, { aliases?: string[]; refused?: string }>;

/** The probe's report, and its stderr (the runs' own lines); its exit status is the last run's. */
function probe(ids: string[], steps: (string[] | 'all')[]): { count: number; before: Seen; after: Seen[]; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', PROBE, join(ROOT, 'dist', 'offchain.cjs'), JSON.stringify([ids, steps])], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.output[3], r.stderr).not.toBe('');
  return { ...JSON.parse(r.output[3] as string), stderr: r.stderr };
}

const NOT_LOADED = /^command (\S+) was read before src\/cli\.ts loaded it \(loadCommands\)$/;

describe('a command module loads when its command runs', () => {
  beforeAll(() => assertFreshBuild());

  it('at start no class is loaded; running `route plan` loads that one alone', () => {
    const seen = probe(['route:plan', 'credit:sign-update', 'credit:open'], [['route', 'plan', '--in', 'fixtures/route/seed-request.json']]);
    expect(seen.count).toBe(91);
    for (const s of Object.values(seen.before)) expect(s.refused).toMatch(NOT_LOADED);
    const [afterPlan] = seen.after;
    expect(afterPlan!['route:plan']).toEqual({ aliases: [] });
    expect(afterPlan!['credit:sign-update']!.refused).toMatch(NOT_LOADED);
    expect(afterPlan!['credit:open']!.refused).toMatch(NOT_LOADED);
  });

  it('an alias loads the command it names, which carries its aliases; help loads only the command asked about', () => {
    const seen = probe(['credit:sign-update', 'credit:open', 'onion:error:wrap'], [['sign-update', '--help'], ['help', 'onion-error', 'wrap'], ['--help']]);
    const [afterAlias, afterHelp, afterRootHelp] = seen.after;
    expect(afterAlias!['credit:sign-update']).toEqual({ aliases: ['sign-update'] });
    expect(afterAlias!['credit:open']!.refused).toMatch(NOT_LOADED);
    expect(afterHelp!['onion:error:wrap']).toEqual({ aliases: ['onion-error:wrap'] });
    expect(afterRootHelp!['credit:open']!.refused).toMatch(NOT_LOADED);
  });

  it('an unknown command loads none; loadCommands() loads every one', () => {
    const seen = probe(['credit:open', 'statechain:transfer'], [['credit', 'opne'], 'all']);
    expect(seen.stderr).toBe('offchain: error E_UNKNOWN_COMMAND: "credit opne" is not an offchain command; did you mean "credit open"? see offchain --help\n');
    expect(seen.after[0]!['credit:open']!.refused).toMatch(NOT_LOADED);
    expect(seen.after[1]).toEqual({ 'credit:open': { aliases: ['open-credit'] }, 'statechain:transfer': { aliases: ['statechain-transfer'] } });
  });
});

describe('argv shapes that name a command otherwise', () => {
  beforeAll(() => assertFreshBuild());

  it('an alias written with `:` (onion-error:unwrap) loads the command it names and runs it', () => {
    const seen = probe(['onion:error:unwrap', 'credit:open'], [['onion-error:unwrap']]);
    expect(seen.after[0]!['onion:error:unwrap']).toEqual({ aliases: ['onion-error:unwrap'] });
    expect(seen.after[0]!['credit:open']!.refused, 'that one alone, not every command (the retry)').toMatch(NOT_LOADED);
    expect(seen.stderr).toBe('offchain: error E_USAGE: Missing required flag secrets (see --help)\n');
    expect(run(['onion-error:unwrap'], { input: '' })).toEqual({ status: 2, stdout: '', stderr: 'offchain: error E_USAGE: Missing required flag secrets (see --help)\n' });
  });

  it('empty words are dropped, as oclif drops them: the command they surround is the one loaded', () => {
    const seen = probe(['credit:open', 'route:plan'], [['', 'route', '', 'plan', '--in', 'fixtures/route/seed-request.json']]);
    expect(seen.after[0]!['route:plan']).toEqual({ aliases: [] });
    expect(seen.after[0]!['credit:open']!.refused).toMatch(NOT_LOADED);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('%s (a name every JavaScript object has) is an unknown command', (word) => {
    expect(run([word], { input: '' })).toEqual({ status: 2, stdout: '', stderr: `offchain: error E_UNKNOWN_COMMAND: "${word}" is not an offchain command; see offchain --help\n` });
  });
});

describe('an installation without oclif.manifest.json', () => {
  const dir = tempDir('offchain-no-manifest-');
  beforeAll(() => {
    assertFreshBuild();
    mkdirSync(join(dir.path, 'bin'));
    for (const f of ['bin/run.js', 'bin/package.json', 'package.json']) copyFileSync(join(ROOT, f), join(dir.path, f));
    for (const d of ['dist', 'node_modules', 'fixtures']) symlinkSync(join(ROOT, d), join(dir.path, d));
  });
  afterAll(() => dir.cleanup());

  it('runs a command and prints help as the installed CLI does', () => {
    const args = ['route', 'plan', '--in', 'fixtures/route/seed-request.json'];
    const installed = run(args);
    const bare = spawnSync(process.execPath, [join(dir.path, 'bin', 'run.js'), ...args], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(installed.status).toBe(0);
    expect({ status: bare.status, stdout: bare.stdout, stderr: bare.stderr }).toEqual(installed);
    const help = spawnSync(process.execPath, [join(dir.path, 'bin', 'run.js'), 'credit', 'open', '--help'], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('ALIASES\n  $ offchain open-credit\n');
  });
});
