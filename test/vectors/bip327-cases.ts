/**
 * The BIP-327 vector suites shared by test/vectors/bip327.test.ts (the selected engine)
 * and test/vectors/bip327-engines.test.ts (every engine in turn): all eight official
 * vector files, through src/lib/musig/bip327.ts (keySort, keyAgg, nonceGen, nonceAgg,
 * Session.sign / partialSigVerify / partialSigAgg, deterministicSign), valid and error
 * cases alike.
 *
 * Error cases: a vector's `invalid_contribution` must come out as a `Bip327Error` with
 * the same blamed signer (`null` ⇒ `undefined`) and contribution kind; a `value` error
 * must come out as a `Bip327Error` that blames nobody, with the engine's wording of
 * the same failure (table below).
 *
 * Where our API differs from the reference signatures:
 * - PartialSigVerify: the reference takes the pubnonces and computes the aggnonce
 *   itself; our Session needs the aggnonce up front, so `referencePartialSigVerify`
 *   does NonceAgg then Session, as the reference does internally.
 * - Sign: the reference's secnonce carries the signer's pk; ours is the same 97-byte
 *   k1 || k2 || pk, so the vectors' secnonces go in as they are.
 */
import { describe, it, expect } from 'vitest';
import { loadVector } from '../helpers.ts';
import {
  Bip327Error, keySort, keyAgg, nonceGen, nonceAgg, Session, deterministicSign,
} from '../../src/lib/musig/bip327.ts';
import { schnorrVerify } from '../../src/lib/taproot/schnorr.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { G, decodeCompressed, encodeCompressed, pointAdd, pointMul, pointNegate } from '../independent/secp256k1.ts';

export const dir = 'bips/bip-0327/';
export const h = (s: string) => fromHex(s.toLowerCase());
export const H = (b: Uint8Array) => toHex(b).toUpperCase();
export const pick = <T>(arr: readonly T[], indices: readonly number[]): T[] =>
  indices.map((i) => {
    expect(i).toBeLessThan(arr.length);
    return arr[i]!;
  });
export const withComment = (base: string, comment?: string) => (comment ? `${base}: ${comment}` : base);

export type VectorError =
  | { type: 'invalid_contribution'; signer: number | null; contrib: string }
  | { type: 'value'; message: string };

/**
 * The reference's ValueError messages and how our engines word the same failure (every
 * engine words them as @scure/btc-signer, the original backend, did). A case whose
 * message is not listed fails, so a new vector file cannot slip through with an
 * unchecked error.
 */
const BACKEND_MESSAGE: Record<string, RegExp> = {
  'The tweak must be less than n.': /invalid scalar: out of range/,
  'The result of tweaking cannot be infinity.': /result of tweaking cannot be infinity/i,
  "The signer's pubkey must be included in the list of pubkeys.": /signer's pubkey must be included in the list of pubkeys/i,
  'first secnonce value is out of range.': /Reader\(k1\): expected valid n: 1 <= n </,
};

/**
 * `count` public nonces (66 bytes each) that NonceAgg sums to `aggnonce`: fixed multiples
 * of G for all but the last, and the last the difference, computed in test code
 * (test/independent/secp256k1.ts), not by the engine under test.
 */
export function splitNonce(aggnonce: Uint8Array, count: number): Uint8Array[] {
  const rest = [aggnonce.subarray(0, 33), aggnonce.subarray(33, 66)].map(decodeCompressed);
  expect(rest.every((p) => p !== null)).toBe(true);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count - 1; i++) {
    const parts = [pointMul(G, BigInt(2 * i + 7)), pointMul(G, BigInt(2 * i + 8))];
    out.push(Uint8Array.from([...encodeCompressed(parts[0]!), ...encodeCompressed(parts[1]!)]));
    parts.forEach((p, j) => (rest[j] = pointAdd(rest[j]!, pointNegate(p))));
  }
  out.push(Uint8Array.from([...encodeCompressed(rest[0]!), ...encodeCompressed(rest[1]!)]));
  return out;
}

export function expectBip327Error(fn: () => unknown, error: VectorError): Bip327Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a Bip327Error, nothing was thrown').toBeInstanceOf(Bip327Error);
  const e = caught as Bip327Error;
  if (error.type === 'invalid_contribution') {
    expect({ signer: e.signer, contribution: e.contribution }).toEqual({
      signer: error.signer ?? undefined,
      contribution: error.contrib,
    });
  } else {
    expect({ signer: e.signer, contribution: e.contribution }).toEqual({ signer: undefined, contribution: undefined });
    const wording = BACKEND_MESSAGE[error.message];
    expect(wording, `no backend wording recorded for "${error.message}"`).toBeDefined();
    expect(e.message).toMatch(wording!);
  }
  return e;
}

