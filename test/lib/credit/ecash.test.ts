/**
 * Credit becomes ecash (src/lib/credit/ecash.ts), in process, attacked. Invariants, by
 * name: ecash issued under a contract = its cumulative amount; a B_ is signed once (a DB
 * constraint, not only code); a refused request writes nothing and leaves the nonce
 * unused; a replayed request gets byte-identical signatures; the user keeps nothing
 * from a mint that signs with another key. Every token is checked by the test-code
 * Nutshell mint (test/independent/cashu.ts), not by src/.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { ecashOffer } from '../../../src/lib/credit/ecash.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { deriveMintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { decodeToken } from '../../../src/lib/ecash/token.ts';
import type { MintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { nutshellAccepts, nutshellKeyset } from '../../independent/cashu.ts';
import { asMint, expectRefused } from './tamper.ts';
import { signedByUser } from './ecash-world.ts';
import { CHANGE, POLICY, REFUND, fundingPsbt, world } from './world.ts';

const SEED = 'TEST_PRIVATE_KEY';
const KS = deriveMintKeyset(SEED);
const NUTSHELL = nutshellKeyset(SEED);
const WALLET = fromHex('5e'.repeat(64));
const URL = 'http://localhost:3338';

type W = ReturnType<typeof world>;

function ecashWorld(keyset: MintKeyset = KS): W {
  const w = world();
  w.mint.policy = { ...POLICY, ecash: ecashOffer(KS, URL) };
  w.mint.ecash = { keyset, signer: EcashSigner.fixed(keyset), signatures: w.mintBook };
  w.user.walletSeed = WALLET;
  return w;
}

let inputs = 0;
async function open(w: W): Promise<string> {
  const offer = { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...w.mint.policy };
  const req = await openRequest(w.user, {
    offer: offer as never, fundingPsbt: fundingPsbt(1_000_000n, (0xa0 + inputs++).toString(16)), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2,
  });
  await openFinish(w.user, (await mint.acceptOpen(w.mint, req as never)) as never);
  const c = termsFromJson((req as { contract: never }).contract, 'regtest');
  w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
  return c.id;
}

/** One payment; returns the token the user kept (the sink's content). */
async function pay(w: W, id: string, amount: bigint): Promise<{ token: string; receipt: Record<string, unknown>; request: Record<string, unknown> }> {
  const request = await updateRequest(w.user, id, amount);
  const receipt = await mint.acceptUpdate(w.mint, request as never);
  let token = '';
  await applyReceipt(w.user, receipt as never, { path: 'memory', write: async (t) => void (token = t) });
  return { token, receipt: receipt as never, request };
}

function nutshellAcceptsToken(token: string): bigint {
  const t = decodeToken(token);
  expect(t.mint).toBe(URL);
  expect(t.unit).toBe('sat');
  let sum = 0n;
  for (const p of t.proofs) {
    expect(nutshellAccepts(NUTSHELL, { id: p.id, amount: p.amount, secret: p.secret, C: toHex(p.C) })).toBe(true);
    sum += p.amount;
  }
  return sum;
}

describe('ecash issued under a contract = its cumulative amount', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('twelve payments: each token is exactly its amount, accepted proof by proof by the test-code Nutshell mint', async () => {
    const id = await open(w);
    let cumulative = 0n;
    for (const amount of [1000n, 1n, 2n, 3n, 777n, 4096n, 65_535n, 5n, 31n, 12_345n, 1n, 100_000n]) {
      const { token, receipt } = await pay(w, id, amount);
      expect(nutshellAcceptsToken(token)).toBe(amount);
      expect((receipt.signatures as unknown[]).length).toBe(decodeToken(token).proofs.length);
      cumulative += amount;
    }
    const m = (await w.mintBook.get(id))!;
    expect(BigInt(m.ecash_issued_sat!)).toBe(cumulative);
    expect(BigInt(m.latest!.cumulative_sat)).toBe(cumulative);
    const u = (await w.userBook.get(id))!;
    expect(BigInt(u.ecash!.issued_sat)).toBe(cumulative);
    expect(await w.mintBook.ecashIssuance()).toEqual([{ keyset_id: KS.id, issued_sat: Number(cumulative), signatures: expect.any(Number) }]);
  });

  it('property: for any sequence of payments, issued = cumulative at the mint, at the user, and in the tokens', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 5 }), async (amounts) => {
      const v = ecashWorld();
      try {
        const id = await open(v);
        let sum = 0n; // the first payment is 400 sat: the mint's first state must not be dust
        let inTokens = 0n;
        for (const a of [400, ...amounts]) {
          inTokens += nutshellAcceptsToken((await pay(v, id, BigInt(a))).token);
          sum += BigInt(a);
        }
        expect(inTokens).toBe(sum);
        expect(BigInt((await v.mintBook.get(id))!.ecash_issued_sat!)).toBe(sum);
        expect(BigInt((await v.userBook.get(id))!.ecash!.issued_sat)).toBe(sum);
      } finally {
        v.mintBook.abandon();
        v.dir.cleanup();
      }
    }), { numRuns: 6 });
  });
});

