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
import type { Statement } from './schemas.ts';
import { signBody, verifyBody } from './seal.ts';

export type UnsignedStatement = Omit<Statement, 'operator_sig'>;

export function signStatement(body: UnsignedStatement, operator: KeyPair, random: RandomSource): Statement {
  return { ...body, operator_sig: signBody('statement', body, operator.secretKey, random.bytes(32, 'statechain/statement-aux')) };
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
  return body;
}
