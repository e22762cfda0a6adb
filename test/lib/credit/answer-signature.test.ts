/**
 * Signed answers (src/lib/credit/answer-signature.ts; docs/credit.md, "Signed answers"),
 * tests named after its invariants:
 *
 * - every answer that moves the user's (the device's) record carries the contract's mint
 *   (gateway) key's BIP-340 signature over every other member — checked here with the test's
 *   own canonical JSON, tagged hash and BIP-340 Verify (test/independent/secp256k1.ts),
 *   against the mint key derived here from its secret key;
 * - the signature completes nothing: it is not the state's signature nor a half of it, and it
 *   verifies under no contract key, neither for the state's sighash nor for its own message;
 * - a relay's answer is refused (E_RECEIPT_FORGED, exit 4) with the user's state directory
 *   byte for byte as it was, and the honest answer then applies: an invented receipt (the mint
 *   never saw the payment), a real one with its next nonce swapped, one signed by another key,
 *   one without its signature, and (property) every member of every answer altered;
 * - a real answer of another contract, state or step spliced in — whole, or one of its
 *   members moved into the awaited answer — is refused, nothing written (property);
 * - an answer an older toolkit stored unsigned is given again signed, the same bytes each
 *   time, and applies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { schnorr } from '@noble/curves/secp256k1.js';
import { base64 } from '@scure/base';
import type { TObject } from '@sinclair/typebox';
import { OffchainError } from '../../../src/lib/errors.ts';
import { decodeMessage } from '../../../src/lib/message.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as schemas from '../../../src/lib/credit/schemas.ts';
import { applyClosed, closeRequest } from '../../../src/lib/credit/user-close.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyRolloverAccept, rolloverRequest, rolloverSign } from '../../../src/lib/credit/user-rollover.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { abandonRequest, acceptAbandon } from '../../../src/lib/credit/abandon.ts';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import { GatewayFailSchema, GatewayReceiptSchema, GatewaySettleSchema } from '../../../src/lib/device/schemas.ts';
import { bip340Verify, publicKeyOf } from '../../independent/secp256k1.ts';
import { answerDigestOf } from '../../independent/answer.ts';
import { musigTaprootOutput } from '../../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx } from '../../independent/tx.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { fileSnapshot } from '../../helpers.ts';
import { CHANGE, REFUND, USER, fundingPsbt, offer, world } from './world.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { foreignPubnonce, openContract, pay, userRecord, type World } from './tamper.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, preimage } from '../device/world.ts';

type Msg = Record<string, any>;

// ———— the test's own reading of the signature (docs/credit.md, "Signed answers") ————

const MINT_PUB = publicKeyOf(bytesOf('a1'.repeat(32))); // world.ts's mint (and the device world's gateway)
const USER_PUB = publicKeyOf(bytesOf('b2'.repeat(32)));
const CONTRACT = musigTaprootOutput([USER_PUB, MINT_PUB]);
const digestOf = answerDigestOf;

/** Signed by the mint key over every other member, by the test's reading; and by no contract key. */
function expectSignedByMint(answer: Msg, sig: 'mint_signature' | 'gateway_signature' = 'mint_signature'): Uint8Array {
  expect(answer[sig], `${answer.type} carries ${sig}`).toMatch(/^[0-9a-f]{128}$/);
  const s = bytesOf(answer[sig]);
  expect(bip340Verify(s, digestOf(answer, sig), MINT_PUB.subarray(1)), `${answer.type}: the mint key's signature over every other member`).toBe(true);
  expect(bip340Verify(s, digestOf(answer, sig), CONTRACT.outputKey)).toBe(false);
  return s;
}

/**
 * The user's store, byte for byte: every file of its state directory but state.sqlite-shm, SQLite's
 * shared-memory index of the WAL, where any reader leaves its read marks (it holds no state).
 */
function storeBytes(w: World): Record<string, string> {
  return Object.fromEntries(Object.entries(fileSnapshot(join(w.dir.path, 'user'))).filter(([f]) => !f.endsWith('-shm')));
}

/** Refused with `code` (exit 4), the user's store byte for byte as it was. */
async function refusedUnchanged(w: World, step: () => Promise<unknown>, code: string): Promise<OffchainError> {
  const before = storeBytes(w);
  const e = await refusalAsync((async () => step())(), code, 4);
  expect(storeBytes(w)).toEqual(before);
  return e;
}

