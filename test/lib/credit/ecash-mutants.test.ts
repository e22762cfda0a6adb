/**
 * The credit mint's ecash checks (src/lib/credit/ecash.ts) called directly, pinned where
 * `npm run mutate` found a planted change passing every test (issue 42, deliverable 2):
 * checkOutputs' bounds (1 and 64 outputs pass, 0 and 65 do not), each refusal naming the
 * output at fault, the owner check (the same contract and state may be signed again, any
 * other may not, in either encoding of the point), and the offer a mint publishes.
 *
 * The user's signature is made by noble over the digest written here with node:crypto from
 * docs/ecash.md (as test/lib/credit/ecash-binding.test.ts does), never by src/'s
 * outputsDigest; the blinded messages are public keys of small scalars (noble). Refusals
 * are matched by code and message, not exit class (E_ECASH_OUTPUTS's class is being revised).
 */
import { creditOutputsDigest } from '../../independent/cashu.ts';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../setup/refusal.ts';
import {
  MAX_OUTPUTS, adoptKeyset, checkEcashOffer, checkOutputs, ecashOffer, keysetOfOutputs, makeOutputs, negatedPointHex, outputsDigest, receiveSignatures, type BlindSignatureJson, type BlindedMessageJson, type OutputsRequest,
} from '../../../src/lib/credit/ecash.ts';
import { signAnnouncement } from '../../../src/lib/credit/ecash-announce.ts';
import { compressed, equals, mulBase, mulSecret, pointFromHex } from '../../../src/lib/ecash/curve.ts';
import { keysetId } from '../../../src/lib/ecash/nut02.ts';
import { blindMessage, secretPoint, signBlindedMessage } from '../../../src/lib/ecash/nut00.ts';
import { deriveMintKeyset, keysObject } from '../../../src/lib/ecash/nut01.ts';
import { createDleq } from '../../../src/lib/ecash/nut12.ts';
import { deriveSecret } from '../../../src/lib/ecash/nut13.ts';

const KS = deriveMintKeyset('ecash-mutants seed', { amounts: 8 });
const USER_SK = new Uint8Array(32).fill(7);
const USER_PK = secp256k1.getPublicKey(USER_SK, true);
const CONTRACT = 'c0'.repeat(32);
const TXID = '7a'.repeat(32);
const NONCE = Uint8Array.from({ length: 66 }, (_, i) => (i % 33 === 0 ? 2 : i));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** B_ = k·G for a small k: a point, and no one's blinded message. */
const point = (k: number) => hexOf(secp256k1.getPublicKey(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? k % 256 : i === 30 ? Math.floor(k / 256) + 1 : 0)), true));

/** docs/ecash.md's digest, by hand (test/independent/cashu.ts). */
const specDigest = (r: OutputsRequest & { outputs: BlindedMessageJson[] }): Uint8Array => creditOutputsDigest(r, TXID, NONCE);

/** A request for these outputs, signed by the user over exactly them. */
function request(outputs: BlindedMessageJson[], over: Partial<OutputsRequest> = {}): OutputsRequest {
  const amount = outputs.reduce((s, o) => s + o.amount, 0);
  const r = { contract_id: CONTRACT, state: 3, amount_sat: amount, cumulative_sat: amount + 1000, outputs, ...over };
  return { ...r, outputs_signature: hexOf(schnorr.sign(specDigest(r as OutputsRequest & { outputs: BlindedMessageJson[] }), USER_SK, new Uint8Array(32))) };
}
const out = (amount: number, k: number, id = KS.id): BlindedMessageJson => ({ amount, id, B_: point(k) });
const BINDING = { userPubkey: USER_PK, txid: TXID, mintPubnonce: NONCE };

