/**
 * The operator's statement: its signed view of one coin (shares, terms, the backups it has
 * signed, the pending transfer). A receiver trusts the operator for exactly this — that
 * the listed backups are all it signed (`count`), that S is its share, that X₁ is the x₁
 * it holds — and checks everything else itself (verify.ts).
 */
import { parsePublicKey, type KeyPair } from '../keys/keys.ts';
import type { RandomSource } from '../random.ts';
import { RefusedError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import { stringifyLine } from '../json.ts';
import type { Statement } from './schemas.ts';
import { signBody, verifyBody } from './seal.ts';

export type UnsignedStatement = Omit<Statement, 'operator_sig'>;

export function signStatement(body: UnsignedStatement, operator: KeyPair, random: RandomSource): Statement {
  return { ...body, operator_sig: signBody('statement', body, operator.secretKey, random.bytes(32, 'statechain/statement-aux'), operator.publicKey) };
}

/** The statement without its signature, once the signature is the operator's; else E_BAD_OPERATOR_SIG. */
export function checkStatement(s: Statement, operatorAuth: Uint8Array, coinId: string): UnsignedStatement {
  const { operator_sig, ...body } = s;
  if (s.operator_auth !== toHex(operatorAuth)) {
    throw new RefusedError('E_WRONG_OPERATOR', `this statement is signed for operator ${s.operator_auth}, not the operator you deal with`);
  }
  if (!verifyBody('statement', body, operator_sig, parsePublicKey(s.operator_auth, 'operator_auth'))) {
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
