/**
 * A mint's contract record as both of its stores keep it (sqlite/mint.ts, pg/mint-store.ts):
 * JSON text, its fully signed states sealed.
 *
 * SEALED STATES — nothing a reader of the mint's store can read can be broadcast. The mint
 * keeps each contract's latest fully signed state (`latest.hex`; a device channel's
 * `gateway.latest.hex`) to exit with. The user never gets it: an older state pays the mint
 * less, and a user holding one would broadcast it. A monitoring login, a backup, a read-only
 * role or a managed database's staff that read it could hand a snapshot to the user — after
 * later payments that snapshot still spends the funding. So a record reaches a store only with
 * those transactions sealed (seal.ts, purpose `state`, under the mint's key), each labelled by
 * its contract, field, state number and txid: a sealed state moved to another contract, field
 * or state does not open. Stored as `hex_sealed` in the place of `hex`; a process holding the
 * mint's key opens it back into `hex`, a view without the key (`credit list`, monitoring) reads
 * the record without it.
 *
 * What stays readable, and why that is harmless: amounts, txids, receipts (the mint's blind
 * signatures need the user's blinding factors), a close's or rollover's answer (the user was
 * given those), the device's preimages (proofs it already holds).
 *
 * The forms before: states in the clear (a store never opened with the key since an older
 * toolkit), and sealed by the scheme before seal.ts (HKDF salt `offchain/credit/v1/state-seal`,
 * a label of contract, path, state and txid). `resealed` reads either once — the first process
 * that opens such a store with the mint's key writes every record again in this form.
 */
import { createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { MalformedInputError, UsageError } from '../errors.ts';
import { hasPlainSecret, openFields, sealFields, type Sealer, type SecretField } from './seal.ts';

/** Where a mint's record carries a fully signed state. */
export const MINT_SECRETS: readonly SecretField[] = [
  { purpose: 'state', path: ['latest'], field: 'hex', bind: ['state', 'txid'], encoding: 'hex' },
  { purpose: 'state', path: ['gateway', 'latest'], field: 'hex', bind: ['state', 'txid'], encoding: 'hex' },
];

/** A record's stored text: its fully signed states sealed with `sealer`, or (no key) E_STATE_UNSEALED should one be in the clear. */
export function mintRecordText<R extends { contract_id: string }>(record: R, sealer: Sealer | undefined, where: string): string {
  if (sealer) return JSON.stringify(sealFields(record, record.contract_id, MINT_SECRETS, sealer));
  if (hasPlainSecret(record, MINT_SECRETS)) {
    throw new UsageError('E_STATE_UNSEALED', `refusing to store a fully signed state of contract ${record.contract_id} in ${where} without sealing it: this process holds no mint key`);
  }
  return JSON.stringify(record);
}

/** A stored record from its text: its fully signed states opened with `sealer`, or left sealed (a view, no key). */
export function mintRecordOf<R extends { contract_id: string }>(text: string, sealer: Sealer | undefined, where: string): R {
  const record = JSON.parse(text) as R;
  return sealer ? openFields(record, record.contract_id, MINT_SECRETS, sealer, where) : record;
}

/** Whether a record holds a fully signed state in the clear (an older toolkit's). */
export function hasPlainState(record: unknown): boolean {
  return hasPlainSecret(record, MINT_SECRETS);
}

/**
 * A stored record's text in this form: its states in the clear or sealed by the scheme before
 * seal.ts opened with the mint's key (`mintSecret`), then sealed under `sealer`. A record whose
 * older seal does not open under this key is E_STATE_CORRUPT (another mint's, or altered).
 */
export function resealed(text: string, mintSecret: Uint8Array, sealer: Sealer, where: string): string {
  type Obj = Record<string, unknown>;
  const record = JSON.parse(text) as Obj & { contract_id: string };
  const id = String(record.contract_id);
  for (const f of MINT_SECRETS) {
    let o: unknown = record;
    for (const k of f.path) o = typeof o === 'object' && o !== null ? (o as Obj)[k] : undefined;
    if (typeof o !== 'object' || o === null) continue;
    const at = o as Obj;
    const sealed = at['hex_sealed'];
    if (typeof sealed !== 'string') continue;
    const bytes = Buffer.from(sealed, 'hex');
    // Already in this form: left as it is (openFields below checks it).
    if (bytes.length > 0 && bytes[0] === 0x02 && sealer.open('state', [id, [...f.path, 'hex'].join('.'), String(at['state']), String(at['txid'])], bytes) !== undefined) continue;
    const aad = `offchain/credit/v1/sealed-state\n${id}\n${f.path.join('.')}\n${String(at['state'])}\n${String(at['txid'])}`;
    let hex: string;
    try {
      if (bytes.length < 12 + 16 || bytes.toString('hex') !== sealed) throw new Error('short');
      const d = createDecipheriv('aes-256-gcm', legacyKeys(mintSecret), bytes.subarray(0, 12));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(bytes.subarray(bytes.length - 16));
      hex = Buffer.concat([d.update(bytes.subarray(12, bytes.length - 16)), d.final()]).toString('hex');
    } catch {
      throw new MalformedInputError('E_STATE_CORRUPT', `the sealed state ${f.path.join('.')} of contract ${id} in ${where} does not open under this mint's key: the record was altered, or written by another mint`, { contract_id: id });
    }
    // In place, key order kept: `hex_sealed` back to `hex`, sealed again below. Defined, not
    // assigned: a parsed record's `__proto__` key stays an own key (assigned, it would be lost).
    const own = (o: Obj, k: string, value: unknown) => Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
    const out: Obj = {};
    for (const k of Object.keys(at)) own(out, k === 'hex_sealed' ? 'hex' : k, k === 'hex_sealed' ? hex : at[k]);
    for (const k of Object.keys(at)) delete at[k];
    for (const k of Object.keys(out)) own(at, k, out[k]);
  }
  return mintRecordText(record, sealer, where);
}

/** The encryption key of the scheme before seal.ts, derived from the mint's secret key. */
function legacyKeys(mintSecret: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', mintSecret, Buffer.from('offchain/credit/v1/state-seal'), Buffer.from('enc'), 32)));
}
