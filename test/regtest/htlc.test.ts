/**
 * The three HTLC kinds against a real `bitcoind -regtest` (issue 6, BRIEF §3.3): each is
 * created with the built CLI, funded by a Core wallet, and spent by the CLI — claim with
 * the preimage, refund once final (rejected "non-final" by Core one block early, then
 * accepted and mined), BOLT 3's second-stage HTLC-timeout / HTLC-success with both HTLC
 * keys signing in turn through a pipe, the revocation (penalty) path, the taproot
 * cooperative key path through the MuSig2 commands. Core is the independent verifier
 * here: its script interpreter runs every witness we built. Skipped visibly without a
 * bitcoind. The first seed HTLC spawns the built CLI at every step, as do the samples of
 * the refusals; the other steps run the same bundle's `main` in-process (in-process-cli.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { Transaction, p2wpkh } from '@scure/btc-signer';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode, type OutPoint } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain, type CliRun } from './offchain-cli.ts';
import { inProcessUnlessSpawned, offchainInProcess } from './in-process-cli.ts';

const fixtureKey = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const KEYS = {
  ALICE_KEY: fixtureKey('alice'), // payer; BOLT 3: the commitment holder (local HTLC key)
  BOB_KEY: fixtureKey('bob'), // recipient; BOLT 3: the remote HTLC key
  REVOCATION_KEY: '33'.repeat(32),
  DELAYED_KEY: '44'.repeat(32),
};
const pub = (secretHex: string) => toHex(publicKeyOf(fromHex(secretHex)));
const ALICE = pub(KEYS.ALICE_KEY);
const BOB = pub(KEYS.BOB_KEY);
const REVOCATION = pub(KEYS.REVOCATION_KEY);
const DELAYED = pub(KEYS.DELAYED_KEY);

type Created = { address: string; kind: string; locktime: number; witness_script?: string; descriptor?: string; payment_hash: string };
type Spend = { complete: boolean; hex?: string; txid: string; psbt: string; path: string; missing?: string[]; locktime: number };

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `HTLCs against bitcoind -regtest (${BITCOIND})` : 'HTLCs against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  let preimageFile: string;
  let paymentHash: string;

  /**
   * How a step runs: the built CLI's `main` in-process, or spawned inside `spawned(...)` — the narrated seed HTLC and a
   * sample of each refusal (E_NOT_FINAL, E_ANCHORS_FEE_INPUT, E_FOREIGN_INPUT) keep the process.
   */
  const { step: via, spawned } = inProcessUnlessSpawned();
  const run = (args: string[], input = '') => via(args, { input, env: KEYS });
  const expectRefused = (r: CliRun, code: string) =>
    expect({ status: r.status, code: errorCode(r), stdout: r.stdout }, describeRun(r)).toEqual({ status: 4, code, stdout: '' });
  const tip = () => n.tip();
  const mine = (k: number) => n.mine(k);
  const mempool = (hex: string) => n.mempool(hex);
  const acceptAndMine = (hex: string) => n.acceptAndMine(hex);
  const fund = (address: string) => n.fund(address);
  const chain = () => n.chain();
  const create = async (...args: string[]) => messageOf<Created>(await run(['htlc', 'create', ...args, '--amount', '50000', '--payment-hash', paymentHash, ...chain()]), 'htlc/created');
  const spend = async (command: string, key: keyof typeof KEYS, created: string, at: OutPoint, ...extra: string[]) =>
    run(['htlc', command, '--key-env', key, '--outpoint', `${at.txid}:${at.vout}`, '--to', n.sweepTo, '--fee-rate', '2', ...extra, ...chain()], created);
  const bolt3 = (kind: 'offered' | 'received', cltv: number, anchors = false) =>
    create('--kind', kind, '--revocation-pubkey', REVOCATION, '--local-htlc-pubkey', ALICE, '--remote-htlc-pubkey', BOB, '--locktime', String(cltv),
      '--to-self-delay', '6', '--local-delayed-pubkey', DELAYED, '--feerate-per-kw', '2500', ...(anchors ? ['--anchors'] : []));

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-htlc-');
    const preimage = sha256(new TextEncoder().encode('offchain regtest htlc preimage'));
    preimageFile = join(work.path, 'preimage.hex');
    writeFileSync(preimageFile, toHex(preimage) + '\n', { mode: 0o600 });
    paymentHash = toHex(sha256(preimage));
    n = await startFundedNode(BITCOIND!, 'htlc-funder');
  }, 180_000);

  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  for (const bare of [false, true]) {
    it(`seed HTLC${bare ? ' (bare form)' : ''}: Bob claims with the preimage; Alice's refund is non-final at locktime − 1, mined at the locktime`, () => (bare ? (f: () => Promise<void>) => f() : spawned)(async () => {
      const locktime = (await tip()) + 5;
      const created = await create('--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', String(locktime), ...(bare ? ['--bare'] : []));
      const text = JSON.stringify(created);
      // The spawned CLI (this test's steps when not bare) and the in-process one (the file's other steps) answer alike.
      if (!bare) expect(messageOf(await offchainInProcess(['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', String(locktime), '--amount', '50000', '--payment-hash', paymentHash, ...chain()], { env: KEYS }), 'htlc/created')).toEqual(created);
      const [a, b] = [await fund(created.address), await fund(created.address)];

      const claim = messageOf<Spend>(await spend('claim', 'BOB_KEY', text, a, '--preimage-file', preimageFile), 'htlc/spend');
      await acceptAndMine(claim.hex!);

      await mine(locktime - 1 - (await tip()));
      expectRefused(await spend('refund', 'ALICE_KEY', text, b), 'E_NOT_FINAL');
      const early = messageOf<Spend>(await spend('refund', 'ALICE_KEY', text, b, '--any-time'), 'htlc/spend');
      expect(early.locktime).toBe(locktime);
      expect(await mempool(early.hex!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
      await mine(1);
      const refund = messageOf<Spend>(await spend('refund', 'ALICE_KEY', text, b), 'htlc/spend');
      await acceptAndMine(refund.hex!);
    }));
  }

  it('taproot HTLC: Core derives its address from the descriptor; claim leaf, refund leaf (non-final one block early) and the MuSig2 key path are mined', async () => {
    const locktime = (await tip()) + 6;
    const created = await create('--kind', 'taproot', '--payer', ALICE, '--recipient', BOB, '--locktime', String(locktime));
    const text = JSON.stringify(created);
    // Core parses the descriptor (BIP-390 musig() internal key, miniscript leaves) and derives the same address.
    expect(await n.node.rpc.call<string[]>('deriveaddresses', [created.descriptor])).toEqual([created.address]);
    const [a, b, c] = [await fund(created.address), await fund(created.address), await fund(created.address)];

    const claim = messageOf<Spend>(await spend('claim', 'BOB_KEY', text, a, '--preimage-file', preimageFile), 'htlc/spend');
    await acceptAndMine(claim.hex!);

    // Cooperative: the unsigned PSBT, then each party's nonce and partial signature, finalize, extract.
    const coop = messageOf<Spend>(await run(['htlc', 'cooperate', '--outpoint', `${c.txid}:${c.vout}`, '--to', n.sweepTo, '--fee-rate', '2', ...chain()], text), 'htlc/spend');
    const dirs = { a: mkdtempSync(join(work.path, 'alice-')), b: mkdtempSync(join(work.path, 'bob-')) };
    let psbt = JSON.stringify(coop);
    for (const [key, dir] of [['ALICE_KEY', dirs.a], ['BOB_KEY', dirs.b]] as const) psbt = messageOf(await run(['musig', 'nonce', '--key-env', key, '--state-dir', dir], psbt)).psbt as string;
    for (const [key, dir] of [['ALICE_KEY', dirs.a], ['BOB_KEY', dirs.b]] as const) psbt = messageOf(await run(['musig', 'sign', '--key-env', key, '--state-dir', dir], psbt)).psbt as string;
    const finalized = messageOf(await run(['psbt', 'finalize'], psbt));
    const extracted = messageOf<{ hex: string }>(await run(['psbt', 'extract'], JSON.stringify(finalized)));
    await acceptAndMine(extracted.hex);

    await mine(locktime - 1 - (await tip()));
    expectRefused(await spend('refund', 'ALICE_KEY', text, b), 'E_NOT_FINAL');
    const early = messageOf<Spend>(await spend('refund', 'ALICE_KEY', text, b, '--any-time'), 'htlc/spend');
    expect(await mempool(early.hex!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await mine(1);
    const refund = messageOf<Spend>(await spend('refund', 'ALICE_KEY', text, b), 'htlc/spend');
    await acceptAndMine(refund.hex!);
  });

  it('BOLT 3 offered HTLC: the remote claims with the preimage; HTLC-timeout signed by both keys is non-final one block early, then mined; the revocation key takes a third', async () => {
    const cltv = (await tip()) + 6;
    const created = await bolt3('offered', cltv);
    const text = JSON.stringify(created);
    const own = join(work.path, 'offered.json');
    writeFileSync(own, text);
    const [a, b, c] = [await fund(created.address), await fund(created.address), await fund(created.address)];

    const claim = messageOf<Spend>(await spend('claim', 'BOB_KEY', text, a, '--preimage-file', preimageFile), 'htlc/spend');
    await acceptAndMine(claim.hex!);
    const punish = messageOf<Spend>(await spend('punish', 'REVOCATION_KEY', text, c), 'htlc/spend');
    await acceptAndMine(punish.hex!);

    // The remote signs first (as in commitment_signed), the holder completes.
    const half = messageOf<Spend>(await spend('refund', 'BOB_KEY', text, b), 'htlc/spend');
    expect(half).toMatchObject({ complete: false, path: 'htlc-timeout', missing: ['local_htlc'] });
    await mine(cltv - 1 - (await tip()));
    expectRefused(await spend('refund', 'ALICE_KEY', JSON.stringify(half), b, '--htlc', own), 'E_NOT_FINAL');
    const early = messageOf<Spend>(await spend('refund', 'ALICE_KEY', JSON.stringify(half), b, '--any-time', '--htlc', own), 'htlc/spend');
    expect(early).toMatchObject({ complete: true, locktime: cltv });
    expect(await mempool(early.hex!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await mine(1);
    const timeout = messageOf<Spend>(await spend('refund', 'ALICE_KEY', JSON.stringify(half), b, '--htlc', own), 'htlc/spend');
    await acceptAndMine(timeout.hex!);
  });

  it('BOLT 3 received HTLC: HTLC-success (holder first, remote completes with the preimage) is mined; the remote\'s timeout is non-final one block early, then mined', async () => {
    const cltv = (await tip()) + 6;
    const created = await bolt3('received', cltv);
    const text = JSON.stringify(created);
    const own = join(work.path, 'received.json');
    writeFileSync(own, text);
    const [a, b] = [await fund(created.address), await fund(created.address)];

    const half = messageOf<Spend>(await spend('claim', 'ALICE_KEY', text, a), 'htlc/spend');
    expect(half).toMatchObject({ complete: false, path: 'htlc-success', missing: ['remote_htlc', 'preimage'] });
    const success = messageOf<Spend>(await spend('claim', 'BOB_KEY', JSON.stringify(half), a, '--preimage-file', preimageFile, '--htlc', own), 'htlc/spend');
    expect(success.complete).toBe(true);
    await acceptAndMine(success.hex!);

    await mine(cltv - 1 - (await tip()));
    expectRefused(await spend('refund', 'BOB_KEY', text, b), 'E_NOT_FINAL');
    const early = messageOf<Spend>(await spend('refund', 'BOB_KEY', text, b, '--any-time'), 'htlc/spend');
    expect(await mempool(early.hex!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await mine(1);
    const refund = messageOf<Spend>(await spend('refund', 'BOB_KEY', text, b), 'htlc/spend');
    await acceptAndMine(refund.hex!);
  });

  /** What a Core wallet gives the holder for an anchors HTLC transaction's fee: its coins, 20,000 sat to its own address, and change. */
  const feePsbt = async (name: string) => {
    const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
    const { psbt } = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [own]: 0.0002 }]]);
    const path = join(work.path, name);
    writeFileSync(path, psbt);
    return path;
  };
  /** The wallet's last step: it signs its inputs (input 0 is already final) and Core finalizes. */
  const walletFinishes = async (psbt: string) => {
    const processed = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [psbt]);
    expect(processed.complete).toBe(true);
    return (await n.wallet.call<{ hex: string; complete: boolean }>('finalizepsbt', [processed.psbt])).hex;
  };

  it('BOLT 3 anchors second stage: the remote signs SINGLE|ANYONECANPAY, the holder adds a Core wallet\'s coins and signs, the wallet signs last; HTLC-success mined, HTLC-timeout non-final one block early, then mined', async () => {
    const cltv = (await tip()) + 6;
    const received = await bolt3('received', cltv, true);
    const offered = await bolt3('offered', cltv, true);
    const own = { received: join(work.path, 'anchors-received.json'), offered: join(work.path, 'anchors-offered.json') };
    writeFileSync(own.received, JSON.stringify(received));
    writeFileSync(own.offered, JSON.stringify(offered));
    const [a, b] = [await fund(received.address), await fund(offered.address)];

    // The holder alone cannot sign a zero-fee HTLC transaction.
    expectRefused(await spawned(() => spend('claim', 'ALICE_KEY', JSON.stringify(received), a)), 'E_ANCHORS_FEE_INPUT');

    // The remote's signature comes first (in BOLT 2 with commitment_signed); the holder has the preimage.
    const half = messageOf<Spend>(await spend('claim', 'BOB_KEY', JSON.stringify(received), a), 'htlc/spend');
    expect(half).toMatchObject({ complete: false, path: 'htlc-success', missing: ['local_htlc', 'preimage', 'fee_input'] });
    const funded = messageOf<Spend & { fee_sat: string }>(
      await spend('claim', 'ALICE_KEY', JSON.stringify(half), a, '--preimage-file', preimageFile, '--fee-psbt', await feePsbt('fee-success.psbt'), '--htlc', own.received), 'htlc/spend');
    expect(funded).toMatchObject({ complete: false, missing: ['wallet_signatures'] });
    const success = await walletFinishes(funded.psbt);
    const decoded = await n.node.rpc.call<{ txid: string; vsize: number }>('decoderawtransaction', [success]);
    expect(decoded.txid).toBe(funded.txid);
    expect(Number(funded.fee_sat)).toBeGreaterThanOrEqual(2 * decoded.vsize); // --fee-rate 2 for the size Core counts
    await acceptAndMine(success);

    await mine(cltv - 1 - (await tip()));
    const halfT = messageOf<Spend>(await spend('refund', 'BOB_KEY', JSON.stringify(offered), b), 'htlc/spend');
    expectRefused(await spend('refund', 'ALICE_KEY', JSON.stringify(halfT), b, '--fee-psbt', await feePsbt('fee-early.psbt'), '--htlc', own.offered), 'E_NOT_FINAL');
    const early = messageOf<Spend>(await spend('refund', 'ALICE_KEY', JSON.stringify(halfT), b, '--fee-psbt', await feePsbt('fee-timeout.psbt'), '--htlc', own.offered, '--any-time'), 'htlc/spend');
    const timeout = await walletFinishes(early.psbt);
    expect(await mempool(timeout)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await mine(1);
    await acceptAndMine(timeout);
  });

  it('BOLT 3 anchors: a remote PSBT that slips in one of the holder\'s own wallet coins and pays the remote is refused (E_FOREIGN_INPUT), with or without --fee-psbt; nothing is printed', async () => {
    const cltv = (await tip()) + 20;
    const received = await bolt3('received', cltv, true);
    const own = join(work.path, 'anchors-slipped.json');
    writeFileSync(own, JSON.stringify(received));
    const a = await fund(received.address);
    const half = messageOf<Spend>(await spend('claim', 'BOB_KEY', JSON.stringify(received), a), 'htlc/spend');
    // The remote adds one of the holder's wallet's coins (it sees them on chain) and an output to itself.
    const [coin] = await n.wallet.call<{ txid: string; vout: number; amount: number; scriptPubKey: string }[]>('listunspent', [1]);
    const t = Transaction.fromPSBT(Buffer.from(half.psbt, 'base64'), { allowUnknownOutputs: true });
    const coinSat = BigInt(Math.round(coin!.amount * 1e8));
    t.addInput({ txid: coin!.txid, index: coin!.vout, sequence: 0xfffffffd, witnessUtxo: { script: fromHex(coin!.scriptPubKey), amount: coinSat } });
    t.addOutput({ script: p2wpkh(fromHex(BOB)).script, amount: coinSat - 1_000n });
    const attack = JSON.stringify({ ...half, psbt: Buffer.from(t.toPSBT()).toString('base64') });
    // The holder's wallet would sign that coin in the runbook's next step (walletprocesspsbt): the holder's signature is what must not happen.
    for (const withFee of [true, false]) {
      const fee = withFee ? ['--fee-psbt', await feePsbt('fee-slipped.psbt')] : [];
      const r = await spawned(() => spend('claim', 'ALICE_KEY', attack, a, '--preimage-file', preimageFile, '--htlc', own, ...fee));
      expectRefused(r, 'E_FOREIGN_INPUT');
      expect(r.stderr).not.toMatch(/fee-psbt.*(drop|without)|already has its fee/);
    }
    // The honest PSBT still goes through and is mined.
    const funded = messageOf<Spend>(await spend('claim', 'ALICE_KEY', JSON.stringify(half), a, '--preimage-file', preimageFile, '--fee-psbt', await feePsbt('fee-honest.psbt'), '--htlc', own), 'htlc/spend');
    await acceptAndMine(await walletFinishes(funded.psbt));
  });

  it('BOLT 3 anchors: the remote\'s claim of an offered HTLC and its timeout of a received one carry 1 OP_CSV and are mined', async () => {
    const cltv = (await tip()) + 3;
    const offered = await bolt3('offered', cltv, true);
    const received = await bolt3('received', cltv, true);
    const a = await fund(offered.address);
    const b = await fund(received.address);
    const claim = messageOf<Spend>(await spend('claim', 'BOB_KEY', JSON.stringify(offered), a, '--preimage-file', preimageFile), 'htlc/spend');
    await acceptAndMine(claim.hex!);
    await mine(Math.max(0, cltv - (await tip())));
    const refund = messageOf<Spend>(await spend('refund', 'BOB_KEY', JSON.stringify(received), b), 'htlc/spend');
    await acceptAndMine(refund.hex!);
  });
});
