/**
 * ONE SEAL FOR EVERY SECRET AT REST — a secret nonce, a mint's fully signed state, a
 * statechain operator's share — whichever store keeps it (state.sqlite, PostgreSQL):
 *
 * - One key derivation: HKDF-SHA256 of the owner's secret (the signer's key, or a random
 *   process key on PostgreSQL) with salt `offchain/seal/v2`, two 32-byte keys: `enc`
 *   (AES-256-GCM) and `iv` (HMAC-SHA256).
 * - One layout: `0x02 ‖ iv (12) ‖ ciphertext ‖ tag (16)`. The iv is synthetic, the first 12
 *   bytes of HMAC(iv key, associated data ‖ plain): the same secret under the same label seals
 *   to the same bytes (a replayed step writes the same row), two different ones never share an
 *   iv under one key — or, where a row's sealed bytes serve as its fingerprint, random.
 * - One associated-data layout: the JSON array `["offchain/seal/v2", purpose, …label]`, where
 *   the label names the row and field the secret belongs to (a nonce: its id and context; a
 *   state: the contract, the field's path, its state number and txid; a share: the coin). A
 *   sealed secret moved to another row, field, context or state does not open.
 *
 * What a reader of the store without the key sees: that a secret is there, its length, and
 * whether two rows hold the same one under the same label. Nothing else.
 *
 * The forms before this one (three schemes: the mint's `hex_sealed` states, the PostgreSQL
 * operator's ChaCha20-Poly1305 shares, PostgreSQL's per-epoch nonces) are read once, where
 * a store written by an older toolkit is opened with its key, and written again in this form
 * (sqlite/migrate-v0.ts, pg/…).
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { MalformedInputError } from '../errors.ts';
import { Lru } from '../lru.ts';

const SALT = Buffer.from('offchain/seal/v2');
const VERSION = 0x02;
const OVERHEAD = 1 + 12 + 16;

/** What a sealed secret is: names the purpose in its associated data (a secret sealed for one never opens as another). */
export type SealPurpose = 'nonce' | 'state' | 'share';

export class Sealer {
  /**
   * Secrets this process sealed or opened, by sealed bytes (hex): their label and plain bytes.
   * The mint opens each contract's latest state on its next request, which is the state it
   * sealed on the last one: a hit skips a cipher pass, and is exactly what opening would give
   * (same key, same label, same bytes); anything else misses and is opened, or refused.
   */
  private readonly known = new Lru<{ aad: string; plain: Buffer }>(4096);

  private constructor(
    private readonly enc: KeyObject,
    private readonly iv: KeyObject,
  ) {}

  /** The seal of whoever holds `secret` (a signer's secret key): the same secret gives the same seal in every process. */
  static fromSecret(secret: Uint8Array): Sealer {
    const key = (info: string) => createSecretKey(Buffer.from(hkdfSync('sha256', secret, SALT, Buffer.from(info), 32)));
    return new Sealer(key('enc'), key('iv'));
  }

  /** A seal no other process can open: a fresh random secret, kept in this process's memory only. */
  static random(): Sealer {
    const secret = randomBytes(32);
    try {
      return Sealer.fromSecret(secret);
    } finally {
      secret.fill(0);
    }
  }

  private static aad(purpose: SealPurpose, label: readonly string[]): string {
    return JSON.stringify(['offchain/seal/v2', purpose, ...label]);
  }

  /**
   * `iv`: synthetic (the default: the same secret under the same label seals to the same bytes)
   * or random (a row whose sealed bytes must differ at every write, as a fingerprint of it:
   * PostgreSQL's operator shares, pg/operator-seal.ts). The layout, and opening, are the same.
   */
  seal(purpose: SealPurpose, label: readonly string[], plain: Uint8Array, iv: 'synthetic' | 'random' = 'synthetic'): Buffer {
    return this.sealing(purpose, label, plain, iv).out;
  }

  /** `seal`'s bytes as hex (a record's field, `sealFields`): encoded once, for the field and the cache alike. */
  sealHex(purpose: Exclude<SealPurpose, 'nonce'>, label: readonly string[], plain: Uint8Array): string {
    return this.sealing(purpose, label, plain, 'synthetic').hex!;
  }

  private sealing(purpose: SealPurpose, label: readonly string[], plain: Uint8Array, iv: 'synthetic' | 'random'): { out: Buffer; hex: string | undefined } {
    const aadText = Sealer.aad(purpose, label);
    const aad = Buffer.from(aadText);
    const nonce = iv === 'random' ? randomBytes(12) : createHmac('sha256', this.iv).update(`${aad.length}:`).update(aad).update(plain).digest().subarray(0, 12);
    const c = createCipheriv('aes-256-gcm', this.enc, nonce);
    c.setAAD(aad);
    const out = Buffer.concat([Buffer.of(VERSION), nonce, c.update(plain), c.final(), c.getAuthTag()]);
    if (purpose === 'nonce') return { out, hex: undefined };
    const hex = out.toString('hex');
    this.known.set(hex, { aad: aadText, plain: Buffer.from(plain) });
    return { out, hex };
  }

