/**
 * The live keyset (src/lib/credit/ecash-keysets.ts), against what real Nutshell 0.20.3
 * mints announced (test/vectors/nutshell/, captured from running mints) and the test-code
 * Nutshell (test/independent/cashu.ts): one test per invariant of the module's header.
 *
 * - Nothing is issued under a keyset the credit mint did not reproduce: each setting that
 *   differs from the mint's is refused naming it (seed, path, index, unit, fee, final
 *   expiry, amounts, id version).
 * - Outputs are signed under the active keyset, or once under the keyset a contract was
 *   last told of, whose receipt then announces the active one; the user checks and adopts
 *   it, and its DLEQ checks hold across the switch.
 * - A rotation followed writes public data only, and reaches a running mint.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { adoptKeyset, ecashOffer } from '../../../src/lib/credit/ecash.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { announce, legacyKeysetsDoc, recordOf, sealKeysetsDoc, type EcashKeysetsDoc, type NamedSettings, type NextKeysetJson } from '../../../src/lib/credit/ecash-keysets.ts';
import { followKeysets, publishedKeysets, settleKeyset } from '../../../src/lib/credit/ecash-reproduce.ts';
import { readKeysAnswer, readKeysetsAnswer, type LiveMint } from '../../../src/lib/credit/ecash-answers.ts';
import { signAnnouncement } from '../../../src/lib/credit/ecash-announce.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { deriveMintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { decodeToken } from '../../../src/lib/ecash/token.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { nutshellAccepts, nutshellKeyset, type NutshellKeyset } from '../../independent/cashu.ts';
import { loadVector } from '../../helpers.ts';
import { refusal, refusalAsync, thrown } from '../../setup/refusal.ts';
import { asMint, expectRefused } from './tamper.ts';
import { CHANGE, MINT, POLICY, REFUND, USER, fundingPsbt, world } from './world.ts';
import { createHash } from 'node:crypto';
import { TEST_CODE_VERIFIER } from '../../independent/schnorr.ts';

const SEED = 'TEST_PRIVATE_KEY';
const URL = 'http://localhost:3338';
/** What a Nutshell mint started with this seed announced, folder by folder (README beside them). */
const live = (folder: string): LiveMint => ({
  source: folder,
  keysets: readKeysetsAnswer(loadVector(`nutshell/${folder}/keysets.json`), folder),
  keys: readKeysAnswer(loadVector(`nutshell/${folder}/keys.json`), folder),
});
const ID = {
  fresh: '01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe', // index 0, fee 100
  fee0: '01d8a63077d0a51f9855f066409782ffcb322dc8a2265291865221ed06c039f6bc',
  upgraded: '009a1f293253e41e',
  index1: '014d98cc733edadb8f5ce655d41e68c9d86df7649b13414911b287945a0eb88d76', // rotation RPC: fee 100, final_expiry 0
  restarted1: '018df6c91c4ccd5f41acda33977cf48f53e773e032f30e5cf4901e944e61070af0', // restart with index 1: fee 100, no expiry
  index3: '016f1fc787c1e046ebc219998d27bb45440b29dc6f5a8eb303fcc636b4ac11bc44',
};

const mismatch = (named: NamedSettings, folder: string, seed = SEED) => {
  const e = refusal(() => settleKeyset(seed, named, live(folder)), 'E_ECASH_KEYSET_MISMATCH', 4);
  return { setting: e.detail?.['setting'], message: e.message };
};

