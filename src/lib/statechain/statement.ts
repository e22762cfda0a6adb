/**
 * The operator's statement: its signed view of one coin (shares, terms, the backups it has
 * signed, the pending transfer). A receiver trusts the operator for exactly this — that
 * the listed backups are all it signed (`count`), that S is its share, that X₁ is the x₁
 * it holds — and checks everything else itself (verify.ts).
 */
import { parsePublicKey, type KeyPair } from '../keys/keys.ts';
import type { RandomSource } from '../random.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import { stringifyLine } from '../json.ts';
import { Lru } from '../lru.ts';
import type { Statement } from './schemas.ts';
import { lineDigest, signDigest, verifyDigest } from './seal.ts';

export type UnsignedStatement = Omit<Statement, 'operator_sig'>;

/**
 * A finished transfer's receipt, as the operator's record keeps it (ports.ts): the members of its transfer-done
 * statement that a later step may change. The rest — the coin's fixed fields, status active, no transfer pending,
 * the first `count` backups and the last of them's owner_share — is the coin's current statement's
 * (statementOfReceipt). A few hundred bytes where the statement itself grows with the coin's backups: a record
 * keeping every finished transfer's statement grew with the square of its transfers, past what one string can
 * hold at about two thousand.
 */
export type TransferReceipt = { transfer_id: string; count: number; owner_auth: string; owner_auth_b?: string; operator_share: string; operator_sig: string };

/** A backup record as a plain copy of its own members, every one a string, finite number, boolean or null. */
type Flat = Record<string, string | number | boolean | null>;

/** A plain object: not null, not an array, its prototype Object's or none. */
function plain(r: unknown): r is Record<string, unknown> {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return false;
  const proto = Object.getPrototypeOf(r);
  return proto === Object.prototype || proto === null;
}

/** A plain object's own members copied, when every one is a string, finite number, boolean or null; else undefined. */
function flatCopy(r: unknown): Flat | undefined {
  if (!plain(r)) return undefined;
  const out: Flat = {};
  for (const k of Object.keys(r)) {
    const v = r[k];
    if (k === '__proto__' || !(typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v)))) return undefined;
    out[k] = v;
  }
  return out;
}

/** `r` has exactly the members of `flat` (kept from an earlier record), so the same canonical text. */
function sameMembers(flat: Flat, r: unknown): boolean {
  if (!plain(r)) return false;
  const keys = Object.keys(r);
  let n = 0;
  for (const k in flat) {
    if (r[k] !== flat[k]) return false;
    n++;
  }
  return keys.length === n;
}

/**
 * Per coin, the backup records of the statement last written here and their canonical text (joined by commas): a
 * coin's statement is signed twice per transfer, checked by whoever receives it, and grows by one record a transfer
 * — the records already there are written once, not at each signature. They are compared member by member (a
 * record read back from the store is a new object each time), never trusted by identity.
 */
const written = new Lru<{ records: Flat[]; text: string }>(256);

/**
 * The statement's canonical line, byte for byte stringifyLine's (the text its signature signs), its records'
 * part kept per coin (above). Anything but plain records — a hole, a member JSON would convert or refuse — is
 * written whole by stringifyLine, as are statements of any other shape.
 */
export function statementLine(body: UnsignedStatement): string {
  const backups = body.backups as unknown;
  if (!Array.isArray(backups) || !plain(body)) return stringifyLine(body);
  const coin = typeof body.coin_id === 'string' ? body.coin_id : undefined;
  const kept = coin === undefined ? undefined : written.get(coin);
  let records: Flat[] = [];
  let text = '';
  if (kept !== undefined && kept.records.length <= backups.length && kept.records.every((flat, i) => i in backups && sameMembers(flat, backups[i]))) {
    records = kept.records.slice();
    text = kept.text;
  }
  for (let i = records.length; i < backups.length; i++) {
    const flat = i in backups ? flatCopy(backups[i]) : undefined;
    if (flat === undefined) return stringifyLine(body);
    const t = stringifyLine(flat).slice(0, -1);
    text = i === 0 ? t : text + ',' + t;
    records.push(flat);
  }
  if (coin !== undefined && records.length > 0) written.set(coin, { records, text });
  // The members around "backups", as stringifyLine orders them: the header keys and those before it by code point
  // (a code-unit comparison with an ASCII key agrees), then the rest.
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const k of Object.keys(body)) {
    if (k === 'backups') continue;
    if (k === '__proto__') return stringifyLine(body);
    const header = k === 'type' || k === 'version' || k === 'network';
    (header || k < 'backups' ? before : after)[k] = (body as Record<string, unknown>)[k];
  }
  const head = stringifyLine(before).slice(1, -2);
  const tail = stringifyLine(after).slice(1, -2);
  return '{' + (head === '' ? '' : head + ',') + '"backups":[' + text + ']' + (tail === '' ? '' : ',' + tail) + '}\n';
}

export function signStatement(body: UnsignedStatement, operator: KeyPair, random: RandomSource): Statement {
  const digest = lineDigest('statement', statementLine(body));
  return { ...body, operator_sig: signDigest(digest, operator.secretKey, random.bytes(32, 'statechain/statement-aux'), operator.publicKey) };
}

