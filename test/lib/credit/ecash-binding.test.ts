/**
 * Outputs bound to the payer (issue 36, found 1): whoever holds a copy of the user's
 * update request before the mint sees it — a relay, a queue file, a log, a proxy — must
 * not get the mint to sign its own blinded messages with the user's payment. The user
 * signs its outputs (BIP-340, its contract key, the tagged hash "offchain/credit/v1/outputs"
 * over contract, state, txid, mint nonce, amounts and every output); the mint refuses
 * outputs that signature does not cover, with nothing written and the nonce unused, and
 * the genuine request then goes through on that same nonce.
 *
 * Invariants, by name: a relay's outputs are never signed; a refused request writes
 * nothing and leaves the nonce usable; the signature is the documented digest (checked by
 * test code: node:crypto's SHA-256 and the test-code BIP-340 verifier); outputs of an
 * abandoned request cannot ride on the next nonce; a request recorded before the binding
 * is resent signed. Property: a relay mutating any field of a request gets a coded
 * refusal and nothing written, or (never seen) the user's own outputs signed.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { base64 } from '@scure/base';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import { makeOutputs, outputsDigest } from '../../../src/lib/credit/ecash.ts';
import { abandonRequest, acceptAbandon, applyAbandoned } from '../../../src/lib/credit/abandon.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { decodeMessage } from '../../../src/lib/message.ts';
import { UpdateRequestSchema } from '../../../src/lib/credit/schemas.ts';
import { readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { parsePsbtBase64 } from '../../../src/lib/psbt/parse.ts';
import { TEST_CODE_VERIFIER } from '../../independent/schnorr.ts';
import { creditOutputsDigest } from '../../independent/cashu.ts';
import { expectRefused } from './tamper.ts';
import { KS, ecashWorld, memorySink, open, redeemable, type UpdateRequest, type W } from './ecash-world.ts';
import { MINT, USER } from './world.ts';

const RELAY_SEED = fromHex('e7'.repeat(64));

/** The relay's own blinded messages for the same amounts (it knows their secrets). */
function relayOutputs(req: UpdateRequest, counter = 0): UpdateRequest['outputs'] {
  return makeOutputs(RELAY_SEED, KS.id, counter, BigInt(req.amount_sat));
}

async function nonceStatus(w: W, id: string): Promise<string> {
  return w.mint.nonces.status(fromHex((await w.userBook.get(id))!.mint_nonce!.pubnonce));
}

/** The mint's step as the CLI runs it: decoded by the schema, in one store step. */
function serve(w: W, message: unknown) {
  return w.mintBook.step(() => mint.acceptUpdate(w.mint, decodeMessage(UpdateRequestSchema, message)));
}