describe('the keyset the credit mint issues under: reproduced, or refused naming the setting', () => {
  it("without the mint's answers, a fresh Nutshell 0.20.3's defaults: the id it announces", () => {
    expect(settleKeyset(SEED, {}).id).toBe(ID.fresh);
    expect(settleKeyset(SEED, { input_fee_ppk: 0 }).id).toBe(ID.fee0);
    expect(settleKeyset(SEED, { id_version: '00' }).id).toBe(ID.upgraded);
  });

  it("with the answers of each mint: equal to its active keyset, whatever was left unnamed taken from it", () => {
    for (const [folder, id] of [['default', ID.fresh], ['fee0', ID.fee0], ['upgraded-0.19', ID.upgraded], ['default-rotated-once', ID.index1], ['upgraded-0.19-rotated', ID.index1]] as const) {
      const path = id === ID.index1 ? "m/0'/0'/1'" : "m/0'/0'/0'";
      const ks = settleKeyset(SEED, { path }, live(folder));
      expect(ks.id, folder).toBe(id);
      const independent = nutshellKeyset(SEED, path, { inputFeePpk: ks.input_fee_ppk, idVersion: ks.id_version });
      for (const [a, K] of ks.keys) expect(toHex(K)).toBe(independent.publicKeys.get(a));
    }
    expect(settleKeyset(SEED, { path: "m/0'/0'/1'" }, live('default-rotated-once')).final_expiry).toBe(0);
    expect(settleKeyset(SEED, { input_fee_ppk: 100, id_version: '01', amounts: 64, unit: 'sat' }, live('default')).id).toBe(ID.fresh);
  });

  it('each setting that differs is named: seed, path, index, fee, id version, amounts, unit', () => {
    expect(mismatch({}, 'default', 'NOT_THE_SEED')).toMatchObject({ setting: 'seed', message: expect.stringMatching(/^seed: no keyset this seed gives .* has the keys of default's active keyset 01884a74bb2fc5ee…: the seed is not the mint's \(the ecash mint: MINT_PRIVATE_KEY\); no token was issued$/) });
    expect(mismatch({ path: "m/0'/3'/0'" }, 'default')).toMatchObject({ setting: 'path', message: expect.stringContaining("is at m/0'/0'/0', not under m/0'/3'") });
    expect(mismatch({ path: "m/0'/0'/2'" }, 'default')).toMatchObject({ setting: 'index', message: expect.stringContaining("is at index 0 (m/0'/0'/0'), not at index 2") });
    expect(mismatch({ input_fee_ppk: 0 }, 'default')).toMatchObject({ setting: 'fee', message: expect.stringContaining('charges input_fee_ppk 100, these settings say 0 (--ecash-input-fee-ppk 100)') });
    expect(mismatch({ input_fee_ppk: 100 }, 'fee0')).toMatchObject({ setting: 'fee' });
    expect(mismatch({ id_version: '01' }, 'upgraded-0.19')).toMatchObject({ setting: 'id version', message: expect.stringContaining('has a version 00 id') });
    expect(mismatch({ id_version: '00' }, 'default')).toMatchObject({ setting: 'id version' });
    expect(mismatch({ amounts: 32 }, 'default')).toMatchObject({ setting: 'amounts' });
    expect(mismatch({ unit: 'usd' }, 'default')).toMatchObject({ setting: 'unit' });
    expect(mismatch({ final_expiry: 2059210353 }, 'default')).toMatchObject({ setting: 'final expiry' });
  });

  it("an announcement whose id the keys and metadata do not give is refused (a mint lying about its fee, or an id we cannot derive)", () => {
    const l = live('default');
    const lying = { ...l, keysets: l.keysets.map((k) => ({ ...k, input_fee_ppk: 0 })) };
    expect(thrown(() => settleKeyset(SEED, {}, lying)).detail?.['setting']).toBe('id version');
    const keys = l.keys.get(ID.fresh)!;
    const base64Id = { ...l, keysets: [{ ...l.keysets[0]!, id: 'AJkfKTJT5B4=' }], keys: new Map([['AJkfKTJT5B4=', keys]]) };
    expect(thrown(() => settleKeyset(SEED, {}, base64Id)).detail?.['setting']).toBe('id version');
  });

  it('a mint with no active keyset, or answers without the active keys: refused, saying what is missing', () => {
    const l = live('default');
    refusal(() => settleKeyset(SEED, {}, { ...l, keysets: l.keysets.map((k) => ({ ...k, active: false })) }), 'E_ECASH_NO_ACTIVE_KEYSET', 4);
    const e = refusal(() => settleKeyset(SEED, {}, { ...l, keys: new Map() }), 'E_USAGE', 2);
    expect(e.message).toContain('--ecash-keys');
  });

  it("the mint's answers read strictly: malformed ones are E_BAD_KEYSET (exit 3)", () => {
    for (const bad of [null, [], {}, { keysets: {} }, { keysets: [{ id: 1, unit: 'sat' }] }, { keysets: [{ id: 'x', unit: 'sat', active: 'yes' }] }, { keysets: [{ id: 'x', unit: 'sat', input_fee_ppk: -1 }] }, { keysets: [{ id: 'x', unit: 'sat', final_expiry: 1.5 }] }]) {
      refusal(() => readKeysetsAnswer(bad, 'f'), 'E_BAD_KEYSET', 3);
    }
    for (const bad of [null, { keysets: [{ keys: {} }] }, { keysets: [{ id: 'x', keys: { 3: '02'.padEnd(66, '0') } }] }]) refusal(() => readKeysAnswer(bad, 'f'), 'E_BAD_KEYSET', 3);
    expect(readKeysetsAnswer({ keysets: [{ id: 'x', unit: 'sat' }] }, 'f')).toEqual([{ id: 'x', unit: 'sat', active: true, input_fee_ppk: 0, final_expiry: null }]);
  });
});

