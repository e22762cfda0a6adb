/**
 * A BOLT 3 channel on a real `bitcoind -regtest` (issue 6): the 2-of-2 funding output is
 * paid by a Core wallet. Made by the built CLI: the holder's commitment (`commitment sign`
 * by both, `commitment finalize` with the preimage), its HTLC-success and HTLC-timeout
 * transactions (the timeout rejected non-final one block before its cltv_expiry), the
 * to_local sweep (`commitment sweep`, rejected non-BIP68-final one block before its
 * to_self_delay) and the sweep of the HTLC-success output; on a second channel the
 * penalty (`commitment penalty`) taking a revoked commitment's to_local and HTLC outputs;
 * on an anchors channel the penalty taking both outputs of a cheater's batched HTLC-timeouts
 * (issue 37 finding 1), found in the mempool, in the UTXO set and from --htlc-tx; and, the
 * fix attacked (issue 37 review), the cheater's RBF replacement of the batch Alice saved, with
 * 1,300 decoy outputs: her --combine penalty split under Core's 400,000 WU, all mined.
 * Library-made: on a third channel an anchors commitment bumped by a CPFP child spending
 * the holder's anchor, submitted as a package. Every one accepted and mined: Core's script
 * interpreter is the independent check of every witness. Skipped visibly without a bitcoind.
 * The first channel's life spawns the built CLI at every step; the other channels' setup
 * (`points`, `init`, the updates) runs the same bundle's `main` in-process
 * (in-process-cli.ts), their closing steps — each test's point — spawned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeAddress, scriptAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import {
  ANCHORS, ANCHOR_OUTPUT_SAT, LEGACY, SIGHASH_ALL, ZERO_FEE, anchorScript, derFromCompact, nobleEcdsa, p2wpkh, p2wsh, segwitV0Sighash, serializeTx, txid, type Tx,
  buildCommitment, channelFundingOutput, counterpartyView, derivePrivkey, deriveRevocationPubkey, finalizeCommitment, generateFromSeed, perCommitmentPoint, pointOf,
  signCommitment, toLocalScript, type ChannelParameters, type ChannelPublicKeys, type CommitmentState,
} from '../../src/lib/bolt3/index.ts';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { findBitcoind } from './bitcoind.ts';
import { assertBuilt, errorCode, messageOf, offchain } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import { tempDir } from '../helpers.ts';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFundedNode, type FundedNode, type OutPoint } from './funded-node.ts';

const secret = (b: number) => new Uint8Array(32).fill(b);
type Party = { funding: Uint8Array; revocation: Uint8Array; payment: Uint8Array; delayed: Uint8Array; htlc: Uint8Array };
const party = (base: number): Party => ({ funding: secret(base), revocation: secret(base + 1), payment: secret(base + 2), delayed: secret(base + 3), htlc: secret(base + 4) });
const publicKeys = (p: Party): ChannelPublicKeys => ({
  fundingPubkey: pointOf(p.funding), revocationBasepoint: pointOf(p.revocation), paymentBasepoint: pointOf(p.payment),
  delayedPaymentBasepoint: pointOf(p.delayed), htlcBasepoint: pointOf(p.htlc),
});
const A = party(0x10); // the commitment holder (local)
const B = party(0x20); // the counterparty (remote)
const SEED = sha256(Uint8Array.of(1, 2, 3)); // A's per-commitment seed
const PREIMAGE = sha256(Uint8Array.of(7));
const TO_SELF_DELAY = 6;
const FUNDING_SAT = 1_000_000n;

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `a BOLT 3 channel against bitcoind -regtest (${BITCOIND})` : 'a BOLT 3 channel against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let sweepTo: Uint8Array;

  const params = (fundingOutpoint: OutPoint): ChannelParameters => ({
    format: LEGACY, fundingOutpoint, fundingSatoshis: FUNDING_SAT, opener: 'local', local: publicKeys(A), remote: publicKeys(B),
    toSelfDelay: TO_SELF_DELAY, dustLimitSatoshis: 546n,
  });
  /** Fund a new channel's 2-of-2 output from the wallet. */
  const openChannel = async () => {
    const script = channelFundingOutput(params({ txid: '00'.repeat(32), vout: 0 })).script;
    return params(await n.fund(scriptAddress(script, 'regtest')!, FUNDING_SAT));
  };
  /** A's commitment number `number`, with one offered and one received HTLC. */
  const state = (number: number, cltv: number): CommitmentState => ({
    commitmentNumber: number,
    perCommitmentPoint: perCommitmentPoint(generateFromSeed(SEED, 2 ** 48 - 1 - number)),
    toLocalMsat: 600_000_000n,
    toRemoteMsat: 310_000_000n,
    feeratePerKw: 2500,
    htlcs: [
      { direction: 'offered', amountMsat: 50_000_000n, paymentHash: sha256(Uint8Array.of(9)), cltvExpiry: cltv },
      { direction: 'received', amountMsat: 40_000_000n, paymentHash: sha256(PREIMAGE), cltvExpiry: cltv + 20 },
    ],
  });
  /** The channel and state as the `commitment` commands read them. */
  const requestJson = (p: ChannelParameters, s: CommitmentState) => {
    const keys = (k: ChannelPublicKeys) => ({
      funding_pubkey: toHex(k.fundingPubkey), revocation_basepoint: toHex(k.revocationBasepoint), payment_basepoint: toHex(k.paymentBasepoint),
      delayed_payment_basepoint: toHex(k.delayedPaymentBasepoint), htlc_basepoint: toHex(k.htlcBasepoint),
    });
    return {
      type: 'bolt3/commitment-request', version: 1, network: 'regtest',
      channel: {
        format: p.format.name, funding_txid: p.fundingOutpoint.txid, funding_vout: p.fundingOutpoint.vout, funding_satoshis: Number(p.fundingSatoshis),
        opener: p.opener, to_self_delay: p.toSelfDelay, dust_limit_satoshis: Number(p.dustLimitSatoshis), local: keys(p.local), remote: keys(p.remote),
      },
      state: {
        commitment_number: s.commitmentNumber, per_commitment_point: toHex(s.perCommitmentPoint), to_local_msat: String(s.toLocalMsat),
        to_remote_msat: String(s.toRemoteMsat), feerate_per_kw: s.feeratePerKw,
        htlcs: s.htlcs.map((h) => ({ direction: h.direction, amount_msat: String(h.amountMsat), payment_hash: toHex(h.paymentHash), cltv_expiry: h.cltvExpiry })),
      },
    };
  };

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'bolt3-funder');
    sweepTo = decodeAddress(n.sweepTo, 'regtest');
  }, 180_000);
  afterAll(async () => n?.stop());

  // ---- a channel kept by the CLI: Alice (A, the opener) and Bob (B), one state directory each ----

  const BOB_SEED = sha256(Uint8Array.of(4, 5, 6));
  const keysJson = (k: ChannelPublicKeys) => ({
    funding_pubkey: toHex(k.fundingPubkey), revocation_basepoint: toHex(k.revocationBasepoint), payment_basepoint: toHex(k.paymentBasepoint),
    delayed_payment_basepoint: toHex(k.delayedPaymentBasepoint), htlc_basepoint: toHex(k.htlcBasepoint),
  });
  type Who = 'alice' | 'bob';
  type AgreedHtlc = { direction: 'offered' | 'received'; amount_msat: string; payment_hash: string; cltv_expiry: number };
  const ENV = {
    A_FUNDING: toHex(A.funding), A_HTLC: toHex(A.htlc), A_REVOCATION: toHex(A.revocation), A_DELAYED: toHex(A.delayed),
    B_FUNDING: toHex(B.funding), B_HTLC: toHex(B.htlc), B_REVOCATION: toHex(B.revocation), B_DELAYED: toHex(B.delayed),
  };

  /**
   * Fund a channel and have both parties record it through `commitment points` / `commitment init`. `setup`: how
   * those steps and the updates run — the built CLI spawned (the narrated channel), or its `main` in-process (the
   * channel a test only needs to stand on; its closing steps, the test's point, stay spawned through `step`).
   */
  async function cliChannel(format: 'legacy' | 'anchors' | 'zero-fee' = 'legacy', setup: typeof offchain = offchainInProcess) {
    const p = await openChannel();
    const dir = tempDir('offchain-regtest-channel-');
    const id = `${p.fundingOutpoint.txid}:${p.fundingOutpoint.vout}`;
    const base = { type: 'bolt3/channel', version: 1, network: 'regtest', format, funding_txid: p.fundingOutpoint.txid, funding_vout: p.fundingOutpoint.vout, funding_satoshis: Number(FUNDING_SAT), to_self_delay: TO_SELF_DELAY, dust_limit_satoshis: 546, remote_to_self_delay: TO_SELF_DELAY, remote_dust_limit_satoshis: 546 };
    const file = (name: string, text: string, mode = 0o644) => (writeFileSync(join(dir.path, name), text, { mode }), join(dir.path, name));
    const files = {
      alice: { channel: file('alice-channel.json', JSON.stringify({ ...base, opener: 'local', local: keysJson(publicKeys(A)), remote: keysJson(publicKeys(B)) })), seed: file('alice.seed', toHex(SEED), 0o600) },
      bob: { channel: file('bob-channel.json', JSON.stringify({ ...base, opener: 'remote', local: keysJson(publicKeys(B)), remote: keysJson(publicKeys(A)) })), seed: file('bob.seed', toHex(BOB_SEED), 0o600) },
    };
    const k = (who: Who) => (who === 'alice' ? 'A' : 'B');
    /** One step of one party: its state directory, its keys where the step signs. */
    const step = async <T = Record<string, unknown>>(who: Who, args: string[], input = '', run: typeof offchain = offchain): Promise<T> => {
      const signs = ['sign', 'finalize'].includes(args[0]!) ? ['--key-env', `${k(who)}_FUNDING`, '--htlc-key-env', `${k(who)}_HTLC`] : [];
      const stateDir = args[0] === 'points' ? [] : ['--state-dir', join(dir.path, who)];
      return messageOf<T>(await run(['commitment', ...args, ...stateDir, ...signs], { input, env: ENV }));
    };
    const points = { alice: await step('alice', ['points', '--channel', files.alice.channel, '--seed-file', files.alice.seed], '', setup), bob: await step('bob', ['points', '--channel', files.bob.channel, '--seed-file', files.bob.seed], '', setup) };
    await step('alice', ['init', '--channel', files.alice.channel, '--seed-file', files.alice.seed], JSON.stringify(points.bob), setup);
    await step('bob', ['init', '--channel', files.bob.channel, '--seed-file', files.bob.seed], JSON.stringify(points.alice), setup);
    /** State n as Alice sees it (sat); Bob's copy is the same state from his side. */
    const agree = (n: number, aliceSat: number, bobSat: number, htlcs: AgreedHtlc[]) => {
      const alice = { type: 'bolt3/channel-state', version: 1, network: 'regtest', channel_id: id, commitment_number: n, to_local_msat: `${aliceSat}000`, to_remote_msat: `${bobSat}000`, feerate_per_kw: format === 'zero-fee' ? 0 : 2500, htlcs };
      const bob = { ...alice, to_local_msat: alice.to_remote_msat, to_remote_msat: alice.to_local_msat, htlcs: htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? 'received' : 'offered' })) };
      return { alice: file(`alice-state-${n}.json`, JSON.stringify(alice)), bob: file(`bob-state-${n}.json`, JSON.stringify(bob)) };
    };
    /** One update in BOLT 2's order: Alice signs Bob's, Bob revokes his previous; Bob signs Alice's, Alice revokes hers. */
    const update = async (n: number, states: { alice: string; bob: string }) => {
      const bobAnswer = await step('bob', ['receive-sigs', '--state', states.bob, '--seed-file', files.bob.seed], JSON.stringify(await step('alice', ['sign', '--state', states.alice], '', setup)), setup);
      if (n > 0) expect(await step('alice', ['receive-revocation'], JSON.stringify(bobAnswer), setup)).toMatchObject({ commitment_number: n - 1 });
      const aliceAnswer = await step('alice', ['receive-sigs', '--state', states.alice, '--seed-file', files.alice.seed], JSON.stringify(await step('bob', ['sign', '--state', states.bob], '', setup)), setup);
      if (n > 0) expect(await step('bob', ['receive-revocation'], JSON.stringify(aliceAnswer), setup)).toMatchObject({ commitment_number: n - 1 });
    };
    return { p, id, dir, files, points, step, agree, update };
  }
  type HolderCommitment = { txid: string; hex: string; commitment_number: number; htlc_txs: { kind: string; txid: string; hex?: string; locktime: number }[] };
  const htlcOf = (direction: 'offered' | 'received', sat: number, hash: Uint8Array, cltv: number): AgreedHtlc => ({ direction, amount_msat: `${sat}000`, payment_hash: toHex(hash), cltv_expiry: cltv });

  it('a channel\'s life by the CLI: updates with HTLCs added and settled, revocations; the cheater\'s revoked commitment and its HTLC-timeout punished output by output', async () => {
    const c = await cliChannel('legacy', offchain); // spawned: the narrated channel
    // The in-process CLI (the other channels' setup) answers as the spawned one did.
    expect(await c.step('alice', ['points', '--channel', c.files.alice.channel, '--seed-file', c.files.alice.seed], '', offchainInProcess)).toEqual(c.points.alice);
    const t0 = await n.tip();
    const bobsCltv = t0 + 4; // Bob's offered HTLC, timed out by the cheater
    const alicesCltv = t0 + 60;
    const toAlice = sha256(PREIMAGE);
    const toBob = sha256(Uint8Array.of(9));
    await c.update(0, c.agree(0, 700_000, 300_000, []));
    await c.update(1, c.agree(1, 650_000, 260_000, [htlcOf('offered', 50_000, toBob, alicesCltv), htlcOf('received', 40_000, toAlice, bobsCltv)]));
    // Bob keeps his commitment 1, signed, before revoking it: the cheat. (finalize marks the
    // channel closing, so he runs it on a copy of his state directory.)
    cpSync(join(c.dir.path, 'bob'), join(c.dir.path, 'bob-copy'), { recursive: true });
    const kept = messageOf<HolderCommitment>(await offchain(
      ['commitment', 'finalize', '--channel-id', c.id, '--seed-file', c.files.bob.seed, '--state-dir', join(c.dir.path, 'bob-copy'), '--key-env', 'B_FUNDING', '--htlc-key-env', 'B_HTLC'],
      { env: ENV },
    ));
    expect(kept.commitment_number).toBe(1);
    await c.update(2, c.agree(2, 690_000, 260_000, [htlcOf('offered', 50_000, toBob, alicesCltv)])); // Bob's HTLC settled to Alice
    await c.update(3, c.agree(3, 690_000, 310_000, [])); // Alice's settled to Bob
    // Revoked, Bob's commitment 1 can no longer be finalized by the CLI: only the one he holds.
    expect((await c.step<HolderCommitment>('bob', ['finalize', '--channel-id', c.id, '--seed-file', c.files.bob.seed])).commitment_number).toBe(3);

    // The cheater broadcasts revoked commitment 1, then times out his HTLC (non-final one block before).
    await n.acceptAndMine(kept.hex);
    const timeout = kept.htlc_txs.find((h) => h.kind === 'htlc-timeout')!;
    expect(timeout.locktime).toBe(bobsCltv);
    await n.mine(bobsCltv - 1 - (await n.tip()));
    expect(await n.mempool(timeout.hex!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(timeout.hex!);

    // Alice punishes: the node says which outputs are spent; the HTLC-timeout's output is taken through its revocation path.
    const timeoutFile = join(c.dir.path, 'timeout.hex');
    writeFileSync(timeoutFile, timeout.hex!);
    const out = await c.step<{ skipped: { vout: number }[]; transactions: { hex: string; inputs: { kind: string; amount_sat: number }[] }[] }>('alice', [
      'penalty', '--channel-id', c.id, '--txid', kept.txid, '--key-env', 'A_REVOCATION', '--htlc-tx', timeoutFile, '--to', n.sweepTo, '--feerate-per-kw', '2500', ...n.chain(),
    ]);
    expect(out.skipped).toHaveLength(1);
    expect(out.transactions.map((t) => t.inputs.map((i) => `${i.kind}:${i.amount_sat}`))).toEqual(
      expect.arrayContaining([['to_local:260000'], ['received_htlc:50000'], [expect.stringMatching(/^second_stage:/)]]),
    );
    expect(out.transactions).toHaveLength(3);
    for (const t of out.transactions) await n.acceptAndMine(t.hex);

    // The cheater's own sweep of to_local and of the HTLC-timeout's output, once to_self_delay passed: nothing left to take.
    const bobs = counterpartyView(c.p, { commitmentNumber: 1, perCommitmentPoint: perCommitmentPoint(generateFromSeed(BOB_SEED, 2 ** 48 - 2)), toLocalMsat: 650_000_000n, toRemoteMsat: 260_000_000n, feeratePerKw: 2500, htlcs: [] }, {
      perCommitmentPoint: perCommitmentPoint(generateFromSeed(BOB_SEED, 2 ** 48 - 2)), toSelfDelay: TO_SELF_DELAY, dustLimitSatoshis: 546n,
    });
    const bobRequest = requestJson(bobs.params, { ...bobs.state, htlcs: [
      { direction: 'offered', amountMsat: 40_000_000n, paymentHash: toAlice, cltvExpiry: bobsCltv }, { direction: 'received', amountMsat: 50_000_000n, paymentHash: toBob, cltvExpiry: alicesCltv },
    ] });
    await n.mine(TO_SELF_DELAY);
    const sweep = messageOf<{ hex: string; commitment_txid: string }>(
      await offchain(['commitment', 'sweep', '--key-env', 'B_DELAYED', '--htlc-txid', timeout.txid, '--to', n.sweepTo, '--feerate-per-kw', '2500'], { input: JSON.stringify(bobRequest), env: ENV }),
      'bolt3/sweep',
    );
    expect(sweep.commitment_txid).toBe(kept.txid);
    expect(await n.mempool(sweep.hex)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
    c.dir.cleanup();
  }, 180_000); // the narrated channel, some thirty spawned CLI steps: room for two suites at once on two cores (a test past its limit goes on mining under the next)

  it('issue 37 F1: the cheater merges two HTLC-timeouts (one cltv_expiry) of his revoked anchors commitment into one transaction with his fee coin — the penalty finds both second-stage outputs (in the mempool, in the UTXO set, from --htlc-tx) and takes them, mined; his sweep after to_self_delay finds nothing', async () => {
    const c = await cliChannel('anchors');
    const cltv = (await n.tip()) + 8;
    await c.update(0, c.agree(0, 700_000, 300_000, []));
    // Bob offers Alice two HTLCs at one cltv_expiry (received, from her side).
    await c.update(1, c.agree(1, 650_000, 260_000, [htlcOf('received', 50_000, sha256(Uint8Array.of(21)), cltv), htlcOf('received', 40_000, sha256(Uint8Array.of(22)), cltv)]));
    cpSync(join(c.dir.path, 'bob'), join(c.dir.path, 'bob-copy'), { recursive: true });
    const kept = messageOf<{ txid: string; hex: string; htlc_txs: { kind: string; psbt: string }[] }>(await offchain(
      ['commitment', 'finalize', '--channel-id', c.id, '--seed-file', c.files.bob.seed, '--state-dir', join(c.dir.path, 'bob-copy'), '--key-env', 'B_FUNDING', '--htlc-key-env', 'B_HTLC'],
      { env: ENV },
    ));
    expect(kept.htlc_txs.map((h) => h.kind)).toEqual(['htlc-timeout', 'htlc-timeout']);
    await c.update(2, c.agree(2, 700_000, 300_000, [])); // both failed back to Bob
    await c.update(3, c.agree(3, 690_000, 310_000, []));
    await n.acceptAndMine(kept.hex);

    // His one transaction: each HTLC-timeout at its own index (Alice's SINGLE|ANYONECANPAY signature binds input i to
    // output i), his coin as input 2 paying the fee and his change as output 2; his SIGHASH_ALL over the whole.
    const timeouts = kept.htlc_txs.map((h) => Transaction.fromPSBT(base64.decode(h.psbt)));
    const feeKey = secret(0x78);
    const feeScript = p2wpkh(pointOf(feeKey));
    const coin = await n.fund(scriptAddress(feeScript, 'regtest')!, 20_000n);
    const bobPoint = perCommitmentPoint(generateFromSeed(BOB_SEED, 2 ** 48 - 1 - 1));
    const batch: Tx = {
      version: timeouts[0]!.version,
      lockTime: timeouts[0]!.lockTime,
      inputs: [...timeouts.map((t) => ({ txid: toHex(t.getInput(0).txid!), vout: t.getInput(0).index!, sequence: t.getInput(0).sequence! })), { txid: coin.txid, vout: coin.vout, sequence: 0xfffffffd }],
      outputs: [...timeouts.map((t) => ({ amount: t.getOutput(0).amount!, script: t.getOutput(0).script! })), { amount: 17_000n, script: feeScript }],
    };
    expect(batch.lockTime).toBe(cltv);
    const sig = (digest: Uint8Array, key: Uint8Array) => Uint8Array.from([...derFromCompact(nobleEcdsa.signCompact(digest, key)), SIGHASH_ALL]);
    const bobHtlc = derivePrivkey(B.htlc, bobPoint);
    timeouts.forEach((t, k) => {
      const { witnessScript, witnessUtxo, partialSig } = t.getInput(0);
      expect(partialSig![0]![1].at(-1)).toBe(0x83); // Alice's, SIGHASH_SINGLE|ANYONECANPAY
      batch.inputs[k]!.witness = [new Uint8Array(0), partialSig![0]![1], sig(segwitV0Sighash(batch, k, witnessScript!, witnessUtxo!.amount, SIGHASH_ALL), bobHtlc), new Uint8Array(0), witnessScript!];
    });
    const feeScriptCode = Uint8Array.from([0x76, 0xa9, 0x14, ...feeScript.subarray(2), 0x88, 0xac]);
    batch.inputs[2]!.witness = [sig(segwitV0Sighash(batch, 2, feeScriptCode, 20_000n, SIGHASH_ALL), feeKey), pointOf(feeKey)];
    const batchHex = toHex(serializeTx(batch));
    await n.mine(cltv - 1 - (await n.tip()));
    expect(await n.mempool(batchHex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    const batchTxid = await n.node.rpc.call<string>('sendrawtransaction', [batchHex]);

    // What the cheater could sweep after to_self_delay: to_local and both outputs of his batch (their script is to_local's).
    const decoded = await n.node.rpc.call<{ vout: { n: number; scriptPubKey: { hex: string } }[] }>('decoderawtransaction', [kept.hex]);
    const toLocal = decoded.vout.find((o) => o.scriptPubKey.hex === toHex(batch.outputs[0]!.script))!.n;
    const expected = [`${kept.txid}:${toLocal}`, `${batchTxid}:0`, `${batchTxid}:1`].sort();
    type Penalties = { transactions: { hex: string; inputs: { kind: string; txid: string; vout: number }[] }[] };
    const penalty = (...extra: string[]) => c.step<Penalties>('alice', ['penalty', '--channel-id', c.id, '--txid', kept.txid, '--key-env', 'A_REVOCATION', '--to', n.sweepTo, '--feerate-per-kw', '2500', ...extra]);
    const taken = (p: Penalties) => p.transactions.flatMap((t) => t.inputs.map((i) => `${i.txid}:${i.vout}`)).sort();
    const hexes = (p: Penalties) => p.transactions.map((t) => t.hex).sort();
    // The batch in the mempool: the node names its spender (gettxspendingprevout); the justice transactions may go at once.
    const fromMempool = await penalty(...n.chain());
    expect(taken(fromMempool)).toEqual(expected);
    for (const t of fromMempool.transactions) expect(await n.mempool(t.hex)).toMatchObject({ allowed: true });
    // Confirmed: found in the UTXO set (scantxoutset); offline, from the transaction given — the same justice transactions.
    await n.mine(1);
    const confirmedAt = await n.tip();
    const batchFile = join(c.dir.path, 'batch.hex');
    writeFileSync(batchFile, batchHex);
    const [fromUtxoSet, offline] = await Promise.all([penalty(...n.chain()), penalty('--htlc-tx', batchFile)]);
    expect(taken(fromUtxoSet)).toEqual(expected);
    expect(hexes(fromUtxoSet)).toEqual(hexes(fromMempool));
    expect(hexes(offline)).toEqual(hexes(fromMempool));

    // The cheater's sweep of output 1 (the one the review saw him take): valid once to_self_delay has passed, which
    // Core confirms before the penalties go out — then they are mined, and nothing is left for it.
    const delayed = derivePrivkey(B.delayed, bobPoint);
    const secondScript = toLocalScript(deriveRevocationPubkey(pointOf(A.revocation), bobPoint), TO_SELF_DELAY, pointOf(delayed));
    expect(toHex(p2wsh(secondScript))).toBe(toHex(batch.outputs[1]!.script));
    const sweep: Tx = { version: 2, lockTime: 0, inputs: [{ txid: batchTxid, vout: 1, sequence: TO_SELF_DELAY }], outputs: [{ amount: batch.outputs[1]!.amount - 1_000n, script: sweepTo }] };
    sweep.inputs[0]!.witness = [sig(segwitV0Sighash(sweep, 0, secondScript, batch.outputs[1]!.amount, SIGHASH_ALL), delayed), new Uint8Array(0), secondScript];
    const sweepHex = toHex(serializeTx(sweep));
    await n.mine(confirmedAt + TO_SELF_DELAY - 1 - (await n.tip()));
    expect(await n.mempool(sweepHex)).toMatchObject({ allowed: true });
    for (const t of fromUtxoSet.transactions) await n.acceptAndMine(t.hex);
    expect(await n.mempool(sweepHex)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
    for (const outpoint of expected) {
      const [id, vout] = outpoint.split(':');
      expect(await n.node.rpc.call('gettxout', [id, Number(vout), true]), outpoint).toBeNull();
    }
    c.dir.cleanup();
  }, 120_000); // a dozen blocks, eight spawned CLI steps (its channel's twenty-odd setup steps run in-process)

  it('issue 37 review R1–R3: the cheater replaces (RBF) the batch Alice saved with one carrying 1,300 decoy outputs paying the second-stage script — her --combine penalty with the node and the stale --htlc-tx is split under 400,000 WU, the same in the mempool and confirmed, all mined; his sweeps after to_self_delay find nothing', async () => {
    const c = await cliChannel('anchors');
    const cltv = (await n.tip()) + 8;
    await c.update(0, c.agree(0, 700_000, 300_000, []));
    await c.update(1, c.agree(1, 650_000, 260_000, [htlcOf('received', 50_000, sha256(Uint8Array.of(31)), cltv), htlcOf('received', 40_000, sha256(Uint8Array.of(32)), cltv)]));
    cpSync(join(c.dir.path, 'bob'), join(c.dir.path, 'bob-copy'), { recursive: true });
    const kept = messageOf<{ txid: string; hex: string; htlc_txs: { kind: string; psbt: string }[] }>(await offchain(
      ['commitment', 'finalize', '--channel-id', c.id, '--seed-file', c.files.bob.seed, '--state-dir', join(c.dir.path, 'bob-copy'), '--key-env', 'B_FUNDING', '--htlc-key-env', 'B_HTLC'],
      { env: ENV },
    ));
    await c.update(2, c.agree(2, 700_000, 300_000, []));
    await c.update(3, c.agree(3, 690_000, 310_000, []));
    await n.acceptAndMine(kept.hex);

    const timeouts = kept.htlc_txs.map((h) => Transaction.fromPSBT(base64.decode(h.psbt)));
    const secondStage = timeouts[0]!.getOutput(0).script!;
    const feeKey = secret(0x79);
    const feeScript = p2wpkh(pointOf(feeKey));
    const coins = [{ ...(await n.fund(scriptAddress(feeScript, 'regtest')!, 20_000n)), amount: 20_000n }, { ...(await n.fund(scriptAddress(feeScript, 'regtest')!, 600_000n)), amount: 600_000n }];
    const bobPoint = perCommitmentPoint(generateFromSeed(BOB_SEED, 2 ** 48 - 1 - 1));
    const sig = (digest: Uint8Array, key: Uint8Array) => Uint8Array.from([...derFromCompact(nobleEcdsa.signCompact(digest, key)), SIGHASH_ALL]);
    const bobHtlc = derivePrivkey(B.htlc, bobPoint);
    const feeScriptCode = Uint8Array.from([0x76, 0xa9, 0x14, ...feeScript.subarray(2), 0x88, 0xac]);
    /** His transaction: the HTLC-timeouts in `order` (each at its output's index), his coins, his change, then whatever outputs he adds. */
    const batch = (order: number[], coinsUsed: typeof coins, change: bigint, extra: { amount: bigint; script: Uint8Array }[]) => {
      const ts = order.map((i) => timeouts[i]!);
      const tx: Tx = {
        version: ts[0]!.version, lockTime: ts[0]!.lockTime,
        inputs: [...ts.map((t) => ({ txid: toHex(t.getInput(0).txid!), vout: t.getInput(0).index!, sequence: t.getInput(0).sequence! })), ...coinsUsed.map((x) => ({ txid: x.txid, vout: x.vout, sequence: 0xfffffffd }))],
        outputs: [...ts.map((t) => ({ amount: t.getOutput(0).amount!, script: t.getOutput(0).script! })), { amount: change, script: feeScript }, ...extra],
      };
      ts.forEach((t, k) => {
        const { witnessScript, witnessUtxo, partialSig } = t.getInput(0);
        tx.inputs[k]!.witness = [new Uint8Array(0), partialSig![0]![1], sig(segwitV0Sighash(tx, k, witnessScript!, witnessUtxo!.amount, SIGHASH_ALL), bobHtlc), new Uint8Array(0), witnessScript!];
      });
      coinsUsed.forEach((x, j) => {
        tx.inputs[ts.length + j]!.witness = [sig(segwitV0Sighash(tx, ts.length + j, feeScriptCode, x.amount, SIGHASH_ALL), feeKey), pointOf(feeKey)];
      });
      return { hex: toHex(serializeTx(tx)), txid: txid(tx), tx };
    };
    await n.mine(Math.max(0, cltv - (await n.tip())));
    // The batch Alice saves from the mempool, then his replacement: the other order, a second coin, 1,300 outputs of 330 sat paying the second-stage script.
    const first = batch([0, 1], coins.slice(0, 1), 19_500n, []); // ~1.1 sat/vB: the replacement pays a higher rate
    expect(await n.node.rpc.call<string>('sendrawtransaction', [first.hex])).toBe(first.txid);
    const firstFile = join(c.dir.path, 'first.hex');
    writeFileSync(firstFile, first.hex);
    const decoys = Array.from({ length: 1_300 }, () => ({ amount: 330n, script: secondStage }));
    const second = batch([1, 0], coins, 100_000n, decoys);
    expect(await n.node.rpc.call<string>('sendrawtransaction', [second.hex])).toBe(second.txid);
    expect(await n.mempool(first.hex)).toMatchObject({ allowed: false });

    const decoded = await n.node.rpc.call<{ vout: { n: number; scriptPubKey: { hex: string } }[] }>('decoderawtransaction', [kept.hex]);
    const toLocal = decoded.vout.find((o) => o.scriptPubKey.hex === toHex(secondStage))!.n;
    const expected = [`${kept.txid}:${toLocal}`, ...second.tx.outputs.flatMap((o, k) => (toHex(o.script) === toHex(secondStage) ? [`${second.txid}:${k}`] : []))].sort();
    expect(expected).toHaveLength(1 + 2 + 1_300);
    type Penalties = { skipped: { txid?: string; vout: number; reason: string }[]; transactions: { hex: string; inputs: { txid: string; vout: number }[] }[] };
    // Each --combine run over 1,303 outputs is the file's heaviest step (seconds of CPU on a quiet machine): its own time limit widened from 60 s.
    const patient: typeof offchain = (args, opts) => offchain(args, { ...opts, timeoutMs: 200_000 });
    const penalty = (...extra: string[]) => c.step<Penalties>('alice', ['penalty', '--channel-id', c.id, '--txid', kept.txid, '--key-env', 'A_REVOCATION', '--to', n.sweepTo, '--feerate-per-kw', '253', '--combine', ...extra], '', patient);
    const taken = (p: Penalties) => p.transactions.flatMap((t) => t.inputs.map((i) => `${i.txid}:${i.vout}`)).sort();
    const hexes = (p: Penalties) => p.transactions.map((t) => t.hex).sort();
    // In the mempool, with the stale batch given: not refused; the stale outputs listed, the replacement's taken.
    const inMempool = await penalty('--htlc-tx', firstFile, ...n.chain());
    expect(taken(inMempool)).toEqual(expected);
    expect(inMempool.skipped.filter((x) => x.txid === first.txid).map((x) => x.vout)).toEqual([0, 1]);
    await n.mine(1);
    const confirmedAt = await n.tip();
    const confirmed = await penalty('--htlc-tx', firstFile, ...n.chain());
    expect(hexes(confirmed)).toEqual(hexes(inMempool));
    expect(confirmed.transactions).toHaveLength(2);

    // His sweeps of a paired output and of a decoy, valid a moment before the penalties go out; then nothing is left.
    const delayed = derivePrivkey(B.delayed, bobPoint);
    const secondScript = toLocalScript(deriveRevocationPubkey(pointOf(A.revocation), bobPoint), TO_SELF_DELAY, pointOf(delayed));
    expect(toHex(p2wsh(secondScript))).toBe(toHex(secondStage));
    // (A decoy alone, 330 sat, is not worth a sweep: one transaction takes output 0 and decoy 3, another output 1.)
    const sweeps = [[0, 3], [1]].map((vouts) => {
      const amounts = vouts.map((v) => second.tx.outputs[v]!.amount);
      const sweep: Tx = { version: 2, lockTime: 0, inputs: vouts.map((vout) => ({ txid: second.txid, vout, sequence: TO_SELF_DELAY })), outputs: [{ amount: amounts.reduce((a, b) => a + b) - 500n, script: sweepTo }] };
      vouts.forEach((_, k) => (sweep.inputs[k]!.witness = [sig(segwitV0Sighash(sweep, k, secondScript, amounts[k]!, SIGHASH_ALL), delayed), new Uint8Array(0), secondScript]));
      return toHex(serializeTx(sweep));
    });
    await n.mine(confirmedAt + TO_SELF_DELAY - 1 - (await n.tip()));
    for (const h of sweeps) expect(await n.mempool(h)).toMatchObject({ allowed: true });
    for (const t of confirmed.transactions) await n.acceptAndMine(t.hex);
    for (const h of sweeps) expect(await n.mempool(h)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
    c.dir.cleanup();
  }, 300_000); // the slowest test (~42 s on a quiet 2-core machine, two --combine penalties): room for two suites at once

  it('an honest unilateral close by the CLI: the held commitment, its HTLC-success and HTLC-timeout (non-final one block early), the delayed sweeps (non-BIP68-final one block early)', async () => {
    const c = await cliChannel();
    const t0 = await n.tip();
    const cltv = t0 + 12; // after the sweep below: the timeout's own early check comes last
    await c.update(0, c.agree(0, 600_000, 310_000, [htlcOf('offered', 50_000, sha256(Uint8Array.of(9)), cltv), htlcOf('received', 40_000, sha256(PREIMAGE), cltv + 20)]));
    const preimageFile = join(c.dir.path, 'preimage.hex');
    writeFileSync(preimageFile, toHex(PREIMAGE) + '\n', { mode: 0o600 });
    const final = await c.step<HolderCommitment>('alice', ['finalize', '--channel-id', c.id, '--seed-file', c.files.alice.seed, '--preimage-file', preimageFile]);
    const [timeoutTx, successTx] = ['htlc-timeout', 'htlc-success'].map((kind) => final.htlc_txs.find((h) => h.kind === kind)!);
    await n.acceptAndMine(final.hex);
    const confirmedAt = await n.tip();
    await n.acceptAndMine(successTx!.hex!);

    // to_local: CSV to_self_delay counted from the commitment's block.
    const s = { commitmentNumber: 0, perCommitmentPoint: perCommitmentPoint(generateFromSeed(SEED, 2 ** 48 - 1)), toLocalMsat: 600_000_000n, toRemoteMsat: 310_000_000n, feeratePerKw: 2500, htlcs: [
      { direction: 'offered' as const, amountMsat: 50_000_000n, paymentHash: sha256(Uint8Array.of(9)), cltvExpiry: cltv }, { direction: 'received' as const, amountMsat: 40_000_000n, paymentHash: sha256(PREIMAGE), cltvExpiry: cltv + 20 },
    ] };
    const request = JSON.stringify(requestJson(c.p, s));
    const sweepArgs = ['commitment', 'sweep', '--key-env', 'A_DELAYED', '--to', n.sweepTo, '--feerate-per-kw', '2500'];
    const sweep = messageOf<{ hex: string; commitment_txid: string }>(await offchain(sweepArgs, { input: request, env: ENV }), 'bolt3/sweep');
    expect(sweep.commitment_txid).toBe(final.txid);
    await n.mine(confirmedAt + TO_SELF_DELAY - 2 - (await n.tip()));
    expect(await n.mempool(sweep.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-BIP68-final' });
    await n.mine(1);
    // The HTLC-success output (confirmed one block after the commitment) is one block early now.
    const second = messageOf<{ hex: string }>(await offchain([...sweepArgs, '--no-to-local', '--htlc-txid', successTx!.txid], { input: request, env: ENV }), 'bolt3/sweep');
    expect(await n.mempool(second.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-BIP68-final' });
    await n.acceptAndMine(sweep.hex);
    await n.acceptAndMine(second.hex);

    await n.mine(cltv - 1 - (await n.tip()));
    expect(await n.mempool(timeoutTx!.hex!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(timeoutTx!.hex!);
    c.dir.cleanup();
  });

  it('a zero-fee channel by the CLI (issue 24): finalize funds its HTLC transactions from the wallet (--fee-psbt); the zero-fee commitment goes on chain by package child; the funded HTLC-success confirms and its output is swept with --htlc-tx', async () => {
    const c = await cliChannel('zero-fee');
    const t0 = await n.tip();
    const cltv = t0 + 40;
    await c.update(0, c.agree(0, 600_000, 310_000, [htlcOf('offered', 50_000, sha256(Uint8Array.of(9)), cltv), htlcOf('received', 40_000, sha256(PREIMAGE), cltv + 20)]));
    const preimageFile = join(c.dir.path, 'preimage.hex');
    writeFileSync(preimageFile, toHex(PREIMAGE) + '\n', { mode: 0o600 });
    const walletPsbt = async (name: string) => {
      const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
      const file = join(c.dir.path, name);
      writeFileSync(file, JSON.stringify(await n.wallet.call('walletcreatefundedpsbt', [[], [{ [own]: 0.0003 }], 0, { fee_rate: 1, lockUnspents: true }])));
      return file;
    };
    // One wallet PSBT per HTLC transaction, in the commitment's output order (offered → timeout, received → success).
    const final = await c.step<Omit<HolderCommitment, 'htlc_txs'> & { htlc_txs: { kind: string; txid: string; psbt?: string; fee_sat?: number; needs_wallet_signatures?: boolean }[] }>('alice', [
      'finalize', '--channel-id', c.id, '--seed-file', c.files.alice.seed, '--preimage-file', preimageFile, '--fee-psbt', await walletPsbt('w1.json'), '--fee-psbt', await walletPsbt('w2.json'), '--fee-rate', '3',
    ]);
    expect(final.htlc_txs.map((h) => h.needs_wallet_signatures)).toEqual([true, true]);
    // The zero-fee commitment: refused alone, on chain through package child / submit.
    expect(await n.mempool(final.hex)).toMatchObject({ allowed: false, 'reject-reason': 'min relay fee not met' });
    const holderFile = join(c.dir.path, 'holder.json');
    writeFileSync(holderFile, JSON.stringify(final));
    const child = await offchain(['package', 'child', '--parent', holderFile, '--wallet-psbt', await walletPsbt('w3.json'), '--fee-rate', '5', '--network', 'regtest', ...n.chain()]);
    const childMsg = messageOf<{ psbt: string }>(child, 'package/child');
    const childFile = join(c.dir.path, 'child.json');
    writeFileSync(childFile, child.stdout);
    const signedChild = join(c.dir.path, 'child-signed.json');
    writeFileSync(signedChild, JSON.stringify(await n.wallet.call('walletprocesspsbt', [childMsg.psbt])));
    messageOf(await offchain(['package', 'submit', '--parent', childFile, '--child', signedChild, '--network', 'regtest', ...n.chain()]), 'package/submitted');
    await n.mine(1);
    // The HTLC-success, funded and signed by us (input 0), completed by the wallet: the txid finalize announced; accepted and mined.
    const success = final.htlc_txs.find((h) => h.kind === 'htlc-success')!;
    const signed = await n.wallet.call<{ complete: boolean; hex: string; psbt: string }>('walletprocesspsbt', [success.psbt]);
    expect(signed.complete).toBe(true);
    const successTxid = await n.acceptAndMine(signed.hex);
    expect(successTxid).toBe(success.txid);
    const confirmedAt = await n.tip();
    // Its output swept with --htlc-tx (another txid than BOLT 3's unfunded one): one block early refused, then mined.
    const signedFile = join(c.dir.path, 'success-signed.json');
    writeFileSync(signedFile, JSON.stringify(signed));
    const s = { commitmentNumber: 0, perCommitmentPoint: perCommitmentPoint(generateFromSeed(SEED, 2 ** 48 - 1)), toLocalMsat: 600_000_000n, toRemoteMsat: 310_000_000n, feeratePerKw: 0, htlcs: [
      { direction: 'offered' as const, amountMsat: 50_000_000n, paymentHash: sha256(Uint8Array.of(9)), cltvExpiry: cltv }, { direction: 'received' as const, amountMsat: 40_000_000n, paymentHash: sha256(PREIMAGE), cltvExpiry: cltv + 20 },
    ] };
    const request = JSON.stringify(requestJson({ ...c.p, format: ZERO_FEE }, s));
    const sweep = messageOf<{ hex: string; inputs: { txid: string }[] }>(await offchain(['commitment', 'sweep', '--key-env', 'A_DELAYED', '--to', n.sweepTo, '--feerate-per-kw', '2500', '--no-to-local', '--htlc-tx', signedFile], { input: request, env: ENV }), 'bolt3/sweep');
    expect(sweep.inputs.map((i) => i.txid)).toEqual([success.txid]);
    await n.mine(confirmedAt + TO_SELF_DELAY - 2 - (await n.tip()));
    expect(await n.mempool(sweep.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-BIP68-final' });
    await n.mine(1);
    await n.acceptAndMine(sweep.hex);
    c.dir.cleanup();
  });

  it('a cooperative close by the CLI (shutdown → closing_signed → closing transaction) after an HTLC was added and settled: mined, each party paid its balance', async () => {
    const c = await cliChannel();
    const t0 = await n.tip();
    await c.update(0, c.agree(0, 700_000, 300_000, []));
    await c.update(1, c.agree(1, 650_000, 300_000, [htlcOf('offered', 50_000, sha256(Uint8Array.of(9)), t0 + 40)]));
    await c.update(2, c.agree(2, 650_000, 350_000, [])); // settled to Bob
    const bobTo = n.miner;
    const shutdown = await c.step('alice', ['close', '--start', '--channel-id', c.id, '--seed-file', c.files.alice.seed, '--to', n.sweepTo, '--fee-sat', '1000']);
    const signed = await c.step('bob', ['close', '--seed-file', c.files.bob.seed, '--to', bobTo, '--key-env', 'B_FUNDING'], JSON.stringify(shutdown));
    const close = await c.step<{ hex: string; txid: string }>('alice', ['close', '--seed-file', c.files.alice.seed, '--key-env', 'A_FUNDING'], JSON.stringify(signed));
    await n.acceptAndMine(close.hex);
    const tx = await n.node.rpc.call<{ vout: { value: number; scriptPubKey: { address: string } }[] }>('getrawtransaction', [close.txid, true]);
    expect(tx.vout.map((o) => [o.scriptPubKey.address, Math.round(o.value * 1e8)]).sort()).toEqual([[n.sweepTo, 649_000], [bobTo, 350_000]].sort());
    // Closing, neither party signs another commitment.
    const refusedSign = await offchain(['commitment', 'sign', '--state', c.agree(3, 650_000, 350_000, []).alice, '--state-dir', join(c.dir.path, 'alice'), '--key-env', 'A_FUNDING'], { env: ENV });
    expect([refusedSign.status, errorCode(refusedSign)]).toEqual([5, 'E_CHANNEL_CLOSING']);
    c.dir.cleanup();
  });

  it('the peer force-closes: Alice claims the HTLC it offered her with the preimage and takes hers back at cltv_expiry (non-final one block early), straight from its commitment', async () => {
    const c = await cliChannel();
    const t0 = await n.tip();
    const cltv = t0 + 8;
    await c.update(0, c.agree(0, 700_000, 300_000, []));
    await c.update(1, c.agree(1, 650_000, 260_000, [htlcOf('offered', 50_000, sha256(Uint8Array.of(9)), cltv), htlcOf('received', 40_000, sha256(PREIMAGE), t0 + 30)]));
    const bobs = await c.step<HolderCommitment>('bob', ['finalize', '--channel-id', c.id, '--seed-file', c.files.bob.seed]);
    await n.acceptAndMine(bobs.hex);
    const preimageFile = join(c.dir.path, 'preimage.hex');
    writeFileSync(preimageFile, toHex(PREIMAGE) + '\n', { mode: 0o600 });
    const claims = await c.step<{ transactions: { kind: string; hex: string; locktime: number; amount_sat: number }[] }>('alice', [
      'claim', '--channel-id', c.id, '--txid', bobs.txid, '--htlc-key-env', 'A_HTLC', '--preimage-file', preimageFile, '--to', n.sweepTo, '--feerate-per-kw', '2500',
    ]);
    expect(claims.transactions.map((t) => `${t.kind}:${t.amount_sat}`).sort()).toEqual(['htlc-claim:40000', 'htlc-timeout:50000']);
    const claim = claims.transactions.find((t) => t.kind === 'htlc-claim')!;
    const timeout = claims.transactions.find((t) => t.kind === 'htlc-timeout')!;
    expect(timeout.locktime).toBe(cltv);
    await n.acceptAndMine(claim.hex);
    await n.mine(cltv - 1 - (await n.tip()));
    expect(await n.mempool(timeout.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(timeout.hex);
    c.dir.cleanup();
  });

  it('anchors: a commitment at the 253 sat/kw floor is bumped by a CPFP child spending the holder\'s anchor, submitted and mined as a package', async () => {
    const p = { ...(await openChannel()), format: ANCHORS };
    // The anchors commitment differs from the legacy one only in format: fund a channel for it.
    // (Core refuses a zero-fee parent that is not TRUC even in a package: "min relay fee not met".)
    const c = buildCommitment(p, { ...state(2, (await n.tip()) + 50), feeratePerKw: 253 });
    const commitment = finalizeCommitment(c, signCommitment(c, A.funding), signCommitment(c, B.funding));
    const anchor = c.outputs.find((o) => o.kind === 'to_local_anchor')!;
    // The child's fee comes from a coin of our own (P2WPKH of a test key), funded by the wallet.
    const feeKey = secret(0x77);
    const feeScript = p2wpkh(pointOf(feeKey));
    const coin = await n.fund(scriptAddress(feeScript, 'regtest')!, 20_000n);
    const child: Tx = {
      version: 2,
      lockTime: 0,
      inputs: [
        { txid: c.txid, vout: anchor.index, sequence: 0xfffffffd },
        { txid: coin.txid, vout: coin.vout, sequence: 0xfffffffd },
      ],
      outputs: [{ amount: 20_000n + ANCHOR_OUTPUT_SAT - 5_000n, script: sweepTo }],
    };
    const anchorScriptBytes = anchorScript(pointOf(A.funding));
    const sig = (digest: Uint8Array, key: Uint8Array) => Uint8Array.from([...derFromCompact(nobleEcdsa.signCompact(digest, key)), SIGHASH_ALL]);
    const feeScriptCode = Uint8Array.from([0x76, 0xa9, 0x14, ...feeScript.subarray(2), 0x88, 0xac]); // BIP-143 scriptCode of P2WPKH
    child.inputs[0]!.witness = [sig(segwitV0Sighash(child, 0, anchorScriptBytes, ANCHOR_OUTPUT_SAT, SIGHASH_ALL), A.funding), anchorScriptBytes];
    child.inputs[1]!.witness = [sig(segwitV0Sighash(child, 1, feeScriptCode, 20_000n, SIGHASH_ALL), feeKey), pointOf(feeKey)];
    const result = await n.node.rpc.call<{ package_msg: string; 'tx-results': Record<string, { txid: string; vsize: number; fees: { base: number }; error?: string }> }>(
      'submitpackage', [[commitment.hex, toHex(serializeTx(child))]],
    );
    expect(result.package_msg, JSON.stringify(result['tx-results'])).toBe('success');
    const results = Object.values(result['tx-results']);
    expect(results.map((r) => r.txid).sort()).toEqual([commitment.txid, txid(child)].sort());
    // The child lifts the pair well above the commitment's own rate.
    const own = results.find((r) => r.txid === commitment.txid)!;
    const total = results.reduce((a, r) => ({ fee: a.fee + r.fees.base, vsize: a.vsize + r.vsize }), { fee: 0, vsize: 0 });
    expect(total.fee / total.vsize).toBeGreaterThan((own.fees.base / own.vsize) * 5);
    await n.mine(1);
    for (const id of [commitment.txid, txid(child)]) {
      expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [id, 1])).confirmations).toBe(1);
    }
  });

});
