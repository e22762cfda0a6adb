/**
 * Zero-fee commitments (option_zero_fee_commitments, bolts#1228): every case of
 * zero-fee-commitments-test.json through our builder in the `zero-fee` format — the
 * signed version-3 commitment byte for byte (zero fee, the shared P2A anchor holding
 * trimmed value up to 240 sat) and every signed HTLC-success and HTLC-timeout
 * transaction byte for byte (version 3, zero fee, remote signature
 * SIGHASH_SINGLE|ANYONECANPAY).
 *
 * The file gives secrets, not public keys: the basepoints and funding keys are their
 * points (our `pointOf`, checked in ./bolt3-keys.test.ts and implied here by every
 * byte-exact transaction); local is the opener.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/lib/bytes.ts';
import type { ChannelParameters, Htlc } from '../../src/lib/bolt3/channel.ts';
import { buildCommitment } from '../../src/lib/bolt3/commitment.ts';
import { ZERO_FEE } from '../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../src/lib/bolt3/htlc-tx.ts';
import { derivePrivkey, pointOf } from '../../src/lib/bolt3/keys.ts';
import { finalizeCommitment, finalizeHtlcTransaction, signCommitment, signHtlcTransaction } from '../../src/lib/bolt3/sign.ts';
import { loadVector } from '../helpers.ts';

type SpecHtlc = { id: number; amount_msat: number; payment_hash: string; cltv_expiry: number };
type Case = {
  name: string;
  dust_limit_satoshis: number;
  to_local_msat: number;
  to_remote_msat: number;
  incoming_htlcs?: SpecHtlc[];
  outgoing_htlcs?: SpecHtlc[];
  signed_commit_tx: string;
  signed_htlc_success_txs?: string[];
  signed_htlc_timeout_txs?: string[];
};

const V = loadVector('bolts/bolt03/zero-fee-commitments-test.json');
const cases = V.tests as Case[];
const s = (hex: string) => fromHex(hex, 'secret', 32);
const perCommitmentPoint = fromHex(V.per_commitment_point);
const localHtlcPrivkey = derivePrivkey(s(V.local_htlc_basepoint_secret), perCommitmentPoint);
const remoteHtlcPrivkey = derivePrivkey(s(V.remote_htlc_basepoint_secret), perCommitmentPoint);

function channel(dustLimitSatoshis: number): ChannelParameters {
  return {
    format: ZERO_FEE,
    fundingOutpoint: { txid: V.funding_txid, vout: V.funding_index },
    fundingSatoshis: BigInt(V.funding_amount_satoshis),
    opener: 'local',
    local: {
      fundingPubkey: pointOf(s(V.local_funding_priv)),
      paymentBasepoint: pointOf(s(V.local_payment_basepoint_secret)),
      delayedPaymentBasepoint: pointOf(s(V.local_delayed_payment_basepoint_secret)),
      htlcBasepoint: pointOf(s(V.local_htlc_basepoint_secret)),
      revocationBasepoint: pointOf(s(V.local_payment_basepoint_secret)), // not in local's commitment
    },
    remote: {
      fundingPubkey: pointOf(s(V.remote_funding_priv)),
      paymentBasepoint: pointOf(s(V.remote_payment_basepoint_secret)),
      htlcBasepoint: pointOf(s(V.remote_htlc_basepoint_secret)),
      revocationBasepoint: fromHex(V.revocation_basepoint),
      delayedPaymentBasepoint: pointOf(s(V.remote_payment_basepoint_secret)), // not in local's commitment
    },
    toSelfDelay: V.to_self_delay,
    dustLimitSatoshis: BigInt(dustLimitSatoshis),
  };
}

function htlcs(c: Case): Htlc[] {
  const one = (direction: Htlc['direction']) => (h: SpecHtlc): Htlc => ({
    id: BigInt(h.id),
    direction,
    amountMsat: BigInt(h.amount_msat),
    paymentHash: fromHex(h.payment_hash),
    cltvExpiry: h.cltv_expiry,
  });
  return [...(c.incoming_htlcs ?? []).map(one('received')), ...(c.outgoing_htlcs ?? []).map(one('offered'))];
}

function build(c: Case) {
  return buildCommitment(channel(c.dust_limit_satoshis), {
    commitmentNumber: V.commitment_number,
    perCommitmentPoint,
    toLocalMsat: BigInt(c.to_local_msat),
    toRemoteMsat: BigInt(c.to_remote_msat),
    feeratePerKw: 0,
    htlcs: htlcs(c),
  });
}

function signed(c: Case) {
  const commitment = build(c);
  const local = signCommitment(commitment, s(V.local_funding_priv));
  const remote = signCommitment(commitment, s(V.remote_funding_priv));
  return { commitment, hex: finalizeCommitment(commitment, local, remote).hex };
}

describe('BOLT 3 zero-fee commitments (option_zero_fee_commitments)', () => {
  it('example: one output trimmed below the anchor cap puts its value in the P2A anchor', () => {
    const c = cases[1]!;
    expect(c.name).toBe('Commitment transaction without HTLCs, one output trimmed below maximum anchor amount');
    // to_remote is 200 sat, under the 330-sat dust limit: trimmed, and its 200 sat go to
    // the shared anchor (at most 240 sat) rather than to miners; the fee is zero.
    const { commitment, hex } = signed(c);
    expect(commitment.outputs.map((o) => [o.kind, o.amountSat])).toEqual([
      ['shared_anchor', 200n],
      ['to_local', 9_999_800n],
    ]);
    expect(commitment.actualFeeSat).toBe(0n);
    expect(commitment.tx.version).toBe(3);
    expect(hex).toBe(c.signed_commit_tx);
  });

  it(`reads all ${cases.length} cases`, () => {
    expect(cases).toHaveLength(11);
    expect(cases.reduce((a, c) => a + (c.signed_htlc_success_txs?.length ?? 0), 0)).toBe(8);
    expect(cases.reduce((a, c) => a + (c.signed_htlc_timeout_txs?.length ?? 0), 0)).toBe(8);
  });

  for (const c of cases) {
    describe(c.name, () => {
      it('the signed commitment, byte for byte', () => {
        expect(signed(c).hex).toBe(c.signed_commit_tx);
      });

      for (const kind of ['htlc-success', 'htlc-timeout'] as const) {
        const expected = (kind === 'htlc-success' ? c.signed_htlc_success_txs : c.signed_htlc_timeout_txs) ?? [];
        it(`${expected.length} signed ${kind} transactions, byte for byte, in output order`, () => {
          const ours = buildHtlcTransactions(build(c)).filter((h) => h.kind === kind);
          expect(ours).toHaveLength(expected.length);
          ours.forEach((h, i) => {
            const preimage = kind === 'htlc-success' ? fromHex(V.payment_hash_to_preimage[Buffer.from(h.htlc.paymentHash).toString('hex')]) : undefined;
            const local = signHtlcTransaction(h, localHtlcPrivkey, 'local');
            const remote = signHtlcTransaction(h, remoteHtlcPrivkey, 'remote');
            expect(finalizeHtlcTransaction(h, local, remote, preimage).hex, `${kind} ${i}`).toBe(expected[i]);
          });
        });
      }
    });
  }
});
