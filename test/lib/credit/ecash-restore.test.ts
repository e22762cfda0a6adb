/**
 * NUT-09 restore by the credit mint (issue 36, finding 5): a wallet that lost its tokens
 * regenerates its blinded messages from its NUT-13 seed and gets back the signatures the
 * mint made — the same blinded messages, the same signatures, nothing else.
 *
 * Invariants, by name: exactly the signed outputs are answered, in the request's order,
 * with the receipt's signatures byte for byte, whatever amount and id the wallet asks
 * with; nothing for a B_ never signed or its negation; nothing is written; a signed output
 * under a keyset the mint was not given is E_WRONG_KEY; a malformed request is
 * E_MALFORMED_MESSAGE. Independent checks: the NUT-13 vectors' secrets and blinding
 * factors (test/vectors/cashu/nut13.json, the wallet seed from their mnemonic with
 * node:crypto's PBKDF2) give the blinded messages and unblind the answer — by test code
 * (test/independent/) — into proofs the test-code Nutshell mint accepts; and cashu-ts's
 * own wallet restores from its seed through the mint's answer.
 */
import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JSONInt, Mint, Wallet } from '@cashu/cashu-ts';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { hashToCurve, nutshellAccepts, nutshellKeyset } from '../../independent/cashu.ts';
import { G, decodeCompressed, encodeCompressed, int, pointAdd, pointMul, pointNegate } from '../../independent/secp256k1.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import { makeOutputs } from '../../../src/lib/credit/ecash.ts';
import { Value } from '@sinclair/typebox/value';
import { MAX_RESTORE_OUTPUTS, readRestoreRequest, restoreSignatures } from '../../../src/lib/credit/ecash-restore.ts';
import { RestoreRequestSchema } from '../../../src/lib/credit/schemas-ecash.ts';
import { deriveMintKeyset, keysAnswer } from '../../../src/lib/ecash/nut01.ts';
import { decodeToken } from '../../../src/lib/ecash/token.ts';
import { KS, NUTSHELL, SEED, ecashWorld, memorySink, open, type UpdateRequest, type W } from './ecash-world.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const V13 = JSON.parse(readFileSync(join(ROOT, 'test/vectors/cashu/nut13.json'), 'utf8'));
/** BIP-39: the seed of a mnemonic (no passphrase), by node:crypto. */
const bip39Seed = (mnemonic: string) => new Uint8Array(pbkdf2Sync(Buffer.from(mnemonic.normalize('NFKD')), Buffer.from('mnemonic'), 2048, 64, 'sha512'));
/** B_ = hash_to_curve(secret) + r·G, by test code. */
const blindByTestCode = (secret: string, r: string) => hex(encodeCompressed(pointAdd(hashToCurve(Buffer.from(secret, 'utf8')), pointMul(G, int(Buffer.from(r, 'hex'))))));
const negate = (B_: string) => (B_.startsWith('02') ? '03' : '02') + B_.slice(2);

async function pay(w: W, id: string, amount: bigint): Promise<{ request: UpdateRequest; receipt: Awaited<ReturnType<typeof mint.acceptUpdate>>; token: string }> {
  const request = await user.updateRequest(w.user, id, amount) as UpdateRequest;
  const receipt = await w.mintBook.step(() => mint.acceptUpdate(w.mint, request as never));
  const sink = memorySink();
  await user.applyReceipt(w.user, receipt as never, sink);
  return { request, receipt, token: sink.token! };
}