describe('replays and reuse: a B_ is signed once', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('a replayed request gets the same receipt, byte for byte, and no second issuance', async () => {
    const id = await open(w);
    const request = await updateRequest(w.user, id, 400n);
    const first = await mint.acceptUpdate(w.mint, request as never);
    const issued = await w.mintBook.ecashIssuance();
    const again = await mint.acceptUpdate(w.mint, JSON.parse(JSON.stringify(request)));
    expect(JSON.stringify(again)).toBe(JSON.stringify(first));
    expect(await w.mintBook.ecashIssuance()).toEqual(issued);
    // the user's resend is the same request (same outputs: NUT-13 counter not advanced twice)
    expect(await updateRequest(w.user, id, 400n)).toEqual(request);
    await applyReceipt(w.user, first as never, { path: 'm', write: async () => undefined });
  });

  it('the same B_ in a second request is refused before the nonce is taken; nothing written', async () => {
    const id = await open(w);
    const { request: one } = await pay(w, id, 512n);
    const two = await updateRequest(w.user, id, 512n) as { outputs: unknown[] };
    const nonce = (await w.userBook.get(id))!.mint_nonce!;
    // the user itself reuses its outputs (and signs them: a relay could not)
    const reused = signedByUser({ ...two, outputs: (one as { outputs: unknown[] }).outputs } as never);
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, reused as never), { code: 'E_BLINDED_MESSAGE_REUSED', exitCode: 4, message: /already signed/ });
    expect(await w.mint.nonces.status(fromHex(nonce.pubnonce))).toBe('unused');
    // and in another contract
    const other = await open(w);
    const three = await updateRequest(w.user, other, 512n);
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, signedByUser({ ...three, outputs: (one as { outputs: unknown[] }).outputs } as never) as never), { code: 'E_BLINDED_MESSAGE_REUSED', exitCode: 4, message: /already signed/ });
    // the honest request still goes through
    const receipt = await mint.acceptUpdate(w.mint, two as never);
    expect(receipt.signatures).toHaveLength(1);
  });

  it('the database itself refuses a second row for a B_ (the constraint, without the code check)', async () => {
    const B_ = '02' + '11'.repeat(32);
    await w.mintBook.step(() => w.mintBook.recordBlindSignatures('aa'.repeat(32), 1, [{ B_, keyset_id: KS.id, amount: 1, C_: B_ }]));
    await expect(w.mintBook.step(() => w.mintBook.recordBlindSignatures('bb'.repeat(32), 1, [{ B_, keyset_id: KS.id, amount: 2, C_: B_ }])))
      .rejects.toMatchObject({ code: 'E_BLINDED_MESSAGE_REUSED', exitCode: 4 });
    expect(await w.mintBook.blindSignatureOwner(B_)).toEqual({ contract_id: 'aa'.repeat(32), state: 1 });
  });
});