/** BIP-327 PartialSigVerify(psig, pubnonces, pubkeys, tweaks, is_xonly, msg, i) on our API. */
export function referencePartialSigVerify(
  psig: Uint8Array, pubnonces: Uint8Array[], pubkeys: Uint8Array[], tweaks: Uint8Array[], isXonly: boolean[], msg: Uint8Array, i: number,
): boolean {
  const aggnonce = nonceAgg(pubnonces);
  return new Session({ aggnonce, pubkeys, tweaks, isXonly, msg }).partialSigVerify(psig, pubnonces, i);
}

/** Every vector file, valid and error cases, as describe blocks (call inside a describe to scope them). */
export function bip327VectorSuites(): void {
  describe('BIP-327 key_sort_vectors', () => {
    const v = loadVector(dir + 'key_sort_vectors.json');
    it('sorts the six keys (with a duplicate) lexicographically', () => {
      expect(keySort((v.pubkeys as string[]).map(h)).map(H)).toEqual(v.sorted_pubkeys);
    });
  });

  describe('BIP-327 key_agg_vectors', () => {
    const v = loadVector(dir + 'key_agg_vectors.json');
    const pubkeys = (v.pubkeys as string[]).map(h);
    const tweaks = (v.tweaks as string[]).map(h);

    for (const [n, c] of (v.valid_test_cases as any[]).entries()) {
      it(`valid ${n}: keys ${JSON.stringify(c.key_indices)}`, () => {
        const ctx = keyAgg(pick(pubkeys, c.key_indices));
        expect(H(ctx.xOnly)).toBe(c.expected);
        // Without tweaks the x-only key is the plain aggregate minus its prefix byte.
        expect(H(ctx.aggregatePubkey.slice(1))).toBe(c.expected);
      });
    }

    for (const [n, c] of (v.error_test_cases as any[]).entries()) {
      it(withComment(`error ${n}`, c.comment), () => {
        expectBip327Error(() => keyAgg(pick(pubkeys, c.key_indices), pick(tweaks, c.tweak_indices), c.is_xonly), c.error);
      });
    }
  });

  describe('BIP-327 nonce_gen_vectors', () => {
    const v = loadVector(dir + 'nonce_gen_vectors.json');
    // sk, aggpk, msg and extra_in are optional (null). An absent msg is not the same as an
    // empty one (cases 0 and 1 differ only by msg = "" vs a value; case 3 omits it).
    const opt = (s: string | null) => (s === null ? undefined : h(s));
    for (const [n, c] of (v.test_cases as any[]).entries()) {
      const absent = ['sk', 'aggpk', 'msg', 'extra_in'].filter((k) => c[k] === null);
      const label = absent.length ? `without ${absent.join(', ')}` : c.msg === '' ? 'empty msg' : `msg of ${c.msg.length / 2} bytes`;
      it(`case ${n} (${label}): byte-exact secnonce and pubnonce`, () => {
        const out = nonceGen(h(c.pk), opt(c.sk), opt(c.aggpk), opt(c.msg), opt(c.extra_in), h(c.rand_));
        expect(H(out.secnonce)).toBe(c.expected_secnonce);
        expect(H(out.pubnonce)).toBe(c.expected_pubnonce);
        // The secnonce carries the signer's pk, so Sign can refuse a key mismatch.
        expect(H(out.secnonce.slice(64))).toBe(c.pk);
      });
    }
  });

  describe('BIP-327 nonce_agg_vectors', () => {
    const v = loadVector(dir + 'nonce_agg_vectors.json');
    const pnonces = (v.pnonces as string[]).map(h);
    for (const [n, c] of (v.valid_test_cases as any[]).entries()) {
      it(withComment(`valid ${n}`, c.comment), () => {
        expect(H(nonceAgg(pick(pnonces, c.pnonce_indices)))).toBe(c.expected);
      });
    }
    for (const [n, c] of (v.error_test_cases as any[]).entries()) {
      it(withComment(`error ${n}`, c.comment), () => {
        expectBip327Error(() => nonceAgg(pick(pnonces, c.pnonce_indices)), c.error);
      });
    }
  });

  describe('BIP-327 sign_verify_vectors', () => {
    const v = loadVector(dir + 'sign_verify_vectors.json');
    const sk = h(v.sk);
    const pubkeys = (v.pubkeys as string[]).map(h);
    const pnonces = (v.pnonces as string[]).map(h);
    const aggnonces = (v.aggnonces as string[]).map(h);
    const msgs = (v.msgs as string[]).map(h);
    // A fresh copy per use: Session.sign wipes the secnonce it is given.
    const secnonce = (i: number) => h(v.secnonces[i]);

    it('the secret key belongs to pubkeys[0], which the secnonces carry', () => {
      expect(H(keyPair(sk).publicKey)).toBe(v.pubkeys[0]);
      for (const s of v.secnonces as string[]) expect(s.slice(128)).toBe(v.pubkeys[0]);
    });

    for (const [n, c] of (v.valid_test_cases as any[]).entries()) {
      it(withComment(`valid ${n}: sign as signer ${c.signer_index}, then verify`, c.comment), () => {
        const keys = pick(pubkeys, c.key_indices);
        const nonces = pick(pnonces, c.nonce_indices);
        const aggnonce = aggnonces[c.aggnonce_index]!;
        // The vector's pubnonces and aggnonce are consistent.
        expect(H(nonceAgg(nonces))).toBe(H(aggnonce));
        const msg = msgs[c.msg_index]!;
        const session = new Session({ aggnonce, pubkeys: keys, tweaks: [], isXonly: [], msg });
        const psig = session.sign(secnonce(0), sk);
        expect(H(psig)).toBe(c.expected);
        expect(session.partialSigVerify(psig, nonces, c.signer_index)).toBe(true);
        expect(referencePartialSigVerify(psig, nonces, keys, [], [], msg, c.signer_index)).toBe(true);
      });
    }

    for (const [n, c] of (v.sign_error_test_cases as any[]).entries()) {
      it(withComment(`sign error ${n}`, c.comment), () => {
        const keys = pick(pubkeys, c.key_indices);
        expectBip327Error(() => {
          const session = new Session({ aggnonce: aggnonces[c.aggnonce_index]!, pubkeys: keys, tweaks: [], isXonly: [], msg: msgs[c.msg_index]! });
          return session.sign(secnonce(c.secnonce_index), sk);
        }, c.error);
      });
    }

    for (const [n, c] of (v.verify_fail_test_cases as any[]).entries()) {
      it(withComment(`verify fail ${n}`, c.comment), () => {
        const ok = referencePartialSigVerify(
          h(c.sig), pick(pnonces, c.nonce_indices), pick(pubkeys, c.key_indices), [], [], msgs[c.msg_index]!, c.signer_index,
        );
        expect(ok).toBe(false);
      });
    }

    for (const [n, c] of (v.verify_error_test_cases as any[]).entries()) {
      it(withComment(`verify error ${n}`, c.comment), () => {
        const nonces = pick(pnonces, c.nonce_indices);
        const keys = pick(pubkeys, c.key_indices);
        const msg = msgs[c.msg_index]!;
        expectBip327Error(() => referencePartialSigVerify(h(c.sig), nonces, keys, [], [], msg, c.signer_index), c.error);
        if (c.error.contrib === 'pubnonce') {
          // Same blame when the bad pubnonce reaches an existing session's partialSigVerify.
          const session = new Session({ aggnonce: aggnonces[0]!, pubkeys: keys, tweaks: [], isXonly: [], msg });
          expectBip327Error(() => session.partialSigVerify(h(c.sig), nonces, c.signer_index), c.error);
        }
      });
    }
  });

  describe('BIP-327 tweak_vectors', () => {
    const v = loadVector(dir + 'tweak_vectors.json');
    const sk = h(v.sk);
    const pubkeys = (v.pubkeys as string[]).map(h);
    const pnonces = (v.pnonces as string[]).map(h);
    const tweaks = (v.tweaks as string[]).map(h);
    const aggnonce = h(v.aggnonce);
    const msg = h(v.msg);

    for (const [n, c] of (v.valid_test_cases as any[]).entries()) {
      it(withComment(`valid ${n}`, c.comment), () => {
        const keys = pick(pubkeys, c.key_indices);
        const nonces = pick(pnonces, c.nonce_indices);
        expect(H(nonceAgg(nonces))).toBe(v.aggnonce);
        expect(H(keys[c.signer_index]!)).toBe(H(keyPair(sk).publicKey));
        const session = new Session({ aggnonce, pubkeys: keys, tweaks: pick(tweaks, c.tweak_indices), isXonly: c.is_xonly, msg });
        const psig = session.sign(h(v.secnonce), sk);
        expect(H(psig)).toBe(c.expected);
        expect(session.partialSigVerify(psig, nonces, c.signer_index)).toBe(true);
      });
    }

    for (const [n, c] of (v.error_test_cases as any[]).entries()) {
      it(withComment(`error ${n}`, c.comment), () => {
        const keys = pick(pubkeys, c.key_indices);
        const t = pick(tweaks, c.tweak_indices);
        expectBip327Error(() => new Session({ aggnonce, pubkeys: keys, tweaks: t, isXonly: c.is_xonly, msg }).sign(h(v.secnonce), sk), c.error);
        expectBip327Error(() => keyAgg(keys, t, c.is_xonly), c.error);
      });
    }
  });

  describe('BIP-327 det_sign_vectors', () => {
    const v = loadVector(dir + 'det_sign_vectors.json');
    const sk = h(v.sk);
    const pubkeys = (v.pubkeys as string[]).map(h);
    const msgs = (v.msgs as string[]).map(h);
    const run = (c: any) =>
      deterministicSign(
        sk, h(c.aggothernonce), pick(pubkeys, c.key_indices), (c.tweaks as string[]).map(h), c.is_xonly, msgs[c.msg_index]!,
        c.rand === null ? undefined : h(c.rand),
      );

    for (const [n, c] of (v.valid_test_cases as any[]).entries()) {
      it(withComment(`valid ${n} (rand ${c.rand === null ? 'absent' : 'given'})`, c.comment), () => {
        expect(H(pubkeys[c.key_indices[c.signer_index]]!)).toBe(H(keyPair(sk).publicKey));
        const out = run(c);
        expect([H(out.pubnonce), H(out.psig)]).toEqual(c.expected);
        // As the reference does (PartialSigVerifyInternal), verify the partial signature in
        // the session of aggnonce = NonceAgg(pubnonce, aggothernonce). Our PartialSigVerify
        // wants one pubnonce per key, so aggothernonce is split (test code) into pubnonces
        // for the other signers that sum to it.
        const keys = pick(pubkeys, c.key_indices);
        const tweaks = (c.tweaks as string[]).map(h);
        const session = new Session({ aggnonce: nonceAgg([out.pubnonce, h(c.aggothernonce)]), pubkeys: keys, tweaks, isXonly: c.is_xonly, msg: msgs[c.msg_index]! });
        const nonces = splitNonce(h(c.aggothernonce), keys.length - 1);
        nonces.splice(c.signer_index, 0, out.pubnonce);
        expect(session.partialSigVerify(out.psig, nonces, c.signer_index)).toBe(true);
        const forged = Uint8Array.from(out.psig);
        forged[31] = forged[31]! ^ 1;
        expect(session.partialSigVerify(forged, nonces, c.signer_index)).toBe(false);
        expect(session.partialSigVerify(out.psig, nonces, (c.signer_index + 1) % keys.length)).toBe(false);
      });
    }

    for (const [n, c] of (v.error_test_cases as any[]).entries()) {
      it(withComment(`error ${n}`, c.comment), () => {
        expectBip327Error(() => run(c), c.error);
      });
    }
  });

  describe('BIP-327 sig_agg_vectors', () => {
    const v = loadVector(dir + 'sig_agg_vectors.json');
    const pubkeys = (v.pubkeys as string[]).map(h);
    const pnonces = (v.pnonces as string[]).map(h);
    const tweaks = (v.tweaks as string[]).map(h);
    const psigs = (v.psigs as string[]).map(h);
    const msg = h(v.msg);

    const session = (c: any) => {
      const nonces = pick(pnonces, c.nonce_indices);
      expect(H(nonceAgg(nonces))).toBe(c.aggnonce);
      return new Session({ aggnonce: h(c.aggnonce), pubkeys: pick(pubkeys, c.key_indices), tweaks: pick(tweaks, c.tweak_indices), isXonly: c.is_xonly, msg });
    };

    for (const [n, c] of (v.valid_test_cases as any[]).entries()) {
      it(withComment(`valid ${n}: ${c.tweak_indices.length} tweak(s)`, c.comment), () => {
        const sig = session(c).partialSigAgg(pick(psigs, c.psig_indices));
        expect(H(sig)).toBe(c.expected);
        // The final signature is an ordinary BIP-340 signature for the tweaked key.
        const { xOnly } = keyAgg(pick(pubkeys, c.key_indices), pick(tweaks, c.tweak_indices), c.is_xonly);
        expect(schnorrVerify(sig, msg, xOnly)).toBe(true);
      });
    }

    for (const [n, c] of (v.error_test_cases as any[]).entries()) {
      it(withComment(`error ${n}`, c.comment), () => {
        expectBip327Error(() => session(c).partialSigAgg(pick(psigs, c.psig_indices)), c.error);
      });
    }
  });
}