describe('the same blinded messages get the same signatures, nothing else', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('every signed output in the request\'s order with its receipt\'s signature byte for byte; nothing for never-signed or negated B_; nothing written', async () => {
    const a = await open(w);
    const b = await open(w);
    const paid = [await pay(w, a, 1000n), await pay(w, b, 515n), await pay(w, a, 7n)];
    const signed = paid.flatMap((p) => p.request.outputs.map((o, i) => ({ o, s: p.receipt.signatures![i]! })));
    expect(signed).toHaveLength(6 + 3 + 3);
    const never = makeOutputs(new Uint8Array(64).fill(9), KS.id, 0, 1000n).map((o) => ({ ...o, amount: 0 }));
    // a wallet asks with amount 0 and whatever id it tries; interleaved with outputs never signed and negations of signed ones
    const asked = signed.flatMap(({ o }, i) => [{ amount: 0, id: i % 2 ? KS.id : '00ffffffffffffff', B_: o.B_ }, ...(i < never.length ? [never[i]!, { ...never[i]!, B_: negate(o.B_) }] : [])]);
    const digest = w.mintBook.contentDigest();
    const answer = await restoreSignatures(w.mintBook, [KS], readRestoreRequest(JSON.parse(JSON.stringify({ outputs: asked }))));
    expect(w.mintBook.contentDigest()).toBe(digest);
    expect(answer.outputs).toEqual(asked.filter((o) => signed.some((s) => s.o.B_ === o.B_)));
    expect(JSON.stringify(answer.signatures)).toBe(JSON.stringify(signed.map((s) => s.s)));
    // an empty request, and one of only unknown outputs: empty answers
    expect(await restoreSignatures(w.mintBook, [KS], { outputs: [] })).toEqual({ outputs: [], signatures: [] });
    expect(await restoreSignatures(w.mintBook, [KS], { outputs: never })).toEqual({ outputs: [], signatures: [] });
  });

  it('property: any request mixing signed outputs, never-signed ones and negations, in any order and with any amount or id, is answered with exactly the signed ones, in that order, with the receipt\'s bytes', async () => {
    const id = await open(w);
    const paid = [await pay(w, id, 777n), await pay(w, id, 35n)];
    const signed = new Map(paid.flatMap((p) => p.request.outputs.map((o, i) => [o.B_, p.receipt.signatures![i]!] as const)));
    const never = makeOutputs(new Uint8Array(64).fill(3), KS.id, 0, 255n).map((o) => o.B_);
    const pool = [...signed.keys(), ...never, ...[...signed.keys()].map(negate)];
    let answered = 0;
    let empty = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ B_: fc.constantFrom(...pool), amount: fc.nat(1 << 20), id: fc.constantFrom(KS.id, '00ffffffffffffff', '01' + 'ab'.repeat(32)) }), { maxLength: 12 }),
      async (outputs) => {
        const answer = await restoreSignatures(w.mintBook, [KS], readRestoreRequest({ outputs }));
        const expected = outputs.filter((o) => signed.has(o.B_));
        expect(answer.outputs).toEqual(expected);
        expect(answer.signatures).toEqual(expected.map((o) => signed.get(o.B_)));
        if (expected.length > 0) answered++;
        else empty++;
      },
    ), { numRuns: Number(process.env.CREDIT_PROPERTY_RUNS ?? 25) });
    expect(answered).toBeGreaterThan(0);
    expect(empty).toBeGreaterThan(0);
  });

  it('a signed output under a keyset this mint was not given: E_WRONG_KEY (exit 4) naming it', async () => {
    const id = await open(w);
    const { request } = await pay(w, id, 600n);
    const other = deriveMintKeyset('ANOTHER_SEED');
    const e = await refusalAsync(restoreSignatures(w.mintBook, [other], { outputs: request.outputs }), 'E_WRONG_KEY', 4);
    expect(e.message).toContain(`signed under keyset ${KS.id}; this ecash seed and path give ${other.id}`);
  });

  it('a malformed request: E_MALFORMED_MESSAGE (exit 3); more than 1000 outputs too', () => {
    const o = { amount: 0, id: KS.id, B_: '02' + 'ab'.repeat(32) };
    for (const bad of [null, [], {}, { outputs: {} }, { outputs: [null] }, { outputs: [{ ...o, amount: -1 }] }, { outputs: [{ ...o, amount: 1.5 }] }, { outputs: [{ ...o, B_: '04' + '11'.repeat(32) }] }, { outputs: [{ ...o, B_: o.B_.toUpperCase() }] }, { outputs: [{ ...o, id: 7 }] }]) {
      refusal(() => readRestoreRequest(bad), 'E_MALFORMED_MESSAGE', 3);
    }
    expect(MAX_RESTORE_OUTPUTS).toBe(1000);
    expect(readRestoreRequest({ outputs: Array(1000).fill(o), extra: 1 }).outputs).toHaveLength(1000);
    expect(refusal(() => readRestoreRequest({ outputs: Array(1001).fill(o) }), 'E_MALFORMED_MESSAGE', 3).message).toMatch(/at most 1000/);
  });

  it('credit/restore-request\'s schema reads a keyset id as the reader does: any id a wallet may ask with (v00, v01, short), nothing that is not lowercase hex', () => {
    const asked = (id: string) => ({ type: 'credit/restore-request', version: 1, network: 'regtest', outputs: [{ amount: 0, id, B_: '02' + 'ab'.repeat(32) }] });
    for (const id of ['009a1f293253e41e', KS.id, KS.id.slice(0, 16)]) {
      expect(readRestoreRequest(asked(id)).outputs[0]!.id).toBe(id);
      expect(Value.Check(RestoreRequestSchema, asked(id)), id).toBe(true);
    }
    for (const id of ['', KS.id.toUpperCase(), 'zz', '0'.repeat(68)]) {
      refusal(() => readRestoreRequest(asked(id)), 'E_MALFORMED_MESSAGE', 3);
      expect(Value.Check(RestoreRequestSchema, asked(id)), id).toBe(false);
    }
  });
});