describe('a rotation followed: the new active keyset reproduced at the next index', () => {
  const published = (folder: string, path = "m/0'/0'/0'") => publishedKeysets(SEED, settleKeyset(SEED, { path }, live(folder)), undefined, live(folder));

  it("mint-cli next-keyset: index 1 becomes the one issued under, index 0 stays known and listed (inactive)", () => {
    const { doc } = published('default');
    const { doc: next, added } = followKeysets(SEED, doc, live('default-rotated-once'));
    expect(added).toEqual([ID.index1]);
    expect(next.active).toBe(ID.index1);
    expect(next.keysets.map((k) => [k.id, k.path, k.active, k.listed, k.final_expiry])).toEqual([
      [ID.fresh, "m/0'/0'/0'", false, true, null],
      [ID.index1, "m/0'/0'/1'", true, true, 0],
    ]);
    expect(next.keysets[1]!.keys).toEqual(Object.fromEntries(nutshellKeyset(SEED, "m/0'/0'/1'").publicKeys));
    // followed again: nothing changes
    expect(followKeysets(SEED, next, live('default-rotated-once'))).toEqual({ doc: next, added: [] });
  });

  it('a mint upgraded from 0.19 rotates to a v01 keyset: the v00 one stays known', () => {
    const { doc } = published('upgraded-0.19');
    expect(doc.keysets[0]).toMatchObject({ id: ID.upgraded, id_version: '00', input_fee_ppk: 100 });
    const { doc: next } = followKeysets(SEED, doc, live('upgraded-0.19-rotated'));
    expect(next.active).toBe(ID.index1);
    expect(next.keysets.map((k) => k.id_version)).toEqual(['00', '01']);
  });

  it("a restart with the next index leaves both active: the higher index is issued under, as Nutshell's own ledger does", () => {
    const { doc } = published('default');
    const { doc: next } = followKeysets(SEED, doc, live('default-restarted-index-1'));
    expect(next.active).toBe(ID.restarted1);
    expect(next.keysets.filter((k) => k.active).length).toBe(2);
    // …and from there two rotations: index 3 is active again beside index 0
    const { doc: last, added } = followKeysets(SEED, next, live('default-rotated'));
    expect(added).toEqual([ID.index3]);
    expect(last.active).toBe(ID.index3);
    expect(last.keysets.find((k) => k.id === ID.restarted1)).toMatchObject({ active: false, listed: true });
  });

  it('published straight against a restarted mint: the highest active index at once', () => {
    expect(published('default-restarted-index-1').keyset.id).toBe(ID.restarted1);
  });

  it('a new active keyset the seed does not give at any index is refused (E_ECASH_KEYSET_MISMATCH), nothing returned', () => {
    const { doc } = published('default');
    const other = live('default-rotated-once');
    const stranger = deriveMintKeyset('SOMEONE_ELSE', { path: "m/0'/0'/1'" });
    const keys = new Map(other.keys);
    keys.set(ID.index1, stranger.keys);
    expect(thrown(() => followKeysets(SEED, doc, { ...other, keys })).detail?.['setting']).toBe('index');
  });

  it('a keyset the mint no longer lists is marked so (its tokens would not redeem)', () => {
    const { doc } = published('default');
    const l = live('default-rotated-once');
    const { doc: next } = followKeysets(SEED, doc, { ...l, keysets: l.keysets.filter((k) => k.id !== ID.fresh) });
    expect(next.keysets.find((k) => k.id === ID.fresh)).toMatchObject({ listed: false, active: false });
  });
});