  /** The plain bytes, or undefined when `sealed` does not open under this key and label (altered, moved, or another key's). */
  open(purpose: SealPurpose, label: readonly string[], sealed: Uint8Array): Buffer | undefined {
    const aadText = Sealer.aad(purpose, label);
    if (purpose === 'nonce') return this.decrypt(aadText, sealed);
    const hex = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).toString('hex');
    return this.recalled(aadText, hex) ?? this.remembered(aadText, hex, this.decrypt(aadText, sealed));
  }

  /**
   * `open` of sealed bytes written as hex (a record's field, `openFields`): a hit in the cache is
   * not decoded at all. Text that is not lower-case hex of whole bytes opens to nothing.
   */
  openHex(purpose: Exclude<SealPurpose, 'nonce'>, label: readonly string[], sealed: string): Buffer | undefined {
    const aadText = Sealer.aad(purpose, label);
    if (!/^[0-9a-f]*$/.test(sealed) || sealed.length % 2 !== 0) return undefined;
    return this.recalled(aadText, sealed) ?? this.remembered(aadText, sealed, this.decrypt(aadText, Buffer.from(sealed, 'hex')));
  }

  /** What this process sealed or opened as `hex` under the same label, a copy. */
  private recalled(aadText: string, hex: string): Buffer | undefined {
    const known = this.known.get(hex);
    return known?.aad === aadText ? Buffer.from(known.plain) : undefined;
  }

  private remembered(aadText: string, hex: string, plain: Buffer | undefined): Buffer | undefined {
    if (plain !== undefined) this.known.set(hex, { aad: aadText, plain: Buffer.from(plain) });
    return plain;
  }

  private decrypt(aadText: string, sealed: Uint8Array): Buffer | undefined {
    if (sealed.length < OVERHEAD || sealed[0] !== VERSION) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.enc, sealed.subarray(1, 13));
      d.setAAD(Buffer.from(aadText));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()]);
    } catch {
      return undefined;
    }
  }
}

// ——— secret fields of JSON records ———

type Obj = Record<string, unknown>;

/**
 * A secret string field of a stored record: `path` to the object holding it, `field` its
 * name (stored sealed as `<field>_sealed`, in its place), `bind` the sibling fields named in
 * its label beside the record's id and the path (a mint's state: its number and txid).
 */
export type SecretField = { purpose: Exclude<SealPurpose, 'nonce'>; path: readonly string[]; field: string; bind?: readonly string[]; encoding: 'hex' | 'utf8' };

function at(record: unknown, path: readonly string[]): Obj | undefined {
  let o: unknown = record;
  for (const k of path) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Obj)[k];
  }
  return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Obj) : undefined;
}

/** `record` with the object at `path` replaced by `value` (copies along the path, key order kept). */
function replaced<R>(record: R, path: readonly string[], value: Obj): R {
  if (path.length === 0) return value as R;
  const [head, ...rest] = path as [string, ...string[]];
  return { ...(record as Obj), [head]: replaced((record as Obj)[head], rest, value) } as R;
}

/** `o` with key `from` renamed `to`, in its place, holding `value`. */
function renamed(o: Obj, from: string, to: string, value: string): Obj {
  const out: Obj = {};
  for (const k of Object.keys(o)) {
    // `__proto__` (a stored record is parsed JSON: it may hold one) stays an own key.
    const key = k === from ? to : k;
    const v = k === from ? value : o[k];
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

function label(id: string, f: SecretField, o: Obj): string[] {
  return [id, [...f.path, f.field].join('.'), ...(f.bind ?? []).map((b) => String(o[b]))];
}

/** Whether `record` holds one of `fields` sealed. */
export function hasSealedSecret(record: unknown, fields: readonly SecretField[]): boolean {
  return fields.some((f) => typeof at(record, f.path)?.[`${f.field}_sealed`] === 'string');
}

/** Whether `record` holds one of `fields` in the clear. */
export function hasPlainSecret(record: unknown, fields: readonly SecretField[]): boolean {
  return fields.some((f) => typeof at(record, f.path)?.[f.field] === 'string');
}

/** `record` (a copy) with each of `fields` it holds in the clear sealed under `sealer`, labelled by `id`. */
export function sealFields<R>(record: R, id: string, fields: readonly SecretField[], sealer: Sealer): R {
  let out = record;
  for (const f of fields) {
    const o = at(out, f.path);
    const plain = o?.[f.field];
    if (!o || typeof plain !== 'string') continue;
    const sealed = sealer.sealHex(f.purpose, label(id, f, o), Buffer.from(plain, f.encoding));
    out = replaced(out, f.path, renamed(o, f.field, `${f.field}_sealed`, sealed));
  }
  return out;
}

/** `record` with each sealed field opened; E_STATE_CORRUPT (exit 3) naming it when one does not open under `sealer`. */
export function openFields<R>(record: R, id: string, fields: readonly SecretField[], sealer: Sealer, where: string): R {
  let out = record;
  for (const f of fields) {
    const o = at(out, f.path);
    const sealed = o?.[`${f.field}_sealed`];
    if (!o || typeof sealed !== 'string') continue;
    const plain = sealer.openHex(f.purpose, label(id, f, o), sealed);
    if (plain === undefined) {
      throw new MalformedInputError('E_STATE_CORRUPT', `the sealed ${[...f.path, f.field].join('.')} of ${id} in ${where} does not open under this key: the record was altered, or written by another key's owner`, { id });
    }
    out = replaced(out, f.path, renamed(o, `${f.field}_sealed`, f.field, plain.toString(f.encoding)));
  }
  return out;
}