describe('restore from a NUT-13 seed: the vectors, unblinded by test code', () => {
  const seed = bip39Seed(V13.v00.mnemonic);
  const w = ecashWorld(seed);
  // The v00 vectors' keyset is Nutshell's test keyset with its version-00 id (a mint upgraded from 0.19).
  const KS00 = deriveMintKeyset(SEED, { id_version: '00' });
  const NUTSHELL00 = nutshellKeyset(SEED, undefined, { idVersion: '00' });
  const w00 = ecashWorld(seed, KS00);
  afterAll(() => { w.dir.cleanup(); w00.dir.cleanup(); });

  it('a wallet of the vectors\' mnemonic pays 400 + 3 sat (counters 0–4); restore by the vectors\' own secrets and r gives back every proof, the Nutshell-derived keyset accepts each', async () => {
    expect(V13.v00.keyset_id).toBe(NUTSHELL00.id); // the vectors' keyset is Nutshell's test keyset (v00), by test code
    expect(KS00.id).toBe(NUTSHELL00.id);
    expect(V13.v00.secrets).toHaveLength(5);
    const id = await open(w00);
    const tokens = [(await pay(w00, id, 400n)).token, (await pay(w00, id, 3n)).token]; // 256+128+16, then 2+1
    const kept = tokens.flatMap((t) => decodeToken(t).proofs);
    expect(kept.map((p) => p.secret)).toEqual(V13.v00.secrets);
    // the lost wallet: only the vectors (secrets, r), nothing from src/
    const outputs = V13.v00.secrets.map((s: string, i: number) => ({ amount: 0, id: KS00.id, B_: blindByTestCode(s, V13.v00.r[i]) }));
    const answer = await restoreSignatures(w00.mintBook, [KS00], readRestoreRequest({ outputs }));
    expect(answer.signatures).toHaveLength(5);
    let sum = 0n;
    for (const [i, s] of answer.signatures.entries()) {
      expect(answer.outputs[i]).toEqual(outputs[i]);
      const K = decodeCompressed(Buffer.from(NUTSHELL00.publicKeys.get(BigInt(s.amount))!, 'hex'));
      const C = pointAdd(decodeCompressed(Buffer.from(s.C_, 'hex')), pointNegate(pointMul(K, int(Buffer.from(V13.v00.r[i], 'hex')))));
      expect(nutshellAccepts(NUTSHELL00, { id: s.id, amount: BigInt(s.amount), secret: V13.v00.secrets[i], C: hex(encodeCompressed(C)) })).toBe(true);
      expect(hex(encodeCompressed(C))).toBe(hex(kept[i]!.C));
      sum += BigInt(s.amount);
    }
    expect(sum).toBe(403n);
  });

  it('version-01 derivation too: outputs from the v01 vectors\' secrets, signed under that keyset id, are restored and unblind into valid proofs', async () => {
    // The v01 vectors' keyset (015ba18a…) is known by its public keys only: this mint signs with its own
    // keys under that id, which is what restore's answer is checked against (the test-code Nutshell keyset).
    const v01 = { ...KS, id: V13.v01.keyset_id as string };
    const outputs = V13.v01.secrets.map((s: string, i: number) => ({ amount: 0, id: v01.id, B_: blindByTestCode(s, V13.v01.r[i]) }));
    await w.mintBook.step(() => w.mintBook.recordBlindSignatures('cd'.repeat(32), 1, outputs.map((o: { B_: string }, i: number) => ({
      // the row as the mint writes it: with the C_ its receipt carried, k·B_ by test code
      B_: o.B_, keyset_id: v01.id, amount: 2 ** i, C_: hex(encodeCompressed(pointMul(decodeCompressed(Buffer.from(o.B_, 'hex')), KS.privateKeys.get(BigInt(2 ** i))!))),
    }))));
    const answer = await restoreSignatures(w.mintBook, [KS, v01], readRestoreRequest({ outputs: [...outputs].reverse() }));
    expect(answer.signatures.map((s) => [s.id, s.amount])).toEqual([16, 8, 4, 2, 1].map((a) => [v01.id, a]));
    for (const [j, s] of answer.signatures.entries()) {
      const i = 4 - j;
      const K = decodeCompressed(Buffer.from(NUTSHELL.publicKeys.get(BigInt(s.amount))!, 'hex'));
      const C = pointAdd(decodeCompressed(Buffer.from(s.C_, 'hex')), pointNegate(pointMul(K, int(Buffer.from(V13.v01.r[i], 'hex')))));
      expect(nutshellAccepts(NUTSHELL, { id: KS.id, amount: BigInt(s.amount), secret: V13.v01.secrets[i], C: hex(encodeCompressed(C)) })).toBe(true);
    }
  });
});