describe('the mint refuses bad outputs: exit 4, nothing written, the nonce unused', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());
  let id = '';

  const tampered = async (f: (o: { amount: number; id: string; B_: string }[]) => unknown[]) => {
    const req = await updateRequest(w.user, id, 1000n) as { outputs: { amount: number; id: string; B_: string }[] };
    return { ...req, outputs: f(req.outputs.map((o) => ({ ...o }))) };
  };
  const refusedWith = async (req: unknown, code: string, message: RegExp) => {
    const nonce = (await w.userBook.get(id))!.mint_nonce!;
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, req as never), { code, exitCode: 4, message });
    expect(await w.mint.nonces.status(fromHex(nonce.pubnonce))).toBe('unused');
  };

  it('outputs summing to amount + 1', async () => {
    id = await open(w);
    await refusedWith(await tampered((o) => [...o, { amount: 1, id: KS.id, B_: '02' + '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798' }]), 'E_ECASH_OUTPUTS', /sum to 1001 sat, not the payment's 1000/);
  });
  it('outputs summing to amount − 8', async () => {
    await refusedWith(await tampered((o) => o.filter((x) => x.amount !== 8)), 'E_ECASH_OUTPUTS', /sum to 992/);
  });
  it('an unknown keyset id', async () => {
    await refusedWith(await tampered((o) => o.map((x, i) => (i === 0 ? { ...x, id: '00ffd48b8f5ecf80' } : x))), 'E_UNKNOWN_KEYSET', /names keyset 00ffd48b8f5ecf80/);
  });
  it('a B_ that is not a point', async () => {
    await refusedWith(await tampered((o) => o.map((x, i) => (i === 0 ? { ...x, B_: '02' + 'ff'.repeat(32) } : x))), 'E_BAD_BLINDED_MESSAGE', /not a point/);
  });
  it('an amount that is not a power of two', async () => {
    await refusedWith(await tampered((o) => [{ ...o[0]!, amount: 1000 }]), 'E_ECASH_OUTPUTS', /not a power of two/);
  });
  it('more than 64 outputs', async () => {
    await refusedWith(await tampered((o) => Array.from({ length: 65 }, (_, i) => ({ ...o[0]!, B_: o[0]!.B_ }))), 'E_ECASH_OUTPUTS', /1–64 outputs, not 65/);
  });
  it('the same B_ twice in one request', async () => {
    await refusedWith(await tampered((o) => o.map((x) => ({ ...x, B_: o[0]!.B_ }))), 'E_BLINDED_MESSAGE_REUSED', /twice in this request/);
  });
  it('no outputs at all, to a mint that pays in ecash', async () => {
    const { outputs: _o, ...bare } = await tampered((o) => o);
    await refusedWith(bare, 'E_ECASH_OUTPUTS', /must carry blinded messages/);
  });
  it('and then the honest request is signed', async () => {
    const req = await updateRequest(w.user, id, 1000n);
    const receipt = await mint.acceptUpdate(w.mint, req as never);
    expect(receipt.signatures!.map((s) => s.amount)).toEqual([512, 256, 128, 64, 32, 8]);
  });
});

