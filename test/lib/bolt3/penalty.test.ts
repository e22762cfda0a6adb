/**
 * Penalty (justice) transactions. BOLT 3 publishes no penalty vector, so the spends are
 * checked against the spec's own revoked commitments: the Appendix C and F commitment
 * transactions, their witness scripts and their `local_revocation_pubkey` come from the
 * vector files, and every penalty input is verified by an independent verifier
 * (./independent-p2wsh.ts: test-code BIP-143 and OpenSSL ECDSA) — the prevout script
 * is P2WSH of the witness script, the witness takes the revocation branch, and the
 * signature verifies for the spec's revocation pubkey.
 *
 * Invariants under test: only the holder of BOTH the revealed per-commitment secret
 * and the revocation basepoint secret can take a revoked commitment; a secret that is
 * not that commitment's is refused before anything is signed; the fee never falls
 * below the feerate asked for.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { ExitCode, RefusedError } from '../../../src/lib/errors.ts';
import { buildCommitment } from '../../../src/lib/bolt3/commitment.ts';
import { ANCHORS, LEGACY } from '../../../src/lib/bolt3/formats.ts';
import { generateFromSeed } from '../../../src/lib/bolt3/per-commitment.ts';
import { penaltyTransaction, type PenaltyTransaction } from '../../../src/lib/bolt3/penalty.ts';
import { p2wpkh } from '../../../src/lib/bolt3/script.ts';
import { C, F, channel, htlcIndicesFor, secrets, state } from './appendix-c.ts';
import { SIGHASH_ALL, bip143SingleHash, hash160, p2wshOf, parseTx, verifyEcdsa } from './independent-p2wsh.ts';

const revocationPubkey = fromHex(C.keys.local_revocation_pubkey);
const destination = p2wpkh(fromHex(C.obscuring_factor_inputs.remote_payment_basepoint));
const fiveHtlcs = C.test_vectors[1];
const u64 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};

/** Every input of `penalty` checked independently against prevouts read from the spec's transactions. */
function verifyIndependently(penalty: PenaltyTransaction, specTxs: string[], specScripts: string[]): void {
  const parsed = parseTx(penalty.hex);
  const prevTxs = specTxs.map((hex) => parseTx(hex));
  expect(parsed.inputs).toHaveLength(penalty.inputs.length);
  parsed.inputs.forEach((input, i) => {
    const prev = prevTxs.find((t) => t.txid === input.txid);
    expect(prev, `input ${i} spends a transaction of the spec`).toBeDefined();
    const prevout = prev!.outputs[input.vout]!;
    const [sig, selector, witnessScript] = input.witness;
    expect(input.witness).toHaveLength(3);
    expect(specScripts).toContain(toHex(witnessScript!));
    expect(toHex(prevout.script)).toBe(toHex(p2wshOf(witnessScript!)));
    if (witnessScript![0] === 0x63) {
      // to_local form: OP_IF <revocationpubkey> …; the selector 1 takes the OP_IF branch.
      expect(toHex(selector!)).toBe('01');
      expect(toHex(witnessScript!.subarray(2, 35))).toBe(toHex(revocationPubkey));
    } else {
      // HTLC form: OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL OP_IF OP_CHECKSIG.
      expect(toHex(selector!)).toBe(toHex(revocationPubkey));
      expect(toHex(witnessScript!.subarray(3, 23))).toBe(toHex(hash160(revocationPubkey)));
    }
    expect(sig!.at(-1)).toBe(SIGHASH_ALL);
    const digest = bip143SingleHash(parsed, i, witnessScript!, prevout.amount, SIGHASH_ALL);
    expect(verifyEcdsa(revocationPubkey, sig!.subarray(0, -1), digest), `input ${i} signature`).toBe(true);
  });
}

function refusal(fn: () => unknown): RefusedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RefusedError) return e;
    throw e;
  }
  throw new Error('expected a refusal, the call succeeded');
}

const legacyRevoked = () =>
  buildCommitment(channel(LEGACY), state(BigInt(fiveHtlcs.to_local_msat), BigInt(fiveHtlcs.to_remote_msat), fiveHtlcs.local_feerate_per_kw, htlcIndicesFor(fiveHtlcs.name)));

