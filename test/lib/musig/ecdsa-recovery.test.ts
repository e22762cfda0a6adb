/**
 * ECDSA public key recovery on each backend (`recoverEcdsa`, ../../../src/lib/musig/engine/backend.ts:
 * a BOLT 11 invoice's payee), each answer compared with @noble/curves' `recoverPublicKey`:
 * signatures noble makes (both parities, low and high S), the recovery ids 2 and 3 (R's x is
 * r + n: a point's x where one is, none where r + n ≥ p), and anything anyone can write —
 * r or s 0, n or above, an x with no point, random bytes — where noble recovers no key and
 * neither may we. And the BOLT 11 decoder with each backend selected: the payee is the signer.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { loadBackend, useEngine } from '../../../src/lib/musig/engine/select.ts';
import { recoverEcdsa, type BackendName } from '../../../src/lib/musig/engine/backend.ts';
import { createEngine } from '../../../src/lib/musig/engine/engine.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { N, P as FIELD_P, bytes32 } from '../../../src/lib/musig/engine/scalar.ts';
import { concatBytes, fromHex, toHex } from '../../../src/lib/bytes.ts';
import { type Bolt11Field, bolt11SigningHash, decodeBolt11, encodeBolt11 } from '../../../src/lib/invoice/bolt11.ts';
import { ALL_BACKENDS, backendUnderTest } from '../../setup/backends.ts';

/** noble's answer: the compressed key, or 'none' when it recovers none (it throws). */
function nobleRecover(sig: Uint8Array, recoveryId: number, hash: Uint8Array): string {
  try {
    return toHex(secp256k1.Signature.fromBytes(sig, 'compact').addRecoveryBit(recoveryId).recoverPublicKey(hash).toBytes(true));
  } catch {
    return 'none';
  }
}

const scalar = fc.bigInt({ min: 1n, max: N - 1n });
const bytes32Arb = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** r values recovery ids 2 and 3 meet: r + n below p (a point's x or not), and r + n ≥ p. */
const EDGE_R = [0n, 1n, 2n, FIELD_P - N - 1n, FIELD_P - N, FIELD_P - N + 1n, N - 1n, N, N + 1n, (1n << 256n) - 1n];
const EDGE_S = [0n, 1n, (N - 1n) / 2n, (N + 1n) / 2n, N - 1n, N, (1n << 256n) - 1n];
const sigOf = (r: bigint, s: bigint) => concatBytes(bytes32(r % (1n << 256n)), bytes32(s % (1n << 256n)));

for (const name of ALL_BACKENDS) {
  const backend = await backendUnderTest(name, () => loadBackend(name as BackendName));
  if (backend.skipped !== undefined) {
    describe.skip(`ECDSA recovery on ${name}: SKIPPED, ${backend.skipped}`, () => {
      it('the key noble recovers', () => {});
    });
    continue;
  }
  const ec = backend.loaded;
  const ours = (sig: Uint8Array, recoveryId: number, hash: Uint8Array) => {
    const q = recoverEcdsa(ec, sig, recoveryId, hash);
    return q === undefined ? 'none' : toHex(ec.pointToBytes(q));
  };

  describe(`ECDSA recovery on ${name}`, () => {
    it('a signature noble makes, low S or high S: the signer\'s key, as noble recovers it', () => {
      fc.assert(fc.property(scalar, bytes32Arb, fc.boolean(), (d, hash, high) => {
        const signed = secp256k1.Signature.fromBytes(secp256k1.sign(hash, bytes32(d), { prehash: false, format: 'recovered' }), 'recovered');
        const s = high ? N - signed.s : signed.s;
        const recoveryId = high ? signed.recovery! ^ 1 : signed.recovery!;
        const sig = sigOf(signed.r, s);
        const key = toHex(secp256k1.getPublicKey(bytes32(d), true));
        expect(ours(sig, recoveryId, hash)).toBe(key);
        expect(nobleRecover(sig, recoveryId, hash)).toBe(key);
      }), { numRuns: 40 });
    });

    it('anything anyone can write — r, s at and past the edges, every recovery id, random bytes: noble\'s answer, a key or none', () => {
      const hash = fromHex('5a'.repeat(32));
      for (const r of EDGE_R) {
        for (const s of EDGE_S) {
          for (const recoveryId of [0, 1, 2, 3]) expect(ours(sigOf(r, s), recoveryId, hash), `r ${r} s ${s} id ${recoveryId}`).toBe(nobleRecover(sigOf(r, s), recoveryId, hash));
        }
      }
      fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 0, max: 3 }), bytes32Arb, (sig, recoveryId, h) => {
        expect(ours(sig, recoveryId, h)).toBe(nobleRecover(sig, recoveryId, h));
      }), { numRuns: 60 });
      // Out of the domain: no key (noble's Signature refuses them too).
      expect(recoverEcdsa(ec, sigOf(1n, 1n), 4, hash)).toBeUndefined();
      expect(recoverEcdsa(ec, sigOf(1n, 1n).subarray(1), 0, hash)).toBeUndefined();
    });

    it('a BOLT 11 invoice decoded with this backend selected: its payee is the key that signed it', () => {
      useEngine(createEngine(ec));
      try {
        fc.assert(fc.property(scalar, fc.integer({ min: 1, max: 1_000_000 }), (d, n) => {
          const hrp = 'lnbcrt10u';
          const fields: Bolt11Field[] = [
            { tag: 1, name: 'payment_hash', bytes: bytes32(BigInt(n)) },
            { tag: 16, name: 'payment_secret', bytes: bytes32(7n) },
            { tag: 13, name: 'description', text: `toll ${n}` },
          ];
          const signed = secp256k1.Signature.fromBytes(secp256k1.sign(bolt11SigningHash(hrp, 1_800_000_000, fields), bytes32(d), { prehash: false, format: 'recovered' }), 'recovered');
          const invoice = encodeBolt11({ hrp, timestamp: 1_800_000_000, fields, signature: sigOf(signed.r, signed.s), recoveryId: signed.recovery! });
          expect(toHex(decodeBolt11(invoice).payee)).toBe(toHex(secp256k1.getPublicKey(bytes32(d), true)));
        }), { numRuns: 10 });
      } finally {
        useEngine(createEngine(nobleBackend));
      }
    });
  });
}
