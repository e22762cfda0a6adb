/**
 * The PTLC output and its refund, checked by derivations in test code only
 * (test/independent/): the descriptor — BIP-380 checksum, BIP-390 musig() of the sorted
 * keys, the refund leaf compiled from miniscript, the BIP-341 tree and output key — is
 * rebuilt from the terms (payer, payee, timeout) and must equal the product's byte for
 * byte, so payer and payee swapped inside it cannot pass; and the refund verifies
 * offline as a script-path spend of exactly that leaf (control block, CLTV, BIP-342
 * sighash), while a refund signed over the key-path sighash fails the same check.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Transaction } from '@scure/btc-signer';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { ptlcOutput } from '../../../src/lib/ptlc/ptlc.ts';
import { refundTransaction } from '../../../src/lib/ptlc/spend.ts';
import { descsumCheck, ptlcContract } from '../../independent/descriptor.ts';
import { keyPathSigHash } from '../../independent/sighash.ts';
import { hexOf, parseTx } from '../../independent/tx.ts';
import { IndependentCheckError, verifyScriptPathSpend } from '../../independent/verify.ts';

const scalar = fc.bigInt({ min: 1n, max: 2n ** 255n }).map((n) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex')));
const locktimes = fc.oneof(fc.integer({ min: 1, max: 499_999_999 }), fc.integer({ min: 500_000_000, max: 0xffff_ffff }));
const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);
const OUTPOINT = { txid: 'c5'.repeat(32), vout: 1 };

describe('the PTLC output as test code derives it', () => {
  it('descriptor, internal key, output script and refund control block equal the independent derivation from payer, payee and timeout', () => {
    fc.assert(
      fc.property(scalar, scalar, scalar, locktimes, (a, b, t, locktime) => {
        fc.pre(hexOf(a) !== hexOf(b));
        const [payer, payee, point] = [keyPair(a).publicKey, keyPair(b).publicKey, keyPair(t).publicKey];
        const out = ptlcOutput({ payer, payee, point, locktime });
        const d = ptlcContract({ payer, payee, locktime });
        expect(descsumCheck(out.descriptor)).toBe(true);
        expect(out.descriptor).toBe(d.descriptor);
        expect(hexOf(out.internalKey)).toBe(hexOf(d.internalKey));
        expect(hexOf(out.scriptPubKey)).toBe(hexOf(d.output.script));
        expect(hexOf(out.refundLeaf)).toBe(hexOf(d.leaves.refund!.script));
        expect(hexOf(out.refundControlBlock)).toBe(hexOf(d.leaves.refund!.controlBlock));
        // The same terms with the parties swapped are another contract.
        expect(ptlcContract({ payer: payee, payee: payer, locktime }).descriptor).not.toBe(out.descriptor);
      }),
      { numRuns: 20 },
    );
  });
});

describe('the PTLC refund, verified offline by the independent verifier', () => {
  const payer = keyPair(new Uint8Array(32).fill(0x11));
  const payee = keyPair(new Uint8Array(32).fill(0x22));
  const point = keyPair(new Uint8Array(32).fill(0x33)).publicKey;
  const locktime = 1100;
  const d = ptlcContract({ payer: payer.publicKey, payee: payee.publicKey, locktime });
  const prevouts = [{ amount: 50_000n, script: d.output.script, txid: OUTPOINT.txid, vout: OUTPOINT.vout }];
  const expectation = { outputKey: d.output.outputKey, internalKey: d.internalKey, leafScript: d.leaves.refund!.script, signingKey: payer.xOnly, after: locktime };

  it('the refund is a script-path spend of the refund leaf by the payer at nLockTime L; one signed over the key-path sighash fails', () => {
    const ptlc = ptlcOutput({ payer: payer.publicKey, payee: payee.publicKey, point, locktime });
    const r = refundTransaction(ptlc, { outpoint: OUTPOINT, amountSat: 50_000n, destination: DEST, feeRate: 2 }, payer, new Uint8Array(32));
    const tx = verifyScriptPathSpend(r.hex, prevouts, 0, expectation);
    expect(tx.lockTime).toBe(locktime);
    expect(tx.outputs).toHaveLength(1);
    expect(hexOf(tx.outputs[0]!.script)).toBe(hexOf(DEST));

    // The mutant: the same transaction with the payer's signature over the key-path sighash.
    const keyPathSig = schnorr.sign(keyPathSigHash(parseTx(r.hex), prevouts, 0, 0x00), payer.secretKey, new Uint8Array(32));
    const bad = Transaction.fromRaw(Buffer.from(r.hex, 'hex'), { allowUnknownOutputs: true, allowUnknownInputs: true });
    bad.updateInput(0, { finalScriptWitness: [keyPathSig, ptlc.refundLeaf, ptlc.refundControlBlock] }, true);
    expect(() => verifyScriptPathSpend(bad.hex, prevouts, 0, expectation)).toThrow(IndependentCheckError);
    expect(() => verifyScriptPathSpend(bad.hex, prevouts, 0, expectation)).toThrow(/does not verify .* script-path sighash/);

    // And the other ways a refund can be wrong: the payee's key, nLockTime below L, another leaf.
    expect(() => verifyScriptPathSpend(r.hex, prevouts, 0, { ...expectation, signingKey: payee.xOnly })).toThrow(IndependentCheckError);
    expect(() => verifyScriptPathSpend(r.hex, prevouts, 0, { ...expectation, after: locktime + 1 })).toThrow(/below after/);
    const other = ptlcContract({ payer: payee.publicKey, payee: payer.publicKey, locktime });
    expect(() => verifyScriptPathSpend(r.hex, [{ ...prevouts[0]!, script: other.output.script }], 0, { ...expectation, outputKey: other.output.outputKey })).toThrow(IndependentCheckError);
  });
});