describe('the signer: the active keyset, or the one a contract has not moved past', () => {
  const fresh = settleKeyset(SEED, {}, live('default'));
  const rotated = followKeysets(SEED, publishedKeysets(SEED, fresh, undefined).doc, live('default-rotated-once')).doc;
  // documents changed here are sealed as their writer (the seed's holder) would (the MAC's own tests: ecash-store-writer.test.ts)
  const signer = (doc: EcashKeysetsDoc, now?: () => number) => new EcashSigner(SEED, async () => sealKeysetsDoc(SEED, doc), now);
  const out = (id: string) => [{ id }];

  it('outputs under the active keyset: signed under it, nothing announced', async () => {
    const r = await signer(rotated).forRequest(undefined, out(ID.index1));
    expect(r.keyset.id).toBe(ID.index1);
    expect(r.announce).toBeUndefined();
  });

  it('under the old keyset before any payment, or as the last receipt told: signed under it, and the active one announced', async () => {
    const s = signer(rotated);
    for (const told of [undefined, { state: 3, signatures: [{ id: ID.fresh }] }]) {
      const r = await s.forRequest(told, out(ID.fresh));
      expect(r.keyset.id).toBe(ID.fresh);
      expect(r.announce).toEqual(announce(rotated.keysets[1]!));
    }
  });

  it('under the old keyset after its receipt announced the new one: signed under it again, the new one announced again (an announcement lost on its way); under a keyset the contract moved past: E_KEYSET_INACTIVE', async () => {
    const again = await signer(rotated).forRequest({ state: 4, signatures: [{ id: ID.fresh }], next_keyset: { id: ID.index1 } }, out(ID.fresh));
    expect([again.keyset.id, again.announce?.id]).toEqual([ID.fresh, ID.index1]);
    const e = await refusalAsync(signer(rotated).forRequest({ state: 5, signatures: [{ id: ID.index1 }] }, out(ID.fresh)), 'E_KEYSET_INACTIVE', 4);
    expect(e.message).toContain('the receipt of state 5 told this contract to use 014d98cc733edadb…');
  });

  it('under a keyset the mint no longer lists, or past its final expiry: E_KEYSET_INACTIVE', async () => {
    const unlisted = { ...rotated, keysets: rotated.keysets.map((k) => (k.id === ID.fresh ? { ...k, listed: false } : k)) };
    await refusalAsync(signer(unlisted).forRequest(undefined, out(ID.fresh)), 'E_KEYSET_INACTIVE', 4);
    // index 3 of the rotated mint has final_expiry 2059210353 (in its id); made the older keyset here
    const three = followKeysets(SEED, followKeysets(SEED, publishedKeysets(SEED, fresh, undefined).doc, live('default-restarted-index-1')).doc, live('default-rotated')).doc;
    const expiring = { ...three, active: ID.restarted1, keysets: three.keysets.map((k) => ({ ...k, listed: true })) };
    await refusalAsync(signer(expiring, () => 2_059_210_353_000).forRequest(undefined, out(ID.index3)), 'E_KEYSET_INACTIVE', 4);
    expect((await signer(expiring, () => 2_059_210_352_000).forRequest(undefined, out(ID.index3))).keyset.id).toBe(ID.index3);
  });

  it('another seed than the keysets were reproduced from: E_WRONG_KEY (exit 4) before anything is signed', async () => {
    const e = await refusalAsync(new EcashSigner('NOT_THE_SEED', async () => rotated).refresh(), 'E_WRONG_KEY', 4);
    expect(e.detail?.['setting']).toBe('seed');
  });

  it('a stored keyset whose keys were altered is refused too (the seed must reproduce keys and id)', async () => {
    const altered = { ...rotated, keysets: rotated.keysets.map((k) => (k.id === ID.index1 ? { ...k, keys: { ...k.keys, '1': k.keys['2']! } } : k)) };
    await refusalAsync(signer(altered).refresh(), 'E_WRONG_KEY', 4);
  });

  it('kept(): every keyset of the document by id — active, inactive, no longer listed — each derived from the seed at its first use (what restore answers under)', async () => {
    const unlisted = { ...rotated, keysets: rotated.keysets.map((k) => (k.id === ID.fresh ? { ...k, active: false, listed: false } : k)) };
    const kept = await signer(unlisted).kept();
    expect(kept.ids).toEqual([ID.fresh, ID.index1]);
    const independent = [nutshellKeyset(SEED, "m/0'/0'/0'"), nutshellKeyset(SEED, "m/0'/0'/1'")];
    for (const [i, id] of kept.ids.entries()) {
      const ks = kept.keyset(id)!;
      expect(ks.id).toBe(id);
      expect(Object.fromEntries([...ks.keys].map(([a, K]) => [a.toString(), toHex(K)]))).toEqual(Object.fromEntries([...independent[i]!.publicKeys].map(([a, K]) => [a.toString(), K])));
    }
    expect(kept.keyset('00ffffffffffffff')).toBeUndefined();
    // a keyset whose stored keys this seed does not give: E_WRONG_KEY when it is asked for, never a wrong signature
    const altered = { ...unlisted, keysets: unlisted.keysets.map((k) => (k.id === ID.fresh ? { ...k, keys: { ...k.keys, '1': k.keys['2']! } } : k)) };
    const k2 = await signer(altered).kept();
    refusal(() => k2.keyset(ID.fresh), 'E_WRONG_KEY', 4);
  });

  it('the document is read at each request: a rotation followed reaches a running signer', async () => {
    let doc = publishedKeysets(SEED, fresh, undefined).doc;
    const s = new EcashSigner(SEED, async () => doc);
    expect((await s.forRequest(undefined, out(ID.fresh))).announce).toBeUndefined();
    doc = rotated;
    expect((await s.forRequest(undefined, out(ID.fresh))).announce?.id).toBe(ID.index1);
  });
});

