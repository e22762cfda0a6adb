/**
 * The statechain operator's store on PostgreSQL (issue 29; the port is ../operator-store.ts).
 * Any number of operator processes, on any number of machines, serve one operator.
 *
 * Tables: pg/operator-schema.ts (one per concern, and the constraints and trigger that hold
 * the single-use rules whatever a process's code does; the code checks the same rules first,
 * so a refusal carries the protocol's own code). Sealing: pg/operator-seal.ts.
 *
 * A step is one transaction: BEGIN; SELECT the coin's rows FOR UPDATE (every other step on
 * this coin waits here — steps on other coins do not); run the protocol step; write the
 * ledger rows it implies and the new record; COMMIT; only then is the answer returned. A
 * failure anywhere is a ROLLBACK: nothing written, nothing answered. A repeated request
 * finds its answer in the record (last_answer, finished transfers) and gets it again,
 * byte for byte, with nothing written.
 *
 * Erasing the replaced share. PostgreSQL never overwrites a row in place: an UPDATE writes a
 * new row version and leaves the old one dead in its page until VACUUM prunes it — and
 * pruning frees the space without zeroing it, so the old bytes stay on disk until another
 * row lands there. The new and the old version also travel through the WAL (kept until a
 * checkpoint recycles the segment; forever in a WAL archive) and sit in every base backup
 * and dump taken while they were live. So a rotated-away share s₁ outlives its deletion
 * here. What this module does about it: the share is sealed before it reaches the server
 * (a copy of the database, its WAL or a backup alone gives no share), and the share table
 * is narrow so VACUUM reclaims it quickly. What only the deployment can do
 * (docs/deployment.md): keep backups and WAL archives encrypted under keys that are
 * destroyed on a schedule, so an old share is gone once the last backup holding it is.
 *
 * Restoring a backup brings old shares back *into use*: the restored operator believes the
 * coin's previous owner still owns it and would co-sign that owner's new transfer or
 * withdrawal with s₁ — with o₁ that is the whole key. The database cannot notice its own
 * rollback, so each operator host keeps a witness outside it (pg/witness.ts: the highest
 * version of each coin this host has committed or read, with a fingerprint of that row); a
 * step that finds a coin's version below its witness, or at it with another fingerprint (a
 * fork), refuses, E_STORE_ROLLED_BACK, and writes nothing. A host that
 * never saw the newer version (a new machine, a lost --state-dir) cannot tell; that risk,
 * and what an operator does after a restore, is written down in docs/deployment.md.
 */
import type { Client } from 'pg';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { fromHex, toHex } from '../../bytes.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError } from '../../errors.ts';
import { coinSummary, finishedCount, type CoinSummary, type DepositOffer, type OperatorRecord, type OperatorStep, type OperatorStore } from '../../statechain/ports.ts';
import type { Network } from '../../network.ts';
import { coinExists, unknownCoin } from '../operator-store.ts';
import { connectPg, storeError } from './client.ts';
import type { PgTarget } from './connect.ts';
import { CONSTRAINT_CODES, ensureSchema } from './operator-schema.ts';
import { fingerprint, sealShare, shareSeal, stored, unsealShare, type ShareSeal, type Stored } from './operator-seal.ts';
import type { VersionWitness } from './witness.ts';


export interface PgOperatorStoreOptions {
  /**
   * The network this operator serves: only its coins are found, as the file store keeps each
   * network's coins in its own directory (a request relabelled with another network would
   * otherwise be served this coin — and checked against that network's witness, which is empty).
   */
  network: Network;
  /** The operator's authentication secret key: the shares are sealed under a key derived from it. */
  operatorSecret: Uint8Array;
  /** This host's record of the versions it has seen (rollback detection). */
  witness: VersionWitness;
  /** How long a step waits for a coin another step holds, ms (default 10 000, as the file lock): then E_LOCK_HELD. */
  lockTimeoutMs?: number;
  /** Test hook: called after the step's writes, before COMMIT. */
  beforeCommit?: () => Promise<void>;
}

export class PgOperatorStore implements OperatorStore {
  readonly where: string;
  private client: Client | undefined;
  private readonly sealKey: ShareSeal;
  /** The operator's public key (compressed, hex): what a record's statement names as operator_auth. */
  private readonly operatorAuth: string;