describe('penalty transaction', () => {
  it('example: remote punishes local\'s revoked "all five HTLCs" commitment, taking to_local and every HTLC', () => {
    const revoked = legacyRevoked();
    expect(revoked.txid).toBe(parseTx(fiveHtlcs.expected_commit_tx_hex).txid);
    // Local revealed this commitment's secret when it revoked it; remote holds its own
    // revocation basepoint secret. Together they give revocationprivkey.
    const penalty = penaltyTransaction({
      revoked,
      perCommitmentSecret: secrets.localPerCommitment,
      revocationBasepointSecret: secrets.remoteRevocationBasepoint,
      destinationScript: destination,
      feeratePerKw: 1000,
    });
    expect(penalty.inputs.map((i) => i.kind).sort()).toEqual(['offered_htlc', 'offered_htlc', 'received_htlc', 'received_htlc', 'received_htlc', 'to_local']);
    const taken = 6_988_000n + 2000n + 3000n + 1000n + 2000n + 4000n;
    expect(penalty.tx.outputs[0]!.amount).toBe(taken - penalty.feeSat);
    verifyIndependently(penalty, [fiveHtlcs.expected_commit_tx_hex], fiveHtlcs.untrimmed_outputs.map((o: { witness_script?: string }) => o.witness_script).filter(Boolean));
    // The fee is the feerate of the counted weight, and the signed tx weighs no more.
    const parsed = parseTx(penalty.hex);
    expect(penalty.feeSat).toBe((1000n * BigInt(penalty.weight)) / 1000n);
    expect(parsed.weight).toBeLessThanOrEqual(penalty.weight);
  });

  it('the independent check bites: a penalty paying one satoshi more no longer verifies', () => {
    const penalty = penaltyTransaction({
      revoked: legacyRevoked(),
      perCommitmentSecret: secrets.localPerCommitment,
      revocationBasepointSecret: secrets.remoteRevocationBasepoint,
      destinationScript: destination,
      feeratePerKw: 1000,
    });
    const tampered = { ...penalty, hex: penalty.hex.replace(toHex(u64(penalty.tx.outputs[0]!.amount)), toHex(u64(penalty.tx.outputs[0]!.amount + 1n))) };
    expect(tampered.hex).not.toBe(penalty.hex);
    expect(() => verifyIndependently(tampered, [fiveHtlcs.expected_commit_tx_hex], fiveHtlcs.untrimmed_outputs.map((o: { witness_script?: string }) => o.witness_script).filter(Boolean))).toThrow(/signature/);
  });

  it('also takes the output of an HTLC transaction the cheater already confirmed', () => {
    const revoked = legacyRevoked();
    const htlcTimeout = fiveHtlcs.htlc_txs.find((t: { tx_type: string }) => t.tx_type === 'htlc-timeout');
    const second = parseTx(htlcTimeout.expected_tx_hex);
    const penalty = penaltyTransaction({
      revoked,
      secondStage: [{ txid: second.txid, vout: 0, amountSat: second.outputs[0]!.amount }],
      perCommitmentSecret: secrets.localPerCommitment,
      revocationBasepointSecret: secrets.remoteRevocationBasepoint,
      destinationScript: destination,
      feeratePerKw: 253,
    });
    expect(penalty.inputs.at(-1)!.kind).toBe('second_stage');
    // The HTLC transaction's output script is the to_local script of the same keys: the spec's.
    const toLocalScript = fiveHtlcs.untrimmed_outputs.find((o: { type: string }) => o.type === 'to_local').witness_script;
    verifyIndependently(penalty, [fiveHtlcs.expected_commit_tx_hex, htlcTimeout.expected_tx_hex], [
      ...fiveHtlcs.untrimmed_outputs.map((o: { witness_script?: string }) => o.witness_script).filter(Boolean),
      toLocalScript,
    ]);
  });

  it('anchors: takes to_local and the HTLCs, leaves the anchors and to_remote', () => {
    const spec = F.test_vectors.find((t: { Name: string }) => t.Name === 'commitment tx with seven outputs untrimmed');
    const revoked = buildCommitment(
      channel(ANCHORS, BigInt(spec.DustLimitSatoshis)),
      state(BigInt(spec.LocalBalance), BigInt(spec.RemoteBalance), spec.FeePerKw, htlcIndicesFor(spec.Name)),
    );
    expect(revoked.txid).toBe(parseTx(spec.ExpectedCommitmentTxHex).txid);
    const penalty = penaltyTransaction({
      revoked,
      perCommitmentSecret: secrets.localPerCommitment,
      revocationBasepointSecret: secrets.remoteRevocationBasepoint,
      destinationScript: destination,
      feeratePerKw: 2500,
    });
    expect(penalty.inputs).toHaveLength(6);
    expect(penalty.inputs.map((i) => i.kind)).not.toContain('to_local_anchor');
    // The anchors format's scripts are not listed in Appendix F: take them from the
    // spec's signed HTLC transactions' witnesses (their last item is the spent script)
    // and the to_local script (identical to Appendix C's: same keys and delay).
    const htlcScripts = spec.HtlcDescs.map((d: { ResolutionTxHex: string }) => toHex(parseTx(d.ResolutionTxHex).inputs[0]!.witness.at(-1)!));
    const toLocal = C.test_vectors[1].untrimmed_outputs.find((o: { type: string }) => o.type === 'to_local').witness_script;
    verifyIndependently(penalty, [spec.ExpectedCommitmentTxHex], [...htlcScripts, toLocal]);
  });

  it('refuses a per-commitment secret that is not the revoked commitment\'s (E_BAD_PER_COMMITMENT_SECRET, exit 4)', () => {
    const wrong = generateFromSeed(new Uint8Array(32).fill(7), 2 ** 48 - 1 - 42);
    const e = refusal(() =>
      penaltyTransaction({
        revoked: legacyRevoked(),
        perCommitmentSecret: wrong,
        revocationBasepointSecret: secrets.remoteRevocationBasepoint,
        destinationScript: destination,
        feeratePerKw: 253,
      }),
    );
    expect(e.code).toBe('E_BAD_PER_COMMITMENT_SECRET');
    expect(e.exitCode).toBe(ExitCode.refused);
  });

  it('refuses a revocation basepoint secret that did not make the revocationpubkey (E_WRONG_SIGNING_KEY)', () => {
    const e = refusal(() =>
      penaltyTransaction({
        revoked: legacyRevoked(),
        perCommitmentSecret: secrets.localPerCommitment,
        revocationBasepointSecret: secrets.localPaymentBasepoint,
        destinationScript: destination,
        feeratePerKw: 253,
      }),
    );
    expect(e.code).toBe('E_WRONG_SIGNING_KEY');
  });

  it('refuses a penalty whose output the fee would push below dust (E_PENALTY_BELOW_DUST)', () => {
    const e = refusal(() =>
      penaltyTransaction({
        revoked: legacyRevoked(),
        perCommitmentSecret: secrets.localPerCommitment,
        revocationBasepointSecret: secrets.remoteRevocationBasepoint,
        destinationScript: destination,
        feeratePerKw: 4_000_000,
      }),
    );
    expect(e.code).toBe('E_PENALTY_BELOW_DUST');
  });

  it('refuses a commitment with nothing revocable (E_PENALTY_NOTHING_TO_TAKE)', () => {
    const spec = C.test_vectors.find((t: { name: string }) => t.name === 'commitment tx with fee greater than funder amount');
    const revoked = buildCommitment(channel(LEGACY), state(BigInt(spec.to_local_msat), BigInt(spec.to_remote_msat), spec.local_feerate_per_kw, htlcIndicesFor(spec.name)));
    expect(revoked.outputs.map((o) => o.kind)).toEqual(['to_remote']);
    const e = refusal(() =>
      penaltyTransaction({
        revoked,
        perCommitmentSecret: secrets.localPerCommitment,
        revocationBasepointSecret: secrets.remoteRevocationBasepoint,
        destinationScript: destination,
        feeratePerKw: 253,
      }),
    );
    expect(e.code).toBe('E_PENALTY_NOTHING_TO_TAKE');
  });
});
