/**
 * The credit mint at work with the ecash mint's keysets (invariants in
 * ecash-keysets.ts): the store's document read and its MAC checked at each request,
 * each keyset derived from the seed once and checked against its stored id and keys, and
 * the keyset a request's outputs are signed under, with the announcement its receipt
 * carries.
 */
import { toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import { deriveMintKeyset, type MintKeyset } from '../ecash/nut01.ts';
import { keysetIdMatches } from '../ecash/nut02.ts';
import { announce, checkKeysetsDoc, recordOf, sealKeysetsDoc, short, type EcashKeysetRecord, type EcashKeysetsDoc, type NextKeysetJson } from './ecash-keysets.ts';

/** What the mint's record says it last told a contract to issue under (undefined before its first payment). */
export type ToldByReceipt = { state: number; signatures?: { id: string }[]; next_keyset?: { id: string } } | undefined;

/**
 * The keysets a running credit mint signs with: the store's document read at each
 * request (so a `credit ecash follow` reaches a running stream), each keyset derived from
 * the seed once and checked against its stored id and keys before its first use.
 */
export class EcashSigner {
  private cache = new Map<string, MintKeyset>();
  private doc: EcashKeysetsDoc | undefined;
  /**
   * A private copy of the last document whose MAC this seed checked. The MAC is a function of
   * the seed (this signer's, fixed) and the document alone, so a document read again that is
   * the same value, field for field, passes without a second check (its canonical text and
   * HMAC cost ~0.3 ms a request on the 64-key keysets); any other value is checked again. One
   * entry, never given out unfrozen: callers cannot change it through the document they were given.
   */
  private checked: EcashKeysetsDoc | undefined;

  /** A signer over keysets already derived, the first active (library tests and benchmarks: no seed to derive from; its document sealed under the empty seed). */
  static fixed(...keysets: MintKeyset[]): EcashSigner {
    const signer = new EcashSigner('', async () => sealKeysetsDoc('', { active: keysets[0]!.id, keysets: keysets.map((k, i) => recordOf(k, i === 0)) }));
    for (const k of keysets) signer.cache.set(k.id, k);
    return signer;
  }

  /**
   * The last checked document with the store's stamp taken before it was read (`stamp`):
   * while the stamp stays the same, nothing was written to the store since, and the document
   * is not read again. Frozen, so a caller given it cannot change what is remembered.
   */
  private unchanged: { stamp: string; doc: EcashKeysetsDoc; active: MintKeyset } | undefined;

  /**
   * `stamp`, where the store has one (SQLite: its data_version with its own document writes,
   * SqliteMintStore.docStamp): a value that differs whenever the stored document may have
   * changed, taken before each read.
   */
  constructor(
    private readonly seed: string,
    private readonly load: () => Promise<EcashKeysetsDoc>,
    private readonly now: () => number = () => Date.now(),
    private readonly stamp?: () => string,
  ) {}

  /** The document as stored now — its MAC this seed's (checkKeysetsDoc) unless `sealed` is false — and its active keyset (derived and checked: a wrong seed refuses here, before anything is signed). */
  async refresh(sealed = true): Promise<{ doc: EcashKeysetsDoc; active: MintKeyset }> {
    // Taken before the read: a write committed after it changes the next stamp (the document is read again then).
    const stamp = sealed ? this.stamp?.() : undefined;
    if (stamp !== undefined && this.unchanged?.stamp === stamp) return { doc: this.unchanged.doc, active: this.unchanged.active };
    this.unchanged = undefined;
    const doc = await this.load();
    // The active keyset first: another seed than the mint's is E_WRONG_KEY (what the operator got wrong), not a changed document.
    const active = this.keyset(doc.keysets.find((k) => k.id === doc.active)!);
    // Unsealed only for `credit ecash follow`, which rebuilds the document from the ecash mint's answers and seals it.
    if (sealed && !(this.checked !== undefined && sameJsonValue(doc, this.checked))) {
      checkKeysetsDoc(this.seed, doc);
      this.checked = jsonCopy(doc);
    }
    // this.checked is now the same value as doc (checked above or compared): remembered frozen under the stamp.
    if (stamp !== undefined && this.checked !== undefined) this.unchanged = { stamp, doc: deepFrozen(this.checked), active };
    this.doc = doc;
    return { doc, active };
  }

  /** The keyset of a record, derived once from the seed; the seed must reproduce its keys and id. */
  keyset(r: EcashKeysetRecord): MintKeyset {
    const cached = this.cache.get(r.id);
    if (cached) return cached;
    const ks = deriveMintKeyset(this.seed, r, r.id);
    const same = Object.keys(r.keys).length === ks.keys.size && [...ks.keys].every(([a, K]) => r.keys[a.toString()] === toHex(K));
    if (!same || !keysetIdMatches(r.id, ks.keys, r)) {
      throw new RefusedError('E_WRONG_KEY', `this ecash seed does not give keyset ${short(r.id)} (at ${r.path}), the one this credit mint issues under: pass the ecash mint's own seed (Nutshell: MINT_PRIVATE_KEY)`, { setting: 'seed' });
    }
    this.cache.set(r.id, ks);
    return ks;
  }

  /**
   * Every keyset this credit mint keeps — the active one and each it issued under before a
   * rotation, listed by the ecash mint or not — by id, each derived from the seed and checked
   * at its first use (E_WRONG_KEY): what NUT-09 restore answers under (ecash-restore.ts).
   */
  async kept(): Promise<{ ids: string[]; keyset(id: string): MintKeyset | undefined }> {
    const { doc } = await this.refresh();
    return {
      ids: doc.keysets.map((k) => k.id),
      keyset: (id) => {
        const r = doc.keysets.find((k) => k.id === id);
        return r ? this.keyset(r) : undefined;
      },
    };
  }

  /**
   * The keyset a request's outputs are signed under, and the announcement its receipt
   * carries: the active keyset; or, if the ecash mint still lists it and it has not
   * expired, the one this contract's last payment was signed under or the one its receipt
   * announced (any listed one before its first payment), and then the receipt announces
   * the active one. The last payment's keyset stays allowed although its receipt announced
   * another: an announcement dropped on its way (a relay, a lost answer) must not leave the
   * user unable to pay; it is announced again until the user adopts it. Anything else: the
   * active keyset, which the outputs' check refuses (E_UNKNOWN_KEYSET), or E_KEYSET_INACTIVE.
   */
  async forRequest(told: ToldByReceipt, outputs: { id: string }[] | undefined): Promise<{ keyset: MintKeyset; announce?: NextKeysetJson }> {
    const { doc, active } = await this.refresh();
    const id = outputs?.[0]?.id;
    if (id === undefined || id === active.id) return { keyset: active };
    const r = doc.keysets.find((k) => k.id === id);
    if (!r) return { keyset: active };
    const activeRecord = doc.keysets.find((k) => k.id === doc.active)!;
    if (!r.listed) throw new RefusedError('E_KEYSET_INACTIVE', `keyset ${short(id)} is no longer listed by the ecash mint (its tokens would not redeem): make the outputs under keyset ${short(active.id)}`);
    if (r.final_expiry && r.final_expiry * 1000 <= this.now()) throw new RefusedError('E_KEYSET_INACTIVE', `keyset ${short(id)} expired at ${r.final_expiry}: make the outputs under keyset ${short(active.id)}`);
    const last = told?.signatures?.[0]?.id;
    const announced = told?.next_keyset?.id;
    if (told && id !== last && id !== announced) {
      throw new RefusedError('E_KEYSET_INACTIVE', `the outputs name keyset ${short(id)}, which the ecash mint no longer issues under; the receipt of state ${told.state} told this contract to use ${short(announced ?? last ?? active.id)}`);
    }
    return { keyset: this.keyset(r), announce: announce(activeRecord) };
  }
}

/** `v` with every object and array in it frozen (a JSON value). */
function deepFrozen<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFrozen(x);
    Object.freeze(v);
  }
  return v;
}

/** A deep copy of a JSON value (undefined if it holds something structuredClone refuses: then nothing is remembered). */
function jsonCopy<T>(v: T): T | undefined {
  try {
    return structuredClone(v);
  } catch {
    return undefined;
  }
}

/**
 * Whether two values are the same JSON value: plain objects with the same keys in the same
 * order, arrays of the same length, primitives Object.is-equal (0 and −0 differ), each member
 * alike. Anything else (a class instance, bytes, a function) is never the same: the caller
 * then checks afresh. Not ../json.ts's sameJson: that compares canonical texts, and making the
 * 64-key document's text is most of the check this comparison spares.
 */
export function sameJsonValue(a: unknown, b: unknown): boolean {
  if (a === null || (typeof a !== 'object' && typeof a !== 'function')) return Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJsonValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameJsonValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
