/**
 * The docs' blocks that need a node run as written against the quick start's (issue 39 item 4).
 * A block marked `<!-- quickstart: why -->` (test/e2e/doc-blocks.ts; readme.test.ts counts it
 * and leaves it to this file) runs here: one `node scripts/quickstart.mjs --nodes-only --state
 * credit,statechain` for the file (with Core Lightning when LIGHTNINGD is set, Nutshell when NUTSHELL is),
 * then each block as `bash -euo pipefail` after `. <work directory>/env.sh` (what a reader
 * sources: bitcoin-cli, lightning-cli -N none and offchain on PATH, OFFCHAIN_RPC_URL and its
 * cookie, the services' URLs, and what --state left: the credit mint's and the user's keys,
 * state directories and contract; alice's statechain coin, the pair's, and the three parties' keys). The blocks of one page run in order in one directory
 * holding `fixtures` and `bin` links, as a reader runs them top to bottom: a page's later
 * block may use what an earlier one made (credit.md's rollover, then its abandon, exit and
 * refund). Each block's exit status and what it prints are checked, and what it says it
 * broadcast is asked of the node; a refund is first shown rejected `non-final` one block
 * before its height. BITCOIND is required (the file skips visibly without it).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { cleanEnv, finished } from '../e2e/cli.ts';
import { DOCS, blocksOf, type Block } from '../e2e/doc-blocks.ts';
import { findBitcoind } from './bitcoind.ts';
import { findLightningd } from './lightningd.ts';
import { findNutshell, proofStates, swapToken } from '../nutshell/nutshell.ts';
import { base58checkEncode, hash160 } from '../independent/base58check.ts';
import { assertBuilt } from './offchain-cli.ts';
import { startQuickstartNodes, type QuickstartNodes } from './quickstart-nodes.ts';

const BITCOIND = findBitcoind();
const LIGHTNINGD = findLightningd();
const NUTSHELL = findNutshell();
const TITLE = BITCOIND
  ? `docs blocks against the quick start's nodes (bitcoind${LIGHTNINGD ? ', lightningd' : '; Core Lightning SKIPPED: LIGHTNINGD unset'}${NUTSHELL ? ', nutshell' : '; Nutshell SKIPPED: NUTSHELL unset'})`
  : "docs blocks against the quick start's nodes — SKIPPED: no bitcoind on PATH and BITCOIND is unset";
if (!BITCOIND || !LIGHTNINGD || !NUTSHELL) console.warn(`[regtest] ${TITLE}`);

const blocks = DOCS.flatMap(blocksOf).filter((b) => b.quickstart !== undefined);
const key = (b: Block) => `${b.file} block ${b.n}`;

type Ran = {
  stdout: string;
  stderr: string;
  bcli: (...args: string[]) => string;
  /** A file the page's blocks left in their directory. */
  file: (name: string) => string;
  /** What env.sh exports. */
  env: Record<string, string>;
};
type Tx = { txid: string; locktime: number; vin: { txid: string; vout: number; txinwitness?: string[] }[]; vout: { value: number; n: number; scriptPubKey: { hex: string; address?: string } }[] };
const sat = (btc: number) => Math.round(btc * 1e8);
/** The one JSON document a block printed, by its type (pretty-printed: it starts and ends at column 0). */
function printed<T>(stdout: string, type: string): T {
  const found = [...stdout.matchAll(/^\{\n[\s\S]*?\n\}$/gm)].map((m) => JSON.parse(m[0]) as { type?: string }).filter((d) => d.type === type);
  expect(found, `${type} in\n${stdout}`).toHaveLength(1);
  return found[0] as T;
}
/** Every JSON document a block printed (pretty-printed: each starts and ends at column 0). */
const documents = <T = { type: string }>(stdout: string) => [...stdout.matchAll(/^\{\n[\s\S]*?\n\}$/gm)].map((m) => JSON.parse(m[0]) as T);
type Coin = {
  type: string; coin_id: string; owner_share: string; next: string; outpoint: string; latest_locktime: number; backups: string[];
  statement: { backups: { n: number; locktime: number; txid: string; script?: string }[] };
};
const txidLines = (stdout: string) => stdout.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l));

/**
 * What each block must print, beyond exit 0 — one entry per marked block (asserted below, so a
 * block marked without a check here fails, and a check whose block lost its mark too).
 */
