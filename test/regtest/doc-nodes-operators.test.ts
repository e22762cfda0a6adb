/**
 * The operators' pages' blocks that need a node run as written against the quick start's nodes
 * (issue 39 item 4): docs/device-gateway.md, serve.md, postgres.md and deployment.md mark them
 * `<!-- quickstart-operators: why -->` (test/e2e/doc-blocks-operators.ts; readme.test.ts counts
 * them as run elsewhere, test/regtest/doc-nodes.test.ts leaves them). One `node
 * scripts/quickstart.mjs --nodes-only --postgres` (with `--lightning` when LIGHTNINGD is set) for
 * the file; then each page's marked blocks in page order in ONE `bash -euo pipefail` after `. <work
 * directory>/env.sh` — a reader following the page in one terminal: a block may use what an
 * earlier marked block of its page set (deployment.md's role and password file), never what an
 * unmarked (offline) block did. Each page runs in a new directory holding only `fixtures` and `bin`
 * links, with a HOME and TMPDIR of its own (so the `mktemp -d` directories a block made can be
 * read back here). Each block must exit 0 — a block that fails ends its page, and every later
 * block of the page fails as not run — and what it prints is checked below, and what it says it
 * broadcast, paid or stored is asked of the node that holds it: bitcoind (`getrawtransaction`,
 * `getmempoolentry`), the Core Lightning nodes (`listpays`, `listinvoices`), PostgreSQL (its tables).
 *
 * Two lanes at once: the pages that pay a device toll (tip-sensitive: the HTLC's expiry against
 * the gateway's margins, and device-gateway.md mines ~40 blocks to an HTLC's expiry) one after
 * the other, the others beside them. BITCOIND is required (the file skips visibly without it); without LIGHTNINGD the Lightning
 * pages are skipped visibly.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { hasState, networkDir, records, withStateDb } from '../state.ts';
import { cleanEnv, finished } from '../e2e/cli.ts';
import { operatorsBlocks, type OperatorsBlock } from '../e2e/doc-blocks-operators.ts';
import { findBitcoind } from './bitcoind.ts';
import { findLightningd } from './lightningd.ts';
import { assertBuilt } from './offchain-cli.ts';
import { startQuickstartNodes, type QuickstartNodes } from './quickstart-nodes.ts';

const BITCOIND = findBitcoind();
const LIGHTNINGD = findLightningd();
const TITLE = BITCOIND
  ? `operators' docs blocks against the quick start's nodes (bitcoind, postgres${LIGHTNINGD ? ', lightningd' : '; Core Lightning pages SKIPPED: LIGHTNINGD unset'})`
  : "operators' docs blocks against the quick start's nodes — SKIPPED: no bitcoind on PATH and BITCOIND is unset";
if (!BITCOIND || !LIGHTNINGD) console.warn(`[regtest] ${TITLE}`);

const blocks = operatorsBlocks();
const key = (b: OperatorsBlock) => `${b.file} block ${b.n}`;
const pages = [...new Set(blocks.map((b) => b.file))];
const usesLightning = (file: string) => blocks.some((b) => b.file === file && /lightning-cli|open-on-node\.sh/.test(b.code));
/** A page that pays a toll: tip-sensitive (the HTLC's expiry against the gateway's margins), so never beside a page that mines to an expiry. */
const paysTolls = (file: string) => blocks.some((b) => b.file === file && /\bdevice pay\b/.test(b.code));

type Json = Record<string, any>;
type Ran = {
  stdout: string;
  stderr: string;
  /** The page's TMPDIR: the directories its blocks' `mktemp -d` made. */
  tmp: string;
  bcli: (...args: string[]) => string;
  /** lightning-cli on the gateway's node (the quick start's bin/ wrapper: -N none), or with --lightning-dir=… on another. */
  lcli: (...args: string[]) => Json;
  payee: (...args: string[]) => Json;
  /** A query as the quick start's superuser on one of its databases. */
  sql: (database: string, text: string, params?: unknown[]) => Promise<Json[]>;
};

