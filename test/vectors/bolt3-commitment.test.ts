/**
 * BOLT 3 Appendix C: every case of commitment-tx-test-vectors.json through our builder
 * (src/lib/bolt3/commitment.ts), signer (sign.ts) and HTLC transactions (htlc-tx.ts),
 * legacy (option_static_remotekey) format: the untrimmed outputs with their witness
 * scripts, the base and actual fee, both commitment signatures, the signed commitment
 * byte for byte, and for every HTLC output both HTLC signatures and the signed
 * HTLC-success / HTLC-timeout transaction byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.ts';
import { buildCommitment, type CommitmentTransaction } from '../../src/lib/bolt3/commitment.ts';
import { LEGACY } from '../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../src/lib/bolt3/htlc-tx.ts';
import { commitmentKeys } from '../../src/lib/bolt3/channel.ts';
import { derivePrivkey } from '../../src/lib/bolt3/keys.ts';
import { finalizeCommitment, finalizeHtlcTransaction, signCommitment, signHtlcTransaction } from '../../src/lib/bolt3/sign.ts';
import { C, channel, htlcIndicesFor, perCommitmentPoint, preimages, secrets, state } from '../lib/bolt3/appendix-c.ts';

type SpecOutput = { type: string; htlc_index?: number; amount_sat: number; witness_script?: string; p2wpkh_pubkey?: string };
type SpecHtlcTx = {
  commit_output_index: number;
  tx_type: string;
  htlc_index: number;
  remote_htlc_signature: string;
  local_htlc_signature: string;
  expected_tx_hex: string;
};
type Case = {
  name: string;
  to_local_msat: number;
  to_remote_msat: number;
  local_feerate_per_kw: number;
  base_commitment_tx_fee_sat?: number;
  actual_commitment_tx_fee_sat?: number;
  untrimmed_outputs: SpecOutput[];
  remote_signature: string;
  local_signature: string;
  expected_commit_tx_hex: string;
  num_htlcs: number;
  htlc_txs?: SpecHtlcTx[];
};

const cases = C.test_vectors as Case[];
const params = channel(LEGACY);

function build(c: Case): CommitmentTransaction {
  return buildCommitment(params, state(BigInt(c.to_local_msat), BigInt(c.to_remote_msat), c.local_feerate_per_kw, htlcIndicesFor(c.name)));
}

describe('BOLT 3 Appendix C: commitment and HTLC transactions (legacy format)', () => {
  it('example: the simple commitment with no HTLCs, narrated', () => {
    const c = cases[0]!;
    expect(c.name).toBe('simple commitment tx with no HTLCs');
    // The keys of this commitment are derived from the basepoints and local's point;
    // the spec lists the results it used.
    const keys = commitmentKeys(params.local, params.remote, perCommitmentPoint);
    expect(toHex(keys.localHtlcPubkey)).toBe(C.keys.local_htlcpubkey);
    expect(toHex(keys.remoteHtlcPubkey)).toBe(C.keys.remote_htlcpubkey);
    expect(toHex(keys.localDelayedPubkey)).toBe(C.keys.local_delayedpubkey);
    expect(toHex(keys.revocationPubkey)).toBe(C.keys.local_revocation_pubkey);
    // 7,000,000 sat to local less the 10,860 sat fee (15,000 sat/kw × 724 weight), 3,000,000 to remote.
    const commitment = build(c);
    expect(commitment.baseFeeSat).toBe(10860n);
    expect(commitment.outputs.map((o) => [o.kind, o.amountSat])).toEqual([
      ['to_remote', 3000000n],
      ['to_local', 6989140n],
    ]);
    // The obscured commitment number 0x2bb038521914 ^ 42 = 0x2bb03852193e: its lower 24
    // bits under 0x20 in nLockTime, its upper 24 bits under 0x80 in nSequence.
    expect(C.obscuring_factor_inputs.obscuring_factor).toBe('2bb038521914');
    expect(commitment.obscuredCommitmentNumber).toBe(0x2bb03852193e);
    expect(commitment.tx.lockTime).toBe(0x2052193e);
    expect(commitment.tx.inputs[0]!.sequence).toBe(0x802bb038);
    // Both parties sign; local completes the 2-of-2 witness.
    const local = signCommitment(commitment, secrets.localFunding);
    const remote = signCommitment(commitment, secrets.remoteFunding);
    expect(toHex(local)).toBe(c.local_signature);
    expect(toHex(remote)).toBe(c.remote_signature);
    expect(finalizeCommitment(commitment, local, remote).hex).toBe(c.expected_commit_tx_hex);
  });

  it(`reads all ${cases.length} cases, ${cases.reduce((a, c) => a + (c.htlc_txs?.length ?? 0), 0)} HTLC transactions`, () => {
    expect(cases).toHaveLength(16);
    expect(cases.reduce((a, c) => a + (c.htlc_txs?.length ?? 0), 0)).toBe(5 + 5 + 4 + 4 + 3 + 3 + 2 + 2 + 1 + 1 + 3);
  });

  it('the spec\'s HTLC keys are ours: local_privkey and remote_privkey derive from the basepoint secrets', () => {
    expect(derivePrivkey(secrets.localPaymentBasepoint, perCommitmentPoint)).toEqual(secrets.localHtlcPrivkey);
    expect(derivePrivkey(secrets.remotePaymentBasepoint, perCommitmentPoint)).toEqual(secrets.remoteHtlcPrivkey);
  });

  for (const c of cases) {
    describe(c.name, () => {
      const commitment = build(c);

      it('untrimmed outputs: kinds, HTLCs, amounts and witness scripts', () => {
        expect(commitment.outputs.filter((o) => o.htlc).length).toBe(c.num_htlcs);
        // The last case's spec text lists its HTLC outputs only; the others list every output.
        const listsAll = c.untrimmed_outputs.some((o) => !o.type.endsWith('_htlc'));
        expect(listsAll).toBe(!c.name.includes('same amount and preimage'));
        if (listsAll) expect(commitment.outputs).toHaveLength(c.untrimmed_outputs.length);
        for (const spec of c.untrimmed_outputs) {
          const ours = commitment.outputs.find((o) => o.kind === spec.type && (spec.htlc_index === undefined || o.htlc?.id === BigInt(spec.htlc_index)));
          expect(ours, `${spec.type} ${spec.htlc_index ?? ''}`).toBeDefined();
          expect(ours!.amountSat).toBe(BigInt(spec.amount_sat));
          if (spec.witness_script) expect(toHex(ours!.witnessScript!)).toBe(spec.witness_script);
          if (spec.p2wpkh_pubkey) expect(toHex(commitment.keys.remotePubkey)).toBe(spec.p2wpkh_pubkey);
        }
      });

      if (c.base_commitment_tx_fee_sat !== undefined) {
        it('base and actual commitment fee', () => {
          expect(commitment.baseFeeSat).toBe(BigInt(c.base_commitment_tx_fee_sat!));
          expect(commitment.actualFeeSat).toBe(BigInt(c.actual_commitment_tx_fee_sat!));
        });
      }

      it('both commitment signatures and the signed commitment, byte for byte', () => {
        const local = signCommitment(commitment, secrets.localFunding);
        const remote = signCommitment(commitment, secrets.remoteFunding);
        expect(toHex(local)).toBe(c.local_signature);
        expect(toHex(remote)).toBe(c.remote_signature);
        expect(finalizeCommitment(commitment, local, remote).hex).toBe(c.expected_commit_tx_hex);
      });

      const specHtlcTxs = c.htlc_txs ?? [];
      it(`${specHtlcTxs.length} HTLC transactions: one per HTLC output, in output order`, () => {
        const ours = buildHtlcTransactions(commitment);
        expect(ours.map((h) => [h.commitmentOutputIndex, h.kind, Number(h.htlc.id)])).toEqual(
          specHtlcTxs.map((s) => [s.commit_output_index, s.tx_type, s.htlc_index]),
        );
      });

      for (const spec of specHtlcTxs) {
        it(`${spec.tx_type} for HTLC #${spec.htlc_index} (output ${spec.commit_output_index}): signatures and signed tx`, () => {
          const h = buildHtlcTransactions(commitment).find((t) => t.commitmentOutputIndex === spec.commit_output_index)!;
          const remote = signHtlcTransaction(h, secrets.remoteHtlcPrivkey, 'remote');
          const local = signHtlcTransaction(h, secrets.localHtlcPrivkey, 'local');
          expect(toHex(remote)).toBe(spec.remote_htlc_signature);
          expect(toHex(local)).toBe(spec.local_htlc_signature);
          const preimage = h.kind === 'htlc-success' ? preimages[spec.htlc_index] : undefined;
          expect(finalizeHtlcTransaction(h, local, remote, preimage).hex).toBe(spec.expected_tx_hex);
        });
      }
    });
  }
});
