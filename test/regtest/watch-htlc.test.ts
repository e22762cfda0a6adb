/**
 * `offchain watch` keeps a payer's HTLC and PTLC refunds on a real `bitcoind -regtest` (issue
 * 71): a seed HTLC, a taproot HTLC and a PTLC created with the CLI, funded by the node's wallet
 * and kept in Alice's state directory (`htlc watch-add`, `ptlc watch-add`); the recipient
 * vanishes and only the watcher runs (the built CLI, spawned, `--once` per block): nothing one
 * block before the locktime (where Core rejects the refund `non-final`), the refunds at the
 * locktime, mined, done six deep; a reorganisation back below the locktime drops them from the
 * mempool (non-final again) and the watcher sends them again at the locktime. A second seed HTLC
 * is claimed by Bob with the preimage before the timeout: the watcher waits on the claim, is done
 * once it is mined, and sends nothing for it; so for a PTLC Bob claims by the key path with the
 * adapted signature. Each refund's signature is checked by test code
 * (BIP-143 + OpenSSL for the seed's P2WSH, BIP-341/340 for the taproot leaves). Skipped, visibly,
 * without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { parseTx } from '../independent/tx.ts';
import { verifyScriptPathSpend } from '../independent/verify.ts';
import { ptlcContract, taprootHtlcContract } from '../independent/descriptor.ts';
import { bip143SingleHash, verifyEcdsa } from '../lib/bolt3/independent-p2wsh.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode, type OutPoint } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';

const fixtureKey = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const KEYS = { ALICE_KEY: fixtureKey('alice'), BOB_KEY: fixtureKey('bob') }; // Alice pays, Bob is paid
const pub = (secretHex: string) => toHex(publicKeyOf(fromHex(secretHex)));
const ALICE = pub(KEYS.ALICE_KEY);
const BOB = pub(KEYS.BOB_KEY);
const AMOUNT = 50_000n;

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; reason: string; fee_rate?: number; txid?: string; error?: string };
type Report = { type: string; reorg?: { depth: number; fork_height?: number }; decisions: Decision[]; summary: { errors: number; sent: number } };
type Kept = { name: string; kind: 'htlc-payer' | 'ptlc-payer'; at: OutPoint; created: Record<string, unknown> };

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `offchain watch keeps a payer's HTLC and PTLC refunds on bitcoind -regtest (${BITCOIND})` : 'offchain watch, HTLC and PTLC refunds, on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  let preimageFile: string;
  let paymentHash: string;
  let dir: string;
  let L: number;
  const kept: Record<'seed' | 'taproot' | 'ptlc' | 'claimed', Kept> = {} as never;
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);
  const run = (args: string[], input = '') => offchain(args, { input, env: KEYS });
  const mempool = () => rpc<string[]>('getrawmempool');
  const confirmations = async (txid: string) => (await rpc<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;
  const mineTo = async (height: number) => {
    const k = height - (await n.tip());
    expect(k).toBeGreaterThanOrEqual(0);
    if (k > 0) await n.mine(k);
  };
  /** One round of Alice's watcher, as cron would run it. */
  const once = async (key = 'ALICE_KEY'): Promise<Report> => {
    const r = await run(['watch', '--once', '--key-env', key, '--state-dir', dir, ...n.chain()]);
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.summary.errors, r.stdout).toBe(0);
    return report;
  };
  const actions = (r: Report) => Object.fromEntries(Object.values(kept).map((k) => {
    const d = r.decisions.find((x) => x.contract === `${k.at.txid}:${k.at.vout}`);
    expect(d?.kind, JSON.stringify(r)).toBe(k.kind);
    return [k.name, d!.action];
  }));
  const decision = (r: Report, k: Kept) => r.decisions.find((x) => x.contract === `${k.at.txid}:${k.at.vout}`)!;
  const refundAnyTime = async (k: Kept) => {
    const command = k.kind === 'ptlc-payer' ? 'ptlc' : 'htlc';
    return messageOf<{ hex: string }>(await run([command, 'refund', '--key-env', 'ALICE_KEY', '--outpoint', `${k.at.txid}:${k.at.vout}`, '--to', n.sweepTo, '--fee-rate', '1', '--any-time', ...n.chain()], JSON.stringify(k.created)));
  };

  /** Each refund checked by test code against the contract derived here: the payer's signature over the refund path, nLockTime L. */
  const verifyRefund = (k: Kept, hex: string) => {
    const tx = parseTx(fromHex(hex));
    expect(tx.lockTime).toBe(L);
    expect(tx.inputs.map((i) => `${i.txid}:${i.vout}`)).toEqual([`${k.at.txid}:${k.at.vout}`]);
    const prevouts = [{ amount: AMOUNT, script: fromHex(k.created.script_pubkey as string) }];
    if (k.name === 'seed') {
      const w = tx.inputs[0]!.witness;
      expect(w.map((x) => x.length).slice(1)).toEqual([0, fromHex(k.created.witness_script as string).length]); // <sig> <> <script>: the refund branch
      const sig = w[0]!;
      expect(verifyEcdsa(fromHex(ALICE), sig.subarray(0, -1), bip143SingleHash(tx, 0, w[2]!, AMOUNT, sig[sig.length - 1]!))).toBe(true);
      return;
    }
    const d = k.name === 'taproot'
      ? taprootHtlcContract({ payer: fromHex(ALICE), recipient: fromHex(BOB), paymentHash: fromHex(paymentHash), locktime: L })
      : ptlcContract({ payer: fromHex(ALICE), payee: fromHex(BOB), locktime: L });
    verifyScriptPathSpend(hex, prevouts, 0, { outputKey: d.output.outputKey, internalKey: d.internalKey, leafScript: d.leaves.refund!.script, signingKey: fromHex(ALICE).subarray(1), after: L });
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-watch-htlc-');
    dir = join(work.path, 'alice');
    const preimage = sha256(new TextEncoder().encode('offchain regtest watch-htlc preimage'));
    preimageFile = join(work.path, 'preimage.hex');
    writeFileSync(preimageFile, toHex(preimage) + '\n', { mode: 0o600 });
    paymentHash = toHex(sha256(preimage));
    n = await startFundedNode(BITCOIND!, 'watch-htlc');
    L = (await n.tip()) + 6;
    const htlc = async (kind: string) => messageOf(await run(['htlc', 'create', '--kind', kind, '--payer', ALICE, '--recipient', BOB, '--locktime', String(L), '--payment-hash', paymentHash, '--amount', String(AMOUNT)]), 'htlc/created');
    const ptlc = messageOf(await run(['ptlc', 'create', '--payer', ALICE, '--payee', BOB, '--locktime', String(L), '--secret-out', join(work.path, 't.hex'), '--amount', String(AMOUNT)]), 'ptlc/created');
    const made = { seed: await htlc('seed'), taproot: await htlc('taproot'), ptlc, claimed: await htlc('seed') };
    // Alice funds the four in one block (the two seed HTLCs share an address: each its own output).
    const txids: Record<string, string> = {};
    for (const [name, created] of Object.entries(made)) txids[name] = await n.wallet.call<string>('sendtoaddress', [created.address, satsToBtc(AMOUNT)]);
    await n.mine(1);
    for (const [name, created] of Object.entries(made) as [keyof typeof kept, Record<string, unknown>][]) {
      const tx = await rpc<{ vout: { n: number; scriptPubKey: { address?: string } }[] }>('getrawtransaction', [txids[name], 1]);
      const at = { txid: txids[name]!, vout: tx.vout.find((o) => o.scriptPubKey.address === created.address)!.n };
      kept[name] = { name, kind: name === 'ptlc' ? 'ptlc-payer' : 'htlc-payer', at, created };
      const command = name === 'ptlc' ? 'ptlc' : 'htlc';
      // The payer keeps it: the node checks the outpoint pays this output, and gives its amount.
      const w = messageOf<{ contract: string; amount_sat: number; locktime: number }>(await run([command, 'watch-add', '--key-env', 'ALICE_KEY', '--outpoint', `${at.txid}:${at.vout}`, '--to', n.sweepTo, '--state-dir', dir, ...n.chain()], JSON.stringify(created)), `${command}/watched`);
      expect(w).toMatchObject({ contract: `${at.txid}:${at.vout}`, amount_sat: Number(AMOUNT), locktime: L });
    }
  }, 60_000);

  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('Bob\'s key is not the payer\'s: refused at registration (E_WRONG_KEY, exit 4); a watcher with it runs, sends nothing (each output its own hold once due)', async () => {
    const k = Object.values(kept)[0]!;
    const add = await run([k.kind === 'ptlc-payer' ? 'ptlc' : 'htlc', 'watch-add', '--key-env', 'BOB_KEY', '--outpoint', `${k.at.txid}:${k.at.vout}`, '--to', n.sweepTo, '--state-dir', join(work.path, 'bob-dir'), ...n.chain()], JSON.stringify(k.created));
    expect({ status: add.status, code: errorCode(add), stdout: add.stdout }, describeRun(add)).toEqual({ status: 4, code: 'E_WRONG_KEY', stdout: '' });
    const r = await run(['watch', '--once', '--key-env', 'BOB_KEY', '--state-dir', dir, ...n.chain()]);
    expect(r.status, describeRun(r)).toBe(0);
    expect((JSON.parse(r.stdout) as Report).summary.sent).toBe(0);
    expect(await mempool()).toEqual([]);
  }, 20_000);

  it('the recipient vanishes: nothing before the locktime (Core: non-final), the refunds at it, mined, done; Bob\'s claim is waited on and done, nothing sent for it', async () => {
    // Bob claims the second seed HTLC with the preimage two blocks before the timeout.
    await mineTo(L - 2);
    const claim = messageOf<{ hex: string; txid: string }>(await run(['htlc', 'claim', '--key-env', 'BOB_KEY', '--outpoint', `${kept.claimed.at.txid}:${kept.claimed.at.vout}`, '--to', n.sweepTo, '--fee-rate', '2', '--preimage-file', preimageFile, ...n.chain()], JSON.stringify(kept.claimed.created)), 'htlc/spend');
    await rpc('sendrawtransaction', [claim.hex]);
    let r = await once();
    expect(actions(r)).toEqual({ seed: 'none', taproot: 'none', ptlc: 'none', claimed: 'wait' });
    expect(decision(r, kept.claimed)).toMatchObject({ txid: claim.txid });
    expect(await mempool()).toEqual([claim.txid]);

    // One block before the locktime: the claim mined (done), nothing sent; Core rejects each refund non-final.
    await n.mine(1);
    expect(await confirmations(claim.txid)).toBe(1);
    r = await once();
    expect(actions(r)).toEqual({ seed: 'none', taproot: 'none', ptlc: 'none', claimed: 'done' });
    expect(r.summary.sent).toBe(0);
    expect(await mempool()).toEqual([]);
    for (const k of [kept.seed, kept.taproot, kept.ptlc]) expect(await n.mempool((await refundAnyTime(k)).hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });

    // At the locktime: the three refunds, at the node's estimate for the next block, in its mempool.
    await n.mine(1);
    expect(await n.tip()).toBe(L);
    r = await once();
    expect(actions(r)).toEqual({ seed: 'refund', taproot: 'refund', ptlc: 'refund', claimed: 'done' });
    const refunds = [kept.seed, kept.taproot, kept.ptlc].map((k) => decision(r, k).txid!);
    expect((await mempool()).sort()).toEqual([...refunds].sort());
    for (const k of [kept.seed, kept.taproot, kept.ptlc]) verifyRefund(k, await rpc<string>('getrawtransaction', [decision(r, k).txid]));
    // Each pays Alice's address (--to at registration) what the output held, less its fee.
    for (const txid of refunds) {
      const tx = await rpc<{ vout: { value: number; scriptPubKey: { address: string } }[] }>('getrawtransaction', [txid, 1]);
      expect(tx.vout.map((o) => o.scriptPubKey.address)).toEqual([n.sweepTo]);
      expect(Math.round(tx.vout[0]!.value * 1e8)).toBeGreaterThan(Number(AMOUNT) - 1000);
    }
    // Again at the same tip: they are in the mempool, waited on, nothing sent twice.
    r = await once();
    expect(actions(r)).toEqual({ seed: 'wait', taproot: 'wait', ptlc: 'wait', claimed: 'done' });
    expect(r.summary.sent).toBe(0);
    expect((await mempool()).length).toBe(3);

    // Mined in the next block; waited on to six confirmations.
    await n.mine(1);
    for (const txid of refunds) expect(await confirmations(txid)).toBe(1);
    r = await once();
    expect(actions(r)).toEqual({ seed: 'wait', taproot: 'wait', ptlc: 'wait', claimed: 'done' });
  }, 40_000);

  it('a reorganisation back below the locktime un-mines the refunds and the node drops them (non-final): the watcher sends them again at the locktime, mined, done six deep', async () => {
    const sent = [kept.seed, kept.taproot, kept.ptlc];
    const gone = await rpc<string>('getblockhash', [L]);
    await rpc('invalidateblock', [gone]);
    expect(await n.tip()).toBe(L - 1);
    expect(await mempool()).toEqual([]);
    let r = await once();
    expect(r.reorg).toMatchObject({ depth: 2, fork_height: L - 1 });
    expect(actions(r)).toEqual({ seed: 'none', taproot: 'none', ptlc: 'none', claimed: 'done' });
    // A block of the new branch (to another address: the same coinbase would be the invalidated block again).
    await rpc('generatetoaddress', [1, await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]);
    expect(await n.tip()).toBe(L);
    r = await once();
    expect(actions(r)).toEqual({ seed: 'rebroadcast', taproot: 'rebroadcast', ptlc: 'rebroadcast', claimed: 'done' });
    const again = sent.map((k) => decision(r, k).txid!);
    expect((await mempool()).sort()).toEqual([...again].sort());
    for (const k of sent) verifyRefund(k, await rpc<string>('getrawtransaction', [decision(r, k).txid]));
    await n.mine(6);
    for (const txid of again) expect(await confirmations(txid)).toBe(6);
    r = await once();
    expect(actions(r)).toEqual({ seed: 'done', taproot: 'done', ptlc: 'done', claimed: 'done' });
    expect(sent.map((k) => decision(r, k).txid)).toEqual(again);
  }, 40_000);

  it('Bob claims a PTLC with the adapted signature (the key path) before its locktime: the watcher waits on the claim, is done once it is mined, and sends nothing at the locktime', async () => {
    const L2 = (await n.tip()) + 4;
    const secret = join(work.path, 'bob.t');
    const created = messageOf<Record<string, unknown>>(await run(['ptlc', 'create', '--payer', ALICE, '--payee', BOB, '--locktime', String(L2), '--secret-out', secret, '--amount', String(AMOUNT)]), 'ptlc/created');
    const file = join(work.path, 'claimed-ptlc.json');
    writeFileSync(file, JSON.stringify(created));
    const at = await n.fund(created.address as string, AMOUNT);
    const k: Kept = { name: 'claimed-ptlc', kind: 'ptlc-payer', at, created };
    messageOf(await run(['ptlc', 'watch-add', '--key-env', 'ALICE_KEY', '--outpoint', `${at.txid}:${at.vout}`, '--to', n.sweepTo, '--state-dir', dir, ...n.chain()], JSON.stringify(created)), 'ptlc/watched');
    // The adaptor pre-signature in four piped steps (docs/ptlc.md), then Bob's claim with t.
    const as = (who: 'ALICE_KEY' | 'BOB_KEY') => ['ptlc', 'presign', '--key-env', who, '--state-dir', join(work.path, `presign-${who}`), '--ptlc', file];
    const s1 = await run(['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', join(work.path, 'presign-BOB_KEY'), '--outpoint', `${at.txid}:${at.vout}`, '--to', n.sweepTo, '--fee-rate', '2', ...n.chain()], JSON.stringify(created));
    const s2 = await run(as('ALICE_KEY'), s1.stdout);
    const s3 = await run(as('BOB_KEY'), s2.stdout);
    expect(messageOf<{ next: string }>(await run(as('ALICE_KEY'), s3.stdout), 'ptlc/presign').next).toBe('claim');
    const claim = messageOf<{ hex: string; txid: string }>(await run(['ptlc', 'claim', '--secret-file', secret], s3.stdout), 'ptlc/spend');
    await rpc('sendrawtransaction', [claim.hex]);
    let d = decision(await once(), k);
    expect(d).toMatchObject({ kind: 'ptlc-payer', action: 'wait', txid: claim.txid });
    expect(d.reason).toMatch(/the recipient's claim/); // the key path: a PTLC's claim
    await n.mine(1);
    expect(await confirmations(claim.txid)).toBe(1);
    await mineTo(L2);
    const r = await once();
    d = decision(r, k);
    expect(d.action).toBe('done');
    expect(r.summary.sent).toBe(0);
    expect(await mempool()).toEqual([]);
  }, 40_000);
});