describe('a store published before keysets were kept (its offer names one v00 keyset, no document)', () => {
  it("the offer's keyset at the path given is derived and checked (another path is E_WRONG_KEY); nothing is issued under it until follow has sealed it (E_STATE_CORRUPT: the offer is the database's word), then it is", async () => {
    const v00 = deriveMintKeyset(SEED, { id_version: '00' });
    const { input_fee_ppk: _fee, ...old } = ecashOffer(v00, URL); // such offers carried no fee
    const doc = legacyKeysetsDoc(old, "m/0'/0'/0'");
    expect(doc.keysets[0]).toMatchObject({ id: ID.upgraded, id_version: '00', input_fee_ppk: 0, amounts: 64 });
    expect((await new EcashSigner(SEED, async () => doc).refresh(false)).active.id).toBe(ID.upgraded); // what follow reads
    await refusalAsync(new EcashSigner(SEED, async () => doc).refresh(), 'E_STATE_CORRUPT', 3);
    await refusalAsync(new EcashSigner(SEED, async () => legacyKeysetsDoc(old, "m/0'/0'/1'")).refresh(false), 'E_WRONG_KEY', 4);
    // follow against a mint upgraded from 0.19 (its keyset listed under the v00 id): sealed, issued under
    const followed = followKeysets(SEED, doc, live('upgraded-0.19')).doc;
    expect((await new EcashSigner(SEED, async () => followed).refresh()).active.id).toBe(ID.upgraded);
  });
});

