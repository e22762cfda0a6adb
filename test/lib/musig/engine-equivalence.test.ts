/**
 * Every engine computes the same BIP-327 bytes. Random two- and three-party signings
 * (random keys, key order, messages of any length, plain and x-only tweaks ending with
 * a BIP-341 taproot tweak, random NonceGen inputs, and sometimes DeterministicSign for
 * the last signer) run on each available engine; the transcripts (aggregate keys,
 * secret and public nonces, aggnonce, partial signatures, final signature) must be
 * byte-identical. Independently of every engine (noble and reference both sit on
 * @noble/curves; native and libsecp256k1 are libsecp256k1), the test code in
 * test/independent/ derives the tweaked aggregate key (KeyAgg, ApplyTweak, TapTweak) and
 * checks the final signature with its own BIP-340 arithmetic.
 *
 * Seeded by test/setup/fast-check.ts (FC_SEED=<n> replays, FC_SEED=random explores; a
 * failure prints the seed and path). ENGINE_PROPERTY_RUNS=<n> overrides the run counts.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { loadEngine } from '../../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../../setup/backends.ts';
import type { Bip327Engine, EngineName } from '../../../src/lib/musig/engine/engine.ts';
import { N, int } from '../../../src/lib/musig/engine/scalar.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { compareBytes, fromHex, toHex } from '../../../src/lib/bytes.ts';
import { Bip327Error } from '../../../src/lib/musig/bip327.ts';
import { aggregateXOnly, tapTweak } from '../../independent/keys.ts';
import { liftX } from '../../independent/secp256k1.ts';
import { TEST_CODE_VERIFIER } from '../../independent/schnorr.ts';

const NAMES: readonly EngineName[] = [...ALL_BACKENDS, 'reference'];
const available: Bip327Engine[] = [];
const missing: string[] = [];
for (const name of NAMES) {
  // Installed or not is decided by test code; an installed backend the product cannot load fails the file.
  if (name === 'reference') {
    available.push(await loadEngine(name));
    continue;
  }
  const e = await backendUnderTest(name, () => loadEngine(name));
  if (e.skipped !== undefined) missing.push(`${name} (${e.skipped})`);
  else available.push(e.loaded);
}

/** ENGINE_PROPERTY_RUNS=500 for a deeper run than the default. */
const RUNS = Number(process.env.ENGINE_PROPERTY_RUNS ?? 0) || undefined;
const scalar32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => int(b) < N);
const secretKey = scalar32.filter((b) => int(b) !== 0n);
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

type Signing = {
  keys: Uint8Array[];
  sortKeys: boolean;
  msg: Uint8Array;
  tweaks: { tweak: Uint8Array; xonly: boolean }[];
  taproot: boolean;
  nonceInputs: { rand: Uint8Array; withSk: boolean; withAggpk: boolean; withMsg: boolean; extraIn: Uint8Array | undefined }[];
  deterministicLast: boolean;
  detRand: Uint8Array | undefined;
};

const signing = (parties: number): fc.Arbitrary<Signing> =>
  fc.record({
    keys: fc.uniqueArray(secretKey, { minLength: parties, maxLength: parties, selector: toHex }),
    sortKeys: fc.boolean(),
    msg: fc.uint8Array({ maxLength: 80 }),
    tweaks: fc.array(fc.record({ tweak: scalar32, xonly: fc.boolean() }), { maxLength: 2 }),
    taproot: fc.boolean(),
    nonceInputs: fc.array(
      fc.record({
        rand: bytes32,
        withSk: fc.boolean(),
        withAggpk: fc.boolean(),
        withMsg: fc.boolean(),
        extraIn: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
      }),
      { minLength: parties, maxLength: parties },
    ),
    deterministicLast: fc.boolean(),
    detRand: fc.option(bytes32, { nil: undefined }),
  });