/** A mint whose store knows these points as signed for (contract, state). */
const mint = (owners: Record<string, { contract_id: string; state: number }> = {}) => ({
  ecash: { keyset: KS, signatures: { signedBlindedMessages: async (B_s: string[]) => B_s.filter((B_) => owners[B_]).map((B_) => ({ B_, ...owners[B_]!, keyset_id: KS.id, amount: 1, C_: null })) } },
});
const refusedAsync = async (p: Promise<unknown>, code: string): Promise<string> => {
  let err: unknown;
  await p.then(() => undefined, (e: unknown) => (err = e));
  const e = thrown(() => {
    if (err) throw err;
  });
  expect(e.code, e.message).toBe(code);
  return e.message;
};

describe('checkOutputs: the bounds', () => {
  it(`1 and ${MAX_OUTPUTS} outputs are checked through; 0 and ${MAX_OUTPUTS + 1} are refused naming the count`, async () => {
    expect(MAX_OUTPUTS).toBe(64);
    expect(await checkOutputs(mint(), request([out(4, 1)]), BINDING)).toHaveLength(1);
    const many = Array.from({ length: 64 }, (_, i) => out(1, i + 1));
    expect(await checkOutputs(mint(), request(many), BINDING)).toHaveLength(64);
    expect(await refusedAsync(checkOutputs(mint(), request([...many, out(1, 200)]), BINDING), 'E_ECASH_OUTPUTS')).toBe('a payment carries 1–64 outputs, not 65');
    expect(await refusedAsync(checkOutputs(mint(), request([], { amount_sat: 5 }), BINDING), 'E_ECASH_OUTPUTS')).toBe('a payment carries 1–64 outputs, not 0');
  });

  it('every field\'s bytes are in the digest: a state with a non-zero top byte, a cumulative amount above 255', async () => {
    expect(await checkOutputs(mint(), request([out(4, 1)], { state: 0x0100_0003, cumulative_sat: 0x0102_0304 }), BINDING)).toHaveLength(1);
  });

  it('the points come back in order, as the outputs named them', async () => {
    const pts = await checkOutputs(mint(), request([out(1, 5), out(2, 6), out(128, 7)]), BINDING);
    expect(pts!.map((p) => hexOf(compressed(p)))).toEqual([point(5), point(6), point(7)]);
  });
});