/** The step a piped user command runs for an answer of this type, the answer decoded by its schema first (as the command reads it). */
function applyAs(w: World, m: unknown): Promise<unknown> {
  const type = (m as Msg).type as string;
  const steps: Record<string, [TObject, (v: never) => Promise<unknown>]> = {
    'credit/receipt': [schemas.ReceiptSchema, (v) => applyReceipt(w.user, v)],
    'credit/open-accept': [schemas.OpenAcceptSchema, (v) => openFinish(w.user, v)],
    'credit/closed': [schemas.ClosedSchema, (v) => applyClosed(w.user, v)],
    'credit/rollover-accept': [schemas.RolloverAcceptSchema, (v) => applyRolloverAccept(w.user, v)],
  };
  const [schema, step] = steps[type]!;
  return (async () => step(decodeMessage(schema, m) as never))();
}

// ———— mutations: every member, another value of its kind ————

type Path = (string | number)[];
/** Every member at every depth, leaves and containers. */
function paths(v: unknown, at: Path = []): Path[] {
  if (Array.isArray(v)) return [...(at.length ? [at] : []), ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (v !== null && typeof v === 'object') return [...(at.length ? [at] : []), ...Object.keys(v).flatMap((k) => paths((v as Msg)[k], [...at, k]))];
  return [at];
}
const getAt = (v: any, p: Path): any => p.reduce((o, k) => o[k], v);
function setAt(v: Msg, p: Path, value: unknown): Msg {
  const c = structuredClone(v);
  const parent = getAt(c, p.slice(0, -1));
  if (value === DROP) delete parent[p.at(-1)!];
  else parent[p.at(-1)!] = value;
  return c;
}
const DROP = Symbol('drop');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const NETWORKS = ['mainnet', 'testnet', 'testnet4', 'signet'];

/** Another value of the same kind, so that the message still decodes (or undefined: nothing to change there). */
function another(v: unknown, key: string | number, seed: number): unknown {
  if (key === 'network') return NETWORKS[seed % NETWORKS.length];
  if (typeof v === 'number') return v + 1 + (seed % 1000);
  if (typeof v === 'boolean') return !v;
  if (typeof v !== 'string' || v.length === 0) return undefined;
  // A PSBT keeps its magic (the schema's pattern) and its padding: a character between them.
  const i = v.startsWith('cHNidP') ? 8 + (seed % (v.length - 12)) : seed % v.length;
  const c = v[i]!;
  let r: string;
  if (/^[0-9a-f]+$/.test(v)) r = ((parseInt(c, 16) ^ (1 + (seed % 15))) & 15).toString(16);
  else if (B64.includes(c) && !v.slice(i).startsWith('=')) r = B64[(B64.indexOf(c) + 1 + (seed % 60)) % 64]!;
  else return undefined;
  return v.slice(0, i) + r + v.slice(i + 1);
}

/** One alteration of `answer`: a member changed to another value of its kind, or (an optional one) dropped. */
function alter(answer: Msg, pick: number, seed: number, drop: boolean): { path: Path; value: Msg } | undefined {
  const all = paths(answer).filter((p) => !(p.length === 1 && (p[0] === 'type' || p[0] === 'version')));
  const p = all[pick % all.length]!;
  if (drop) {
    // The members a decoder lets go: the signature itself, and the receipt's ecash.
    if (p.length !== 1 || !['mint_signature', 'gateway_signature', 'signatures', 'next_keyset'].includes(p[0] as string)) return undefined;
    return { path: p, value: setAt(answer, p, DROP) };
  }
  const v = getAt(answer, p);
  if (v !== null && typeof v === 'object') return undefined;
  const next = another(v, p.at(-1)!, seed);
  if (next === undefined || next === v) return undefined;
  return { path: p, value: setAt(answer, p, next) };
}

const ALTERATION = fc.record({ pick: fc.nat(), seed: fc.nat(), drop: fc.boolean() });

/** A fresh device channel with payment `n` decided by its gateway: the device's pay step, and the gateway's settle or fail. */
async function decided(outcome: 'settle' | 'fail', n: number) {
  const ch = await channel();
  const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(n, 1_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
  const job = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
  const notice = outcome === 'settle' ? await gateway.settle(ch.gctx, job.record, preimage(n)) : await gateway.fail(ch.gctx, job.record, (job.message as Msg).payment_hash);
  return { ch, p, notice };
}

// ——————————————————————————————————————————————————————————————————————————————————————————

describe('the signature: the mint key over every other member, completing nothing', () => {
  const w = world();
  afterAll(() => w.dir.cleanup());

  it('open-accept, receipt, closed and rollover-accept verify by the test\'s reading, under the mint key alone; a receipt\'s is not the state\'s signature nor a half of it, nor a signature of the state under the contract key', async () => {
    const A = await openContract(w);
    expectSignedByMint(A.accept);
    const receipt = await pay(w, A.id, 1500n) as Msg;
    const sig = expectSignedByMint(receipt);
    const state = (await w.mintBook.get(A.id))!.latest!.hex;
    const stateSig = state.slice(-8 - 128, -8); // the witness's one item, before the lock time
    const spent = [{ txid: A.c.funding.txid, vout: A.c.funding.vout, amount: A.c.capacity, script: CONTRACT.script }];
    expect(verifyKeyPathSpend(state, spent, CONTRACT.outputKey).txid).toBe(receipt.txid);
    for (const half of [stateSig, stateSig.slice(0, 64), stateSig.slice(64)]) expect(hexOf(sig)).not.toContain(half);
    expect(() => verifyKeyPathSpend(state.replace(stateSig, hexOf(sig)), spent, CONTRACT.outputKey)).toThrow(/signature/i);
    const closed = await mint.acceptClose(w.mint, (await closeRequest(w.user, A.id, 2)) as never);
    expectSignedByMint(closed);
    await applyClosed(w.user, closed as never);
    const B = await openContract(w, { input: 'f1' });
    const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, (await rolloverRequest(w.user, B.id, { expiryHeight: w.chain.height + 4320, feeRate: 2 })) as never)) as never);
    const accepted = await mint.acceptRollover(w.mint, sign as never);
    expectSignedByMint(accepted);
    await applyRolloverAccept(w.user, accepted as never);
  });

  it('the gateway\'s settle, fail and receipt verify the same way (gateway_signature), under the gateway key', async () => {
    for (const outcome of ['settle', 'fail'] as const) {
      const { ch, p, notice } = await decided(outcome, outcome === 'settle' ? 3 : 4);
      expectSignedByMint(notice.message, 'gateway_signature');
      const signed = outcome === 'settle' ? device.settle(p.record, ch.deviceKey, notice.message as never) : device.fail(p.record, ch.deviceKey, notice.message as never);
      const done = await gateway.completeStep(ch.gctx, notice.record, signed.message as never);
      expectSignedByMint(done.message, 'gateway_signature');
      expect(device.receipt(signed.record, done.message as never).state).toBe((done.message as Msg).state);
      await ch.w.close();
      ch.w.dir.cleanup();
    }
  });
});