/** One whole signing on engine E; returns everything it produced, as hex. */
function run(E: Bip327Engine, s: Signing): Record<string, string | string[] | boolean | boolean[]> {
  let parties = s.keys.map((sk) => keyPair(sk));
  if (s.sortKeys) {
    const sorted = E.keySort(parties.map((p) => p.publicKey));
    parties = sorted.map((pk) => parties.find((p) => compareBytes(p.publicKey, pk) === 0)!);
  }
  const pubkeys = parties.map((p) => p.publicKey);
  const tweaks = s.tweaks.map((t) => t.tweak);
  const isXonly = s.tweaks.map((t) => t.xonly);
  if (s.taproot) {
    // BIP-341: the output key commits to the x-only key tweaked so far (derived in test code).
    tweaks.push(tapTweak(aggregateXOnly(pubkeys, tweaks, isXonly)));
    isXonly.push(true);
  }
  const { aggregatePubkey, xOnly } = E.keyAgg(pubkeys, tweaks, isXonly);
  const last = parties.length - 1;
  const nonces = parties.map((p, i) => {
    if (s.deterministicLast && i === last) return undefined;
    const n = s.nonceInputs[i]!;
    return E.nonceGen(p.publicKey, n.withSk ? p.secretKey : undefined, n.withAggpk ? xOnly : undefined, n.withMsg ? s.msg : undefined, n.extraIn, n.rand);
  });
  const secnonces = nonces.map((n) => (n ? toHex(n.secnonce) : ''));
  const pubnonces = nonces.map((n) => n?.pubnonce);
  const psigs: Uint8Array[] = [];
  if (s.deterministicLast) {
    const aggothernonce = E.nonceAgg(pubnonces.slice(0, last) as Uint8Array[]);
    const out = E.deterministicSign(parties[last]!.secretKey, aggothernonce, pubkeys, tweaks, isXonly, s.msg, s.detRand);
    pubnonces[last] = out.pubnonce;
    psigs[last] = out.psig;
  }
  const all = pubnonces as Uint8Array[];
  const aggnonce = E.nonceAgg(all);
  const session = E.session({ aggnonce, pubkeys, tweaks, isXonly, msg: s.msg });
  // Sign again as a last signer that verifies the aggregate itself would: the known public
  // key instead of d·G, no self-check. The partial signature must be the same bytes.
  const sameWithKnownKey: boolean[] = [];
  parties.forEach((p, i) => {
    if (!nonces[i]) return;
    psigs[i] = session.sign(Uint8Array.from(nonces[i]!.secnonce), p.secretKey);
    const spared = session.sign(Uint8Array.from(nonces[i]!.secnonce), p.secretKey, { publicKey: p.publicKey, selfCheck: false });
    sameWithKnownKey.push(toHex(spared) === toHex(psigs[i]!));
  });
  const verified = psigs.every((psig, i) => session.partialSigVerify(psig, all, i));
  const wrongSigner = psigs.some((psig, i) => session.partialSigVerify(psig, all, (i + 1) % psigs.length));
  const sig = session.partialSigAgg(psigs);
  return {
    signers: pubkeys.map(toHex),
    tweaks: tweaks.map(toHex),
    isXonly,
    aggregatePubkey: toHex(aggregatePubkey),
    xOnly: toHex(xOnly),
    secnonces,
    pubnonces: all.map(toHex),
    aggnonce: toHex(aggnonce),
    psigs: psigs.map(toHex),
    sig: toHex(sig),
    verified,
    wrongSigner,
    sameWithKnownKey,
    ownVerify: E.verifySchnorr(sig, s.msg, xOnly),
  };
}

describe('every BIP-327 engine gives the same bytes', () => {
  it(`engines compared: ${available.map((e) => e.name).join(', ')}${missing.length ? `; NOT INSTALLED: ${missing.join(', ')}` : ''}`, () => {
    expect(available.map((e) => e.name)).toContain('noble');
    expect(available.map((e) => e.name)).toContain('reference');
    expect(available.length).toBeGreaterThanOrEqual(2);
  });

  for (const [parties, runs] of [[2, 25], [3, 15]] as const) {
    it(`${parties}-party signings: identical transcripts, and the signature verifies independently (${RUNS ?? runs} runs)`, () => {
      fc.assert(
        fc.property(signing(parties), (s) => {
          const [first, ...rest] = available.map((E) => run(E, s));
          expect(first!.verified).toBe(true);
          expect(first!.wrongSigner).toBe(false);
          expect((first!.sameWithKnownKey as boolean[]).every(Boolean)).toBe(true);
          expect(first!.ownVerify).toBe(true);
          for (const [i, other] of rest.entries()) expect(other, available[i + 1]!.name).toEqual(first);
          // The key from KeyAgg of the keys in signing order and the same tweaks, in test code.
          const pubkeys = (first!.signers as string[]).map((h) => fromHex(h));
          expect(first!.xOnly).toBe(toHex(aggregateXOnly(pubkeys, (first!.tweaks as string[]).map((h) => fromHex(h)), first!.isXonly as boolean[])));
          const sig = fromHex(first!.sig as string);
          expect(TEST_CODE_VERIFIER.verify(sig, s.msg, fromHex(first!.xOnly as string))).toBe(true);
          const forged = Uint8Array.from(sig);
          forged[63] = forged[63]! ^ 1;
          expect(TEST_CODE_VERIFIER.verify(forged, s.msg, fromHex(first!.xOnly as string))).toBe(false);
        }),
        { numRuns: RUNS ?? runs },
      );
    });
  }
});

