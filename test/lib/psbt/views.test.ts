/**
 * `unsignedTxBytes` (src/lib/psbt/views.ts), which signedKeyPathTx splices a witness into,
 * against btc-signer's own `unsignedTx` on random transactions: 1–300 inputs and outputs
 * (compact sizes of 1 and 3 bytes), scripts up to 300 bytes, any version, sequence and lock
 * time (counts and lengths at 0xfb–0xff, where a compact size grows), and inputs that carry a final scriptSig (left out of the unsigned bytes by both).
 * `txidOf` against btc-signer's `tx.id` on the same transactions (with and without final scriptSigs).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { unsignedTxBytes, txidOf } from '../../../src/lib/psbt/views.ts';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const inputArb = fc.record({
  txid: bytes(32),
  index: fc.nat({ max: 0xffffffff }),
  sequence: fc.nat({ max: 0xffffffff }),
  scriptSig: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
});
// Lengths and counts around 0xfd, where a compact size grows from 1 byte to 3.
const edge = fc.integer({ min: 0xfb, max: 0xff });
const scriptArb = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), edge.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })));
const outputArb = fc.record({ amount: fc.bigInt(0n, 21_000_000n * 100_000_000n), script: scriptArb });
const countArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: edge });

describe('unsignedTxBytes', () => {
  it("equals btc-signer's unsignedTx", () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3), fc.nat({ max: 0xffffffff }), countArb, countArb, fc.array(inputArb, { minLength: 4, maxLength: 4 }), fc.array(outputArb, { minLength: 4, maxLength: 4 }), (version, lockTime, nIn, nOut, ins, outs) => {
        const tx = new Transaction({ version, lockTime, allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
        for (let i = 0; i < nIn; i++) {
          const x = ins[i % 4]!;
          tx.addInput({ txid: x.txid, index: (x.index + i) >>> 0, sequence: x.sequence });
        }
        for (let o = 0; o < nOut; o++) tx.addOutput(outs[o % 4]!);
        for (let i = 0; i < nIn; i++) {
          const scriptSig = ins[i % 4]!.scriptSig;
          if (scriptSig) tx.updateInput(i, { finalScriptSig: scriptSig }, true);
        }
        expect(Buffer.from(unsignedTxBytes(tx)).toString('hex')).toBe(Buffer.from(tx.unsignedTx).toString('hex'));
        // The id the credit mint binds ecash outputs to (mint.ts): btc-signer's own.
        expect(txidOf(tx)).toBe(tx.id);
      }),
      { numRuns: 60 },
    );
  });
});