describe('a relay\'s receipt is refused, nothing written, and the contract goes on with the real mint', () => {
  const w = world();
  let A: Awaited<ReturnType<typeof openContract>>;
  afterAll(() => w.dir.cleanup());
  beforeAll(async () => {
    A = await openContract(w);
    await pay(w, A.id, 1000n);
  });

  it('a receipt the relay invented (the mint never saw the payment): E_RECEIPT_FORGED without a signature, with the relay\'s own, with the mint\'s of another receipt; then the mint signs that payment and the next', async () => {
    const req = await updateRequest(w.user, A.id, 700n) as Msg;
    const invented: Msg = {
      type: 'credit/receipt', version: 1, network: 'regtest', contract_id: A.id, state: req.state, amount_sat: 700, cumulative_sat: 1700,
      txid: psbtUnsignedTx(base64.decode(req.psbt)).txid, next_nonce: { state: req.state + 1, pubnonce: foreignPubnonce(USER, 3) },
    };
    await refusedUnchanged(w, () => applyAs(w, invented), 'E_RECEIPT_FORGED');
    const relayKey = bytesOf('77'.repeat(32));
    const own = { ...invented, mint_signature: hexOf(schnorr.sign(digestOf(invented, 'mint_signature'), relayKey, new Uint8Array(32))) };
    expect(bip340Verify(bytesOf(own.mint_signature), digestOf(own, 'mint_signature'), publicKeyOf(relayKey).subarray(1))).toBe(true);
    const e = await refusedUnchanged(w, () => applyAs(w, own), 'E_RECEIPT_FORGED');
    expect(e.message).toMatch(/^the credit\/receipt is not signed by this contract's mint key as it stands/);
    const previous = (await w.mintBook.get(A.id))!.latest!.receipt as Msg;
    await refusedUnchanged(w, () => applyAs(w, { ...invented, mint_signature: previous.mint_signature }), 'E_RECEIPT_FORGED');
    expect((await w.mintBook.get(A.id))!.latest!.state).toBe(1); // the mint never saw it
    const real = await mint.acceptUpdate(w.mint, req as never);
    expect(await applyAs(w, real)).toMatchObject({ state: 2, cumulative_sat: 1700 });
    expect(await pay(w, A.id, 300n)).toMatchObject({ state: 3, cumulative_sat: 2000 });
  });

  it('a real receipt with its next nonce swapped, or without its signature: E_RECEIPT_FORGED, nothing written; the real one applies and the next payment is signed', async () => {
    const req = await updateRequest(w.user, A.id, 400n);
    const real = await mint.acceptUpdate(w.mint, req as never) as Msg;
    const swapped = { ...real, next_nonce: { ...real.next_nonce, pubnonce: foreignPubnonce(USER, 5) } };
    await refusedUnchanged(w, () => applyAs(w, swapped), 'E_RECEIPT_FORGED');
    const { mint_signature: _s, ...unsigned } = real;
    const e = await refusedUnchanged(w, () => applyAs(w, unsigned), 'E_RECEIPT_FORGED');
    expect(e.message).toMatch(/carries no mint_signature/);
    expect((await userRecord(w, A.id)).pending?.state).toBe(4);
    expect(await applyAs(w, real)).toMatchObject({ state: 4, cumulative_sat: 2400 });
    expect((await userRecord(w, A.id)).mint_nonce).toEqual(real.next_nonce);
    expect(await pay(w, A.id, 100n)).toMatchObject({ state: 5, cumulative_sat: 2500 });
  });
});

describe('every member of every answer altered: E_RECEIPT_FORGED, nothing written; then the honest answer applies (property)', () => {
  /**
   * Each answer while the user waits for it. A member changed to another value of its kind
   * (the message still decodes, so the step's own check is reached), or an optional one
   * dropped: refused E_RECEIPT_FORGED, the state directory byte for byte — but a changed
   * contract_id names no contract of the user (E_UNKNOWN_CONTRACT), and a network that is
   * not the user's refuses as such; counted, so the signature check is what refuses most.
   */
  async function holds(w: World, honest: Msg, after: (r: unknown) => void) {
    const seen = new Map<string, number>();
    await fc.assert(fc.asyncProperty(ALTERATION, async ({ pick, seed, drop }) => {
      const a = alter(honest, pick, seed, drop);
      if (!a) return;
      const code = a.path[0] === 'contract_id' ? 'E_UNKNOWN_CONTRACT' : 'E_RECEIPT_FORGED';
      await refusedUnchanged(w, () => applyAs(w, a.value), code);
      seen.set(String(a.path[0]), (seen.get(String(a.path[0])) ?? 0) + 1);
    }), { numRuns: 150 });
    // Every top-level member was reached (type and version go to another step, or to none).
    for (const k of Object.keys(honest).filter((k) => k !== 'type' && k !== 'version')) expect(seen.get(k) ?? 0, `${honest.type}.${k}`).toBeGreaterThan(0);
    after(await applyAs(w, honest));
  }

  /** Each answer of the mint with the user waiting for it, and what the user's step gives once the honest one applies. */
  const CREDIT: [string, (w: World) => Promise<{ honest: Msg; gives: Msg }>][] = [
    ['credit/open-accept', async (w) => {
      const req = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      return { honest: await mint.acceptOpen(w.mint, req as never), gives: { type: 'credit/opened' } };
    }],
    ['credit/receipt', async (w) => {
      const A = await openContract(w);
      await pay(w, A.id, 1000n);
      return { honest: await mint.acceptUpdate(w.mint, (await updateRequest(w.user, A.id, 250n)) as never), gives: { state: 2, cumulative_sat: 1250 } };
    }],
    ['credit/closed', async (w) => {
      const A = await openContract(w);
      await pay(w, A.id, 1000n);
      const closed = await mint.acceptClose(w.mint, (await closeRequest(w.user, A.id, 2)) as never);
      return { honest: closed, gives: { type: 'credit/closed', txid: closed.txid } };
    }],
    ['credit/rollover-accept', async (w) => {
      const A = await openContract(w);
      await pay(w, A.id, 1000n);
      const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, (await rolloverRequest(w.user, A.id, { expiryHeight: w.chain.height + 4320, feeRate: 2 })) as never)) as never);
      return { honest: await mint.acceptRollover(w.mint, sign as never), gives: { type: 'credit/rolled-over' } };
    }],
  ];
  it.each(CREDIT)('%s', async (_type, make) => {
    const w = world();
    try {
      const { honest, gives } = await make(w);
      await holds(w, honest, (r) => expect(r).toMatchObject(gives));
    } finally {
      w.dir.cleanup();
    }
  });

  it('gateway/settle, gateway/fail, gateway/receipt (the device\'s steps are pure: a refusal returns no record to write)', async () => {
    const channels: Awaited<ReturnType<typeof channel>>[] = [];
    try {
      const steps: [Msg, TObject, (m: never) => unknown][] = [];
      for (const outcome of ['settle', 'fail'] as const) {
        const { ch, p, notice } = await decided(outcome, outcome === 'settle' ? 5 : 6);
        channels.push(ch);
        steps.push([notice.message, outcome === 'settle' ? GatewaySettleSchema : GatewayFailSchema, (m) => (outcome === 'settle' ? device.settle : device.fail)(p.record, ch.deviceKey, m)]);
        if (outcome === 'settle') {
          const signed = device.settle(p.record, ch.deviceKey, notice.message as never);
          const done = await gateway.completeStep(ch.gctx, notice.record, signed.message as never);
          steps.push([done.message, GatewayReceiptSchema, (m) => device.receipt(signed.record, m)]);
        }
      }
      for (const [honest, schema, step] of steps) {
        const reached = new Set<string>();
        fc.assert(fc.property(ALTERATION, ({ pick, seed, drop }) => {
          const a = alter(honest, pick, seed, drop);
          if (!a) return;
          refusal(() => step(decodeMessage(schema, a.value) as never), 'E_RECEIPT_FORGED', 4);
          reached.add(String(a.path[0]));
        }), { numRuns: 150 });
        for (const k of Object.keys(honest).filter((k) => k !== 'type' && k !== 'version')) expect(reached.has(k), `${honest.type}.${k}`).toBe(true);
        expect(() => step(decodeMessage(schema, honest) as never)).not.toThrow();
      }
    } finally {
      for (const ch of channels) {
        await ch.w.close();
        ch.w.dir.cleanup();
      }
    }
  });
});