const CHECKS: Record<string, (r: Ran) => void | Promise<void>> = {
  // credit.md, "Topping up a rollover from a wallet": the quick start's contract rolled over with
  // 0.005 BTC of the node's wallet, signed by the wallet, broadcast and mined.
  'docs/credit.md block 2': ({ stdout, bcli, file, env }) => {
    const rolled = JSON.parse(file('rolled.json')) as { contract_id: string; new_contract_id: string; rollover: { txid: string; complete: boolean } };
    expect(rolled.contract_id).toBe(env['CONTRACT']);
    expect(rolled.rollover.complete).toBe(false); // the wallet's inputs were the wallet's to sign
    expect(txidLines(stdout)).toEqual([rolled.rollover.txid]);
    const tx = JSON.parse(bcli('getrawtransaction', rolled.rollover.txid, 'true')) as Tx & { confirmations: number; vsize: number };
    expect(tx.confirmations).toBe(1);
    // Input 0 is the old contract's output, at the contract's address; the rest are the wallet's.
    const prev = JSON.parse(bcli('getrawtransaction', tx.vin[0]!.txid, 'true')) as Tx;
    expect(prev.vout[tx.vin[0]!.vout]!.scriptPubKey.address).toBe(env['CONTRACT_ADDRESS']);
    expect(tx.vin.length).toBeGreaterThan(1);
    // The mint's 1000 sat first, then the next contract (same address), then the wallet's change.
    expect(sat(tx.vout[0]!.value)).toBe(1000);
    expect(tx.vout[1]!.scriptPubKey.address).toBe(env['CONTRACT_ADDRESS']);
    const change = tx.vout.slice(2);
    for (const o of change) expect(JSON.parse(bcli('getaddressinfo', o.scriptPubKey.address!)).ismine).toBe(true);
    const prevValue = (i: Tx['vin'][number]) => sat((JSON.parse(bcli('getrawtransaction', i.txid, 'true')) as Tx).vout[i.vout]!.value);
    const [contractIn, ...walletIns] = tx.vin.map(prevValue);
    expect(contractIn).toBe(1_000_000);
    const topUp = walletIns.reduce((a, b) => a + b, 0) - change.reduce((a, o) => a + sat(o.value), 0);
    expect(topUp).toBeGreaterThanOrEqual(500_000);
    const fee = contractIn! + walletIns.reduce((a, b) => a + b, 0) - tx.vout.reduce((a, o) => a + sat(o.value), 0);
    // The doc's accounting: new capacity = capacity − cumulative + top-up − fee, the fee at the contract's 1 sat/vB.
    expect(sat(tx.vout[1]!.value)).toBe(1_000_000 - 1000 + topUp - fee);
    expect(fee / tx.vsize).toBeGreaterThanOrEqual(1);
    expect(fee / tx.vsize).toBeLessThan(1.1);
  },
  // credit.md, "Recovering from a refusal": the mint signed state 1 of the rolled-over contract, its
  // receipt lost; the abandon brings that receipt back and the user applies it.
  'docs/credit.md block 3': ({ stdout, file }) => {
    const rolled = JSON.parse(file('rolled.json')) as { new_contract_id: string };
    const b = printed<{ contract_id: string; state: number; cumulative_sat: number }>(stdout, 'credit/balance');
    expect([b.contract_id, b.state, b.cumulative_sat]).toEqual([rolled.new_contract_id, 1, 2500]);
  },
  // credit.md, runbook: the cron's list, at the node's tip: the other user's contract must be exited now.
  'docs/credit.md block 4': ({ stdout, bcli, file }) => {
    const rolled = JSON.parse(file('rolled.json')) as { new_contract_id: string };
    const list = printed<{ tip_height: number; contracts: { contract_id: string; must_exit: boolean; state: number; cumulative_sat: number; next: string }[] }>(stdout, 'credit/contracts');
    expect(list.tip_height).toBe(Number(bcli('getblockcount')));
    const exit = list.contracts.filter((c) => c.must_exit);
    expect(exit.map((c) => [c.state, c.cumulative_sat])).toEqual([[1, 2000]]);
    expect(exit[0]!.next).toContain(`exit-credit --contract ${exit[0]!.contract_id}`);
    expect(list.contracts.find((c) => c.contract_id === rolled.new_contract_id)).toMatchObject({ must_exit: false, state: 1, cumulative_sat: 2500 });
  },
  // credit.md, runbook step 2: the mint's exit of that contract, state + child accepted by the node as a package.
  'docs/credit.md block 5': ({ stdout, bcli }) => {
    const exit = printed<{ contract_id: string; state: number; cumulative_sat: number; state_tx: { txid: string }; child: { txid: string; complete: boolean }; broadcast: { package_msg: string } }>(stdout, 'credit/exit');
    expect([exit.state, exit.cumulative_sat, exit.broadcast.package_msg, exit.child.complete]).toEqual([1, 2000, 'success', true]);
    const state = JSON.parse(bcli('getrawtransaction', exit.state_tx.txid, 'true')) as Tx & { version: number };
    const child = JSON.parse(bcli('getrawtransaction', exit.child.txid, 'true')) as Tx & { version: number };
    expect([state.version, child.version]).toEqual([3, 3]);
    expect(child.vin[0]).toMatchObject({ txid: exit.state_tx.txid });
    expect(sat(state.vout[child.vin[0]!.vout]!.value)).toBe(2000); // the child spends the mint's payout
    for (const txid of [exit.state_tx.txid, exit.child.txid]) expect(JSON.parse(bcli('getmempoolentry', txid)).vsize).toBeGreaterThan(0);
  },
  // credit.md, the user's refund at the expiry (the test mined to it: BEFORE): accepted by the node.
  'docs/credit.md block 6': ({ stdout, bcli, file }) => {
    const rolled = JSON.parse(file('rolled.json')) as { rollover: { txid: string } };
    const [txid] = txidLines(stdout);
    expect(txidLines(stdout)).toHaveLength(1);
    expect(JSON.parse(bcli('getmempoolentry', txid!)).vsize).toBeGreaterThan(0);
    const tx = JSON.parse(bcli('getrawtransaction', txid!, 'true')) as Tx;
    expect(tx.vin.map((i) => [i.txid, i.vout])).toEqual([[rolled.rollover.txid, 1]]); // the next contract's output
    expect(tx.locktime).toBe(Number(bcli('getblockcount')));
  },
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
  // ecash.md, "The flow": a contract opened and funded from the node's wallet, a 1000-sat payment in ecash whose
  // token then swaps at the running Nutshell (its outputs' DLEQs checked by the test's own code), and is spent there.
  'docs/ecash.md block 1': async ({ stdout, bcli, file, env }) => {
    const url = env['QUICKSTART_NUTSHELL_URL']!;
    const check = printed<{ equal: boolean; keyset: { id: string } }>(stdout, 'credit/ecash-check');
    const served = (await (await fetch(`${url}/v1/keysets`)).json()) as { keysets: { id: string; active: boolean; unit: string }[] };
    expect(served.keysets.filter((k) => k.active && k.unit === 'sat').map((k) => k.id)).toEqual([check.keyset.id]);
    const [funding] = txidLines(stdout);
    expect(JSON.parse(bcli('getrawtransaction', funding!, 'true')).confirmations).toBe(1);
    const balance = printed<{ cumulative_sat: number; ecash: { issued_sat: number } }>(stdout, 'credit/balance');
    expect([balance.cumulative_sat, balance.ecash.issued_sat]).toEqual([1000, 1000]);
    const decoded = printed<{ all_valid: boolean; amount_sat: number; keyset_id: string; mint: string }>(stdout, 'credit/token');
    expect(decoded).toMatchObject({ all_valid: true, amount_sat: 1000, keyset_id: check.keyset.id, mint: url });
    const token = file('pay-1.token').trim();
    const swap = await swapToken(url, token);
    expect([swap.status, swap.amount]).toEqual([200, 1000]);
    expect(new Set(await proofStates(url, token))).toEqual(new Set(['SPENT']));
  },
  // ecash.md, "Rotation": follow against the running Nutshell: the keyset it issues under is Nutshell's active one.
  'docs/ecash.md block 3': async ({ stdout, env }) => {
    const doc = JSON.parse(stdout) as { type: string; keysets: { id: string; active: boolean; issuing?: boolean }[] } & Record<string, unknown>;
    expect(doc.type).toBe('credit/ecash-keysets');
    const served = (await (await fetch(`${env['QUICKSTART_NUTSHELL_URL']}/v1/keysets`)).json()) as { keysets: { id: string; active: boolean; unit: string }[] };
    const active = served.keysets.filter((k) => k.active && k.unit === 'sat').map((k) => k.id);
    expect(active).toHaveLength(1);
    expect(JSON.stringify(doc)).toContain(active[0]);
  },
  // statechain.md, "The pair receives the coin": alice's coin to the pair alice+bob, each part's view the same
  // coin under one owner share; the pair's backup, one interval below alice's, pays the channel funding
  // address (the node's wallet here) and is not final: the node refuses it.
  'docs/statechain.md block 3': ({ stdout, bcli, env }) => {
    const coins = documents<Coin>(stdout).filter((d) => d.type === 'statechain/coin');
    expect(coins.map((c) => [c.coin_id, c.owner_share])).toEqual([[env['COIN'], coins[0]!.owner_share], [env['COIN'], coins[0]!.owner_share]]);
    expect(coins.map((c) => /part (\d) of 2/.exec(c.next)?.[1])).toEqual(['1', '2']);
    const [first, pair] = coins[0]!.statement.backups;
    expect([pair!.n, pair!.locktime]).toEqual([2, first!.locktime - 10]);
    const address = (JSON.parse(bcli('decodescript', pair!.script!)) as { address: string }).address;
    expect(JSON.parse(bcli('getaddressinfo', address)).ismine).toBe(true);
    const hex = coins[0]!.backups.at(-1)!;
    expect((JSON.parse(bcli('decoderawtransaction', hex)) as Tx).txid).toBe(pair!.txid);
    const [verdict] = JSON.parse(bcli('testmempoolaccept', JSON.stringify([hex]))) as { allowed: boolean; 'reject-reason': string }[];
    expect(verdict).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    const [txid, vout] = coins[0]!.outpoint.split(':');
    expect(sat((JSON.parse(bcli('gettxout', txid!, vout!)) as { value: number }).value)).toBe(100_000); // off chain: the coin's output unspent
  },
  // statechain.md, "The pair sends the coin": the virtual close to bob alone, his backup one interval below the pair's.
  'docs/statechain.md block 4': ({ stdout, bcli, env }) => {
    const [coin] = documents<Coin>(stdout).filter((d) => d.type === 'statechain/coin');
    expect(documents(stdout)).toHaveLength(1);
    expect([coin!.coin_id, coin!.next]).toEqual([env['COIN'], expect.stringMatching(/^the coin is yours/)]);
    const backups = coin!.statement.backups;
    expect(backups.map((b) => b.n)).toEqual([1, 2, 3]);
    expect(backups[2]!.locktime).toBe(backups[1]!.locktime - 10);
    expect(coin!.latest_locktime).toBe(backups[2]!.locktime);
    const [txid, vout] = coin!.outpoint.split(':');
    expect(sat((JSON.parse(bcli('gettxout', txid!, vout!)) as { value: number }).value)).toBe(100_000);
  },
  // statechain.md, "The pair withdraws": the pair's coin closed to the node's wallet, both parts and the
  // operator signing; a TRUC withdrawal with its 240-sat anchor, accepted by the node.
  'docs/statechain.md block 5': ({ stdout, bcli, env }) => {
    const spend = JSON.parse(readFileSync(join(env['STATECHAIN_DIR']!, 'spend.json'), 'utf8')) as { type: string; kind: string; coin_id: string; txid: string };
    expect([spend.type, spend.kind, spend.coin_id]).toEqual(['statechain/spend', 'withdrawal', env['PAIR_COIN']]);
    expect(txidLines(stdout)).toEqual([spend.txid]);
    expect(JSON.parse(bcli('getmempoolentry', spend.txid)).vsize).toBeGreaterThan(0);
    const tx = JSON.parse(bcli('getrawtransaction', spend.txid, 'true')) as Tx & { version: number };
    expect(tx.version).toBe(3);
    expect(tx.vin).toHaveLength(1);
    expect(sat((JSON.parse(bcli('getrawtransaction', tx.vin[0]!.txid, 'true')) as Tx).vout[tx.vin[0]!.vout]!.value)).toBe(100_000);
    expect(tx.vout.map((o) => [o.scriptPubKey.hex === '51024e73', sat(o.value)])).toEqual([[false, expect.any(Number)], [true, 240]]);
    expect(JSON.parse(bcli('getaddressinfo', tx.vout[0]!.scriptPubKey.address!)).ismine).toBe(true);
  },
  // htlc.md, "Anchors second stage": an anchors HTLC-timeout, the remote's SINGLE|ANYONECANPAY signature,
  // the holder's SIGHASH_ALL over the wallet's fee coins, the wallet's own: the node took it at the
  // cltv_expiry, and one block earlier (the tip block set aside) refuses it non-final.
  'docs/htlc.md block 1': ({ stdout, bcli, file }) => {
    const offered = JSON.parse(file('offered.json')) as { script_pubkey: string; locktime: number; amount_sat: number };
    const [txid] = txidLines(stdout);
    expect(txidLines(stdout)).toHaveLength(1);
    expect(JSON.parse(bcli('getmempoolentry', txid!)).vsize).toBeGreaterThan(0);
    const hex = bcli('getrawtransaction', txid!).trim();
    const tx = JSON.parse(bcli('decoderawtransaction', hex)) as Tx & { vin: { sequence: number }[] };
    const prev = JSON.parse(bcli('getrawtransaction', tx.vin[0]!.txid, 'true')) as Tx;
    expect(prev.vout[tx.vin[0]!.vout]!.scriptPubKey.hex).toBe(offered.script_pubkey);
    expect([tx.locktime, tx.vin[0]!.sequence]).toEqual([offered.locktime, 1]); // nLockTime = cltv_expiry; 1 OP_CSV
    // Witness 0 <remote sig> <local sig> <> <script>: the remote's SINGLE|ANYONECANPAY (0x83), the holder's ALL (0x01).
    const w = tx.vin[0]!.txinwitness!;
    expect([w.length, w[0], w[1]!.slice(-2), w[2]!.slice(-2), w[3]]).toEqual([5, '', '83', '01', '']);
    expect(sat(tx.vout[0]!.value)).toBe(offered.amount_sat); // the HTLC's whole amount: the fee came from the wallet
    for (const o of tx.vout.slice(1)) expect(JSON.parse(bcli('getaddressinfo', o.scriptPubKey.address!)).ismine).toBe(true);
    expect(offered.locktime).toBe(Number(bcli('getblockcount')));
    const tipHash = bcli('getbestblockhash').trim();
    bcli('invalidateblock', tipHash);
    try {
      const [early] = JSON.parse(bcli('testmempoolaccept', JSON.stringify([hex]))) as { allowed: boolean; 'reject-reason': string }[];
      expect(early).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    } finally {
      bcli('reconsiderblock', tipHash);
    }
    expect(bcli('getbestblockhash').trim()).toBe(tipHash);
    expect(bcli('sendrawtransaction', hex).trim()).toBe(txid);
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
  // openassets.md, "Usage": a regtest issuance decoded from its PSBT (ancestors from a file) and signed
  // (ancestors from the node): output 0 carries 100 units of the asset of input 0's previous script.
  'docs/openassets.md block 2': ({ stdout, bcli, file }) => {
    const docs = [...stdout.matchAll(/^\{\n[\s\S]*?\n\}$/gm)].map((m) => JSON.parse(m[0]) as { type: string; status: string; txid: string; outputs: { type: string; asset_id: string | null; asset_quantity: string }[] });
    expect(docs.map((d) => [d.type, d.status])).toEqual([['openassets/decoded', 'colored'], ['openassets/decoded', 'colored']]);
    expect(docs[1]!.txid).toBe(docs[0]!.txid); // signing a segwit-only transaction keeps its txid
    const psbt = JSON.parse(bcli('decodepsbt', file('tx.psbt').trim())) as { tx: Tx };
    const first = psbt.tx.vin[0]!;
    const prevScript = (JSON.parse(bcli('getrawtransaction', first.txid, 'true')) as Tx).vout[first.vout]!.scriptPubKey.hex;
    // The asset ID, computed here: base58check of version 115 and HASH160 of that script (the spec).
    const assetId = base58checkEncode(Uint8Array.from([115, ...hash160(Buffer.from(prevScript, 'hex'))]));
    for (const d of docs) expect(d.outputs.map((o) => [o.type, o.asset_id, o.asset_quantity])).toEqual([['issuance', assetId, '100'], ['marker', null, '0'], ['transfer', null, '0']]);
  },
};

/**
 * What the chain must be before a block runs, brought about as a reader would wait for it. The
 * refund at expiry: the tip is mined to one block before the refund is final, where the node
 * must reject it `non-final`; then one more block.
 */
const BEFORE: Record<string, (q: { sh: (code: string) => string; bcli: (...args: string[]) => string }) => void> = {
  'docs/credit.md block 6': ({ sh, bcli }) => {
    const early = JSON.parse(sh('offchain refund-credit --any-time --key-env USER_KEY --state-dir "$USER_DIR"')) as { final: boolean; hex: string; txid: string };
    expect(early.final).toBe(false);
    const { locktime } = JSON.parse(bcli('decoderawtransaction', early.hex)) as Tx;
    const miner = bcli('getnewaddress').trim();
    const tip = Number(bcli('getblockcount'));
    expect(locktime - 1).toBeGreaterThan(tip);
    bcli('generatetoaddress', String(locktime - 1 - tip), miner);
    const [verdict] = JSON.parse(bcli('testmempoolaccept', JSON.stringify([early.hex]))) as { allowed: boolean; 'reject-reason': string }[];
    expect(verdict).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    bcli('generatetoaddress', '1', miner);
  },
};

(BITCOIND ? describe : describe.skip)(TITLE, () => {
  let qs: QuickstartNodes | undefined;
  let work = '';
  let out = '';
  let exported: Record<string, string> = {};
  /** One directory per page, its blocks run there in order (HOME and TMPDIR its own too). */
  const pages: Record<string, { dir: string; env: NodeJS.ProcessEnv; cleanup: () => void }> = {};
  const page = (file: string) => {
    if (!pages[file]) {
      const sandbox = tempDir('offchain-doc-nodes-');
      const dir = join(sandbox.path, 'work');
      for (const d of [dir, join(sandbox.path, 'home'), join(sandbox.path, 'tmp')]) mkdirSync(d);
      symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'));
      symlinkSync(join(ROOT, 'bin'), join(dir, 'bin'));
      const env = { ...cleanEnv({ NODE_ENV: '' }), HOME: join(sandbox.path, 'home'), TMPDIR: join(sandbox.path, 'tmp') };
      pages[file] = { dir, env, cleanup: sandbox.cleanup };
    }
    return pages[file];
  };

  beforeAll(async () => {
    assertBuilt();
    qs = await startQuickstartNodes(['--state', 'credit,statechain', ...(LIGHTNINGD ? ['--lightning'] : []), ...(NUTSHELL ? ['--nutshell'] : [])], { BITCOIND, LIGHTNINGD, NUTSHELL }, 420_000);
    ({ work, out } = qs);
    exported = Object.fromEntries([...readFileSync(join(work, 'env.sh'), 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    // Three nodes, a mint, two services and their first blocks: over 180 s on a loaded CI machine.
  }, 480_000);

  afterAll(async () => {
    for (const p of Object.values(pages)) p.cleanup();
    await qs?.stop();
  }, 90_000);

  it('finds the marked blocks, each with its check here', () => {
    expect(blocks.map(key).sort()).toEqual(Object.keys(CHECKS).sort());
    for (const b of blocks) expect(b.quickstart!.trim().length, key(b)).toBeGreaterThan(10);
  });

  it('the quick start says where its env.sh is', () => {
    expect(out).toContain(`source ${join(work, 'env.sh')}`);
    expect(existsSync(join(work, 'env.sh'))).toBe(true);
  });

  for (const b of blocks) {
    const needs = /lightning-cli/.test(b.code) && !LIGHTNINGD ? 'LIGHTNINGD' : /NUTSHELL/.test(b.code) && !NUTSHELL ? 'NUTSHELL' : undefined;
    (needs ? it.skip : it)(`${b.file}:${b.line} (block ${b.n}) runs against the quick start${needs ? ` — SKIPPED: ${needs} unset` : ''}`, async () => {
      const { dir, env } = page(b.file);
      const bcli = (...args: string[]) => execFileSync(join(work, 'bin', 'bitcoin-cli'), args, { encoding: 'utf8' });
      const envSh = `. '${join(work, 'env.sh')}'\n`;
      const sh = (code: string) => execFileSync('bash', ['-euo', 'pipefail', '-c', envSh + code], { cwd: dir, env, encoding: 'utf8' });
      BEFORE[key(b)]?.({ sh, bcli });
      const child = spawn('bash', ['-euo', 'pipefail', '-c', envSh + b.code], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      child.stdin.end();
      const r = await finished(child, key(b), 60_000, { group: true });
      expect(r.status, `exited ${r.status}\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/offchain: error/);
      const file = (name: string) => readFileSync(join(dir, name), 'utf8');
      await CHECKS[key(b)]!({ stdout: r.stdout, stderr: r.stderr, bcli, file, env: exported });
    }, 90_000);
  }
});
