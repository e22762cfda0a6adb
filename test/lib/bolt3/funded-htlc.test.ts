/**
 * A funded anchors / zero-fee HTLC transaction recognised as its commitment's
 * (src/lib/bolt3/funded-htlc.ts, for `commitment sweep --htlc-tx`): a wallet's inputs and
 * outputs added after BOLT 3's input 0 and output 0 are the wallet's business; any change
 * to what the peer's SINGLE|ANYONECANPAY signature covers, or to version or locktime, is
 * refused. Ids come from test/independent/tx.ts, never from the product.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ZERO_FEE, buildCommitment, buildHtlcTransactions, generateFromSeed, perCommitmentPoint, pointOf, serializeTx, type Tx } from '../../../src/lib/bolt3/index.ts';
import { matchFundedHtlcTx } from '../../../src/lib/bolt3/funded-htlc.ts';
import { parseTx } from '../../independent/tx.ts';
import { refusal } from '../../setup/refusal.ts';

const sec = (b: number) => new Uint8Array(32).fill(b);
const keys = (o: number) => ({ fundingPubkey: pointOf(sec(o + 1)), revocationBasepoint: pointOf(sec(o + 2)), paymentBasepoint: pointOf(sec(o + 3)), delayedPaymentBasepoint: pointOf(sec(o + 4)), htlcBasepoint: pointOf(sec(o + 5)) });
const c = buildCommitment(
  { format: ZERO_FEE, fundingOutpoint: { txid: '89'.repeat(32), vout: 0 }, fundingSatoshis: 1_000_000n, opener: 'local', local: keys(10), remote: keys(20), toSelfDelay: 6, dustLimitSatoshis: 546n },
  {
    commitmentNumber: 0, perCommitmentPoint: perCommitmentPoint(generateFromSeed(sec(9), 2 ** 48 - 1)), toLocalMsat: 600_000_000n, toRemoteMsat: 310_000_000n, feeratePerKw: 0,
    htlcs: [
      { direction: 'offered', amountMsat: 50_000_000n, paymentHash: createHash('sha256').update('a').digest(), cltvExpiry: 500 },
      { direction: 'received', amountMsat: 40_000_000n, paymentHash: createHash('sha256').update('b').digest(), cltvExpiry: 520 },
    ],
  },
);
const htlcTxs = buildHtlcTransactions(c);
const funded = (tx: Tx): Tx => ({
  ...tx,
  inputs: [{ ...tx.inputs[0]!, witness: [new Uint8Array(72)] }, { txid: 'ab'.repeat(32), vout: 3, sequence: 0xfffffffd, witness: [new Uint8Array(72), new Uint8Array(33)] }],
  outputs: [...tx.outputs, { amount: 9_000n, script: Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(7)]) }],
});

describe('matchFundedHtlcTx', () => {
  it('takes each HTLC transaction with a wallet\'s input and change added, under the funded transaction\'s own txid; and the unfunded one as is', () => {
    expect(htlcTxs.map((h) => h.kind).sort()).toEqual(['htlc-success', 'htlc-timeout']);
    for (const h of htlcTxs) {
      const raw = serializeTx(funded(h.tx));
      const got = matchFundedHtlcTx(htlcTxs, raw, c.txid);
      expect(got.htlc).toBe(h);
      expect(got.txid).toBe(parseTx(raw).txid);
      expect(got.txid).not.toBe(parseTx(serializeTx(h.tx)).txid);
      expect(matchFundedHtlcTx(htlcTxs, serializeTx(h.tx), c.txid).txid).toBe(parseTx(serializeTx(h.tx)).txid);
    }
  });

  it('refuses any change to what the peer signed or to version / locktime (E_UNKNOWN_HTLC_TX, exit 4)', () => {
    const h = htlcTxs[0]!;
    const f = funded(h.tx);
    const changes: Tx[] = [
      { ...f, outputs: [{ ...f.outputs[0]!, amount: f.outputs[0]!.amount - 1n }, ...f.outputs.slice(1)] },
      { ...f, outputs: [{ ...f.outputs[0]!, script: f.outputs[1]!.script }, ...f.outputs.slice(1)] },
      { ...f, inputs: [{ ...f.inputs[0]!, vout: f.inputs[0]!.vout + 7 }, f.inputs[1]!] },
      { ...f, inputs: [{ ...f.inputs[0]!, sequence: 0xffffffff }, f.inputs[1]!] },
      { ...f, inputs: [f.inputs[1]!, f.inputs[0]!] },
      { ...f, lockTime: f.lockTime + 1 },
      { ...f, version: 2 },
    ];
    for (const t of changes) refusal(() => matchFundedHtlcTx(htlcTxs, serializeTx(t), c.txid), 'E_UNKNOWN_HTLC_TX', 4);
  });
});
