/**
 * The statechain operator's store port (issue 29): what the operator's steps need from
 * storage, with two implementations — the files under --state-dir (this module, the
 * embedded default) and PostgreSQL (pg/operator-store.ts, `--store postgres://…`). The
 * operator's protocol code (src/lib/statechain/operator.ts) and its commands do not know
 * which one they have.
 *
 * What the operator keeps, per coin (`OperatorRecord`): its share s (the only long-lived
 * secret), x₁ while a transfer waits, the statement it signs (owner, shares, backups with
 * their locktimes, the pending transfer), the owner nonces it has signed against, finished
 * transfers' receipts and its last answer (so a repeated request gets the same answer).
 * It keeps no secret nonce: it signs last, with a fresh nonce it never stores.
 *
 * The rules every implementation keeps:
 * - one record per coin id (E_COIN_EXISTS);
 * - one offer per deposit request: the same request again gets the offer kept for it (the
 *   file store keeps it in `offer-<request digest>`, written before op-<coin>; PostgreSQL in
 *   statechain_operator_offers, in the coin's own transaction), never a second coin;
 * - a step is read-modify-write of one coin's record with that coin locked for the whole
 *   step; nothing the step answers leaves before its record is durable;
 * - the version a step replaces is erased (the file store overwrites its bytes; PostgreSQL
 *   cannot — see pg/operator-store.ts for what it does instead and what remains);
 * - single use: an owner nonce is signed against once per coin, each backup number is
 *   signed once, a transfer id is used once, one transfer is pending at a time, one
 *   withdrawal per coin. The file store holds them in code under the lock; PostgreSQL holds
 *   them as constraints too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OffchainError, StateConflictError } from '../errors.ts';
import { readJsonFile, writeJsonAtomic } from './atomic.ts';
import { withLock } from './lock.ts';
import { coinSummary, type CoinSummary, type DepositOffer, type OperatorRecord, type OperatorStep, type OperatorStore } from '../statechain/ports.ts';
import { updateErasingReplaced } from './erase-on-replace.ts';
import { StateStore } from './state-store.ts';

export function unknownCoin(coinId: string): StateConflictError {
  return new StateConflictError('E_UNKNOWN_COIN', `this operator has no coin ${coinId} (wrong --state-dir, --store or network?)`);
}

export function coinExists(coinId: string): StateConflictError {
  return new StateConflictError('E_COIN_EXISTS', `coin ${coinId} exists already`);
}

/** The mark `statechain store migrate` leaves in the directory it moved (pg/operator-migrate.ts). */
export const MIGRATED_MARK = 'operator-migrated';
export type MigratedMark = { to: string; at: string };

/**
 * E_STORE_MIGRATED (exit 5) once the operator's files were moved to PostgreSQL: a step here
 * would start a second store beside the database (a new coin no other host knows).
 */
async function refuseIfMigrated(dir: string): Promise<void> {
  const mark = await readJsonFile<MigratedMark>(join(dir, `${MIGRATED_MARK}.json`));
  if (mark !== undefined) {
    throw new StateConflictError('E_STORE_MIGRATED', `this operator's coins in ${dir} were moved to ${mark.to} at ${mark.at} (statechain store migrate): serve with --store ${mark.to}`, { store: mark.to });
  }
}

/** The embedded store: `op-<coin>.json` under <state-dir>/<network>/statechain, under the directory lock. */
export class FileOperatorStore implements OperatorStore {
  readonly where: string;
  private readonly docs: StateStore;

  constructor(statechainDir: string) {
    this.docs = new StateStore(statechainDir);
    this.where = this.docs.dir;
  }

  async offer(request: string, make: () => DepositOffer): Promise<Record<string, unknown>> {
    if (!/^[0-9a-f]{64}$/.test(request)) throw new OffchainError('E_INTERNAL', 'a deposit request digest is 64 hex digits');
    const dir = this.docs.dir;
    const file = (name: string) => join(dir, `${name}.json`);
    return withLock(dir, async () => {
      await refuseIfMigrated(dir);
      // Kept: the offer answered before (an index whose coin never got written — a crash between the two writes — is no offer).
      const kept = await readJsonFile<{ coin_id: string; offer: Record<string, unknown> }>(file(`offer-${request}`));
      if (kept !== undefined && (await readJsonFile(file(`op-${kept.coin_id}`))) !== undefined) return kept.offer;
      const out = make();
      if ((await readJsonFile(file(`op-${out.record.coin_id}`))) !== undefined) throw coinExists(out.record.coin_id);
      await writeJsonAtomic(file(`offer-${request}`), { coin_id: out.record.coin_id, offer: out.message });
      await writeJsonAtomic(file(`op-${out.record.coin_id}`), out.record);
      return out.message;
    });
  }

  async step<M>(coinId: string, fn: OperatorStep<M>): Promise<M> {
    let message: M | undefined;
    // A step is on a coin this store holds: no directory, no coin — and none is created (a mistyped --state-dir leaves no trace).
    if (!existsSync(this.docs.dir)) throw unknownCoin(coinId);
    await updateErasingReplaced<OperatorRecord>(this.docs.dir, `op-${coinId}`, async (current) => {
      await refuseIfMigrated(this.docs.dir);
      if (current === undefined) throw unknownCoin(coinId);
      const out = await fn(current);
      message = out.message;
      // Every version of op-<coin> holds the share (and x₁ while a transfer waits): each one replaced is erased,
      // not only the one replaced at the rotation, or an earlier version's inode keeps s₁ after it (finding E).
      return { next: out.record, erase: true };
    });
    return message!;
  }

  async coins(): Promise<CoinSummary[]> {
    const out: CoinSummary[] = [];
    for (const name of await this.docs.list()) {
      if (!/^op-[0-9a-f]{32}$/.test(name)) continue;
      const r = await this.docs.read<OperatorRecord>(name);
      if (r !== undefined) out.push(coinSummary(r));
    }
    return out;
  }

  async close(): Promise<void> {}
}

export function fileOperatorStore(stateDir: string): FileOperatorStore {
  return new FileOperatorStore(join(stateDir, 'statechain'));
}
