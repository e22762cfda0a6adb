/**
 * A BOLT 3 channel on a real `bitcoind -regtest` (issue 6): the 2-of-2 funding output is
 * paid by a Core wallet. Made by the built CLI: the holder's commitment (`commitment sign`
 * by both, `commitment finalize` with the preimage), its HTLC-success and HTLC-timeout
 * transactions (the timeout rejected non-final one block before its cltv_expiry), the
 * to_local sweep (`commitment sweep`, rejected non-BIP68-final one block before its
 * to_self_delay) and the sweep of the HTLC-success output; on a second channel the
 * penalty (`commitment penalty`) taking a revoked commitment's to_local and HTLC outputs.
 * Library-made: on a third channel an anchors commitment bumped by a CPFP child spending
 * the holder's anchor, submitted as a package. Every one accepted and mined: Core's script
 * interpreter is the independent check of every witness. Skipped visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeAddress, scriptAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import {
  ANCHORS, ANCHOR_OUTPUT_SAT, LEGACY, SIGHASH_ALL, anchorScript, derFromCompact, nobleEcdsa, p2wpkh, segwitV0Sighash, serializeTx, txid, type Tx,
  buildCommitment, channelFundingOutput, finalizeCommitment, generateFromSeed, perCommitmentPoint, pointOf, signCommitment,
  type ChannelParameters, type ChannelPublicKeys, type CommitmentState,
} from '../../src/lib/bolt3/index.ts';
import { findBitcoind } from './bitcoind.ts';
import { assertBuilt, messageOf, offchain } from './offchain-cli.ts';
import { tempDir } from '../helpers.ts';
import { writeFileSync } from 'node:fs';
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
  const broadcastCommitment = async (p: ChannelParameters, s: CommitmentState) => {
    const c = buildCommitment(p, s);
    const signed = finalizeCommitment(c, signCommitment(c, A.funding), signCommitment(c, B.funding));
    expect(signed.txid).toBe(c.txid);
    await n.acceptAndMine(signed.hex);
    return c;
  };

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

  it('made by the CLI: the commitment, its HTLC-success and HTLC-timeout (non-final one block early), the to_local sweep (non-BIP68-final one block early) and the HTLC-success output\'s sweep are mined', async () => {
    const p = await openChannel();
    const t0 = await n.tip();
    const cltv = t0 + 12; // after the sweep below: the timeout's own early check comes last
    const s = state(0, cltv);
    const dir = tempDir('offchain-regtest-bolt3-cli-');
    const seedFile = join(dir.path, 'seed.hex');
    const preimageFile = join(dir.path, 'preimage.hex');
    writeFileSync(seedFile, toHex(SEED) + '\n', { mode: 0o600 });
    writeFileSync(preimageFile, toHex(PREIMAGE) + '\n', { mode: 0o600 });
    // A's per-commitment point for commitment 0 comes from `commitment point` too.
    const point = messageOf<{ per_commitment_point: string }>(await offchain(['commitment', 'point', '--seed-file', seedFile, '--commitment-number', '0']), 'bolt3/per-commitment-point');
    expect(point.per_commitment_point).toBe(toHex(s.perCommitmentPoint));
    const env = { LF: toHex(A.funding), LH: toHex(A.htlc), RF: toHex(B.funding), RH: toHex(B.htlc), DELAYED: toHex(A.delayed) };
    const request = JSON.stringify(requestJson(p, s));
    const local = await offchain(['commitment', 'sign', '--as', 'local', '--key-env', 'LF', '--htlc-key-env', 'LH'], { input: request, env });
    messageOf(local, 'bolt3/commitment');
    const both = await offchain(['commitment', 'sign', '--as', 'remote', '--key-env', 'RF', '--htlc-key-env', 'RH'], { input: local.stdout, env });
    messageOf(both, 'bolt3/commitment');
    const final = messageOf<{ txid: string; hex: string; htlc_txs: { kind: string; txid: string }[]; signed_htlc_txs: { txid: string; hex: string }[] }>(
      await offchain(['commitment', 'finalize', '--preimage-file', preimageFile], { input: both.stdout }),
      'bolt3/commitment',
    );
    const signedOf = (kind: string) => {
      const id = final.htlc_txs.find((h) => h.kind === kind)!.txid;
      return final.signed_htlc_txs.find((t) => t.txid === id)!;
    };
    const [timeoutTx, successTx] = [signedOf('htlc-timeout'), signedOf('htlc-success')];
    await n.acceptAndMine(final.hex);
    const confirmedAt = await n.tip();
    expect(confirmedAt).toBe(t0 + 1);

    await n.acceptAndMine(successTx.hex);

    // to_local: CSV to_self_delay counted from the commitment's block, so the sweep enters
    // the mempool once the tip is that block + delay − 1, and not one block before.
    const sweepArgs = ['commitment', 'sweep', '--key-env', 'DELAYED', '--to', n.sweepTo, '--feerate-per-kw', '2500'];
    const sweep = messageOf<{ hex: string; commitment_txid: string }>(await offchain(sweepArgs, { input: request, env }), 'bolt3/sweep');
    expect(sweep.commitment_txid).toBe(final.txid);
    const ready = confirmedAt + TO_SELF_DELAY - 1;
    await n.mine(ready - 1 - (await n.tip()));
    expect(await n.mempool(sweep.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-BIP68-final' });
    await n.mine(1);
    await n.acceptAndMine(sweep.hex);
    // The HTLC-success transaction's output (the same delayed script), once its own delay passed.
    const second = messageOf<{ hex: string }>(await offchain([...sweepArgs, '--no-to-local', '--htlc-txid', successTx.txid], { input: request, env }), 'bolt3/sweep');
    await n.acceptAndMine(second.hex);

    await n.mine(cltv - 1 - (await n.tip()));
    expect(await n.mempool(timeoutTx.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(timeoutTx.hex);
    dir.cleanup();
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

  it('a revoked commitment broadcast by its holder is taken whole by the penalty transaction', async () => {
    const p = await openChannel();
    const s = state(1, (await n.tip()) + 50);
    const revoked = await broadcastCommitment(p, s);
    // A revoked commitment 1 when it moved on: B holds its per-commitment secret, and
    // punishes through the CLI (`commitment penalty`) with the commitment as JSON.
    const dir = tempDir('offchain-regtest-bolt3-');
    const secretFile = join(dir.path, 'secret.hex');
    writeFileSync(secretFile, toHex(generateFromSeed(SEED, 2 ** 48 - 1 - 1)) + '\n', { mode: 0o600 });
    const run = await offchain(
      ['commitment', 'penalty', '--key-env', 'REVOCATION', '--secret-file', secretFile, '--to', n.sweepTo, '--feerate-per-kw', '2500'],
      { input: JSON.stringify(requestJson(p, s)), env: { REVOCATION: toHex(B.revocation) } },
    );
    const penalty = messageOf<{ hex: string; revoked_txid: string; inputs: { kind: string }[] }>(run, 'bolt3/penalty');
    expect(penalty.revoked_txid).toBe(revoked.txid);
    dir.cleanup();
    expect(penalty.inputs.map((i) => i.kind).sort()).toEqual(['offered_htlc', 'received_htlc', 'to_local']);
    await n.acceptAndMine(penalty.hex);
  });
});
