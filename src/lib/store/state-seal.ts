/**
 * SEALED STATES — nothing a reader of the mint's store can read can be broadcast.
 *
 * The mint keeps each contract's latest fully signed state (`latest.hex`; a device
 * channel's `gateway.latest.hex`) to exit with. The user never gets it: an older state pays
 * the mint less, and a user holding one would broadcast it. A monitoring login, a backup, a
 * read-only role or a managed database's staff that read it could hand a snapshot to the
 * user — after later payments that snapshot still spends the funding. So a record reaches
 * a store only with those transactions sealed:
 *
 * - AES-256-GCM under a key derived from the mint's secret key (HKDF-SHA256, salt
 *   "offchain/credit/v1/state-seal", info "enc"), which no store ever sees; the nonce is
 *   synthetic — HMAC-SHA256 (info "iv") of the associated data and the transaction, so the
 *   same state seals to the same bytes (a replayed step writes the same record) and two
 *   different ones never share a nonce.
 * - Associated data: contract id, the field's path, the state number and its txid — a
 *   sealed state moved to another contract, field or state does not open.
 * - Stored as `hex_sealed` in the place of `hex` (same key order): `hex_sealed` is
 *   hex(iv ‖ ciphertext ‖ tag). A process holding the mint's key opens it back into `hex`;
 *   a view without the key (`credit list`, monitoring) sees the record without it.
 *
 * What stays readable, and why that is harmless: amounts, txids, receipts (the mint's
 * blind signatures need the user's blinding factors), a close's or rollover's answer (the
 * user was given those), the device's preimages (proofs it already holds).
 *
 * Stores written by an older toolkit hold plain states: the first mint process with the key
 * seals them all, once (`sealStoredRecords`); `credit store migrate` seals what it copies.
 * Copies taken before that (backups, WAL, dead row versions) still hold them: see
 * docs/deployment.md, "Least privilege".
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { MalformedInputError, UsageError } from '../errors.ts';
import { Lru } from '../lru.ts';

/** Where a record carries a fully signed state: `<path>.hex`, with `state` and `txid` beside it. */
export const SEALED_PATHS: readonly (readonly string[])[] = [['latest'], ['gateway', 'latest']];

type Obj = Record<string, unknown>;

function at(record: unknown, path: readonly string[]): Obj | undefined {
  let o: unknown = record;
  for (const k of path) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Obj)[k];
  }
  return typeof o === 'object' && o !== null ? (o as Obj) : undefined;
}

/** `record` with the object at `path` replaced by `value` (copies along the path, key order kept). */
function replaced<R>(record: R, path: readonly string[], value: Obj): R {
  if (path.length === 0) return value as R;
  const [head, ...rest] = path as [string, ...string[]];
  return { ...(record as Obj), [head]: replaced((record as Obj)[head], rest, value) } as R;
}

/** `o` with key `from` renamed `to` (in its place) and given `value`. (A loop: entries and fromEntries cost ~3× as much, twice an update.) */
function renamed(o: Obj, from: string, to: string, value: string): Obj {
  const out: Obj = {};
  for (const k of Object.keys(o)) {
    // `__proto__` (a stored record is parsed JSON: it may hold one) stays an own key, as fromEntries made it.
    if (k === '__proto__' || to === '__proto__') Object.defineProperty(out, k === from ? to : k, { value: k === from ? value : o[k], enumerable: true, writable: true, configurable: true });
    else if (k === from) out[to] = value;
    else out[k] = o[k];
  }
  return out;
}

/** Whether `record` carries a fully signed state in the clear. */
export function hasPlainState(record: unknown): boolean {
  return SEALED_PATHS.some((p) => typeof at(record, p)?.['hex'] === 'string');
}

/** A record that may go to a store without sealing (it has no state in the clear), or E_STATE_UNSEALED. */
export function unsealedRefused<R>(record: R, where: string): R {
  if (hasPlainState(record)) {
    throw new UsageError('E_STATE_UNSEALED', `refusing to store a fully signed state of contract ${(record as Obj)['contract_id']} in ${where} without sealing it: this process holds no mint key`);
  }
  return record;
}

export class StateSeal {
  /**
   * What this process sealed or opened, by sealed text: its associated data and the plain
   * state. The mint opens each contract's latest state on its next request, which is the
   * state it sealed on the last one, so it need not decrypt its own output again (a cipher
   * and a GCM pass per request). A hit is exactly what opening would give — the same key,
   * the same associated data, the same bytes — and anything else (an edited seal, a seal
   * moved to another contract, state or field: its associated data differs) misses and is
   * opened, or refused, as before. Keyed by the sealed text alone, a flat string as JSON.parse
   * and toString('hex') make it (the text joined to its associated data was a rope of ~700
   * characters, flattened and hashed at every seal and open). In this process's memory only,
   * where the records it stores pass anyway.
   */
  private readonly known = new Lru<{ aad: string; hex: string }>(4096);