/** What an engine threw, in the terms callers see. */
function failure(fn: () => unknown): { message: string; signer: number | undefined; contribution: string | undefined } | 'no error' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(Bip327Error);
    const b = e as Bip327Error;
    return { message: b.message, signer: b.signer, contribution: b.contribution };
  }
}

describe('every BIP-327 engine blames the same contribution the same way', () => {
  const notAPoint = fc.uint8Array({ minLength: 33, maxLength: 33 }).filter((b) => ![2, 3].includes(b[0]!) || schnorrLiftFails(b.subarray(1)));
  it('bad keys, nonces, aggregate nonces, partial signatures and secret nonces', () => {
    fc.assert(
      fc.property(fc.uniqueArray(secretKey, { minLength: 3, maxLength: 3, selector: toHex }), notAPoint, fc.nat(2), bytes32, fc.boolean(), (sks, bad, j, msg, high) => {
        const parties = sks.map((sk) => keyPair(sk));
        const pubkeys = parties.map((p) => p.publicKey);
        const badKeys = pubkeys.map((pk, i) => (i === j ? bad : pk));
        const outcomes = available.map((E) => {
          const nonces = parties.map((p, i) => E.nonceGen(p.publicKey, p.secretKey, undefined, msg, undefined, Uint8Array.of(i, ...msg.subarray(1))));
          const pubnonces = nonces.map((n) => n.pubnonce);
          const badNonces = pubnonces.map((n, i) => (i === j ? Uint8Array.of(...n.subarray(0, high ? 33 : 0), ...bad, ...n.subarray(high ? 66 : 33)) : n));
          const aggnonce = E.nonceAgg(pubnonces);
          const session = E.session({ aggnonce, pubkeys, tweaks: [], isXonly: [], msg });
          const psigs = parties.map((p, i) => session.sign(Uint8Array.from(nonces[i]!.secnonce), p.secretKey));
          const overN = psigs.map((p, i) => (i === j ? fromHex((N + BigInt(i)).toString(16).padStart(64, '0')) : p));
          return {
            keyAgg: failure(() => E.keyAgg(badKeys, [], [])),
            session: failure(() => E.session({ aggnonce, pubkeys: badKeys, tweaks: [], isXonly: [], msg })),
            nonceAgg: failure(() => E.nonceAgg(badNonces)),
            verify: failure(() => session.partialSigVerify(psigs[0]!, badNonces, 0)),
            badAggnonce: failure(() => E.session({ aggnonce: Uint8Array.of(...bad, ...aggnonce.subarray(33)), pubkeys, tweaks: [], isXonly: [], msg })),
            aggothernonce: failure(() => E.deterministicSign(parties[0]!.secretKey, Uint8Array.of(...aggnonce.subarray(0, 33), ...bad), pubkeys, [], [], msg)),
            psigOverN: failure(() => session.partialSigAgg(overN)),
            reusedSecnonce: failure(() => session.sign(nonces[0]!.secnonce, parties[0]!.secretKey)),
            wrongKey: failure(() => session.sign(Uint8Array.from(nonces[1]!.secnonce), parties[0]!.secretKey)),
            notParticipant: failure(() => E.session({ aggnonce, pubkeys: pubkeys.slice(1), tweaks: [], isXonly: [], msg }).sign(Uint8Array.from(nonces[1]!.secnonce), parties[1]!.secretKey)),
            randomPsigVerifies: session.partialSigVerify(msg, pubnonces, j),
          };
        });
        expect(outcomes[0]!.keyAgg).toMatchObject({ signer: j, contribution: 'pubkey' });
        expect(outcomes[0]!.nonceAgg).toMatchObject({ signer: j, contribution: 'pubnonce' });
        expect(outcomes[0]!.psigOverN).toMatchObject({ signer: j, contribution: 'psig' });
        for (const [i, other] of outcomes.slice(1).entries()) expect(other, available[i + 1]!.name).toEqual(outcomes[0]);
      }),
      { numRuns: RUNS ?? 20 },
    );
  });
});

function schnorrLiftFails(x: Uint8Array): boolean {
  return liftX(int(x)) === null;
}

if (missing.length > 0) {
  describe('engines not installed', () => {
    it.skip(`SKIPPED: ${missing.join('; ')}`, () => {});
  });
}
