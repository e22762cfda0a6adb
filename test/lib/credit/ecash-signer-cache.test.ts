/**
 * The signer's memory of the keysets document it checked (src/lib/credit/ecash-signer.ts):
 * a document read again unchanged is not MAC-checked again (its canonical text and HMAC
 * were ~0.3 ms of every ecash payment), and the memory never changes an outcome — every
 * other document, however small the change, is checked afresh; a caller changing the document it was given changes nothing remembered.
 * The HMACs are counted through node:crypto's createHmac (the MAC's only use of it here).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

const hmacs = vi.hoisted(() => ({ n: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, createHmac: (...a: Parameters<typeof real.createHmac>) => (hmacs.n++, real.createHmac(...a)) };
});

const { EcashSigner, sameJsonValue } = await import('../../../src/lib/credit/ecash-signer.ts');
const { publishedKeysets } = await import('../../../src/lib/credit/ecash-reproduce.ts');
const { deriveMintKeyset } = await import('../../../src/lib/ecash/nut01.ts');
const { refusalAsync } = await import('../../setup/refusal.ts');
type Doc = import('../../../src/lib/credit/ecash-keysets.ts').EcashKeysetsDoc;

const SEED = 'TEST_PRIVATE_KEY';
const KS = deriveMintKeyset(SEED, { amounts: 8 });
const SEALED = publishedKeysets(SEED, KS, undefined).doc;
const TEXT = JSON.stringify(SEALED);
/** The store's read: a new object every time, as readDoc's JSON.parse gives it. */
const fromStore = () => JSON.parse(TEXT) as Doc;

/** The outcome of one refresh: the active keyset's id, or the refusal's code. */
async function outcome(signer: InstanceType<typeof EcashSigner>): Promise<string> {
  try {
    return (await signer.refresh()).active.id;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** The sealed document with one change that keeps its MAC (what a writer without the seed can do). */
const changes: [string, (d: Doc) => void, string?][] = [
  ['a fee', (d) => void (d.keysets[0]!.input_fee_ppk = 7)],
  ['the listing', (d) => void (d.keysets[0]!.listed = false)],
  ['a key', (d) => void (d.keysets[0]!.keys['1'] = d.keysets[0]!.keys['2']!)],
  ['a key dropped', (d) => void delete d.keysets[0]!.keys['128']],
  ['a field added', (d) => void ((d.keysets[0] as Record<string, unknown>)['extra'] = 1)],
  // the same document to the MAC (its text is canonical): checked afresh, and accepted as before
  ['the fields reordered', (d) => void (d.keysets[0] = Object.fromEntries(Object.entries(d.keysets[0]!).reverse()) as never), KS.id],
  ['the final expiry', (d) => void (d.keysets[0]!.final_expiry = 2_000_000_000)],
  ['the MAC', (d) => void (d.mac = '00'.repeat(32))],
];

describe('the keysets document: checked once while it stays the same', () => {
  it('read again unchanged (a new object each read): no second HMAC; the same answer', async () => {
    const signer = new EcashSigner(SEED, async () => fromStore());
    expect(await outcome(signer)).toBe(KS.id);
    const before = hmacs.n;
    for (let i = 0; i < 5; i++) expect(await outcome(signer)).toBe(KS.id);
    expect(hmacs.n - before).toBe(0);
    // the operator's request paths read it the same way
    await signer.forRequest(undefined, [{ id: KS.id }]);
    await signer.kept();
    expect(hmacs.n - before).toBe(0);
  });

  it('every change after the check (the MAC kept): checked afresh, and refused as E_STATE_CORRUPT (a reordering, the same MAC text, accepted as before)', async () => {
    for (const [what, change, expected = 'E_STATE_CORRUPT'] of changes) {
      let doc = fromStore();
      const signer = new EcashSigner(SEED, async () => doc);
      expect(await outcome(signer), what).toBe(KS.id);
      doc = fromStore();
      change(doc);
      const before = hmacs.n;
      expect(await outcome(signer), what).toBe(expected);
      expect(hmacs.n - before, `${what}: checked afresh`).toBeGreaterThan(0);
      // and the unchanged document passes after it
      doc = fromStore();
      expect(await outcome(signer), what).toBe(KS.id);
    }
  });

  it("a caller changing the document it was given changes nothing the signer remembers (the store's object read again is refused)", async () => {
    const doc = fromStore();
    const signer = new EcashSigner(SEED, async () => doc);
    const { doc: given } = await signer.refresh();
    given.keysets[0]!.input_fee_ppk = 7;
    await refusalAsync(signer.refresh(), 'E_STATE_CORRUPT', 3);
  });

  it('a document refused is not remembered: refused at every read', async () => {
    const doc = fromStore();
    doc.keysets[0]!.listed = false;
    const signer = new EcashSigner(SEED, async () => doc);
    for (let i = 0; i < 3; i++) await refusalAsync(signer.refresh(), 'E_STATE_CORRUPT', 3);
  });

  it("another seed's signer never takes the document for checked", async () => {
    // (a seed that does not give the keyset is refused first, E_WRONG_KEY; the MAC is the seed's too)
    const signer = new EcashSigner('NOT_THE_SEED', async () => fromStore());
    for (let i = 0; i < 2; i++) await refusalAsync(signer.refresh(), 'E_WRONG_KEY', 4);
  });
});

describe('sameJsonValue', () => {
  it('same JSON values: true; any difference of value, key order, type or sign of zero: false; bytes and class instances: never the same', () => {
    expect(sameJsonValue({ a: [1, 'x', null, { b: true }] }, { a: [1, 'x', null, { b: true }] })).toBe(true);
    expect(sameJsonValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameJsonValue({ a: 0 }, { a: -0 })).toBe(false);
    expect(sameJsonValue([1], { 0: 1 })).toBe(false);
    expect(sameJsonValue({ 0: 1 }, [1])).toBe(false);
    expect(sameJsonValue({ a: undefined }, {})).toBe(false);
    expect(sameJsonValue(1, '1')).toBe(false);
    expect(sameJsonValue(null, {})).toBe(false);
    expect(sameJsonValue({}, null)).toBe(false);
    const bytes = new Uint8Array([1]);
    expect(sameJsonValue(bytes, bytes)).toBe(false);
    expect(sameJsonValue({ k: bytes }, { k: bytes })).toBe(false);
  });

  it('agrees with a comparison of the JSON texts on values that JSON keeps exactly', () => {
    const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    fc.assert(fc.property(json, json, (a, b) => {
      expect(sameJsonValue(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b));
      expect(sameJsonValue(a, structuredClone(a))).toBe(true);
    }), { numRuns: 300 });
  });
});