/** Every top-level JSON document a block printed (the CLI pretty-prints: `{` and `}` at column 0), and any other lines. */
function documents(stdout: string): { docs: Json[]; lines: string[] } {
  const docs: Json[] = [];
  const lines: string[] = [];
  let buf: string[] | undefined;
  for (const line of stdout.split('\n')) {
    if (buf) {
      buf.push(line);
      if (line === '}') (docs.push(JSON.parse(buf.join('\n'))), (buf = undefined));
    } else if (line === '{') buf = [line];
    else if (line.trim()) lines.push(line);
  }
  expect(buf, 'an unterminated JSON document').toBeUndefined();
  return { docs, lines };
}
const only = (docs: Json[], type: string) => {
  const found = docs.filter((d) => d.type === type);
  expect(found, `one ${type} in ${JSON.stringify(docs.map((d) => d.type))}`).toHaveLength(1);
  return found[0]!;
};
/** The block's `mktemp -d` directories (in the page's TMPDIR) holding `file`, with what it holds. */
function madeDirs(tmp: string, file: string): { dir: string; text: string }[] {
  return readdirSync(tmp)
    .map((d) => join(tmp, d))
    .filter((d) => existsSync(join(d, file)))
    .map((dir) => ({ dir, text: readFileSync(join(dir, file), 'utf8') }));
}
/** The channel directory (fixtures/device/open-on-node.sh's) whose contract is `id`. */
function channelDir(tmp: string, id: string): string {
  const found = madeDirs(tmp, 'opened.json').filter((d) => JSON.parse(d.text).contract_id === id);
  expect(found, `the channel ${id} among the block's directories`).toHaveLength(1);
  return found[0]!.dir;
}

/** The toll the quick start's terms ask for 21 000 sat (fee 1000 msat + 2000 ppm, rounded up to the sat): this file's arithmetic. */
const TOLL_SAT = Math.ceil((21_000_000 + 1000 + Math.ceil((21_000_000 * 2000) / 1_000_000)) / 1000);
const sha256 = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');

/** A balance after one toll of the quick start's invoice, and that invoice paid at the payee's node. */
function paidToll({ stdout, tmp, payee }: Ran): Json {
  const balance = only(documents(stdout).docs, 'credit/balance');
  expect([balance.network, balance.state, balance.cumulative_sat]).toEqual(['regtest', 2, TOLL_SAT]);
  const invoice = readFileSync(join(channelDir(tmp, balance.contract_id), 'toll.bolt11'), 'utf8').trim();
  const paid = payee('listinvoices', `invstring=${invoice}`).invoices as Json[];
  expect(paid.map((i) => [i.status, i.amount_received_msat])).toEqual([['paid', 21_000_000]]);
  return { balance, invoice, hash: paid[0]!.payment_hash as string };
}

/**
 * What each block must print and leave, beyond exit 0 — one entry per marked block (asserted
 * below: a block marked without a check here fails, and a check whose block lost its mark too).
 */
