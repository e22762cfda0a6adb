/**
 * BOLT 3 Appendix F: every case of commitment-tx-anchors-test-vectors.json through our
 * builder in the `anchors` format (option_anchors_zero_fee_htlc_tx): the remote
 * signature and the fully signed commitment byte for byte (which fixes every output,
 * both anchors and the local signature), and for each HTLC output the remote HTLC
 * signature (SIGHASH_SINGLE|ANYONECANPAY) and the signed HTLC transaction byte for byte.
 * Same channel, keys and HTLCs as Appendix C (../lib/bolt3/appendix-c.ts).
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.ts';
import { buildCommitment } from '../../src/lib/bolt3/commitment.ts';
import { ANCHORS } from '../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../src/lib/bolt3/htlc-tx.ts';
import { finalizeCommitment, finalizeHtlcTransaction, signCommitment, signHtlcTransaction } from '../../src/lib/bolt3/sign.ts';
import { F, channel, htlcIndicesFor, preimages, secrets, state } from '../lib/bolt3/appendix-c.ts';

type Case = {
  Name: string;
  LocalBalance: number;
  RemoteBalance: number;
  DustLimitSatoshis: number;
  FeePerKw: number;
  UseTestHtlcs: boolean;
  HtlcDescs: { RemoteSigHex: string; ResolutionTxHex: string }[];
  ExpectedCommitmentTxHex: string;
  RemoteSigHex: string;
};

const cases = F.test_vectors as Case[];

function build(c: Case) {
  return buildCommitment(
    channel(ANCHORS, BigInt(c.DustLimitSatoshis)),
    state(BigInt(c.LocalBalance), BigInt(c.RemoteBalance), c.FeePerKw, htlcIndicesFor(c.Name, c.UseTestHtlcs)),
  );
}

describe('BOLT 3 Appendix F: commitment and HTLC transactions (anchors format)', () => {
  it('example: all of the channel to local, so only local\'s anchor', () => {
    const c = cases[1]!;
    expect(c.Name).toBe('simple commitment tx with no HTLCs and single anchor');
    const commitment = build(c);
    // 10,000,000 sat less the 16,860 sat fee (15,000 sat/kw × 1124) and two 330-sat
    // anchors, both paid by local as opener; remote has no output, hence no anchor.
    expect(commitment.outputs.map((o) => [o.kind, o.amountSat])).toEqual([
      ['to_local_anchor', 330n],
      ['to_local', 10_000_000n - 16_860n - 660n],
    ]);
    const remote = signCommitment(commitment, secrets.remoteFunding);
    expect(toHex(remote)).toBe(c.RemoteSigHex);
    const local = signCommitment(commitment, secrets.localFunding);
    expect(finalizeCommitment(commitment, local, remote).hex).toBe(c.ExpectedCommitmentTxHex);
  });

  it(`reads all ${cases.length} cases`, () => {
    expect(cases).toHaveLength(9);
    expect(cases.reduce((a, c) => a + c.HtlcDescs.length, 0)).toBe(5 + 4 + 2 + 1 + 3);
  });

  for (const c of cases) {
    describe(c.Name, () => {
      const commitment = build(c);

      it('remote signature and the signed commitment, byte for byte', () => {
        const remote = signCommitment(commitment, secrets.remoteFunding);
        expect(toHex(remote)).toBe(c.RemoteSigHex);
        const local = signCommitment(commitment, secrets.localFunding);
        expect(finalizeCommitment(commitment, local, remote).hex).toBe(c.ExpectedCommitmentTxHex);
      });

      const htlcTxs = buildHtlcTransactions(commitment);
      it(`${c.HtlcDescs.length} HTLC transactions, one per untrimmed HTLC`, () => {
        expect(htlcTxs).toHaveLength(c.HtlcDescs.length);
      });

      c.HtlcDescs.forEach((spec, i) => {
        it(`HTLC transaction ${i}: remote signature and signed tx`, () => {
          const h = htlcTxs[i]!;
          expect(h.feeSat).toBe(0n);
          const remote = signHtlcTransaction(h, secrets.remoteHtlcPrivkey, 'remote');
          expect(toHex(remote)).toBe(spec.RemoteSigHex);
          const local = signHtlcTransaction(h, secrets.localHtlcPrivkey, 'local');
          const preimage = h.kind === 'htlc-success' ? preimages[Number(h.htlc.id)] : undefined;
          expect(finalizeHtlcTransaction(h, local, remote, preimage).hex).toBe(spec.ResolutionTxHex);
        });
      });
    });
  }
});