describe('the user refuses a mint that signs with another key: E_BAD_DLEQ, nothing kept', () => {
  it('signatures from another keyset (valid DLEQs for that key) are refused, no token, no record change', async () => {
    const rogue = deriveMintKeyset('ANOTHER_KEY');
    const w = ecashWorld({ ...rogue, id: KS.id }); // claims the offered id, signs with other keys
    try {
      const id = await open(w);
      const req = await updateRequest(w.user, id, 400n);
      const receipt = await mint.acceptUpdate(w.mint, req as never);
      let written = false;
      await expectRefused(w.dir.path, () => applyReceipt(w.user, receipt as never, { path: 'm', write: async () => void (written = true) }), { code: 'E_BAD_DLEQ', exitCode: 4, message: /DLEQ proof does not show/ });
      expect(written).toBe(false);
      // a flipped bit in an honest DLEQ: refused too
      const honest = ecashOffer(KS, URL);
      expect(honest.keyset_id).toBe(KS.id);
    } finally {
      w.dir.cleanup();
    }
  });

  it('a receipt with a signature missing, or reordered, is refused', async () => {
    const w = ecashWorld();
    try {
      const id = await open(w);
      const req = await updateRequest(w.user, id, 384n);
      const receipt = await mint.acceptUpdate(w.mint, req as never) as { signatures: unknown[] };
      const sink = { path: 'm', write: async () => undefined };
      await expectRefused(w.dir.path, () => applyReceipt(w.user, asMint({ ...receipt, signatures: receipt.signatures.slice(1) }) as never, sink), { code: 'E_BAD_SIGNATURES', exitCode: 4, message: /1 blind signatures for 2 outputs/ });
      await expectRefused(w.dir.path, () => applyReceipt(w.user, asMint({ ...receipt, signatures: [...receipt.signatures].reverse() }) as never, sink), { code: 'E_BAD_SIGNATURES', exitCode: 4, message: /signature 0 is for 128/ });
      const flipped = JSON.parse(JSON.stringify(receipt));
      flipped.signatures[0].dleq.s = flipped.signatures[0].dleq.s.slice(0, 63) + (flipped.signatures[0].dleq.s.endsWith('0') ? '1' : '0');
      await expectRefused(w.dir.path, () => applyReceipt(w.user, asMint(flipped), sink), { code: 'E_BAD_DLEQ', exitCode: 4, message: /DLEQ/ });
      await applyReceipt(w.user, receipt as never, sink);
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('the user side: offers, seeds', () => {
  it('an offer whose keys do not hash to its keyset id is refused at open; nothing written', async () => {
    const w = ecashWorld();
    try {
      const bad = ecashOffer(KS, URL);
      const keys = { ...bad.keys, '1': bad.keys['2']! };
      const offer = { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...POLICY, ecash: { ...bad, keys } };
      await expectRefused(w.dir.path, () => openRequest(w.user, {
        offer: offer as never, fundingPsbt: fundingPsbt(1_000_000n, 'c7'), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2,
      }), { code: 'E_KEYSET_ID_MISMATCH', exitCode: 4, message: /hash to keyset 01/ });
    } finally {
      w.dir.cleanup();
    }
  });

  it('no wallet seed: the request is refused before anything is written; the wrong seed at the receipt: refused, nothing kept', async () => {
    const w = ecashWorld();
    try {
      const id = await open(w);
      const seed = w.user.walletSeed;
      delete w.user.walletSeed;
      await expect(updateRequest(w.user, id, 1000n)).rejects.toMatchObject({ code: 'E_NO_WALLET_SEED', exitCode: 2 });
      expect((await w.userBook.get(id))!.pending).toBeUndefined();
      w.user.walletSeed = seed;
      const req = await updateRequest(w.user, id, 1000n);
      const receipt = await mint.acceptUpdate(w.mint, req as never);
      w.user.walletSeed = fromHex('99'.repeat(64));
      const before = JSON.stringify(await w.userBook.get(id));
      let written = false;
      await expect(applyReceipt(w.user, receipt as never, { path: 'm', write: async () => void (written = true) })).rejects.toMatchObject({ code: 'E_WRONG_WALLET_SEED', exitCode: 2 });
      expect(written).toBe(false);
      expect(JSON.stringify(await w.userBook.get(id))).toBe(before);
    } finally {
      w.dir.cleanup();
    }
  });

  it('a mint without ecash refuses outputs (E_NO_ECASH); its payments without outputs work as before', async () => {
    const w = world();
    try {
      w.user.walletSeed = WALLET;
      const id = await open(w); // POLICY has no ecash: the contract has no keyset
      const req = await updateRequest(w.user, id, 1000n) as Record<string, unknown>;
      expect(req.outputs).toBeUndefined();
      const withOutputs = { ...req, outputs: [{ amount: 512, id: KS.id, B_: '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798' }, { amount: 488, id: KS.id, B_: '02' + '11'.repeat(32) }] };
      await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, withOutputs as never), { code: 'E_NO_ECASH', exitCode: 4, message: /issues no ecash/ });
      const receipt = await mint.acceptUpdate(w.mint, req as never);
      expect(receipt.signatures).toBeUndefined();
      const balance = await applyReceipt(w.user, receipt as never);
      expect(balance.ecash).toBeUndefined();
      expect(balance.cumulative_sat).toBe(1000);
    } finally {
      w.dir.cleanup();
    }
  });
});
