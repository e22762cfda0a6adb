/**
 * The docs' blocks that need a node run as written against the quick start's (issue 39 item 4).
 * A block marked `<!-- quickstart: why -->` (test/e2e/doc-blocks.ts; readme.test.ts counts it
 * and leaves it to this file) runs here: one `node scripts/quickstart.mjs --nodes-only` for the
 * file (with Core Lightning when LIGHTNINGD is set), then each block as `bash -euo pipefail`
 * after `. <work directory>/env.sh` (what a reader sources: bitcoin-cli, lightning-cli -N none
 * and offchain on PATH, OFFCHAIN_RPC_URL and its cookie, the services' URLs), in a new
 * directory holding only `fixtures` and `bin` links, as readme.test.ts runs the others. Each
 * block's exit status and what it prints are checked, and what it says it broadcast is asked
 * of the node. BITCOIND is required (the file skips visibly without it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { cleanEnv, environmentOutsideRuns, finished } from '../e2e/cli.ts';
import { DOCS, blocksOf, type Block } from '../e2e/doc-blocks.ts';
import { findBitcoind } from './bitcoind.ts';
import { findLightningd } from './lightningd.ts';
import { assertBuilt } from './offchain-cli.ts';

const BITCOIND = findBitcoind();
const LIGHTNINGD = findLightningd();
const TITLE = BITCOIND
  ? `docs blocks against the quick start's nodes (bitcoind${LIGHTNINGD ? ', lightningd' : '; Core Lightning SKIPPED: LIGHTNINGD unset'})`
  : "docs blocks against the quick start's nodes — SKIPPED: no bitcoind on PATH and BITCOIND is unset";
if (!BITCOIND || !LIGHTNINGD) console.warn(`[regtest] ${TITLE}`);

const blocks = DOCS.flatMap(blocksOf).filter((b) => b.quickstart !== undefined);
const key = (b: Block) => `${b.file} block ${b.n}`;

type Ran = { stdout: string; stderr: string; bcli: (...args: string[]) => string };
/**
 * What each block must print, beyond exit 0 — one entry per marked block (asserted below, so a
 * block marked without a check here fails, and a check whose block lost its mark too).
 */
const CHECKS: Record<string, (r: Ran) => void> = {
  // credit.md, "Offline, regtest and a node": open with the node's wallet, pay 10000, close cooperatively.
  'docs/credit.md block 7': ({ stdout, bcli }) => {
    const balance = /\{\n {2}"type": "credit\/balance",[\s\S]*?\n\}/.exec(stdout);
    expect(balance, stdout).not.toBeNull();
    const b = JSON.parse(balance![0]) as { network: string; cumulative_sat: number; state: number };
    expect([b.network, b.cumulative_sat, b.state]).toEqual(['regtest', 10000, 1]);
    // The last line is the close's txid, from sendrawtransaction: the node has it in its mempool.
    const txid = stdout.trim().split('\n').at(-1)!;
    expect(txid).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(bcli('getmempoolentry', txid)).vsize).toBeGreaterThan(0);
  },
  // htlc.md, "A session": create a seed HTLC, fund it from the node's wallet, Bob claims with the preimage.
  'docs/htlc.md block 2': ({ stdout, bcli }) => {
    const txid = stdout.trim();
    expect(txid).toMatch(/^[0-9a-f]{64}$/);
    // The claim the node accepted spends the HTLC output through its preimage path: the witness
    // carries a 32-byte preimage whose SHA-256 is the script's hash (checked here with node:crypto).
    const tx = JSON.parse(bcli('getrawtransaction', txid, 'true')) as { vin: { txinwitness: string[] }[] };
    expect(tx.vin).toHaveLength(1);
    const witness = tx.vin[0]!.txinwitness;
    const preimage = witness.find((w) => w.length === 64)!;
    const script = witness.at(-1)!;
    expect(script).toContain(createHash('ripemd160').update(createHash('sha256').update(Buffer.from(preimage, 'hex')).digest()).digest('hex'));
  },
};

(BITCOIND ? describe : describe.skip)(TITLE, () => {
  let qs: ChildProcess | undefined;
  let work = '';
  let out = '';

  beforeAll(async () => {
    assertBuilt();
    const env = { ...environmentOutsideRuns(), BITCOIND } as NodeJS.ProcessEnv;
    if (LIGHTNINGD) env['LIGHTNINGD'] = LIGHTNINGD;
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'quickstart.mjs'), '--nodes-only', ...(LIGHTNINGD ? ['--lightning'] : [])], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    qs = child;
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`quickstart not ready in 90 s\n${out}\n${err}`)), 90_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (/Ctrl-C stops everything it started\.\n/.test(out)) (clearTimeout(timer), resolve());
      });
      child.on('close', (status) => (clearTimeout(timer), reject(new Error(`quickstart exited ${status}\n${out}\n${err}`))));
    });
    work = /work directory (\S+)/.exec(out)![1]!;
  }, 120_000);

  afterAll(async () => {
    if (!qs || qs.exitCode !== null) return;
    const closed = new Promise((r) => qs!.once('close', r));
    qs.kill('SIGTERM');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 30_000))]);
  }, 40_000);

  it('finds the marked blocks, each with its check here', () => {
    expect(blocks.map(key).sort()).toEqual(Object.keys(CHECKS).sort());
    for (const b of blocks) expect(b.quickstart!.trim().length, key(b)).toBeGreaterThan(10);
  });

  it('the quick start says where its env.sh is', () => {
    expect(out).toContain(`source ${join(work, 'env.sh')}`);
    expect(existsSync(join(work, 'env.sh'))).toBe(true);
  });

  for (const b of blocks) {
    const needsLightning = /lightning-cli/.test(b.code);
    (needsLightning && !LIGHTNINGD ? it.skip : it)(`${b.file}:${b.line} (block ${b.n}) runs against the quick start`, async () => {
      const sandbox = tempDir('offchain-doc-nodes-');
      try {
        const dir = join(sandbox.path, 'work');
        for (const d of [dir, join(sandbox.path, 'home'), join(sandbox.path, 'tmp')]) mkdirSync(d);
        symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'));
        symlinkSync(join(ROOT, 'bin'), join(dir, 'bin'));
        const env = { ...cleanEnv({ NODE_ENV: '' }), HOME: join(sandbox.path, 'home'), TMPDIR: join(sandbox.path, 'tmp') };
        const code = `. '${join(work, 'env.sh')}'\n${b.code}`;
        const child = spawn('bash', ['-euo', 'pipefail', '-c', code], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        child.stdin.end();
        const r = await finished(child, key(b), 60_000, { group: true });
        expect(r.status, `exited ${r.status}\n${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.stderr).not.toMatch(/offchain: error/);
        const bcli = (...args: string[]) => execFileSync(join(work, 'bin', 'bitcoin-cli'), args, { encoding: 'utf8' });
        CHECKS[key(b)]!({ stdout: r.stdout, stderr: r.stderr, bcli });
      } finally {
        sandbox.cleanup();
      }
    }, 90_000);
  }
});