  private constructor(
    private readonly enc: KeyObject,
    private readonly iv: KeyObject,
  ) {}

  /** The seal of the mint whose secret key this is. */
  static fromMintKey(secretKey: Uint8Array): StateSeal {
    const salt = Buffer.from('offchain/credit/v1/state-seal');
    // Key objects, imported once: a raw key given to createHmac / createCipheriv is imported at every call.
    const key = (info: string) => createSecretKey(Buffer.from(hkdfSync('sha256', secretKey, salt, Buffer.from(info), 32)));
    return new StateSeal(key('enc'), key('iv'));
  }

  /** The associated data, as text (its UTF-8 bytes are what the cipher binds). */
  private static aad(contractId: string, path: readonly string[], o: Obj): string {
    return `offchain/credit/v1/sealed-state\n${contractId}\n${path.join('.')}\n${String(o['state'])}\n${String(o['txid'])}`;
  }

  /** `record` with every state in the clear sealed (a copy; the record itself is untouched). */
  seal<R>(record: R): R {
    let out = record;
    for (const path of SEALED_PATHS) {
      const o = at(out, path);
      const hex = o?.['hex'];
      if (!o || typeof hex !== 'string') continue;
      const aadText = StateSeal.aad(String((record as Obj)['contract_id']), path, o);
      const aad = Buffer.from(aadText);
      const plain = Buffer.from(hex, 'hex');
      const iv = createHmac('sha256', this.iv).update(`${aad.length}:`).update(aad).update(plain).digest().subarray(0, 12);
      const c = createCipheriv('aes-256-gcm', this.enc, iv);
      c.setAAD(aad);
      const sealed = Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]).toString('hex');
      this.known.set(sealed, { aad: aadText, hex });
      out = replaced(out, path, renamed(o, 'hex', 'hex_sealed', sealed));
    }
    return out;
  }

  /** `record` with every sealed state opened; E_STATE_CORRUPT when one does not open under this key. */
  open<R>(record: R, where: string): R {
    let out = record;
    for (const path of SEALED_PATHS) {
      const o = at(out, path);
      const sealed = o?.['hex_sealed'];
      if (!o || typeof sealed !== 'string') continue;
      const id = String((record as Obj)['contract_id']);
      const aad = StateSeal.aad(id, path, o);
      const known = this.known.get(sealed);
      let hex = known?.aad === aad ? known.hex : undefined;
      if (hex === undefined) {
        const bytes = Buffer.from(sealed, 'hex');
        try {
          if (bytes.length < 12 + 16 || bytes.toString('hex') !== sealed) throw new Error('short');
          const d = createDecipheriv('aes-256-gcm', this.enc, bytes.subarray(0, 12));
          d.setAAD(Buffer.from(aad));
          d.setAuthTag(bytes.subarray(bytes.length - 16));
          hex = Buffer.concat([d.update(bytes.subarray(12, bytes.length - 16)), d.final()]).toString('hex');
        } catch {
          throw new MalformedInputError('E_STATE_CORRUPT', `the sealed state ${path.join('.')} of contract ${id} in ${where} does not open under this mint's key: the record was altered, or written by another mint`, { contract_id: id });
        }
        this.known.set(sealed, { aad, hex });
      }
      out = replaced(out, path, renamed(o, 'hex_sealed', 'hex', hex));
    }
    return out;
  }
}

/** A record's stored text: its fully signed states sealed with `seal`, or (no key) E_STATE_UNSEALED should one be in the clear. */
export function storedText(record: unknown, seal: StateSeal | undefined, where: string): string {
  return JSON.stringify(seal ? seal.seal(record) : unsealedRefused(record, where));
}

/** A stored record from its text: its fully signed states opened with `seal`, or left sealed (a view, no key). */
export function storedRecord<R>(text: string, seal: StateSeal | undefined, where: string): R {
  const record = JSON.parse(text) as R;
  return seal ? seal.open(record, where) : record;
}

/**
 * Of stored records (their JSON text), those holding a state in the clear, sealed: what a
 * store written by an older toolkit rewrites once, with the mint's key.
 */
export function sealStoredRecords(rows: readonly { contract_id: string; record: string }[], seal: StateSeal): { contract_id: string; record: string }[] {
  const out: { contract_id: string; record: string }[] = [];
  for (const row of rows) {
    const record = JSON.parse(row.record) as unknown;
    if (hasPlainState(record)) out.push({ contract_id: row.contract_id, record: JSON.stringify(seal.seal(record)) });
  }
  return out;
}
