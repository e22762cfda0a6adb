/**
 * A full disk, a read-only state directory: a coded error and nothing changed (issue 41).
 *
 * Every state-changing command group's steps run with their state on a real small
 * filesystem — a tmpfs filled to leave N pages free, N = 0, 1, 2, … until the step
 * succeeds — so the failure lands at each of the step's writes in turn (the lock file, a
 * temp file, its rename, a nonce's tombstone, the nonce ledger's journal, SQLite's -shm,
 * its WAL, its COMMIT). Each failed run must give, as BRIEF §2 and docs/cli.md say:
 *
 *   - one line on stderr, `offchain: error E_STORE_FULL: …`, exit 1;
 *   - nothing on stdout (no signature, no nonce, no receipt left the process);
 *   - the state byte-identical to before: every entry's name, kind, mode and bytes
 *     (temp files, lock files, SQLite's -wal/-shm, the ledger's journal included).
 *
 * The sweep runs the built CLI in this process (in-process.ts: ~10–50 ms a run) and ends
 * with the step's success (so it has seen each of its writes fail); one spawned run per
 * group (N = 0) checks the process's own exit code and stderr. Then the same
 * steps on the filesystem remounted read-only: E_STATE_ACCESS, exit 2, nothing changed.
 *
 * Needs root (mount -t tmpfs): without it the file is skipped, visibly.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { KEYS } from './bad-input-cases.ts';
import { treeOf, type Tree } from './bad-input-run.ts';
import { run, type Run } from './cli.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';

const fixtures = (p: string) => join(ROOT, 'fixtures', p);
const PAGE = 4096;
const MAX_PAGES = 80;

type Step = {
  group: string;
  name: string;
  args: string[];
  /** State the step starts from: where in the working directory ← a source directory. */
  state: Record<string, string>;
  /** Standard input: a file name under the setup directory (made by `beforeAll`), or a fixture. */
  input?: () => string;
  env: Record<string, string>;
};

let root: { path: string; cleanup: () => void };
let mnt = '';
let mounted = false;
let canMount = true;
const made = new Map<string, string>();

