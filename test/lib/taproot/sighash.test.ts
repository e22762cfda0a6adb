/**
 * The BIP-341 key-path signature hash from cached parts (src/lib/taproot/sighash.ts, which
 * `keyPathSighash` uses for SIGHASH_DEFAULT and SIGHASH_ALL) against the independent
 * verifier's BIP-341 code (test/independent/sighash.ts, checked against every intermediate
 * of the BIP-341 wallet vectors), on random transactions: several inputs, sequences, version,
 * lock time and outputs of any script length (compact sizes of 1 and 3 bytes). Each set of
 * spent outputs is hashed a second time with other outputs, version and lock time — the
 * cached sha_prevouts/amounts/scriptpubkeys/sequences serve it, and must still be right —
 * and once with one sequence changed, which must not be served from the cache.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { keyPathSighash } from '../../../src/lib/taproot/taproot.ts';
import { keyPathSigHash } from '../../independent/sighash.ts';
import { parseTx } from '../../independent/tx.ts';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const inputArb = fc.record({
  txid: bytes(32),
  index: fc.nat({ max: 0xffffffff }),
  sequence: fc.oneof(fc.constant(0xffffffff), fc.constant(0xfffffffd), fc.nat({ max: 0xffffffff })),
  amount: fc.bigInt(0n, 21_000_000n * 100_000_000n),
  key: bytes(32),
});
const outputArb = fc.record({ amount: fc.bigInt(0n, 21_000_000n * 100_000_000n), script: fc.uint8Array({ minLength: 1, maxLength: 300 }) });
const txArb = fc.record({
  version: fc.constantFrom(1, 2, 3),
  lockTime: fc.nat({ max: 0xffffffff }),
  inputs: fc.array(inputArb, { minLength: 1, maxLength: 4 }),
  outputs: fc.array(outputArb, { minLength: 1, maxLength: 4 }),
  outputs2: fc.array(outputArb, { minLength: 1, maxLength: 4 }),
  hashType: fc.constantFrom(0, 1),
});

type Shape = { version: number; lockTime: number; inputs: { txid: Uint8Array; index: number; sequence: number; amount: bigint; key: Uint8Array }[]; outputs: { amount: bigint; script: Uint8Array }[] };

function build(s: Shape): Transaction {
  const tx = new Transaction({ version: s.version, lockTime: s.lockTime, allowUnknownOutputs: true, disableScriptCheck: true });
  for (const i of s.inputs) tx.addInput({ txid: i.txid, index: i.index, sequence: i.sequence, witnessUtxo: { amount: i.amount, script: Uint8Array.of(0x51, 0x20, ...i.key) } });
  for (const o of s.outputs) tx.addOutput({ amount: o.amount, script: o.script });
  return tx;
}

function independent(tx: Transaction, s: Shape, index: number, hashType: number): string {
  const spent = s.inputs.map((i) => ({ amount: i.amount, script: Uint8Array.of(0x51, 0x20, ...i.key) }));
  return Buffer.from(keyPathSigHash(parseTx(tx.unsignedTx), spent, index, hashType)).toString('hex');
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('BIP-341 key-path sighash from cached parts', () => {
  it('equals the independent BIP-341 code for SIGHASH_DEFAULT and SIGHASH_ALL, the spent parts cached or not', () => {
    fc.assert(
      fc.property(txArb, fc.nat(), (t, pick) => {
        const first: Shape = { version: t.version, lockTime: t.lockTime, inputs: t.inputs, outputs: t.outputs };
        const index = pick % t.inputs.length;
        const tx = build(first);
        expect(hex(keyPathSighash(tx, index, t.hashType))).toBe(independent(tx, first, index, t.hashType));
        // The same spent outputs again (cached parts), other outputs, version and lock time.
        const again: Shape = { ...first, version: t.version === 3 ? 2 : 3, lockTime: (t.lockTime + 1) >>> 0, outputs: t.outputs2 };
        const tx2 = build(again);
        expect(hex(keyPathSighash(tx2, index, t.hashType))).toBe(independent(tx2, again, index, t.hashType));
        // One sequence changed: a different sha_sequences, never the cached one.
        const moved: Shape = { ...first, inputs: first.inputs.map((i, k) => (k === 0 ? { ...i, sequence: (i.sequence ^ 1) >>> 0 } : i)) };
        const tx3 = build(moved);
        expect(hex(keyPathSighash(tx3, index, t.hashType))).toBe(independent(tx3, moved, index, t.hashType));
      }),
      { numRuns: 150 },
    );
  });
});
