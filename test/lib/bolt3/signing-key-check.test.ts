/**
 * The signer checks every secret it is given against the channel's public keys, on every
 * call and every backend: a funding key or htlc_basepoint secret signs only if it is the
 * claimed key. Written as the attack on a per-process key-proof cache (9ccbee2, reviewed and
 * then taken out, docs/bolt3.md) and kept as the guard for any later one: with the right keys
 * used on every backend in turn (the suite runs them all in one process), no other secret is
 * ever accepted — random ones, the right key's negation n − k (same x coordinate, the other
 * parity), the other party's key, the per-commitment derived HTLC key — a refused call
 * changes nothing, and a refusal carries no key material. A key proven once where it is
 * loaded (ProvenKey, held by the caller) is held to the same: proven for one key, it signs for
 * no other; the secret it proved is the one it signs with, whatever happens to the caller's
 * array; an object that only looks like one never signs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { buildCommitment, type CommitmentTransaction } from '../../../src/lib/bolt3/commitment.ts';
import { NOBLE, bolt3Backend, type Bolt3Backend } from '../../../src/lib/bolt3/backend.ts';
import { libsecp256k1Ecdsa, nativeEcdsa, type NativeSecp256k1Ecdsa } from '../../../src/lib/bolt3/ecdsa.ts';
import { libsecp256k1Backend } from '../../../src/lib/musig/engine/backend-libsecp256k1.ts';
import { systemLibsecp256k1 } from '../../setup/backends.ts';
import { nativeBackend, type NativeSecp256k1 } from '../../../src/lib/musig/engine/backend-native.ts';
import { LEGACY } from '../../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../../src/lib/bolt3/htlc-tx.ts';
import { ProvenKey, signCommitment, signCounterpartyCommitment, signHtlcTransaction } from '../../../src/lib/bolt3/sign.ts';
import { C, channel, htlcIndicesFor, secrets, state } from './appendix-c.ts';
import { thrown } from '../../setup/refusal.ts';

const v = C.test_vectors[1];
const legacy = (): CommitmentTransaction => buildCommitment(channel(LEGACY), state(BigInt(v.to_local_msat), BigInt(v.to_remote_msat), v.local_feerate_per_kw, htlcIndicesFor(v.name)));
const N = secp256k1.Point.CURVE().n;
const negate = (k: Uint8Array): Uint8Array => Uint8Array.from(Buffer.from((N - BigInt('0x' + toHex(k))).toString(16).padStart(64, '0'), 'hex'));

async function backends(): Promise<Bolt3Backend[]> {
  const mod = (await import('secp256k1/bindings.js' as string)) as { default?: unknown };
  const native = (mod.default ?? mod) as NativeSecp256k1 & NativeSecp256k1Ecdsa;
  const all = [NOBLE, bolt3Backend(nativeBackend(native), nativeEcdsa(native))];
  if (systemLibrary.loaded) all.push(bolt3Backend(libsecp256k1Backend(systemLibrary.loaded), libsecp256k1Ecdsa(systemLibrary.loaded)));
  return all;
}

// The system library may be absent: a visible skip (../../setup/backends.ts); present, koffi must bind it.
const systemLibrary = await systemLibsecp256k1();
if (systemLibrary.skipped !== undefined) describe.skip(`signing-key check on libsecp256k1: SKIPPED, ${systemLibrary.skipped}`, () => it('every case', () => {}));

describe('no secret but the claimed key signs, after the right one has signed, on any backend', () => {
  it('after the right keys are proven on every backend, any other secret is E_WRONG_SIGNING_KEY on every backend; the right ones sign the same bytes everywhere', async () => {
    const all = await backends();
    const c = legacy();
    const htlcTxs = buildHtlcTransactions(c);
    // A refusal first: it must not leave a record that a later call trusts.
    expect(thrown(() => signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, negate(secrets.remotePaymentBasepoint), all[1]!)).code).toBe('E_WRONG_SIGNING_KEY');
    const want = toHex(signCommitment(c, secrets.localFunding));
    const wantHtlc = signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, secrets.remotePaymentBasepoint).htlcSignatures.map(toHex);
    for (const b of all) {
      expect(toHex(signCommitment(c, secrets.localFunding, b))).toBe(want);
      expect(signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, secrets.remotePaymentBasepoint, b).htlcSignatures.map(toHex)).toEqual(wantHtlc);
    }
    const known = [secrets.localFunding, secrets.remoteFunding].map(toHex);
    const adversarial = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => secp256k1.utils.isValidSecretKey(k)),
      fc.constantFrom(negate(secrets.localFunding), negate(secrets.remoteFunding), secrets.localPaymentBasepoint, secrets.remoteHtlcPrivkey, secrets.localHtlcPrivkey),
      // one bit away from a proven key
      fc.tuple(fc.constantFrom(secrets.localFunding, secrets.remotePaymentBasepoint), fc.nat(255)).map(([k, bit]) => {
        const x = Uint8Array.from(k);
        x[bit >> 3]! ^= 1 << (bit & 7);
        return x;
      }),
    );
    fc.assert(
      fc.property(adversarial, fc.nat(all.length - 1), (secret, which) => {
        const b = all[which]!;
        if (!known.includes(toHex(secret))) {
          const e = thrown(() => signCommitment(c, secret, b));
          expect(e.code).toBe('E_WRONG_SIGNING_KEY');
          // No key material in what a refusal carries (message, JSON of the error).
          expect(`${e.message} ${JSON.stringify(e)}`).not.toMatch(/[0-9a-f]{64}/i);
        }
        if (toHex(secret) !== toHex(secrets.remotePaymentBasepoint)) {
          expect(thrown(() => signCounterpartyCommitment(c, [], secrets.remoteFunding, secret, b)).code).toBe('E_WRONG_SIGNING_KEY');
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('a key proven once where it is loaded (ProvenKey) signs only as the key it proved', () => {
  it('proven for the wrong key: E_WRONG_SIGNING_KEY from every signer on every backend, the same as the plain secret', async () => {
    const all = await backends();
    const c = legacy();
    const htlcTxs = buildHtlcTransactions(c);
    for (const b of all) {
      const wrong = new ProvenKey(secrets.localPaymentBasepoint, 'funding secret key', b);
      expect(thrown(() => signCommitment(c, wrong, b)).code).toBe('E_WRONG_SIGNING_KEY');
      expect(thrown(() => signCommitment(c, wrong, b)).message).toBe(thrown(() => signCommitment(c, secrets.localPaymentBasepoint, b)).message);
      const fundingKey = new ProvenKey(secrets.remoteFunding, 'funding secret key', b);
      const e = thrown(() => signCounterpartyCommitment(c, htlcTxs, fundingKey, new ProvenKey(negate(secrets.remotePaymentBasepoint), 'htlc basepoint secret', b), b));
      expect(e.code).toBe('E_WRONG_SIGNING_KEY');
      expect(e.message).toBe(thrown(() => signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, negate(secrets.remotePaymentBasepoint), b)).message);
      expect(`${e.message} ${JSON.stringify(e)}`).not.toMatch(/[0-9a-f]{64}/i);
      // The right htlc_basepoint with the wrong funding key: refused at the funding signature.
      expect(thrown(() => signCounterpartyCommitment(c, htlcTxs, wrong, new ProvenKey(secrets.remotePaymentBasepoint, 'htlc basepoint secret', b), b)).code).toBe('E_WRONG_SIGNING_KEY');
      // An HTLC key proven for the local side used as the remote one.
      expect(thrown(() => signHtlcTransaction(htlcTxs[0]!, new ProvenKey(secrets.localHtlcPrivkey, 'HTLC secret key', b), 'remote', b)).code).toBe('E_WRONG_SIGNING_KEY');
      // Not a scalar: refused when it is loaded, as the plain secret is when it is used.
      expect(thrown(() => new ProvenKey(new Uint8Array(32), 'funding secret key', b)).message).toBe(thrown(() => signCommitment(c, new Uint8Array(32), b)).message);
    }
  });

  it('signs with the secret it proved: the caller\'s array changed afterwards changes nothing; the same signatures as the plain secrets', async () => {
    const all = await backends();
    const c = legacy();
    const htlcTxs = buildHtlcTransactions(c);
    const want = signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, secrets.remotePaymentBasepoint);
    for (const b of all) {
      const funding = Uint8Array.from(secrets.remoteFunding);
      const htlc = Uint8Array.from(secrets.remotePaymentBasepoint);
      const [fundingKey, htlcKey] = [new ProvenKey(funding, 'funding secret key', b), new ProvenKey(htlc, 'htlc basepoint secret', b)];
      funding.set(secrets.localPaymentBasepoint);
      htlc.fill(7);
      const got = signCounterpartyCommitment(c, htlcTxs, fundingKey, htlcKey, b);
      expect(toHex(got.signature)).toBe(toHex(want.signature));
      expect(got.htlcSignatures.map(toHex)).toEqual(want.htlcSignatures.map(toHex));
    }
  });

  it('an object that only looks like a ProvenKey (its prototype, its methods) never signs', () => {
    const c = legacy();
    const forged = Object.create(ProvenKey.prototype) as ProvenKey;
    expect(() => signCommitment(c, forged)).toThrow(TypeError);
    const lookalike = { is: () => true, sign: () => new Uint8Array(70), derivePrivkey: () => secrets.remotePaymentBasepoint } as unknown as ProvenKey;
    expect(thrown(() => signCommitment(c, lookalike)).code).toBe('E_BAD_SECRET_KEY');
    // A real one proven for another key cannot be given an `is` that says yes.
    const real = new ProvenKey(secrets.localPaymentBasepoint, 'funding secret key');
    expect(() => Object.defineProperty(real, 'is', { value: () => true })).toThrow(TypeError);
    expect(thrown(() => signCommitment(c, real)).code).toBe('E_WRONG_SIGNING_KEY');
  });
});