  constructor(private readonly target: PgTarget, private readonly opts: PgOperatorStoreOptions) {
    this.where = target.url;
    this.sealKey = shareSeal(opts.operatorSecret);
    this.operatorAuth = toHex(secp256k1.getPublicKey(opts.operatorSecret, true));
  }

  async offer(request: string, make: () => DepositOffer): Promise<Record<string, unknown>> {
    if (!/^[0-9a-f]{64}$/.test(request)) throw new OffchainError('E_INTERNAL', 'a deposit request digest is 64 hex digits');
    const db = await this.connection();
    const kept = await this.keptOffer(db, request);
    if (kept !== undefined) return kept;
    const out = make();
    this.sameNetwork(out.record);
    const record = out.record;
    const text = JSON.stringify(stored(record));
    const sealed = sealShare(this.sealKey, record, 1);
    try {
      await this.transaction(db, async () => {
        await db.query('INSERT INTO statechain_operator_coins (coin_id, network, status, version, record) VALUES ($1, $2, $3, 1, $4)', [record.coin_id, record.network, record.statement.status, text]);
        await db.query('INSERT INTO statechain_operator_shares (coin_id, sealed) VALUES ($1, $2)', [record.coin_id, sealed]);
        await this.writeLedger(db, undefined, record);
        await db.query('INSERT INTO statechain_operator_offers (request, coin_id, offer) VALUES ($1, $2, $3)', [request, record.coin_id, JSON.stringify(out.message)]);
      });
    } catch (e) {
      // Another process kept an offer for this very request between our read and our COMMIT: that one is the answer (ours rolled back).
      if (e instanceof OffchainError && (e.detail as { constraint?: string } | undefined)?.constraint === 'statechain_operator_offer_once') {
        const theirs = await this.keptOffer(db, request);
        if (theirs !== undefined) return theirs;
      }
      throw e;
    }
    await this.opts.witness.advance(record.coin_id, 1, fingerprint(text, sealed));
    return out.message;
  }

  /** The offer kept for a deposit request (by its digest) on this store's network, if any. */
  private async keptOffer(db: Client, request: string): Promise<Record<string, unknown> | undefined> {
    try {
      const row = (await db.query<{ offer: string }>(
        'SELECT o.offer FROM statechain_operator_offers o JOIN statechain_operator_coins c USING (coin_id) WHERE o.request = $1 AND c.network = $2',
        [request, this.opts.network],
      )).rows[0];
      return row === undefined ? undefined : (JSON.parse(row.offer) as Record<string, unknown>);
    } catch (e) {
      throw storeError(e, this.target);
    }
  }

  /** Of its network and signed for by this operator's key (E_KEY_MISMATCH): what a record whose share is still sealed already tells. */
  assertOwnKey(record: Pick<OperatorRecord, 'coin_id' | 'network' | 'statement'>): void {
    this.sameNetwork(record);
    const mine = this.operatorAuth;
    if (record.statement.operator_auth !== mine) {
      throw new RefusedError('E_KEY_MISMATCH', `coin ${record.coin_id} belongs to the operator ${record.statement.operator_auth}, not to this key (${mine}): give the operator's own key`);
    }
  }

  /**
   * A record this store may take over: of its network, signed for by this operator's key (its
   * statement's operator_auth), and holding the share its statement names. Anything else
   * would be sealed under a key that does not serve it — and its file erased after the move.
   */
  assertOwn(record: OperatorRecord): void {
    this.assertOwnKey(record);
    let share: string;
    try {
      share = toHex(secp256k1.getPublicKey(fromHex(record.share_secret, 'share', 32), true));
    } catch {
      share = '';
    }
    if (share !== record.statement.operator_share) throw new MalformedInputError('E_STATE_CORRUPT', `coin ${record.coin_id}'s record holds a share that is not its statement's operator share`);
  }

  /**
   * Take over a record kept elsewhere (the file store) mid-life: the coin, its sealed share
   * and every ledger row its history implies (owner nonces, backups, finished transfers as
   * 'done', the pending one). Version 1. 'already' when the store holds exactly this record
   * at version 1 (a migration killed after its COMMIT, run again); E_COIN_EXISTS if it holds
   * anything else under the coin's id.
   */
  async import(record: OperatorRecord): Promise<'imported' | 'already'> {
    this.assertOwn(record);
    const db = await this.connection();
    let fp: string;
    try {
      fp = await this.importIn(db, record);
    } catch (e) {
      if (e instanceof OffchainError && e.code === 'E_COIN_EXISTS' && (await this.holdsExactly(db, record))) return 'already';
      throw e;
    }
    await this.opts.witness.advance(record.coin_id, 1, fp);
    return 'imported';
  }