/** The statement without its signature, once the signature is the operator's; else E_BAD_OPERATOR_SIG. */
export function checkStatement(s: Statement, operatorAuth: Uint8Array, coinId: string): UnsignedStatement {
  const { operator_sig, ...body } = s;
  if (s.operator_auth !== toHex(operatorAuth)) {
    throw new RefusedError('E_WRONG_OPERATOR', `this statement is signed for operator ${s.operator_auth}, not the operator you deal with`);
  }
  if (!verifyDigest(() => lineDigest('statement', statementLine(body)), operator_sig, parsePublicKey(s.operator_auth, 'operator_auth'))) {
    throw new RefusedError('E_BAD_OPERATOR_SIG', 'the operator\'s signature on its statement does not verify');
  }
  if (s.coin_id !== coinId) throw new RefusedError('E_WRONG_COIN', `this statement is about coin ${s.coin_id}, not ${coinId}`);
  checkFields(body);
  return body;
}

/**
 * Every field a party computes with, checked before it does (an operator can sign
 * anything; issue 22 finding 7): each key a point on the curve, the count equal to the
 * records, numbered 1…n, at least one once the coin is funded, and a funded coin names
 * its outpoint and a positive amount. A failure is coded, never a crash further on.
 */
function checkFields(s: UnsignedStatement): void {
  for (const field of ['operator_auth', 'operator_share', 'owner_auth', 'owner_share', 'aggregate'] as const) parsePublicKey(s[field], field);
  if (s.transfer !== null) for (const field of ['receiver_auth', 'receiver_share', 'x1_point'] as const) parsePublicKey(s.transfer[field], `transfer.${field}`);
  s.backups.forEach((b, i) => {
    parsePublicKey(b.owner_share, `backups[${i}].owner_share`);
    if (b.n !== i + 1) throw new RefusedError('E_BACKUP_NUMBERS', `the operator's backup records are not numbered 1…${s.backups.length} in order`);
  });
  if (s.count !== s.backups.length) throw new RefusedError('E_BACKUP_COUNT', `the operator's statement counts ${s.count} backup(s) but lists ${s.backups.length}`);
  if (s.status === 'deposit') {
    if (s.count !== 0 || s.outpoint !== null || s.amount_sat !== null) throw new RefusedError('E_BAD_STATEMENT', 'a coin not yet funded has no outpoint, amount or backup');
    return;
  }
  if (s.count < 1) throw new RefusedError('E_BACKUP_COUNT', `a funded coin has at least one backup; the operator's statement counts ${s.count}`);
  if (s.outpoint === null || s.amount_sat === null || s.amount_sat < 1) throw new RefusedError('E_BAD_STATEMENT', 'a funded coin\'s statement names its outpoint and a positive amount');
}

/** The fields of a coin that no step but its deposit and a transfer's completion may change. */
export const FIXED_FIELDS = ['coin_id', 'network', 'operator_auth', 'aggregate', 'address', 'terms', 'outpoint', 'amount_sat'] as const;

/**
 * The operator's new statement keeps `fields` as they were in `before` (our own copy):
 * an operator that signs another amount, outpoint, terms or key for the coin in an answer
 * is refused (E_BAD_STATEMENT) before anything is signed on its word.
 */
export function requireUnchanged(before: UnsignedStatement, after: UnsignedStatement, fields: readonly (keyof UnsignedStatement)[]): void {
  for (const field of fields) {
    const [a, b] = [stringifyLine(before[field] ?? null).trim(), stringifyLine(after[field] ?? null).trim()];
    if (a !== b) throw new RefusedError('E_BAD_STATEMENT', `the operator's statement changed the coin's ${field} (${b}, was ${a})`);
  }
}

/**
 * A transfer-done statement (`s`, signed at the transfer's completion) as its receipt, when the coin's record
 * gives back everything else: the statement of an active coin with no transfer pending, counting exactly its
 * backups, the last of them to its owner's share. Else undefined (it is kept whole).
 */
export function receiptOf(transferId: string, s: Statement): TransferReceipt | undefined {
  const backups = s.backups as unknown;
  if (!Array.isArray(backups) || s.status !== 'active' || s.transfer !== null || s.count !== backups.length) return undefined;
  const last = backups[s.count - 1] as { owner_share?: unknown } | undefined;
  if (last?.owner_share !== s.owner_share) return undefined;
  return {
    transfer_id: transferId, count: s.count, owner_auth: s.owner_auth, ...(s.owner_auth_b === undefined ? {} : { owner_auth_b: s.owner_auth_b }),
    operator_share: s.operator_share, operator_sig: s.operator_sig,
  };
}

/**
 * The statement a receipt stands for, rebuilt from `current` (the coin's statement now: its fixed fields, and
 * backups only ever appended since) — not checked here: whoever answers with it checks its signature first
 * (operator.ts). A count that is not one of the coin's backups is E_STATE_CORRUPT.
 */
export function statementOfReceipt(current: UnsignedStatement, r: TransferReceipt): Statement {
  const { count } = r;
  const all = (current as { backups?: unknown } | null)?.backups;
  if (!Array.isArray(all) || !Number.isInteger(count) || count < 1 || count > all.length || typeof all[count - 1] !== 'object' || all[count - 1] === null) {
    throw new MalformedInputError('E_STATE_CORRUPT', `the operator's receipt of transfer ${String(r.transfer_id)} counts ${String(count)} backup(s), which this coin's record does not hold: not a record this operator wrote; nothing answered`);
  }
  const backups = (all as Statement['backups']).slice(0, count);
  const s: Statement = {
    coin_id: current.coin_id, network: current.network, status: 'active', operator_auth: current.operator_auth, operator_share: r.operator_share,
    owner_auth: r.owner_auth, owner_share: backups[count - 1]!.owner_share, aggregate: current.aggregate, address: current.address, terms: current.terms,
    outpoint: current.outpoint, amount_sat: current.amount_sat, count, backups, transfer: null, operator_sig: r.operator_sig,
  };
  if (r.owner_auth_b !== undefined) s.owner_auth_b = r.owner_auth_b;
  return s;
}
