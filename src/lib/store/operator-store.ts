/**
 * The statechain operator's store port (issue 29): what the operator's steps need from
 * storage, with two implementations — state.sqlite under --state-dir (sqlite/operator.ts,
 * the embedded default) and PostgreSQL (pg/operator-store.ts, `--store postgres://…`). The
 * operator's protocol code (src/lib/statechain/operator.ts) and its commands do not know
 * which one they have. This file holds the rules both keep and the refusals they share.
 *
 * What the operator keeps, per coin (`OperatorRecord`): its share s (the only long-lived
 * secret), x₁ while a transfer waits, the statement it signs (owner, shares, backups with
 * their locktimes, the pending transfer), the owner nonces it has signed against, finished
 * transfers' receipts and its last answer (so a repeated request gets the same answer).
 * It keeps no secret nonce: it signs last, with a fresh nonce it never stores.
 *
 * The rules every implementation keeps:
 * - one record per coin id (E_COIN_EXISTS);
 * - one offer per deposit request: the same request again gets the offer kept for it (SQLite
 *   keeps it as a `statechain-offer` record, PostgreSQL in statechain_operator_offers, each in
 *   the coin's own transaction), never a second coin;
 * - a step is read-modify-write of one coin's record with that coin locked for the whole
 *   step; nothing the step answers leaves before its record is durable;
 * - the version a step replaces is erased (SQLite's secure_delete zeroes the freed row, the
 *   share sealed under the operator's key either way; PostgreSQL cannot erase — see
 *   pg/operator-store.ts for what it does instead and what remains);
 * - single use: an owner nonce is signed against once per coin, each backup number is
 *   signed once, a transfer id is used once, one transfer is pending at a time, one
 *   withdrawal per coin. SQLite holds them in code inside the step's transaction; PostgreSQL
 *   holds them as constraints too.
 */
import { StateConflictError } from '../errors.ts';

export function unknownCoin(coinId: string): StateConflictError {
  return new StateConflictError('E_UNKNOWN_COIN', `this operator has no coin ${coinId} (wrong --state-dir, --store or network?)`);
}

export function coinExists(coinId: string): StateConflictError {
  return new StateConflictError('E_COIN_EXISTS', `coin ${coinId} exists already`);
}