  /** The store holds `record` as import wrote it and nothing since: version 1, the same record, share, x₁ and owner nonces. */
  private async holdsExactly(db: Client, record: OperatorRecord): Promise<boolean> {
    try {
      const row = (await db.query<{ version: string; network: string; record: string; sealed: Buffer }>(
        'SELECT c.version, c.network, c.record, s.sealed FROM statechain_operator_coins c JOIN statechain_operator_shares s USING (coin_id) WHERE c.coin_id = $1',
        [record.coin_id],
      )).rows[0];
      if (row === undefined || Number(row.version) !== 1 || row.network !== record.network || row.record !== JSON.stringify(stored(record))) return false;
      const secrets = unsealShare(this.sealKey, this.where, row.sealed, record.coin_id, 1);
      const nonces = (await db.query<{ nonce_tag: string }>('SELECT nonce_tag FROM statechain_operator_nonces WHERE coin_id = $1 ORDER BY ordinal', [record.coin_id])).rows.map((r) => r.nonce_tag);
      return secrets.share_secret === record.share_secret && secrets.x1 === record.x1 && JSON.stringify(nonces) === JSON.stringify(record.seen_nonces);
    } catch {
      return false;
    }
  }

  private async importIn(db: Client, record: OperatorRecord): Promise<string> {
    const text = JSON.stringify(stored(record));
    const sealed = sealShare(this.sealKey, record, 1);
    await this.transaction(db, async () => {
      await db.query('INSERT INTO statechain_operator_coins (coin_id, network, status, version, record) VALUES ($1, $2, $3, 1, $4)', [record.coin_id, record.network, record.statement.status, text]);
      await db.query('INSERT INTO statechain_operator_shares (coin_id, sealed) VALUES ($1, $2)', [record.coin_id, sealed]);
      await this.writeLedger(db, undefined, { ...record, done: [] });
      for (const d of record.done) {
        await db.query("INSERT INTO statechain_operator_transfers (coin_id, transfer_id, backup_n, state) VALUES ($1, $2, $3, 'done')", [record.coin_id, d.transfer_id, finishedCount(d)]);
      }
    });
    return fingerprint(text, sealed);
  }

  async step<M>(coinId: string, fn: OperatorStep<M>): Promise<M> {
    const db = await this.connection();
    type Seen = { version: number; fingerprint: string };
    let committed: Seen | undefined;
    let read: Seen | undefined;
    let message: M;
    try {
      message = await this.stepIn(db, coinId, fn, (v) => (read = v), (v) => (committed = v));
    } catch (e) {
      // A version read under the lock was committed by someone: the witness keeps it even when this step failed.
      if (read !== undefined) await this.opts.witness.advance(coinId, read.version, read.fingerprint).catch(() => {});
      throw e;
    }
    // What this host committed, or read (a repeated request answered, nothing written): the witness rises to it
    // before the answer leaves, so a store that goes below it (or forks at it) later is refused here.
    const seen = (committed ?? read)!;
    await this.opts.witness.advance(coinId, seen.version, seen.fingerprint);
    return message;
  }