function sh(cmd: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const env = (...names: (keyof typeof KEYS)[]) => Object.fromEntries(names.map((n) => [n, KEYS[n]]));
const ALICE = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa';
const BOB = '02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27';
/** A directory `beforeAll` makes (the root is made then): `@` and its path under setup/, resolved by `prepare`. */
const made_ = (p: string) => `@${p}`;
const setup = (p: string) => join(root.path, 'setup', p);
const file = (name: string) => () => made.get(name)!;

const STEPS: Step[] = [
  { group: 'credit', name: 'sign-update --role user (the request)', args: ['sign-update', '--role', 'user', '--amount', '5000', '--key-env', 'USER_KEY', '--state-dir', 'user'], state: { user: made_('credit/user') }, env: env('USER_KEY') },
  { group: 'credit', name: 'sign-update --role mint', args: ['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', 'mint', '--tip-height', '1001', '--confirmations', '1'], state: { mint: made_('credit/mint') }, input: file('request'), env: env('MINT_KEY') },
  { group: 'credit', name: 'sign-update --role user (the receipt)', args: ['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', 'user'], state: { user: made_('after-request/user') }, input: file('receipt'), env: env('USER_KEY') },
  { group: 'device', name: 'device pay', args: ['device', 'pay', '--invoice', 'fixtures/device/toll.bolt11', '--policy', 'fixtures/policies/device.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', '--key-env', 'USER_KEY', '--state-dir', 'user'], state: { user: made_('credit/user') }, env: env('USER_KEY') },
  { group: 'device', name: 'gateway pay', args: ['gateway', 'pay', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', '--confirmations', '1', '--key-env', 'MINT_KEY', '--state-dir', 'mint'], state: { mint: made_('credit/mint') }, input: file('device-pay'), env: env('MINT_KEY') },
  { group: 'statechain', name: 'statechain-deposit (the operator)', args: ['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc', '--tip-height', '200'], state: { sc: fixtures('statechain/state/operator') }, input: () => fixtures('statechain/deposit-request.json'), env: env('OPERATOR_KEY') },
  { group: 'statechain', name: 'statechain-deposit (the owner, cosigned)', args: ['statechain-deposit', '--key-env', 'ALICE_KEY', '--state-dir', 'sc'], state: { sc: fixtures('statechain/state/alice-depositing') }, input: () => fixtures('statechain/deposit-cosigned.json'), env: env('ALICE_KEY') },
  { group: 'statechain', name: 'statechain-withdraw (the operator)', args: ['statechain-withdraw', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc'], state: { sc: fixtures('statechain/state/operator') }, input: () => fixtures('statechain/withdraw-request.json'), env: env('OPERATOR_KEY') },
  { group: 'musig', name: 'musig nonce', args: ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', 'alice'], state: { alice: made_('musig/empty') }, input: file('musig-init'), env: env('ALICE_KEY') },
  { group: 'musig', name: 'musig sign (its nonce from the store)', args: ['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', 'alice'], state: { alice: made_('musig/alice') }, input: file('musig-nonces'), env: env('ALICE_KEY') },
  { group: 'ptlc', name: 'ptlc presign', args: ['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', 'ptlc', '--outpoint', `${'5f'.repeat(32)}:0`, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2'], state: { ptlc: made_('musig/empty') }, input: () => fixtures('ptlc/created.json'), env: env('BOB_KEY') },
  { group: 'commitment', name: 'commitment init (BOLT 3)', args: ['commitment', 'init', '--channel', 'fixtures/bolt3/bob-channel.json', '--seed-file', 'fixtures/bolt3/bob.seed', '--state-dir', 'bolt3'], state: { bolt3: fixtures('bolt3/bob-state-dir') }, input: () => fixtures('bolt3/alice-points.json'), env: {} },
  { group: 'commitment', name: 'commitment close (BOLT 2 shutdown)', args: ['commitment', 'close', '--seed-file', 'fixtures/bolt3/bob.seed', '--to', 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j', '--key-env', 'BOB_FUNDING', '--state-dir', 'bolt3'], state: { bolt3: fixtures('bolt3/bob-state-dir') }, input: () => fixtures('bolt3/alice-shutdown.json'), env: env('BOB_FUNDING') },
];

/** One spawned run per group (the first step of each): the process's own exit code and stderr. */
const SPAWNED = new Set(STEPS.filter((s, i) => STEPS.findIndex((t) => t.group === s.group) === i));

/** The mount's tree without the filler, and without the `fixtures` link's target. */
function stateTree(): Tree {
  const t = treeOf(mnt);
  delete t.fill;
  return t;
}

/** The working directory on the tmpfs, emptied, the step's state copied in, the rest filled to leave `pages` free. */
function prepare(step: Step, pages: number | undefined): void {
  for (const name of readdirSync(mnt)) rmSync(join(mnt, name), { recursive: true, force: true });
  symlinkSync(join(ROOT, 'fixtures'), join(mnt, 'fixtures'));
  for (const [dest, src] of Object.entries(step.state)) {
    cpSync(src.startsWith('@') ? setup(src.slice(1)) : src, join(mnt, dest), { recursive: true, preserveTimestamps: true });
    spawnSync('chmod', ['-R', 'go-rwx', join(mnt, dest)]);
  }
  if (pages === undefined) return;
  const st = statfsSync(mnt);
  const fill = st.bavail * st.bsize - pages * PAGE;
  if (fill > 0) writeFileSync(join(mnt, 'fill'), Buffer.alloc(fill));
  const left = statfsSync(mnt);
  if (left.bavail * left.bsize !== pages * PAGE) throw new Error(`filled to ${left.bavail * left.bsize} bytes free, not ${pages * PAGE}`);
}

const runEnv = (step: Step) => ({ HOME: join(root.path, 'home'), TMPDIR: join(root.path, 'tmp'), ...step.env });
const inputOf = (step: Step) => (step.input ? readFileSync(step.input()) : '');

function refusal(r: Run, code: string, exit: number, what: string): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('offchain: warning:'));
  expect(lines, `${what}: stderr`).toHaveLength(1);
  expect(lines[0], what).toMatch(new RegExp(`^offchain: error ${code}: `));
  expect(r.status, `${what}: ${lines[0]}`).toBe(exit);
  expect(r.stdout, `${what}: stdout`).toBe('');
}

beforeAll(async () => {
  root = tempDir('offchain-full-disk-');
  mnt = join(root.path, 'mnt');
  for (const d of ['mnt', 'home', 'tmp', 'setup/musig/empty']) mkdirSync(join(root.path, d), { recursive: true });
  const m = sh(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt]);
  if (m.status !== 0) {
    canMount = false;
    console.warn(`SKIPPED test/e2e/full-disk.test.ts: cannot mount a tmpfs (${m.stderr.trim() || `exit ${m.status}`}); run as root to test a full and a read-only state directory`);
    return;
  }
  mounted = true;
  // A demo credit contract (mint/, user/) as fixtures/credit/open-demo.sh opens it, in this process.
  const demo = join(root.path, 'setup', 'credit');
  const seed = { OFFCHAIN_TEST_SEED: 'demo' };
  const mintSide = ['--key-env', 'MINT_KEY', '--state-dir', join(demo, 'mint')];
  const userSide = ['--key-env', 'USER_KEY', '--state-dir', join(demo, 'user')];
  mkdirSync(join(demo, 'mint'), { recursive: true });
  mkdirSync(join(demo, 'user'));
  const offer = await runInProcess(['open-credit', '--role', 'mint', '--publish', ...mintSide, '--payout-address', 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte'], { env: { ...seed, ...env('MINT_KEY') } });
  if (offer.status !== 0) throw new Error(`the offer: ${offer.stderr}`);
  writeFileSync(join(demo, 'offer.json'), offer.stdout);
  const opened = await pipelineInProcess([
    { args: ['open-credit', '--role', 'user', ...userSide, '--offer', join(demo, 'offer.json'), '--tip-height', '1000', '--expiry', '+4320', '--refund-address', 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j', '--in', fixtures('credit/funding.psbt')], env: { ...seed, ...env('USER_KEY') } },
    { args: ['open-credit', '--role', 'mint', ...mintSide, '--tip-height', '1000'], env: { ...seed, ...env('MINT_KEY') } },
    { args: ['open-credit', '--role', 'user', ...userSide], env: { ...seed, ...env('USER_KEY') } },
  ]);
  opened.forEach((r, i) => {
    if (r.status !== 0) throw new Error(`opening, stage ${i}: ${r.stderr}`);
  });
  const after = setup('after-request');
  cpSync(demo, after, { recursive: true, preserveTimestamps: true });
  const ok = (r: Run, what: string) => {
    if (r.status !== 0) throw new Error(`${what}: ${r.stderr}`);
    return r.stdout;
  };
  const request = ok(await runInProcess(['sign-update', '--role', 'user', '--amount', '5000', '--key-env', 'USER_KEY', '--state-dir', join(after, 'user')], { env: env('USER_KEY') }), 'the request');
  const scratch = setup('scratch');
  cpSync(demo, scratch, { recursive: true });
  const receipt = ok(await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', join(scratch, 'mint'), '--tip-height', '1001', '--confirmations', '1'], { input: request, env: env('MINT_KEY') }), 'the receipt');
  const pay = ok(await runInProcess(['device', 'pay', '--invoice', fixtures('device/toll.bolt11'), '--policy', fixtures('policies/device.json'), '--terms', fixtures('policies/gateway-terms.json'), '--now', '1800000000', '--tip-height', '1000', '--key-env', 'USER_KEY', '--state-dir', join(scratch, 'user')], { env: env('USER_KEY') }), 'device pay');
  // MuSig2: alice's nonce stored (her state), bob's added: what alice signs with her stored nonce.
  const unsigned = readFileSync(fixtures('psbt/musig-keypath-unsigned.psbt'), 'utf8');
  const init = ok(await runInProcess(['musig', 'init', '--participant', ALICE, '--participant', BOB], { input: unsigned }), 'musig init');
  const aliceNonce = ok(await runInProcess(['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', setup('musig/alice')], { input: init, env: env('ALICE_KEY') }), 'alice nonce');
  mkdirSync(setup('musig/bob'));
  const nonces = ok(await runInProcess(['musig', 'nonce', '--key-env', 'BOB_KEY', '--state-dir', setup('musig/bob')], { input: aliceNonce, env: env('BOB_KEY') }), 'bob nonce');
  for (const [name, text] of Object.entries({ request, receipt, 'device-pay': pay, 'musig-init': init, 'musig-nonces': nonces })) {
    writeFileSync(setup(`${name}.json`), text);
    made.set(name, setup(`${name}.json`));
  }
}, 120_000);

afterAll(() => {
  if (mounted) sh(['umount', mnt]);
  root?.cleanup();
});

describe.each(STEPS)('$group: $name', (step) => {
  it('a full disk at each of its writes: E_STORE_FULL, exit 1, nothing on stdout, the state byte-identical', async ({ skip }) => {
    if (!canMount) skip();
    let pages = 0;
    for (; pages <= MAX_PAGES; pages++) {
      prepare(step, pages);
      const before = stateTree();
      const r = await runInProcess(step.args, { input: inputOf(step), cwd: mnt, env: runEnv(step) });
      if (r.status === 0) break;
      refusal(r, 'E_STORE_FULL', 1, `${pages} pages free`);
      expect(stateTree(), `${pages} pages free: ${r.stderr}`).toEqual(before);
    }
    expect(pages, 'the step never succeeded').toBeLessThanOrEqual(MAX_PAGES);
    expect(pages, 'no write failed: the sweep saw nothing').toBeGreaterThan(0);
  });

  it.runIf(SPAWNED.has(step))('the process (spawned) with no room: one coded line, exit 1, nothing changed', ({ skip }) => {
    if (!canMount) skip();
    prepare(step, 0);
    const before = stateTree();
    const r = run(step.args, { input: inputOf(step), cwd: mnt, env: runEnv(step) });
    refusal(r, 'E_STORE_FULL', 1, 'spawned, 0 pages free');
    expect(stateTree()).toEqual(before);
  });

  it('a read-only state directory: E_STATE_ACCESS, exit 2, nothing changed', async ({ skip }) => {
    if (!canMount) skip();
    prepare(step, undefined);
    const before = stateTree();
    expect(sh(['mount', '-o', 'remount,ro', mnt]).status).toBe(0);
    try {
      const r = await runInProcess(step.args, { input: inputOf(step), cwd: mnt, env: runEnv(step) });
      refusal(r, 'E_STATE_ACCESS', 2, 'read-only');
    } finally {
      expect(sh(['mount', '-o', 'remount,rw', mnt]).status).toBe(0);
    }
    expect(stateTree()).toEqual(before);
  });
});