const CHECKS: Record<string, (r: Ran) => void | Promise<void>> = {
  // The gateway's node pays the job by hand (xpay, maxdelay), the paid branch settles: the node's own record agrees.
  'docs/device-gateway.md block 2': (r) => {
    const { balance, hash } = paidToll(r);
    const job = JSON.parse(readFileSync(join(channelDir(r.tmp, balance.contract_id), 'job.json'), 'utf8'));
    expect(job.payment_hash).toBe(hash);
    const pays = r.lcli('listpays', `payment_hash=${hash}`).pays as Json[];
    expect(pays.map((p) => p.status)).toEqual(['complete']);
    expect(sha256(pays[0]!.preimage)).toBe(hash);
    // the preimage file the block wrote for `gateway settle` is the node's, and private
    const preimage = join(channelDir(r.tmp, balance.contract_id), 'preimage');
    expect(readFileSync(preimage, 'utf8').trim()).toBe(pays[0]!.preimage);
    expect(statSync(preimage).mode & 0o077).toBe(0);
  },
  // The gateway claims the HTLC its node paid (state + claim as one package), then a second channel's
  // device refunds an HTLC its gateway put on chain unpaid, once the tip reaches L.
  'docs/device-gateway.md block 4': ({ stdout, bcli, lcli }) => {
    const { docs } = documents(stdout);
    const exit = only(docs, 'credit/exit');
    expect(exit.broadcast.package_msg).toBe('success');
    expect(exit.htlc_claim.amount_sat).toBe(TOLL_SAT);
    expect(lcli('listpays', `payment_hash=${exit.htlc_claim.payment_hash}`).pays.map((p: Json) => p.status)).toEqual(['complete']);
    // Both mined (the second case's blocks mined them); the claim spends the state's HTLC output with
    // a witness carrying the 32-byte preimage of the payment hash (checked here with node:crypto).
    const state = JSON.parse(bcli('getrawtransaction', exit.state_tx.txid, 'true'));
    const claim = JSON.parse(bcli('getrawtransaction', exit.child.txid, 'true'));
    expect(state.confirmations).toBeGreaterThanOrEqual(1);
    expect(claim.confirmations).toBeGreaterThanOrEqual(1);
    expect(claim.vin.map((i: Json) => [i.txid, i.vout])).toContainEqual([exit.state_tx.txid, exit.htlc_claim.vout]);
    expect(claim.vin.flatMap((i: Json) => i.txinwitness ?? []).some((w: string) => w.length === 64 && sha256(w) === exit.htlc_claim.payment_hash)).toBe(true);

    const refund = only(docs, 'device/htlc-refund');
    expect([refund.final, refund.amount_sat, refund.broadcast.txid]).toEqual([true, TOLL_SAT, refund.txid]);
    expect(Number(bcli('getblockcount'))).toBeGreaterThanOrEqual(refund.final_from_height - 1);
    // accepted: in the mempool, or mined already by a block another page mined since
    const tx = JSON.parse(bcli('getrawtransaction', refund.txid, 'true'));
    expect(tx.vsize).toBe(refund.vsize);
    expect(tx.vin.map((i: Json) => [i.txid, i.vout])).toEqual([[refund.outpoint.txid, refund.outpoint.vout]]);
    // the state it spends from is the gateway's exit, mined
    expect(JSON.parse(bcli('getrawtransaction', refund.outpoint.txid, 'true')).confirmations).toBeGreaterThanOrEqual(1);
  },
  // gateway pay --lightning-rpc: the gateway's node pays inside the step, the device settles.
  'docs/device-gateway.md block 6': (r) => {
    const { hash } = paidToll(r);
    expect(r.lcli('listpays', `payment_hash=${hash}`).pays.map((p: Json) => p.status)).toEqual(['complete']);
  },
  // A refused device/pay (on block 6's channel) ends in the credit abandon: the device idle at the state it had, nothing paid.
  'docs/device-gateway.md block 7': ({ stdout, stderr, tmp, payee, lcli }) => {
    const { docs, lines } = documents(stdout);
    expect(lines).toEqual(['gateway pay: exit 4']);
    expect(stderr).toMatch(/^offchain: error E_HTLC_EXPIRY_TOO_SOON: /m);
    expect(stderr.match(/offchain: error/g)).toHaveLength(1);
    const balance = only(docs, 'credit/balance');
    expect([balance.state, balance.cumulative_sat]).toEqual([2, TOLL_SAT]);
    const dir = channelDir(tmp, balance.contract_id);
    expect(JSON.parse(readFileSync(join(dir, 'pay.json'), 'utf8')).type).toBe('device/pay');
    const invoice = readFileSync(join(dir, 'refused.bolt11'), 'utf8').trim();
    expect(payee('listinvoices', `invstring=${invoice}`).invoices.map((i: Json) => i.status)).toEqual(['unpaid']);
    expect(lcli('listpays', `bolt11=${invoice}`).pays).toEqual([]);
  },
  // serve gateway on the gateway's node; the device's whole toll through it in one `device pay --peer`.
  'docs/serve.md block 2': (r) => {
    const { balance } = paidToll(r);
    const listening = JSON.parse(readFileSync(join(channelDir(r.tmp, balance.contract_id), 'listening'), 'utf8').split('\n')[0]!);
    expect(listening.public).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.operator).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  },
  // The gateway's steps on the quick start's PostgreSQL: the channel funded on the node, the demo toll settled.
  'docs/postgres.md block 1': async ({ stdout, bcli, sql }) => {
    const { docs, lines } = documents(stdout);
    const balance = only(docs, 'credit/balance');
    expect([balance.state, balance.cumulative_sat]).toEqual([2, 2506]);
    expect(lines).toHaveLength(1); // the funding's txid, from sendrawtransaction: mined
    expect(JSON.parse(bcli('getrawtransaction', lines[0]!, 'true')).confirmations).toBeGreaterThanOrEqual(1);
    expect((await sql('gateway', 'SELECT contract_id FROM contracts')).map((r) => r.contract_id)).toEqual([balance.contract_id]);
  },
  // The role and its database, and a password file that logs in as it.
  'docs/deployment.md block 1': async ({ stdout, tmp, sql }) => {
    expect(stdout.trim()).toBe('');
    const owner = await sql('postgres', "SELECT r.rolcanlogin, r.rolsuper FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = 'offchain' AND r.rolname = 'offchain'");
    expect(owner).toEqual([{ rolcanlogin: true, rolsuper: false }]);
    const [file] = madeDirs(tmp, 'store.pw');
    expect(statSync(join(file!.dir, 'store.pw')).mode & 0o777).toBe(0o600);
    const port = Number(readFileSync(join(work, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[3]);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'offchain', password: file!.text.trim(), database: 'offchain' });
    await client.connect();
    try {
      expect((await client.query('SELECT current_user AS u')).rows).toEqual([{ u: 'offchain' }]);
    } finally {
      await client.end();
    }
  },
  // The operator's steps, by OFFCHAIN_STORE_URL: the coin's rows in the store, none in the operator's files.
  'docs/deployment.md block 2': async ({ stdout, tmp, bcli, sql }) => {
    const cosigned = only(documents(stdout).docs, 'statechain/transfer-cosigned');
    const [coinFile] = madeDirs(tmp, 'coin.json');
    const coin = JSON.parse(coinFile!.text);
    const rows = await sql('offchain', 'SELECT status, version FROM statechain_operator_coins WHERE coin_id = $1', [coin.coin_id]);
    expect(rows.map((r) => r.status)).toEqual(['transferring']);
    expect(await sql('offchain', 'SELECT n FROM statechain_operator_backups WHERE coin_id = $1 ORDER BY n', [coin.coin_id])).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await sql('offchain', 'SELECT txid FROM statechain_operator_backups WHERE coin_id = $1 AND n = 2', [coin.coin_id]))[0]!.txid).toBe(cosigned.backup_txid);
    expect(await sql('offchain', "SELECT state FROM statechain_operator_transfers WHERE coin_id = $1", [coin.coin_id])).toEqual([{ state: 'pending' }]);
    expect(records(networkDir(join(coinFile!.dir, 'op')), 'statechain-operator')).toEqual([]);
    // the coin's funding, mined twice (its min_confirmations)
    const funding = (coin.statement?.outpoint ?? coin.outpoint) as string;
    expect(JSON.parse(bcli('getrawtransaction', funding.split(':')[0]!, 'true')).confirmations).toBeGreaterThanOrEqual(2);
  },
  // The fixtures' operator moved to the store: its coin there, its record gone from its state.sqlite, the directory marked.
  'docs/deployment.md block 3': async ({ stdout, tmp, sql }) => {
    const coinId = readFileSync(join(ROOT, 'fixtures/statechain/coin-id'), 'utf8').trim();
    const migrated = only(documents(stdout).docs, 'statechain/store-migrated');
    expect(migrated.coins).toEqual([coinId]);
    expect((await sql('offchain', 'SELECT coin_id FROM statechain_operator_coins WHERE coin_id = $1', [coinId])).length).toBe(1);
    const dir = readdirSync(tmp).map((d) => join(tmp, d, 'operator', 'regtest')).find(hasState)!;
    expect(records(dir, 'statechain-operator')).toEqual([]);
    const mark = withStateDb(dir, (db) => db.sql.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'statechain_operator_migrated'").get());
    expect(JSON.parse(mark!.value)).toMatchObject({ to: expect.stringMatching(/^postgres(ql)?:\/\//) });
  },
};

/** The blocks that show a refusal: their check reads stderr; every other block prints no error. */
const REFUSES = new Set(['docs/device-gateway.md block 7']);

let work = '';

(BITCOIND ? describe : describe.skip)(TITLE, () => {
  let qs: QuickstartNodes | undefined;
  const sandbox = tempDir('offchain-doc-nodes-operators-');
  /** Each page's run, started once the quick start is ready: each block's output and whether it finished. */
  const runs = new Map<string, Promise<Map<number, { ok: boolean; stdout: string; stderr: string }> & { tmp: string; tail: string }>>();

  async function runPage(file: string) {
    const name = file.replace(/\W+/g, '-');
    const root = join(sandbox.path, name);
    const [dir, home, tmp, scripts] = ['work', 'home', 'tmp', 'blocks'].map((d) => join(root, d)) as [string, string, string, string];
    for (const d of [dir, home, tmp, scripts]) mkdirSync(d, { recursive: true });
    symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'));
    symlinkSync(join(ROOT, 'bin'), join(dir, 'bin'));
    const mine = blocks.filter((b) => b.file === file);
    const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const lines = [`. ${q(join(work, 'env.sh'))}`];
    for (const b of mine) {
      writeFileSync(join(scripts, `${b.n}.sh`), b.code);
      // As written, in this shell (what it sets, later blocks of the page see); its output kept apart.
      lines.push(`. ${q(join(scripts, `${b.n}.sh`))} > ${q(join(scripts, `${b.n}.out`))} 2> ${q(join(scripts, `${b.n}.err`))}`, `: > ${q(join(scripts, `${b.n}.ok`))}`);
    }
    writeFileSync(join(scripts, 'page.sh'), `${lines.join('\n')}\n`);
    const env = { ...cleanEnv({ NODE_ENV: '' }), HOME: home, TMPDIR: tmp };
    const child = spawn('bash', ['-euo', 'pipefail', join(scripts, 'page.sh')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let tail = '';
    try {
      const r = await finished(child, file, 240_000, { group: true });
      tail = `page exited ${r.status}\n${r.stderr}`;
    } catch (e) {
      tail = String(e);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // whatever a failed block left running in the page's group
      } catch { /* none */ }
    }
    const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    const result = new Map(mine.map((b) => {
      const p = (ext: string) => join(scripts, `${b.n}.${ext}`);
      return [b.n, { ok: existsSync(p('ok')), stdout: read(p('out')), stderr: read(p('err')) }] as const;
    }));
    return Object.assign(result, { tmp, tail });
  }

  beforeAll(async () => {
    assertBuilt();
    qs = await startQuickstartNodes(['--postgres', ...(LIGHTNINGD ? ['--lightning'] : [])], { BITCOIND, LIGHTNINGD });
    work = qs.work;
    // The pages that pay tolls one after another (a toll is tip-sensitive, and device-gateway.md mines
    // ~40 blocks to an HTLC's expiry), the others beside them; without Core Lightning its pages are skipped.
    const lane = async (files: string[]) => {
      for (const f of files) {
        const run = runPage(f);
        runs.set(f, run);
        await run;
      }
    };
    const runnable = pages.filter((f) => LIGHTNINGD || !usesLightning(f));
    void lane(runnable.filter(paysTolls));
    void lane(runnable.filter((f) => !paysTolls(f)));
    // The nodes' start alone may take startQuickstartNodes' 240 s on a loaded CI machine.
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    await qs?.stop();
    sandbox.cleanup();
  }, 300_000);

  it('finds the marked blocks, each with its check here', () => {
    expect(blocks.map(key).sort()).toEqual(Object.keys(CHECKS).sort());
    for (const b of blocks) expect(b.operators.trim().length, key(b)).toBeGreaterThan(10);
  });

  for (const b of blocks) {
    (usesLightning(b.file) && !LIGHTNINGD ? it.skip : it)(`${b.file}:${b.line} (block ${b.n}) runs against the quick start`, async () => {
      expect(work, 'the quick start did not start (beforeAll)').not.toBe('');
      // A lane starts its next page only when the one before it ends.
      while (!runs.has(b.file)) await new Promise((r) => setTimeout(r, 200));
      const page = await runs.get(b.file)!;
      const r = page.get(b.n)!;
      expect(r.ok, `${key(b)} did not finish (a block before it failed, or it did)\n--- its stdout\n${r.stdout}\n--- its stderr\n${r.stderr}\n--- the page\n${page.tail}`).toBe(true);
      if (!REFUSES.has(key(b))) expect(r.stderr).not.toMatch(/offchain: error/);
      const port = Number(readFileSync(join(work, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[3]);
      const password = readFileSync(join(work, 'keys', 'pg-password'), 'utf8').trim();
      const cli = (bin: string, ...args: string[]) => execFileSync(join(work, 'bin', bin), args, { encoding: 'utf8' });
      await CHECKS[key(b)]!({
        stdout: r.stdout,
        stderr: r.stderr,
        tmp: page.tmp,
        bcli: (...args) => cli('bitcoin-cli', ...args),
        lcli: (...args) => JSON.parse(cli('lightning-cli', '-k', ...args)),
        payee: (...args) => JSON.parse(cli('lightning-cli', `--lightning-dir=${join(work, 'cln-payee')}`, '-k', ...args)),
        sql: async (database, text, params = []) => {
          const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
          await client.connect();
          try {
            return (await client.query(text, params)).rows;
          } finally {
            await client.end();
          }
        },
      });
    }, 300_000);
  }
});