  private async stepIn<M>(db: Client, coinId: string, fn: OperatorStep<M>, onRead: (v: { version: number; fingerprint: string }) => void, onCommit: (v: { version: number; fingerprint: string }) => void): Promise<M> {
    let committed: { version: number; fingerprint: string } | undefined;
    const message = await this.transaction(db, async () => {
      const row = (await db.query<{ version: string; record: string; sealed: Buffer }>(
        'SELECT c.version, c.record, s.sealed FROM statechain_operator_coins c JOIN statechain_operator_shares s USING (coin_id) WHERE c.coin_id = $1 AND c.network = $2 FOR UPDATE OF c, s',
        [coinId, this.opts.network],
      )).rows[0];
      if (row === undefined) throw unknownCoin(coinId);
      const version = Number(row.version);
      const seenHere = fingerprint(row.record, row.sealed);
      await this.opts.witness.check(coinId, version, this.where, seenHere);
      onRead({ version, fingerprint: seenHere });
      const nonces = (await db.query<{ nonce_tag: string }>('SELECT nonce_tag FROM statechain_operator_nonces WHERE coin_id = $1 ORDER BY ordinal', [coinId])).rows.map((r) => r.nonce_tag);
      const current: OperatorRecord = { ...(JSON.parse(row.record) as Stored), ...unsealShare(this.sealKey, this.where, row.sealed, coinId, version), seen_nonces: nonces };
      const before = JSON.stringify(current);
      const out = await fn(current);
      if (JSON.stringify(out.record) === before) return out.message; // a repeated request: its stored answer, nothing written
      if (out.record.coin_id !== coinId) throw new OffchainError('E_INTERNAL', 'an operator step changed the coin id');
      await this.writeLedger(db, current, out.record);
      const text = JSON.stringify(stored(out.record));
      const sealed = sealShare(this.sealKey, out.record, version + 1);
      await db.query('UPDATE statechain_operator_coins SET status = $2, version = version + 1, record = $3, updated_at = now() WHERE coin_id = $1', [coinId, out.record.statement.status, text]);
      // The old sealed share becomes a dead row version here: see the module header for where it still lives.
      await db.query('UPDATE statechain_operator_shares SET sealed = $2 WHERE coin_id = $1', [coinId, sealed]);
      await this.opts.beforeCommit?.();
      committed = { version: version + 1, fingerprint: fingerprint(text, sealed) };
      return out.message;
    });
    if (committed !== undefined) onCommit(committed);
    return message;
  }

  /** True when this store holds coin `coinId` of its network. */
  async holds(coinId: string): Promise<boolean> {
    const db = await this.connection();
    try {
      return (await db.query('SELECT 1 FROM statechain_operator_coins WHERE coin_id = $1 AND network = $2', [coinId, this.opts.network])).rowCount === 1;
    } catch (e) {
      throw storeError(e, this.target);
    }
  }

  async coins(): Promise<CoinSummary[]> {
    const db = await this.connection();
    try {
      const rows = (await db.query<{ record: string }>('SELECT record FROM statechain_operator_coins WHERE network = $1 ORDER BY coin_id', [this.opts.network])).rows;
      return rows.map((row) => coinSummary(JSON.parse(row.record) as Stored));
    } catch (e) {
      throw storeError(e, this.target);
    }
  }