describe('a relay\'s outputs are never signed', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('the relay\'s swapped request is refused (E_OUTPUTS_SIGNATURE), nothing written, the nonce unused; the genuine one then succeeds on the same nonce', async () => {
    const id = await open(w);
    const genuine = await user.updateRequest(w.user, id, 1000n) as UpdateRequest;
    const swapped = { ...genuine, outputs: relayOutputs(genuine) };
    expect(swapped.outputs.map((o) => o.amount)).toEqual(genuine.outputs.map((o) => o.amount));
    const err = await expectRefused(w.dir.path, () => serve(w, swapped), { code: 'E_OUTPUTS_SIGNATURE', exitCode: 4, message: /not the contract user's signature/ });
    expect(err.message).toContain('state 1');
    expect(await nonceStatus(w, id)).toBe('unused');
    for (const o of swapped.outputs) expect(await w.mintBook.blindSignatureOwner(o.B_)).toBeUndefined();
    // the relay strips the signature too: refused the same way
    const { outputs_signature: _s, ...stripped } = swapped;
    await expectRefused(w.dir.path, () => serve(w, stripped), { code: 'E_OUTPUTS_SIGNATURE', exitCode: 4, message: /carry no signature by the user/ });
    expect(await nonceStatus(w, id)).toBe('unused');
    // the genuine request, on the nonce the relay did not burn
    const receipt = await serve(w, genuine);
    const sink = memorySink();
    await user.applyReceipt(w.user, receipt as never, sink);
    expect(redeemable(sink.token!)).toBe(1000n);
    // the relay's copy sent after the genuine one: the stored receipt (the user's signatures), nothing new
    const digest = w.mintBook.contentDigest();
    expect(JSON.stringify(await serve(w, swapped))).toBe(JSON.stringify(receipt));
    expect(w.mintBook.contentDigest()).toBe(digest);
  });

  it('the outputs of an abandoned request cannot ride on the next nonce (same state, same txid, other nonce)', async () => {
    const id = await open(w);
    w.chain.utxos.clear(); // the funding vanishes: the mint refuses the first request
    const first = await user.updateRequest(w.user, id, 700n) as UpdateRequest;
    await expect(serve(w, first)).rejects.toMatchObject({ code: 'E_FUNDING_MISSING' });
    const abandon = await abandonRequest(w.user, id);
    await applyAbandoned(w.user, await w.mintBook.step(() => acceptAbandon(w.mint, abandon as never)) as never);
    const c = termsFromJson((await w.userBook.get(id))!.contract, 'regtest');
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
    const second = await user.updateRequest(w.user, id, 700n) as UpdateRequest;
    // same amount at the same state: the same state transaction, so the same txid
    expect(parsePsbtBase64(second.psbt, 'psbt').id).toBe(parsePsbtBase64(first.psbt, 'psbt').id);
    expect(second.outputs[0]!.B_).not.toBe(first.outputs[0]!.B_);
    // a relay holding both: the new PSBT (signed against the fresh nonce) with the old outputs and their signature
    const spliced = { ...second, outputs: first.outputs, outputs_signature: first.outputs_signature };
    await expectRefused(w.dir.path, () => serve(w, spliced), { code: 'E_OUTPUTS_SIGNATURE', exitCode: 4, message: /not the contract user's signature/ });
    expect(await nonceStatus(w, id)).toBe('unused');
    const sink = memorySink();
    await user.applyReceipt(w.user, await serve(w, second) as never, sink);
    expect(redeemable(sink.token!)).toBe(700n);
  });

  it('a request recorded before requests carried the signature is resent with its outputs signed: the same outputs, accepted', async () => {
    const id = await open(w);
    const sent = await user.updateRequest(w.user, id, 333n) as UpdateRequest;
    // what an older version left in the user's record: the pending request without outputs_signature
    const r = (await w.userBook.get(id))!;
    const { outputs_signature: _s, ...legacy } = sent;
    await w.userBook.put({ ...r, pending: { ...r.pending!, request: legacy } });
    await expectRefused(w.dir.path, () => serve(w, legacy), { code: 'E_OUTPUTS_SIGNATURE', exitCode: 4, message: /carry no signature/ });
    const resent = await user.updateRequest(w.user, id, 333n) as UpdateRequest;
    expect(resent.outputs).toEqual(sent.outputs);
    expect(resent.psbt).toBe(sent.psbt);
    expect(resent.outputs_signature).toMatch(/^[0-9a-f]{128}$/);
    // kept: the next resend is the same bytes
    expect(await user.updateRequest(w.user, id, 333n)).toEqual(resent);
    const sink = memorySink();
    await user.applyReceipt(w.user, await serve(w, resent) as never, sink);
    expect(redeemable(sink.token!)).toBe(333n);
  });
});

describe('the signature is the documented digest', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  // Written from docs/ecash.md with node:crypto, not src/'s tagged hash (test/independent/cashu.ts).
  const specDigest = creditOutputsDigest;

  it('a BIP-340 signature by the user\'s key over the tagged hash of every field; one flipped bit fails', async () => {
    const id = await open(w);
    const req = await user.updateRequest(w.user, id, 1234n) as UpdateRequest;
    const tx = parsePsbtBase64(req.psbt, 'psbt');
    const input = readMusigInput(tx, 0);
    const mintNonce = input.pubnonces[input.key.participants.findIndex((k) => toHex(k) === toHex(MINT.publicKey))]!;
    expect(toHex(mintNonce)).toBe((await w.userBook.get(id))!.mint_nonce!.pubnonce);
    const digest = specDigest(req, tx.id, mintNonce);
    const sig = fromHex(req.outputs_signature!);
    expect(TEST_CODE_VERIFIER.verify(sig, digest, USER.publicKey.subarray(1))).toBe(true);
    const flipped = Uint8Array.from(sig);
    flipped[17] = flipped[17]! ^ 1;
    expect(TEST_CODE_VERIFIER.verify(flipped, digest, USER.publicKey.subarray(1))).toBe(false);
    // the mint's key does not verify it, nor the contract's aggregate key
    expect(TEST_CODE_VERIFIER.verify(sig, digest, MINT.publicKey.subarray(1))).toBe(false);
    const other = specDigest({ ...req, state: req.state + 1 }, tx.id, mintNonce);
    expect(TEST_CODE_VERIFIER.verify(sig, other, USER.publicKey.subarray(1))).toBe(false);
  });

  it('more outputs than its u16 count can say: E_ECASH_OUTPUTS, exit 4 (a refusal, as the mint\'s of over 64)', () => {
    const o = { amount: 1, id: KS.id, B_: '02' + '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798' };
    const a = { contract_id: '00'.repeat(32), state: 1, txid: '00'.repeat(32), mint_pubnonce: new Uint8Array(66), amount_sat: 0x10000, cumulative_sat: 0x10000, outputs: Array.from({ length: 0x10000 }, () => o) };
    expect(() => outputsDigest(a)).toThrow(expect.objectContaining({ code: 'E_ECASH_OUTPUTS', exitCode: 4, message: 'too many outputs (65536; a payment carries 1–64)' }));
  });
});

type Mutation = { kind: string; apply: (r: UpdateRequest) => unknown; codes?: string[] };


const flipHex = (s: string, at: number): string => {
  const i = at % s.length;
  const c = s[i]!;
  return s.slice(0, i) + (c === '0' ? '1' : '0') + s.slice(i + 1);
};

/** One change a relay can make to a request, and the refusal codes test code expects for it (any code where it cannot tell). */
const mutations = (at: number, n: number): Mutation[] => {
  const pick = <T>(xs: T[]) => xs[at % xs.length]!;
  return [
    { kind: 'outputs: all the relay\'s', apply: (r) => ({ ...r, outputs: relayOutputs(r, at) }), codes: ['E_OUTPUTS_SIGNATURE'] },
    { kind: 'outputs: one B_ the relay\'s', apply: (r) => ({ ...r, outputs: r.outputs.map((o, i) => (i === at % r.outputs.length ? { ...o, B_: makeOutputs(RELAY_SEED, KS.id, at, BigInt(o.amount))[0]!.B_ } : o)) }), codes: ['E_OUTPUTS_SIGNATURE'] },
    { kind: 'outputs: one B_ negated', apply: (r) => ({ ...r, outputs: r.outputs.map((o, i) => (i === at % r.outputs.length ? { ...o, B_: (o.B_.startsWith('02') ? '03' : '02') + o.B_.slice(2) } : o)) }), codes: ['E_OUTPUTS_SIGNATURE'] },
    { kind: 'outputs: one B_ character', apply: (r) => ({ ...r, outputs: r.outputs.map((o, i) => (i === at % r.outputs.length ? { ...o, B_: o.B_.slice(0, 2) + flipHex(o.B_.slice(2), n) } : o)) }), codes: ['E_OUTPUTS_SIGNATURE', 'E_BAD_BLINDED_MESSAGE'] },
    { kind: 'outputs: one amount', apply: (r) => ({ ...r, outputs: r.outputs.map((o, i) => (i === at % r.outputs.length ? { ...o, amount: o.amount === 1 ? 2 : o.amount / 2 } : o)) }), codes: ['E_ECASH_OUTPUTS'] },
    { kind: 'outputs: one id', apply: (r) => ({ ...r, outputs: r.outputs.map((o, i) => (i === at % r.outputs.length ? { ...o, id: o.id.slice(0, 2) + flipHex(o.id.slice(2), n) } : o)) }), codes: ['E_UNKNOWN_KEYSET'] },
    { kind: 'outputs: reversed', apply: (r) => ({ ...r, outputs: [...r.outputs].reverse() }), codes: ['E_OUTPUTS_SIGNATURE'] },
    { kind: 'outputs: one dropped', apply: (r) => ({ ...r, outputs: r.outputs.filter((_, i) => i !== at % r.outputs.length) }), codes: ['E_ECASH_OUTPUTS', 'E_MALFORMED_MESSAGE'] },
    { kind: 'outputs: a relay\'s added', apply: (r) => ({ ...r, outputs: [...r.outputs, makeOutputs(RELAY_SEED, KS.id, at, 1n)[0]!] }), codes: ['E_ECASH_OUTPUTS'] },
    { kind: 'outputs: absent', apply: (r) => { const { outputs: _o, outputs_signature: _s, ...rest } = r; return rest; }, codes: ['E_ECASH_OUTPUTS'] },
    { kind: 'outputs_signature: one character', apply: (r) => ({ ...r, outputs_signature: flipHex(r.outputs_signature!, n) }), codes: ['E_OUTPUTS_SIGNATURE'] },
    { kind: 'outputs_signature: absent', apply: (r) => { const { outputs_signature: _s, ...rest } = r; return rest; }, codes: ['E_OUTPUTS_SIGNATURE'] },
    { kind: 'psbt: one byte', apply: (r) => { const b = base64.decode(r.psbt); b[n % b.length] = b[n % b.length]! ^ (1 << (at % 8)); return { ...r, psbt: base64.encode(b) }; } },
    { kind: 'a number field', apply: (r) => { const k = pick(['state', 'amount_sat', 'cumulative_sat', 'version'] as const); return { ...r, [k]: r[k] + 1 + (n % 3) }; } },
    { kind: 'a string field', apply: (r) => { const k = pick(['type', 'network', 'contract_id'] as const); return { ...r, [k]: k === 'network' ? 'signet' : k === 'type' ? 'credit/close-request' : flipHex(r[k], n) }; } },
    { kind: 'a field dropped', apply: (r) => { const k = pick(['state', 'amount_sat', 'cumulative_sat', 'psbt', 'contract_id'] as const); const copy: Record<string, unknown> = { ...r }; delete copy[k]; return copy; }, codes: ['E_MALFORMED_MESSAGE'] },
    { kind: 'a field added', apply: (r) => ({ ...r, relay: 'hello' }), codes: ['E_MALFORMED_MESSAGE'] },
  ];
};

const RUNS = Number(process.env.CREDIT_PROPERTY_RUNS ?? 20);

describe('property: a relay mutating any field of a request', () => {
  const w = ecashWorld(fromHex('5c'.repeat(64)));
  afterAll(() => w.dir.cleanup());

  it('is refused with a code, nothing written, the nonce unused — then the genuine request is signed on that nonce and its token redeems', async () => {
    const id = await open(w);
    await user.applyReceipt(w.user, await serve(w, await user.updateRequest(w.user, id, 400n)) as never, memorySink()); // the mint's first state is not dust
    const refused = new Map<string, number>();
    let genuineSigned = 0;
    await fc.assert(fc.asyncProperty(fc.integer({ min: 2, max: 9000 }), fc.nat(1000), fc.nat(1000), async (amount, at, n) => {
      const genuine = await user.updateRequest(w.user, id, BigInt(amount)) as UpdateRequest;
      for (const m of mutations(at, n)) {
        if (m.kind === 'outputs: reversed' && genuine.outputs.length < 2) continue;
        const mutated = m.apply(JSON.parse(JSON.stringify(genuine)) as UpdateRequest);
        expect(JSON.stringify(mutated)).not.toBe(JSON.stringify(genuine));
        const digest = w.mintBook.contentDigest();
        const e = await serve(w, mutated).then((r) => new Error(`${m.kind}: accepted, ${JSON.stringify(r).slice(0, 200)}`), (x: unknown) => x);
        expect(e, `${m.kind}: ${String(e)}`).toBeInstanceOf(OffchainError);
        const { code, exitCode, message } = e as OffchainError;
        expect(code).toMatch(/^E_[A-Z0-9_]+$/);
        expect([3, 4, 5], message).toContain(exitCode);
        if (m.codes) expect(m.codes, `${m.kind}: ${code}: ${message}`).toContain(code);
        expect(w.mintBook.contentDigest(), m.kind).toBe(digest);
        expect(await nonceStatus(w, id), m.kind).toBe('unused');
        refused.set(m.kind, (refused.get(m.kind) ?? 0) + 1);
      }
      const sink = memorySink();
      await user.applyReceipt(w.user, await serve(w, genuine) as never, sink);
      expect(redeemable(sink.token!)).toBe(BigInt(amount));
      genuineSigned++;
    }), { numRuns: RUNS });
    // both outcomes occurred: every kind of change was refused, every genuine request signed
    expect([...refused.keys()].sort()).toEqual(mutations(0, 0).map((m) => m.kind).sort());
    expect(genuineSigned).toBe(RUNS);
  }, 120_000);
});