/** A cashu-ts wallet whose mint is this credit mint: /v1/keys from its keyset, /v1/restore from restoreSignatures. */
function cashuTsWallet(w: W, seed: Uint8Array, calls: string[]): Wallet {
  const keys = keysAnswer(KS).keysets[0]!;
  const customRequest = async ({ endpoint, requestBody }: { endpoint: string; requestBody?: Record<string, unknown> }) => {
    const path = new URL(endpoint).pathname;
    calls.push(path);
    if (path === '/v1/info') return { name: 'credit mint', version: 'offchain', nuts: { 7: { supported: false }, 9: { supported: true }, 12: { supported: true } } };
    if (path === '/v1/keysets') return { keysets: [{ id: KS.id, unit: 'sat', active: true, input_fee_ppk: keys.input_fee_ppk }] };
    if (path === '/v1/keys' || path === `/v1/keys/${KS.id}`) return { keysets: [{ ...keys, active: true }] };
    // As the body travels: cashu-ts's own serialiser (its HTTP requests use it), and the answer back as JSON.
    if (path === '/v1/restore') return JSON.parse(JSON.stringify(await restoreSignatures(w.mintBook, [KS], readRestoreRequest(JSON.parse(JSONInt.stringify(requestBody) ?? 'null')))));
    throw new Error(`unexpected ${path}`);
  };
  return new Wallet(new Mint('http://localhost:3338', { customRequest: customRequest as never }), { unit: 'sat', bip39seed: seed });
}

describe('cashu-ts restores credit-issued tokens from its seed', () => {
  const seed = bip39Seed(V13.v00.mnemonic);
  const w = ecashWorld(seed);
  afterAll(() => w.dir.cleanup());

  it('restore(0, n) and batchRestore give back exactly the proofs the user was paid (secrets, C, amounts)', async () => {
    const id = await open(w);
    const other = await open(w);
    const tokens = [(await pay(w, id, 1000n)).token, (await pay(w, other, 400n)).token, (await pay(w, id, 4321n)).token];
    const kept = tokens.flatMap((t) => decodeToken(t).proofs).map((p) => ({ secret: p.secret, C: hex(p.C), amount: Number(p.amount) }));
    const calls: string[] = [];
    const wallet = cashuTsWallet(w, seed, calls);
    await wallet.loadMint();
    const restored = await wallet.restore(0, 50, { keysetId: KS.id });
    expect(restored.lastCounterWithSignature).toBe(kept.length - 1);
    const mine = restored.proofs.map((p) => ({ secret: p.secret, C: p.C, amount: Number(p.amount.toString()) }));
    expect(mine).toEqual(kept);
    for (const p of mine) expect(nutshellAccepts(NUTSHELL, { id: KS.id, amount: BigInt(p.amount), secret: p.secret, C: p.C })).toBe(true);
    const batch = await wallet.batchRestore(40, 20, 0, KS.id);
    expect(batch.proofs.map((p) => p.secret)).toEqual(kept.map((p) => p.secret));
    expect(calls.filter((c) => c === '/v1/restore').length).toBeGreaterThanOrEqual(3);
  });
});