describe('checkOutputs: each refusal names what is wrong', () => {
  it('no ecash at the mint: outputs refused (E_NO_ECASH); none → nothing to sign', async () => {
    expect(await refusedAsync(checkOutputs({}, request([out(1, 1)]), BINDING), 'E_NO_ECASH')).toMatch(/^this mint issues no ecash/);
    expect(await checkOutputs({}, { contract_id: CONTRACT, state: 3, amount_sat: 5, cumulative_sat: 5 }, BINDING)).toBeUndefined();
  });

  it('no outputs to a mint that pays in ecash → E_ECASH_OUTPUTS naming the amount', async () => {
    expect(await refusedAsync(checkOutputs(mint(), { contract_id: CONTRACT, state: 3, amount_sat: 5, cumulative_sat: 5 }, BINDING), 'E_ECASH_OUTPUTS')).toBe('this mint pays every credit in ecash: the request must carry blinded messages (outputs) for its 5 sat');
  });

  it('another keyset, an amount the keyset has no key for, a sum off by one: the output and numbers named', async () => {
    expect(await refusedAsync(checkOutputs(mint(), request([out(1, 1), out(2, 2, '00' + 'ab'.repeat(7))]), BINDING), 'E_UNKNOWN_KEYSET')).toBe(`output 1 names keyset 00${'ab'.repeat(7)}; this mint signs with ${KS.id}`);
    expect(await refusedAsync(checkOutputs(mint(), request([out(1, 1), out(256, 2)]), BINDING), 'E_ECASH_OUTPUTS')).toBe('output 1: amount 256 is not a power of two of the keyset');
    expect(await refusedAsync(checkOutputs(mint(), request([out(1, 1), out(3, 2)]), BINDING), 'E_ECASH_OUTPUTS')).toBe('output 1: amount 3 is not a power of two of the keyset');
    expect(await refusedAsync(checkOutputs(mint(), request([out(1, 1), out(2, 2)], { amount_sat: 4 }), BINDING), 'E_ECASH_OUTPUTS')).toBe('the outputs sum to 3 sat, not the payment\'s 4 sat');
    expect(await refusedAsync(checkOutputs(mint(), request([out(1, 1), out(2, 2)], { amount_sat: 2 }), BINDING), 'E_ECASH_OUTPUTS')).toBe('the outputs sum to 3 sat, not the payment\'s 2 sat');
  });

  it('the same point twice, as given or negated → E_BLINDED_MESSAGE_REUSED naming the second', async () => {
    const a = out(1, 1);
    for (const B_ of [a.B_, negatedPointHex(a.B_)]) {
      expect(await refusedAsync(checkOutputs(mint(), request([a, out(2, 2), { ...a, B_ }]), BINDING), 'E_BLINDED_MESSAGE_REUSED')).toBe('output 2: the same B_ (or its negation) appears twice in this request');
    }
  });

  it('a B_ that is not a point → E_BAD_BLINDED_MESSAGE naming the output', async () => {
    const notPoint = '02' + 'ff'.repeat(32);
    expect(await refusedAsync(checkOutputs(mint(), request([out(1, 1), { amount: 2, id: KS.id, B_: notPoint }]), BINDING), 'E_BAD_BLINDED_MESSAGE')).toBe('output 1: B_ is not a point on secp256k1');
  });

  it('the user\'s signature: absent, another key\'s, over other outputs, or no mint nonce → refused', async () => {
    const r = request([out(1, 1), out(2, 2)]);
    const { outputs_signature: _s, ...unsigned } = r;
    expect(await refusedAsync(checkOutputs(mint(), unsigned, BINDING), 'E_OUTPUTS_SIGNATURE')).toMatch(/^the request's outputs carry no signature by the user/);
    expect(await refusedAsync(checkOutputs(mint(), r, { ...BINDING, userPubkey: secp256k1.getPublicKey(new Uint8Array(32).fill(8), true) }), 'E_OUTPUTS_SIGNATURE')).toMatch(/^the outputs_signature is not the contract user's signature over these outputs for state 3/);
    expect(await refusedAsync(checkOutputs(mint(), { ...r, outputs: [out(1, 1), out(2, 9)] }, BINDING), 'E_OUTPUTS_SIGNATURE')).toMatch(/^the outputs_signature is not/);
    expect(await refusedAsync(checkOutputs(mint(), { ...r, outputs_signature: 'zz' }, BINDING), 'E_OUTPUTS_SIGNATURE')).toMatch(/^the outputs_signature is not/);
    expect(await refusedAsync(checkOutputs(mint(), r, { ...BINDING, mintPubnonce: undefined }), 'E_MISSING_NONCES')).toBe('the PSBT does not carry the mint\'s public nonce');
  });
});

describe('checkOutputs: a point signed before', () => {
  const a = out(1, 1);
  const b = out(2, 2);
  it('for this contract and state (a replay): checked through; for another state or contract: refused, either encoding, naming where', async () => {
    expect(await checkOutputs(mint({ [a.B_]: { contract_id: CONTRACT, state: 3 } }), request([a, b]), BINDING)).toHaveLength(2);
    expect(await refusedAsync(checkOutputs(mint({ [b.B_]: { contract_id: CONTRACT, state: 2 } }), request([a, b]), BINDING), 'E_BLINDED_MESSAGE_REUSED'))
      .toBe(`output 1: this B_ was already signed (contract ${CONTRACT}, state 2); a point is signed once`);
    expect(await refusedAsync(checkOutputs(mint({ [negatedPointHex(a.B_)]: { contract_id: 'd1'.repeat(32), state: 3 } }), request([a, b]), BINDING), 'E_BLINDED_MESSAGE_REUSED'))
      .toBe(`output 0: this B_'s negation was already signed (contract ${'d1'.repeat(32)}, state 3); a point is signed once`);
  });
  it('every output\'s B_ and its negation asked of the store in one read (not one read a point), the first owner found in output order refused', async () => {
    const outputs = [out(1, 1), out(2, 2), out(4, 3), out(8, 4), out(16, 5)];
    const asked: string[][] = [];
    const owners: Record<string, { contract_id: string; state: number }> = { [negatedPointHex(outputs[3]!.B_)]: { contract_id: CONTRACT, state: 1 }, [outputs[4]!.B_]: { contract_id: CONTRACT, state: 2 } };
    const store = { signedBlindedMessages: async (B_s: string[]) => (asked.push(B_s), B_s.filter((B_) => owners[B_]).map((B_) => ({ B_, ...owners[B_]!, keyset_id: KS.id, amount: 1, C_: null }))) };
    expect(await refusedAsync(checkOutputs({ ecash: { keyset: KS, signatures: store } }, request(outputs), BINDING), 'E_BLINDED_MESSAGE_REUSED'))
      .toBe(`output 3: this B_'s negation was already signed (contract ${CONTRACT}, state 1); a point is signed once`);
    expect(asked).toEqual([outputs.flatMap((o) => [o.B_, (o.B_.startsWith('02') ? '03' : '02') + o.B_.slice(2)])]);
  });
});

describe('the offer a mint publishes', () => {
  const keyset = { id: KS.id, unit: 'sat', input_fee_ppk: 0, final_expiry: null, keys: KS.keys };
  it('a URL that is not one, or not http(s) → E_BAD_MINT_URL; a unit other than sat → E_USAGE', () => {
    for (const [u, m] of [['not a url', '--mint-url not a url is not a URL'], ['ftp://mint.example', '--mint-url ftp://mint.example is not an http(s) URL']] as const) {
      const e = thrown(() => ecashOffer(keyset, u));
      expect([e.code, e.message]).toEqual(['E_BAD_MINT_URL', m]);
    }
    expect(ecashOffer(keyset, 'http://mint.example').mint_url).toBe('http://mint.example');
    expect(ecashOffer(keyset, 'http://mint.example').unit).toBe('sat');
    const e = thrown(() => ecashOffer({ ...keyset, unit: 'usd' }, 'https://mint.example'));
    expect([e.code, e.message]).toEqual(['E_USAGE', `the credit contract pays in sat; keyset ${KS.id} is in usd`]);
  });

  it('its fields: the fee always, the final expiry only when there is one, the keys as NUT-01\'s object', () => {
    const o = ecashOffer(keyset, 'https://mint.example');
    expect(Object.keys(o)).toEqual(['mint_url', 'unit', 'keyset_id', 'input_fee_ppk', 'keys']);
    expect(o.keys['1']).toBe(hexOf(KS.keys.get(1n)!));
    expect(Object.keys(o.keys)).toEqual(['1', '2', '4', '8', '16', '32', '64', '128']);
    expect(ecashOffer({ ...keyset, final_expiry: 0 }, 'https://mint.example').final_expiry).toBe(0);
    expect(ecashOffer({ ...keyset, keys: o.keys }, 'https://mint.example').keys).toBe(o.keys);
  });
});

describe('the digest and the negated point', () => {
  const a = { contract_id: CONTRACT, state: 3, txid: TXID, mint_pubnonce: NONCE, amount_sat: 1, cumulative_sat: 1, outputs: [out(1, 1)] };
  it('a field that is not hex is refused naming it', () => {
    const named = (over: object, code: string, message: string) => {
      const e = thrown(() => outputsDigest({ ...a, ...over }));
      expect([e.code, e.message]).toEqual([code, message]);
    };
    named({ contract_id: 'zz' }, 'E_BAD_HEX', 'contract_id is not valid hex');
    named({ txid: 'zz' }, 'E_BAD_HEX', 'txid is not valid hex');
    named({ outputs: [out(1, 1), { amount: 1, id: 'zz', B_: point(2) }] }, 'E_BAD_HEX', 'outputs[1].id is not valid hex');
    named({ outputs: [{ amount: 1, id: KS.id, B_: '02ab' }] }, 'E_BAD_LENGTH', 'outputs[0].B_ must be 33 bytes, got 2');
  });

  it('at most 65535 outputs (a u16 count): 65536 refused', () => {
    const o = out(1, 1);
    expect(outputsDigest({ ...a, outputs: Array(0xffff).fill(o) })).toHaveLength(32);
    const e = thrown(() => outputsDigest({ ...a, outputs: Array(0x10000).fill(o) }));
    expect([e.code, e.message]).toEqual(['E_ECASH_OUTPUTS', 'too many outputs (65536; a payment carries 1–64)']);
  });

  it('negatedPointHex flips 02 ↔ 03 and keeps x', () => {
    expect(negatedPointHex('02' + 'ab'.repeat(32))).toBe('03' + 'ab'.repeat(32));
    expect(negatedPointHex('03' + 'ab'.repeat(32))).toBe('02' + 'ab'.repeat(32));
  });
});

describe('the user: checking an offer, adopting nothing, receiving signatures', () => {
  const SEED = new Uint8Array(64).fill(3);
  const offer = { ...ecashOffer({ id: KS.id, unit: 'sat', input_fee_ppk: KS.input_fee_ppk, final_expiry: KS.final_expiry, keys: KS.keys }, 'https://mint.example'), counter: 10 };
  /** Outputs at counter 10, 11, … written from NUT-13 and NUT-00 (nut13.ts, nut00.ts: vector-tested), not makeOutputs. */
  const outputs = (amounts: number[], counter = 10): BlindedMessageJson[] =>
    amounts.map((amount, i) => {
      const { secret, r } = deriveSecret(SEED, KS.id, counter + i);
      return { amount, id: KS.id, B_: hexOf(compressed(blindMessage(secretPoint(secret), r))) };
    });
  /** The mint's answer with the keyset's private keys (nut00, nut12). */
  const sign = (os: BlindedMessageJson[]): BlindSignatureJson[] =>
    os.map((o) => {
      const k = KS.privateKeys.get(BigInt(o.amount))!;
      const B_ = pointFromHex(o.B_, 'B_');
      const C_ = signBlindedMessage(k, B_);
      const d = createDleq(k, B_, C_);
      return { amount: o.amount, id: KS.id, C_: hexOf(compressed(C_)), dleq: { e: hexOf(d.e), s: hexOf(d.s) } };
    });
  const refused = (fn: () => unknown, code: string) => {
    const e = thrown(fn);
    expect(e.code, e.message).toBe(code);
    return e.message;
  };

  it('makeOutputs: the amount\'s powers of two, largest first, at counter, counter + 1, …', () => {
    expect(makeOutputs(SEED, KS.id, 10, 13n)).toEqual(outputs([8, 4, 1]));
  });

  it('checkEcashOffer: the offer\'s id and points; keys that hash elsewhere refused naming both ids', () => {
    const c = checkEcashOffer(offer);
    expect(c.id).toBe(KS.id);
    expect(equals(c.points.get(2n)!, mulBase(KS.privateKeys.get(2n)!))).toBe(true);
    const swapped = { ...offer, keys: { ...offer.keys, '1': offer.keys['2']! } };
    expect(refused(() => checkEcashOffer(swapped), 'E_KEYSET_ID_MISMATCH')).toMatch(new RegExp(`^the keyset's keys \\(unit sat, fee 0\\) hash to keyset 01[0-9a-f]{64}, not the ${KS.id} it names$`.replace('fee 0', 'fee 100')));
    const { input_fee_ppk: _f, ...noFee } = swapped;
    expect(refused(() => checkEcashOffer(noFee), 'E_KEYSET_ID_MISMATCH')).toContain('(unit sat, fee 0)');
    expect(refused(() => checkEcashOffer({ ...offer, keyset_id: 'xx' }), 'E_KEYSET_ID_MISMATCH')).toBe(`the keyset's keys (unit sat, fee 100) hash to keyset no NUT-02 id (version 00 or 01), not the xx it names`);
  });

  it('keysetOfOutputs: the previous keyset only for outputs under its id', () => {
    const prev = { keyset_id: '00' + 'ab'.repeat(7), unit: 'sat' as const, input_fee_ppk: 0, final_expiry: null, keys: offer.keys };
    const e = { ...offer, previous_keyset: prev };
    expect(keysetOfOutputs(e, [{ amount: 1, id: prev.keyset_id, B_: point(1) }])).toBe(prev);
    expect(keysetOfOutputs(e, outputs([1]))).toBe(e);
    expect(keysetOfOutputs(e, [])).toBe(e);
    expect(keysetOfOutputs(offer, [{ amount: 1, id: prev.keyset_id, B_: point(1) }])).toBe(offer);
    expect(keysetOfOutputs(offer, [])).toBe(offer); // no previous keyset and no outputs: still the record's
  });

  describe('adoptKeyset: what is not a rotation', () => {
    const MINT_SK = new Uint8Array(32).fill(11);
    const from = { contractId: CONTRACT, state: 5, mintPubkey: secp256k1.getPublicKey(MINT_SK, true) };
    const announce = (k: { id: string; unit: string; input_fee_ppk: number; final_expiry: number | null; keys: Record<string, string> }) =>
      signAnnouncement(k, CONTRACT, 5, MINT_SK, new Uint8Array(32).fill(9));
    it('a keyset in another unit, its id right for that unit → refused naming both units', () => {
      const usd = deriveMintKeyset('ecash-mutants seed', { amounts: 8, unit: 'usd', path: "m/0'/0'/1'" });
      const next = announce({ id: usd.id, unit: 'usd', input_fee_ppk: usd.input_fee_ppk, final_expiry: null, keys: keysObject(usd.keys) });
      expect(refused(() => adoptKeyset(offer, next, from), 'E_BAD_NEXT_KEYSET')).toBe(`the receipt announces keyset ${usd.id} in usd, this contract takes sat`);
    });
    it('the same keys under another id (their version-00 id) → refused naming the shared key', () => {
      const v00 = keysetId('00', KS.keys, { unit: 'sat' }); // input: an id anyone can compute from the public keys
      const next = announce({ id: v00, unit: 'sat', input_fee_ppk: 0, final_expiry: null, keys: offer.keys });
      expect(refused(() => adoptKeyset(offer, next, from), 'E_BAD_NEXT_KEYSET')).toBe(
        `the receipt announces keyset ${v00} with the keys this contract already issues under (keyset ${KS.id}; the key of 1): the same keys under another id are not a rotation; not adopted, nothing kept`,
      );
      // one key changed is still the same keyset re-labelled
      const one = { ...keysObject(deriveMintKeyset('another seed', { amounts: 8 }).keys), '4': offer.keys['4']! };
      const next2 = announce({ id: keysetId('00', new Map(Object.entries(one).map(([a, k]) => [BigInt(a), Buffer.from(k, 'hex')])), { unit: 'sat' }), unit: 'sat', input_fee_ppk: 0, final_expiry: null, keys: one });
      expect(refused(() => adoptKeyset(offer, next2, from), 'E_BAD_NEXT_KEYSET')).toContain('(keyset ' + KS.id + '; the key of 4)');
    });
  });

  it('receiveSignatures: proofs C = k·Y with the DLEQ and r, in order', () => {
    const os = outputs([8, 4, 1]);
    const proofs = receiveSignatures(SEED, offer, { counter: 10, outputs: os }, sign(os));
    expect(proofs.map((p) => [p.id, p.amount, p.secret])).toEqual(os.map((o, i) => [KS.id, BigInt(o.amount), deriveSecret(SEED, KS.id, 10 + i).secret]));
    for (const [i, p] of proofs.entries()) {
      const k = KS.privateKeys.get(p.amount)!;
      expect(hexOf(p.C)).toBe(hexOf(compressed(mulSecret(secretPoint(p.secret), k))));
      expect(hexOf(p.dleq!.r!)).toBe(deriveSecret(SEED, KS.id, 10 + i).r.toString(16).padStart(64, '0'));
      expect(hexOf(p.dleq!.e)).toBe(sign(os)[i]!.dleq.e);
    }
  });

  it('receiveSignatures refuses: a count off, a signature for another amount or keyset, another seed, C_ not a point, a DLEQ for another key', () => {
    const os = outputs([8, 4]);
    const sigs = sign(os);
    const pending = { counter: 10, outputs: os };
    expect(refused(() => receiveSignatures(SEED, offer, pending, sigs.slice(0, 1)), 'E_BAD_SIGNATURES')).toBe('the receipt carries 1 blind signatures for 2 outputs');
    expect(refused(() => receiveSignatures(SEED, offer, pending, undefined), 'E_BAD_SIGNATURES')).toBe('the receipt carries 0 blind signatures for 2 outputs');
    expect(refused(() => receiveSignatures(SEED, offer, pending, [sigs[0]!, { ...sigs[1]!, amount: 8 }]), 'E_BAD_SIGNATURES')).toBe('signature 1 is for 8 under ' + KS.id + ', the output for 4 under ' + KS.id);
    expect(refused(() => receiveSignatures(SEED, offer, pending, [sigs[0]!, { ...sigs[1]!, id: '00' + 'ab'.repeat(7) }]), 'E_BAD_SIGNATURES')).toBe(`signature 1 is for 4 under 00${'ab'.repeat(7)}, the output for 4 under ${KS.id}`);
    expect(refused(() => receiveSignatures(new Uint8Array(64).fill(4), offer, pending, sigs), 'E_WRONG_WALLET_SEED')).toBe('output 0 does not derive from this wallet seed at counter 10: give the seed the request was made with');
    // output 1 made at counter 11, not the 10 (= 9 + 1) the pending record says: the second is checked at counter + 1
    const mixed = [outputs([8], 9)[0]!, outputs([8, 4], 10)[1]!];
    expect(refused(() => receiveSignatures(SEED, offer, { counter: 9, outputs: mixed }, sign(mixed)), 'E_WRONG_WALLET_SEED')).toBe('output 1 does not derive from this wallet seed at counter 10: give the seed the request was made with');
    expect(refused(() => receiveSignatures(SEED, offer, pending, [sigs[0]!, { ...sigs[1]!, C_: '02' + 'ff'.repeat(32) }]), 'E_BAD_DLEQ')).toBe('signature 1: C_ is not a point');
    expect(refused(() => receiveSignatures(SEED, offer, pending, [sigs[0]!, { ...sigs[1]!, dleq: sigs[0]!.dleq }]), 'E_BAD_DLEQ')).toMatch(/^signature 1 \(4 sat\): its DLEQ proof does not show/);
    expect(refused(() => receiveSignatures(SEED, offer, pending, [sigs[0]!, { ...sigs[1]!, dleq: { ...sigs[1]!.dleq, e: 'ab' } }]), 'E_BAD_LENGTH')).toBe('dleq.e must be 32 bytes, got 1');
    expect(refused(() => receiveSignatures(SEED, offer, pending, [sigs[0]!, { ...sigs[1]!, dleq: { ...sigs[1]!.dleq, s: 'ab' } }]), 'E_BAD_LENGTH')).toBe('dleq.s must be 32 bytes, got 1');
  });
});

