/**
 * The statechain operator's store in `state.sqlite` (the embedded default; PostgreSQL is
 * pg/operator-store.ts): the port src/lib/statechain/ports.ts declares, with the rules every
 * implementation keeps (written at the top of ../operator-store.ts).
 *
 * One record per coin (`records`, kind `statechain-operator`, by coin id) and one kept offer
 * per deposit request (kind `statechain-offer`, by the request's digest). A step is one
 * transaction (database.ts `step`): read the coin, run the protocol step, write the new
 * record — BEGIN IMMEDIATE holds every other writer of the database until the COMMIT, so the
 * single-use rules the protocol checks (one owner nonce signed against once, each backup
 * number once, one pending transfer, one withdrawal) are checked against the latest record.
 *
 * The share s (and x₁ while a transfer waits) is kept sealed under a key derived from the
 * operator's own (seal.ts): a copy of the database alone gives no share. The version a step
 * replaces is freed in the same transaction, and `secure_delete` zeroes its bytes in the
 * file; the WAL that held it is truncated when the database closes (database.ts): no file
 * of the old version is left to erase.
 */
import { OffchainError, StateConflictError } from '../../errors.ts';
import { coinSummary, type CoinSummary, type DepositOffer, type OperatorRecord, type OperatorStep, type OperatorStore } from '../../statechain/ports.ts';
import { coinExists, unknownCoin } from '../operator-store.ts';
import type { Sealer, SecretField } from '../seal.ts';
import type { StateDb } from './database.ts';
import { Records } from './records.ts';
import { CLEAR_SHARES_KEY } from './migrate-v0.ts';

/** The operator's secrets in its record: its share s, and x₁ while a transfer waits. */
export const OPERATOR_SECRETS: readonly SecretField[] = [
  { purpose: 'share', path: [], field: 'share_secret', encoding: 'hex' },
  { purpose: 'share', path: [], field: 'x1', encoding: 'hex' },
];

/** The meta key `statechain store migrate` leaves once the operator's coins moved to PostgreSQL. */
export const OPERATOR_MIGRATED_KEY = 'statechain_operator_migrated';
export type OperatorMigratedMark = { to: string; at: string };

/** The opened database: the coins, the kept offers. */
type Tables = { db: StateDb; coins: Records<OperatorRecord>; offers: Records<{ coin_id: string; offer: Record<string, unknown> }> };

export class SqliteOperatorStore implements OperatorStore {
  private opened: Tables | undefined;

  /** `open(create)`: the database, created only by a deposit's offer (a step on a coin, or a listing, creates nothing). */
  constructor(
    private readonly open: (create: boolean) => Promise<StateDb | undefined>,
    private readonly sealer: Sealer | undefined,
    readonly where: string,
  ) {}

  private async tables(create: boolean) {
    if (this.opened === undefined) {
      const db = await this.open(create);
      if (db === undefined) return undefined;
      this.opened = {
        db,
        coins: new Records<OperatorRecord>(db, 'statechain-operator', { fields: OPERATOR_SECRETS, ...(this.sealer ? { sealer: this.sealer } : {}) }),
        offers: new Records(db, 'statechain-offer'),
      };
      if (this.sealer) await this.sealClearShares(this.opened);
    }
    return this.opened;
  }

  /** Once, with the operator's key: the shares an imported directory (migrate-v0.ts) holds in the clear, sealed. */
  private async sealClearShares({ db, coins }: Tables): Promise<void> {
    if (db.meta(CLEAR_SHARES_KEY) === undefined) return;
    await db.step(() => {
      for (const { id, record } of coins.list()) coins.put(id, record);
      db.dropMeta(CLEAR_SHARES_KEY);
    });
  }

  async offer(request: string, make: () => DepositOffer): Promise<Record<string, unknown>> {
    if (!/^[0-9a-f]{64}$/.test(request)) throw new OffchainError('E_INTERNAL', 'a deposit request digest is 64 hex digits');
    // No database yet: nothing is kept, no coin exists — the offer is made (its request checked) first, and the
    // database only for an offer to keep: a refused first request creates nothing.
    const existing = await this.tables(false);
    const made = existing === undefined ? make() : undefined;
    const { db, coins, offers } = existing ?? (await this.tables(true))!;
    return db.step(() => {
      refuseIfMigrated(db);
      // Kept: the offer answered before for this very request.
      const kept = offers.get(request);
      if (kept !== undefined && coins.get(kept.coin_id) !== undefined) return kept.offer;
      const out = made ?? make();
      if (coins.get(out.record.coin_id) !== undefined) throw coinExists(out.record.coin_id);
      offers.put(request, { coin_id: out.record.coin_id, offer: out.message });
      coins.put(out.record.coin_id, out.record);
      return out.message;
    });
  }

  async step<M>(coinId: string, fn: OperatorStep<M>): Promise<M> {
    // A step is on a coin this store holds: no database, no coin — and none is created.
    const t = await this.tables(false);
    if (t === undefined) throw unknownCoin(coinId);
    return t.db.step(async () => {
      refuseIfMigrated(t.db);
      const current = t.coins.get(coinId);
      if (current === undefined) throw unknownCoin(coinId);
      const out = await fn(current);
      t.coins.put(coinId, out.record);
      return out.message;
    });
  }

  async coins(): Promise<CoinSummary[]> {
    const t = await this.tables(false);
    if (t === undefined) return [];
    // Listing reads no secret: the records as stored, their shares left sealed.
    return new Records<OperatorRecord>(t.db, 'statechain-operator').list().map((r) => coinSummary(r.record));
  }

  async close(): Promise<void> {}
}

/**
 * E_STORE_MIGRATED (exit 5) once the operator's coins were moved to PostgreSQL: a step here
 * would start a second store beside the database (a new coin no other host knows).
 */
function refuseIfMigrated(db: StateDb): void {
  const row = db.meta(OPERATOR_MIGRATED_KEY);
  if (row === undefined) return;
  const mark = JSON.parse(row) as OperatorMigratedMark;
  throw new StateConflictError('E_STORE_MIGRATED', `this operator's coins in ${db.dir} were moved to ${mark.to} at ${mark.at} (statechain store migrate): serve with --store ${mark.to}`, { store: mark.to });
}