  /** Connect and create the tables if needed: E_STORE_UNREACHABLE / E_STORE_AUTH / E_STORE_URL now rather than at the first coin. */
  async ready(): Promise<void> {
    await this.connection();
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  /** The rows the change from `before` to `after` implies; a constraint refuses any second use. */
  private async writeLedger(db: Client, before: OperatorRecord | undefined, after: OperatorRecord): Promise<void> {
    const coin = after.coin_id;
    const oldNonces = before?.seen_nonces ?? [];
    if (after.seen_nonces.length < oldNonces.length || oldNonces.some((t, i) => after.seen_nonces[i] !== t)) throw new OffchainError('E_INTERNAL', 'an operator step forgot a nonce it had signed against');
    for (let i = oldNonces.length; i < after.seen_nonces.length; i++) {
      await db.query('INSERT INTO statechain_operator_nonces (coin_id, ordinal, nonce_tag) VALUES ($1, $2, $3)', [coin, i, after.seen_nonces[i]]);
    }
    const oldBackups = before?.statement.backups.length ?? 0;
    for (const b of after.statement.backups.slice(oldBackups)) {
      await db.query('INSERT INTO statechain_operator_backups (coin_id, n, txid, locktime) VALUES ($1, $2, $3, $4)', [coin, b.n, b.txid, b.locktime]);
    }
    const was = before?.statement.transfer ?? null;
    const now = after.statement.transfer;
    if (now !== null && now.transfer_id !== was?.transfer_id) {
      if (was !== null) await db.query("UPDATE statechain_operator_transfers SET state = 'replaced' WHERE coin_id = $1 AND transfer_id = $2 AND state = 'pending'", [coin, was.transfer_id]);
      await db.query("INSERT INTO statechain_operator_transfers (coin_id, transfer_id, backup_n, state) VALUES ($1, $2, $3, 'pending')", [coin, now.transfer_id, after.statement.count]);
    }
    for (const d of after.done.slice(before?.done.length ?? 0)) {
      const r = await db.query("UPDATE statechain_operator_transfers SET state = 'done' WHERE coin_id = $1 AND transfer_id = $2 AND state = 'pending'", [coin, d.transfer_id]);
      if (r.rowCount !== 1) throw new StateConflictError('E_NO_TRANSFER', `transfer ${d.transfer_id} of coin ${coin} is not pending in the store`);
    }
    if (now === null && was !== null && after.done.length === (before?.done.length ?? 0)) {
      await db.query("UPDATE statechain_operator_transfers SET state = 'replaced' WHERE coin_id = $1 AND transfer_id = $2 AND state = 'pending'", [coin, was.transfer_id]);
    }
    if (after.statement.status === 'withdrawn' && before?.statement.status !== 'withdrawn') {
      const txid = (after.last_answer?.message as { txid?: unknown } | undefined)?.txid;
      await db.query('INSERT INTO statechain_operator_withdrawals (coin_id, txid) VALUES ($1, $2)', [coin, typeof txid === 'string' ? txid : '']);
    }
  }

  private sameNetwork(record: Pick<OperatorRecord, 'coin_id' | 'network' | 'statement'>): void {
    if (record.network !== this.opts.network || record.statement.network !== this.opts.network) {
      throw new RefusedError('E_NETWORK_MISMATCH', `coin ${record.coin_id} is a ${record.statement.network} coin; this operator serves ${this.opts.network}`);
    }
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const client = await connectPg(this.target, 'offchain statechain operator');
    try {
      await ensureSchema(client, this.target);
    } catch (e) {
      await client.end().catch(() => {});
      throw storeError(e, this.target);
    }
    this.client = client;
    return client;
  }

  /** BEGIN … COMMIT around `fn`; ROLLBACK and a coded error on any failure. */
  private async transaction<T>(db: Client, fn: () => Promise<T>): Promise<T> {
    try {
      await db.query('BEGIN');
      await db.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.opts.lockTimeoutMs ?? 10_000))}`);
    } catch (e) {
      await db.query('ROLLBACK').catch(() => {});
      throw storeError(e, this.target);
    }
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await db.query('ROLLBACK').catch(() => {});
      throw this.coded(e);
    }
    try {
      await db.query('COMMIT');
    } catch (e) {
      const coded = this.coded(e);
      // The COMMIT was sent: the server may have kept the step. Not "nothing was written" — the retry says which.
      if (coded instanceof OffchainError && coded.code === 'E_STORE_UNREACHABLE') {
        const raw = String((e as Error)?.message ?? e).split('\n')[0]!;
        const text = this.target.password ? raw.split(this.target.password).join('***') : raw;
        throw new OffchainError('E_STORE_UNREACHABLE', `the store at ${this.where} did not answer the COMMIT (${text}): the step may have been kept; run it again — a kept step answers the same, nothing is signed twice`, 1, { store: this.where });
      }
      throw coded;
    }
    return result;
  }

  private coded(e: unknown): unknown {
    if (e instanceof OffchainError) return e;
    const err = e as { code?: string; constraint?: string; hint?: string; message?: string; detail?: string };
    if (err.code === '23505' || err.code === '23503') {
      const known = err.constraint !== undefined ? CONSTRAINT_CODES[err.constraint] : undefined;
      if (err.constraint === 'statechain_operator_coins_pkey') return coinExists(String(err.detail ?? err.message ?? '').match(/[0-9a-f]{32}/)?.[0] ?? '');
      const [code, text] = known ?? ['E_STATE_CONFLICT', `the store refused the write (${err.constraint ?? err.code})`];
      return new StateConflictError(code, `${text}; nothing was written`, { constraint: err.constraint });
    }
    if (err.code === 'P0001' && err.hint === 'statechain_operator_withdrawn') return new RefusedError('E_COIN_WITHDRAWN', 'this coin was withdrawn: the operator signs nothing more for it');
    if (err.code === '55P03') return new StateConflictError('E_LOCK_HELD', `another step holds this coin in ${this.where} (waited ${this.opts.lockTimeoutMs ?? 10_000} ms); run the step again — nothing was written`);
    if (err.code === '40P01' || err.code === '40001') return new StateConflictError('E_STATE_CONFLICT', `the store aborted the step (${err.code}); run it again — nothing was written`);
    if (err.code === '22P02' || err.code === '23514') return new MalformedInputError('E_STATE_CORRUPT', `the store refused a value (${err.message ?? err.code})`);
    return storeError(e, this.target);
  }
}