describe('a real answer of another contract, state or step, spliced in: refused, nothing written (property)', () => {
  const w = world();
  afterAll(() => w.dir.cleanup());

  it('whole, or one member moved into the awaited receipt; then the awaited receipt applies', async () => {
    // A pool of real, mint-signed answers: three contracts, several states, every kind.
    const pool: Msg[] = [];
    const A = await openContract(w);
    const B = await openContract(w, { input: 'f1' });
    const C = await openContract(w, { input: 'f2' });
    pool.push(A.accept, B.accept, C.accept);
    for (const [x, amount] of [[A, 1000n], [B, 1000n], [A, 500n], [B, 200n], [A, 300n]] as const) pool.push(await pay(w, x.id, amount) as Msg);
    const closed = await mint.acceptClose(w.mint, (await closeRequest(w.user, C.id, 2)) as never);
    await applyClosed(w.user, closed as never);
    pool.push(closed);
    const awaited = await mint.acceptUpdate(w.mint, (await updateRequest(w.user, A.id, 50n)) as never) as Msg;
    const codes = new Map<string, number>();
    await fc.assert(fc.asyncProperty(fc.nat(pool.length - 1), fc.nat(), fc.boolean(), async (i, pick, whole) => {
      const other = pool[i]!;
      let spliced: Msg;
      if (whole) spliced = other;
      else {
        if (other.type !== 'credit/receipt') return;
        const members = Object.keys(awaited).filter((k) => k !== 'type' && k !== 'version' && k !== 'network');
        const k = members[pick % members.length]!;
        if (JSON.stringify(other[k]) === JSON.stringify(awaited[k])) return;
        spliced = { ...awaited, [k]: other[k] };
      }
      const before = storeBytes(w);
      let code = 'applied';
      try {
        const r = await applyAs(w, spliced) as Msg;
        // Only an answer the user already applied, fed again, is taken: it changes nothing (its balance, its opened, its close).
        expect(whole && other !== awaited).toBe(true);
        expect(r.type === 'credit/balance' ? r.contract_id !== A.id || r.state < awaited.state : true).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(OffchainError);
        code = (e as OffchainError).code;
        if (!whole) expect(code).toBe('E_RECEIPT_FORGED');
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      expect(storeBytes(w)).toEqual(before);
    }), { numRuns: 200 });
    expect(codes.get('E_RECEIPT_FORGED') ?? 0).toBeGreaterThan(20);
    expect(codes.get('E_RECEIPT_MISMATCH') ?? 0).toBeGreaterThan(5);
    expect(await applyAs(w, awaited)).toMatchObject({ contract_id: A.id, state: 4, cumulative_sat: 1850 });
  });
});

describe('an answer an older toolkit stored unsigned is given again signed, the same bytes each time', () => {
  const w = world();
  afterAll(() => w.dir.cleanup());

  /** The mint's record with `edit` applied, as a database written by an older toolkit holds it. */
  async function legacy(id: string, edit: (r: Msg) => void) {
    const r = structuredClone((await w.mintBook.get(id))!) as Msg;
    edit(r);
    await w.mintBook.put(r as never);
  }
  const unsigned = (m: Msg) => {
    const { mint_signature: _s, ...rest } = m;
    return rest;
  };
  /** `first`, stored unsigned in the mint's record (`strip`), asked again twice (`ask`): signed, every other member `first`'s, the same bytes both times. */
  async function signedWhenGivenAgain(id: string, first: Msg, strip: (r: Msg) => void, ask: () => Promise<unknown>): Promise<Msg> {
    await legacy(id, strip);
    const again = await ask() as Msg;
    expect(unsigned(again)).toEqual(unsigned(first));
    expect(JSON.stringify(await ask())).toBe(JSON.stringify(again));
    expectSignedByMint(again);
    return again;
  }

  it('a retried open-request, update-request and close-request, and the abandon of a state whose answer was lost', async () => {
    const req = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
    const accept = await mint.acceptOpen(w.mint, req as never) as Msg;
    const id = accept.contract_id as string;
    const again = await signedWhenGivenAgain(id, accept, (r) => (r.open_accept = unsigned(r.open_accept)), () => mint.acceptOpen(w.mint, req as never));
    await openFinish(w.user, again as never);
    const c = termsFromJson((await userRecord(w, id)).contract, 'regtest');
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);

    const update = await updateRequest(w.user, id, 600n);
    const receipt = await mint.acceptUpdate(w.mint, update as never) as Msg;
    const retried = await signedWhenGivenAgain(id, receipt, (r) => (r.latest.receipt = unsigned(r.latest.receipt)), () => mint.acceptUpdate(w.mint, update as never));
    // Lost, then abandoned: the mint answers what it signed at that state, signed now.
    const abandon = await abandonRequest(w.user, id);
    const answer = await acceptAbandon(w.mint, abandon as never) as Msg;
    expect(JSON.stringify(answer)).toBe(JSON.stringify(retried));
    expect(await applyReceipt(w.user, answer as never)).toMatchObject({ state: 1, cumulative_sat: 600 });

    const close = await closeRequest(w.user, id, 2);
    const closed = await mint.acceptClose(w.mint, close as never) as Msg;
    const closedAgain = await signedWhenGivenAgain(id, closed, (r) => (r.settlement.response = unsigned(r.settlement.response)), () => mint.acceptClose(w.mint, close as never));
    expect(await applyClosed(w.user, closedAgain as never)).toMatchObject({ txid: closed.txid });
  });

  it('the gateway: a stored settle given again to a resent device/pay, and a stored receipt to a resent device/settle', async () => {
    const { ch, p, notice } = await decided('settle', 7);
    try {
      const f = notice.record.in_flight!;
      const { gateway_signature: _g, ...bare } = f.answer as Msg;
      const old = { ...notice.record, in_flight: { ...f, answer: bare } };
      const given = gateway.decidedAnswer(old, p.message as never, ch.gctx.gateway)!;
      expect(JSON.stringify(gateway.decidedAnswer(old, p.message as never, ch.gctx.gateway))).toBe(JSON.stringify(given));
      expect(JSON.stringify(gateway.paymentAnswer(old, f.payment_hash, ch.gctx.gateway))).toBe(JSON.stringify(given));
      expectSignedByMint(given, 'gateway_signature');
      const signed = device.settle(p.record, ch.deviceKey, given as never);
      const done = await gateway.completeStep(ch.gctx, notice.record, signed.message as never);
      const { gateway_signature: _r, ...bareReceipt } = done.message as Msg;
      const again = await gateway.completeStep(ch.gctx, { ...done.record, receipt: bareReceipt }, signed.message as never);
      expectSignedByMint(again.message, 'gateway_signature');
      expect(device.receipt(signed.record, again.message as never).state).toBe((done.message as Msg).state);
    } finally {
      await ch.w.close();
      ch.w.dir.cleanup();
    }
  });
});