describe('the user adopts an announced keyset only if the mint signed it for this contract and state, and its keys hash to its id', () => {
  const offer = ecashOffer(settleKeyset(SEED, {}), URL);
  const e = { ...offer, counter: 7, issued_sat: 0 };
  const index1 = recordOf(settleKeyset(SEED, { path: "m/0'/0'/1'" }, live('default-rotated-once')));
  const CONTRACT = 'c0'.repeat(32);
  const from = { contractId: CONTRACT, state: 5, mintPubkey: MINT.publicKey };
  const signed = (a: NextKeysetJson, key = MINT.secretKey, contract = CONTRACT, state = 5) => signAnnouncement(a, contract, state, key, new Uint8Array(32).fill(9));

  it('adopted: the next outputs under it, its own counter, the old keyset kept for the last receipt', () => {
    const next = adoptKeyset(e, signed(announce(index1)), from);
    expect(next).toMatchObject({ keyset_id: ID.index1, input_fee_ppk: 100, final_expiry: 0, counter: 0, previous_keyset: { keyset_id: ID.fresh } });
    expect(adoptKeyset(next, signed(announce(index1)), from)).toBe(next);
  });

  it("the mint's signature, checked by test code: BIP-340 over the tagged hash of the canonical line {contract_id, next_keyset, state}", () => {
    const a = signed(announce(index1));
    const { sig, ...body } = a;
    const canonical = (v: unknown): string => v === null || typeof v !== 'object' ? JSON.stringify(v)
      : `{${Object.keys(v as object).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
    const tag = createHash('sha256').update('offchain/credit/next-keyset').digest();
    const digest = createHash('sha256').update(tag).update(tag).update(canonical({ contract_id: CONTRACT, state: 5, next_keyset: body }) + '\n').digest();
    expect(TEST_CODE_VERIFIER.verify(Buffer.from(sig!, 'hex'), digest, MINT.xOnly)).toBe(true);
    const flipped = Buffer.from(sig!, 'hex');
    flipped[10]! ^= 1;
    expect(TEST_CODE_VERIFIER.verify(flipped, digest, MINT.xOnly)).toBe(false);
  });

  it('refused (E_BAD_NEXT_KEYSET, exit 4) unsigned, signed by another key, for another contract or state, or swapped by a relay for a keyset of its own', () => {
    const a = announce(index1);
    const notSigned = /is not signed by the mint's key/;
    expect(refusal(() => adoptKeyset(e, a, from), 'E_BAD_NEXT_KEYSET', 4).message).toMatch(notSigned);
    expect(refusal(() => adoptKeyset(e, signed(a, USER.secretKey), from), 'E_BAD_NEXT_KEYSET', 4).message).toMatch(notSigned);
    expect(refusal(() => adoptKeyset(e, signed(a, MINT.secretKey, 'c1'.repeat(32)), from), 'E_BAD_NEXT_KEYSET', 4).message).toMatch(notSigned);
    expect(refusal(() => adoptKeyset(e, signed(a, MINT.secretKey, CONTRACT, 4), from), 'E_BAD_NEXT_KEYSET', 4).message).toMatch(notSigned);
    // a relay's own keyset: a valid id for its keys, the mint's signature kept
    const relay = recordOf(deriveMintKeyset('RELAY', { path: "m/0'/0'/1'" }));
    expect(refusal(() => adoptKeyset(e, { ...announce(relay), sig: signed(a).sig }, from), 'E_BAD_NEXT_KEYSET', 4).message).toMatch(notSigned);
  });

  it('refused even when signed (a dishonest mint): keys that do not give the id, a fee or expiry changed, another unit', () => {
    const a = announce(index1);
    const hash = /hash to keyset/;
    expect(refusal(() => adoptKeyset(e, signed({ ...a, keys: { ...a.keys, '1': a.keys['2']! } }), from), 'E_KEYSET_ID_MISMATCH', 4).message).toMatch(hash);
    expect(refusal(() => adoptKeyset(e, signed({ ...a, input_fee_ppk: 0 }), from), 'E_KEYSET_ID_MISMATCH', 4).message).toMatch(hash);
    expect(refusal(() => adoptKeyset(e, signed({ ...a, final_expiry: null }), from), 'E_KEYSET_ID_MISMATCH', 4).message).toMatch(hash);
    refusal(() => adoptKeyset(e, signed({ ...a, unit: 'usd' }), from), 'E_BAD_NEXT_KEYSET', 4);
  });
});

// ——— the protocol, at library level: a rotation in the middle of a contract's payments ———

const NUTSHELL = new Map<string, NutshellKeyset>([
  [ID.fresh, nutshellKeyset(SEED)],
  [ID.index1, { ...nutshellKeyset(SEED, "m/0'/0'/1'"), id: ID.index1 }], // the id as Nutshell's rotation RPC made it (final_expiry 0)
]);

/** Every proof of a token accepted by the test-code Nutshell for the keyset it names; returns amount and ids. */
function redeem(token: string): { amount: bigint; ids: Set<string> } {
  const t = decodeToken(token);
  let amount = 0n;
  const ids = new Set<string>();
  for (const p of t.proofs) {
    const ks = NUTSHELL.get(p.id);
    expect(ks, `a proof under ${p.id}`).toBeDefined();
    expect(nutshellAccepts(ks!, { id: p.id, amount: p.amount, secret: p.secret, C: toHex(p.C) })).toBe(true);
    amount += p.amount;
    ids.add(p.id);
  }
  return { amount, ids };
}

/**
 * What every rotating world starts from — the settled keyset's published document and the
 * mint's keyset — is a pure function of SEED and the ecash mint's answers: derived once (64
 * keys each), not once per world. The document is frozen, so code that changed it in place
 * instead of writing a new one (as followKeysets does) would throw, not leak into the next world.
 */
let start: { doc: ReturnType<typeof publishedKeysets>['doc']; keyset: ReturnType<typeof deriveMintKeyset> } | undefined;
const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
};
function rotatingStart() {
  start ??= { doc: deepFreeze(publishedKeysets(SEED, settleKeyset(SEED, {}, live('default')), undefined, live('default')).doc), keyset: deriveMintKeyset(SEED) };
  return start;
}

function rotatingWorld() {
  const w = world();
  const ref = { doc: rotatingStart().doc };
  const signer = new EcashSigner(SEED, async () => ref.doc);
  w.mint.policy = { ...POLICY, ecash: ecashOffer(ref.doc.keysets[0]!, URL) };
  w.mint.ecash = { keyset: rotatingStart().keyset, signer, signatures: w.mintBook };
  w.user.walletSeed = fromHex('3c'.repeat(64));
  const rotate = () => void (ref.doc = followKeysets(SEED, ref.doc, live('default-rotated-once')).doc);
  return { w, rotate };
}

let inputs = 0;
async function open(w: ReturnType<typeof world>): Promise<string> {
  const offer = { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...w.mint.policy };
  const req = await openRequest(w.user, {
    offer: offer as never, fundingPsbt: fundingPsbt(1_000_000n, (0x70 + inputs++).toString(16)), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2,
  });
  await openFinish(w.user, (await mint.acceptOpen(w.mint, req as never)) as never);
  const c = termsFromJson((req as { contract: never }).contract, 'regtest');
  w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
  return c.id;
}

async function pay(w: ReturnType<typeof world>, id: string, amount: bigint) {
  const request = await updateRequest(w.user, id, amount);
  const receipt = (await mint.acceptUpdate(w.mint, request as never)) as Record<string, any>;
  let token = '';
  await applyReceipt(w.user, receipt as never, { path: 'memory', write: async (t) => void (token = t) });
  return { request: request as Record<string, any>, receipt, token };
}

describe('a rotation between payments: one payment under the keyset the contract knew, announced, then the new one', () => {
  const { w, rotate } = rotatingWorld();
  afterAll(() => w.dir.cleanup());

  it('pay, rotate, pay (old keyset, next_keyset in the receipt), pay (new keyset): every token redeems under the keyset it names, the DLEQs hold', async () => {
    const id = await open(w);
    const first = await pay(w, id, 1000n);
    expect(redeem(first.token)).toEqual({ amount: 1000n, ids: new Set([ID.fresh]) });
    expect(first.receipt.next_keyset).toBeUndefined();
    rotate();
    const lag = await pay(w, id, 700n);
    expect(redeem(lag.token)).toEqual({ amount: 700n, ids: new Set([ID.fresh]) });
    expect(lag.receipt.next_keyset).toMatchObject({ id: ID.index1, input_fee_ppk: 100, final_expiry: 0 });
    const after = await pay(w, id, 1234n);
    expect(after.request.outputs.every((o: { id: string }) => o.id === ID.index1)).toBe(true);
    expect(redeem(after.token)).toEqual({ amount: 1234n, ids: new Set([ID.index1]) });
    expect(after.receipt.next_keyset).toBeUndefined();
    const u = (await w.userBook.get(id))!;
    expect(u.ecash).toMatchObject({ keyset_id: ID.index1, issued_sat: 2934, previous_keyset: { keyset_id: ID.fresh } });
    expect(await w.mintBook.ecashIssuance()).toEqual([
      { keyset_id: ID.index1, issued_sat: 1234, signatures: expect.any(Number) },
      { keyset_id: ID.fresh, issued_sat: 1700, signatures: expect.any(Number) },
    ].sort((a, b) => (a.keyset_id < b.keyset_id ? -1 : 1)));
  });

  it("the last receipt under the old keyset fed again after the switch is verified again (against the old keys) and writes the same token", async () => {
    const { w: v, rotate: r } = rotatingWorld();
    try {
      const id = await open(v);
      await pay(v, id, 500n);
      r();
      const lag = await pay(v, id, 300n);
      let again = '';
      await applyReceipt(v.user, lag.receipt as never, { path: 'again', write: async (t) => void (again = t) });
      expect(again).toBe(lag.token);
    } finally {
      v.dir.cleanup();
    }
  });

  it("a receipt whose announced keyset a relay altered (E_RECEIPT_FORGED), or one the mint signed the receipt over but not the announcement (E_BAD_NEXT_KEYSET): refused before the token or the record is written; the honest one then applies", async () => {
    const { w: v, rotate: r } = rotatingWorld();
    try {
      const id = await open(v);
      await pay(v, id, 500n);
      r();
      const request = await updateRequest(v.user, id, 300n);
      const receipt = (await mint.acceptUpdate(v.mint, request as never)) as Record<string, any>;
      const forged = { ...receipt, next_keyset: { ...receipt.next_keyset, keys: { ...receipt.next_keyset.keys, '1': receipt.next_keyset.keys['2'] } } };
      let written = false;
      await expectRefused(v.dir.path, () => applyReceipt(v.user, forged as never, { path: 'm', write: async () => void (written = true) }), { code: 'E_RECEIPT_FORGED', exitCode: 4, message: /not signed by this contract's mint key/ });
      await expectRefused(v.dir.path, () => applyReceipt(v.user, asMint(forged) as never, { path: 'm', write: async () => void (written = true) }), { code: 'E_BAD_NEXT_KEYSET', exitCode: 4, message: /not signed by the mint's key/ });
      expect(written).toBe(false);
      // the honest receipt then applies
      await applyReceipt(v.user, receipt as never, { path: 'm', write: async () => undefined });
      expect((await v.userBook.get(id))!.ecash!.keyset_id).toBe(ID.index1);
    } finally {
      v.dir.cleanup();
    }
  });

  it('property: any interleaving of payments and one rotation — each payment under the active keyset or, once, the one the contract knew; issued = cumulative; every token redeems', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 4 }), async (amounts, rotateAt) => {
      const { w: v, rotate: r } = rotatingWorld();
      try {
        const id = await open(v);
        let rotated = false;
        let lagging = 0;
        let sum = 0n;
        let inTokens = 0n;
        const all = [400, ...amounts];
        for (const [i, a] of all.entries()) {
          if (i === rotateAt) {
            r();
            rotated = true;
          }
          const { token, receipt } = await pay(v, id, BigInt(a));
          const { amount, ids } = redeem(token);
          expect(ids.size).toBe(1);
          const under = [...ids][0]!;
          if (rotated && under === ID.fresh) {
            lagging++;
            expect(receipt.next_keyset?.id).toBe(ID.index1);
          } else expect(under).toBe(rotated ? ID.index1 : ID.fresh);
          inTokens += amount;
          sum += BigInt(a);
        }
        expect(lagging).toBe(rotateAt < all.length ? 1 : 0);
        expect(inTokens).toBe(sum);
        expect(BigInt((await v.mintBook.get(id))!.ecash_issued_sat!)).toBe(sum);
        expect(BigInt((await v.userBook.get(id))!.ecash!.issued_sat)).toBe(sum);
      } finally {
        v.mintBook.abandon();
        v.dir.cleanup();
      }
    }), { numRuns: 6 });
  }, 120_000);
});

describe('errors', () => {
  it('E_ECASH_KEYSET_MISMATCH is a refusal (exit 4) carrying the setting', () => {
    const e = thrown(() => settleKeyset(SEED, { input_fee_ppk: 7 }, live('default')));
    expect(e).toBeInstanceOf(OffchainError);
    expect(e.detail).toEqual({ setting: 'fee' });
  });
});
