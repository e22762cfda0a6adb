/**
 * Two `serve statechain` processes on one PostgreSQL (the operator keeps no secret nonce, so
 * no request needs a particular process): three owners at once deposit, transfer to a
 * receiver, and the receivers withdraw, every step's `--peer` sent to a process picked at
 * random (seeded) — the same message sent to the other process answers the same bytes, and a
 * deposit-request sent to both at once gets one offer. Afterwards the store holds exactly
 * three coins, withdrawn, each with two backups, one finished transfer and one offer.
 * Skips visibly where no PostgreSQL can be started.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describePostgres } from './fixture.ts';
import { OFFLINE, RECEIVER_KEYS, count, operatorDatabase } from './operator.ts';
import { KEYS, OPERATOR_PUB, TERMS, flow, fundingPsbt, fundingTo } from '../e2e/statechain-flow.ts';
import { startServe, type Served } from '../e2e/serve-process.ts';
import { seeded } from '../helpers.ts';

const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

describePostgres('serve statechain: two processes, one PostgreSQL, any request to either', (fx) => {
  const pgdb = operatorDatabase(fx);
  let dir: string;
  const svcs: Served[] = [];

  beforeAll(async () => {
    dir = pgdb.temp();
    for (const host of ['OP0', 'OP1']) {
      svcs.push(await startServe(['statechain', '--key-env', 'OPERATOR_KEY', '--state-dir', join(dir, host), '--store', pgdb.url, ...OFFLINE, ...TERMS, '--log-level', 'warn'], { ...KEYS, OFFCHAIN_STORE_PASSWORD: fx.server.password }));
    }
  }, 60_000);
  afterAll(async () => {
    for (const s of svcs) expect(await s.stop()).toBe(0);
  });

  it('three owners\' deposits, transfers and withdrawals, each step to a random process: all complete, one coin each, nothing twice', async () => {
    const random = seeded(39);
    const pick = () => svcs[Math.floor(random() * svcs.length)]!.public;
    const f = flow(dir, () => OFFLINE, RECEIVER_KEYS);
    const step = async (who: string, args: string[], input?: string) => {
      const r = await f.asAsync(who, [...args, '--peer', pick()], input);
      expect(r.status, `${who} ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    const life = async (owner: string, receiver: string) => {
      const offerText = await step(owner, ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]);
      const offer = JSON.parse(offerText) as { coin_id: string; statement: { address: string } };
      // The same request to both processes at once: one offer, the same bytes from each.
      const request = (await f.asAsync(owner, ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB])).stdout;
      const both = await Promise.all(svcs.map((s) => fetch(`${s.public}/v1/statechain/deposit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request }).then((r) => r.text())));
      expect(both[1]).toBe(both[0]);
      const psbt = join(dir, `${offer.coin_id}.psbt`);
      writeFileSync(psbt, fundingPsbt(fundingTo(offer.statement.address, 100_000n)));
      expect(JSON.parse(await step(owner, ['statechain-deposit', '--funding', psbt], offerText))).toMatchObject({ type: 'statechain/coin', coin_id: offer.coin_id });
      const tRequest = (await f.asAsync(receiver, ['statechain-transfer', '--start', '--coin', offer.coin_id, '--operator-key', OPERATOR_PUB])).stdout;
      const pkg = await step(owner, ['statechain-transfer'], tRequest);
      expect(JSON.parse(await step(receiver, ['statechain-transfer'], pkg))).toMatchObject({ type: 'statechain/coin', coin_id: offer.coin_id });
      expect(JSON.parse(await step(receiver, ['statechain-withdraw', '--coin', offer.coin_id, '--to', TO, '--fee-rate', '2']))).toMatchObject({ type: 'statechain/spend', coin_id: offer.coin_id });
      return { coinId: offer.coin_id, secondOffer: JSON.parse(both[0]!) as { coin_id: string } };
    };
    const lives = await Promise.all([life('ALICE_KEY', 'R0_KEY'), life('BOB_KEY', 'R1_KEY'), life('CAROL_KEY', 'R2_KEY')]);
    const coins = lives.flatMap((l) => [l.coinId, l.secondOffer.coin_id]);
    expect(new Set(coins).size).toBe(6); // three coins lived, three more offered once each (the requests sent to both processes)
    for (const { coinId } of lives) {
      expect((await pgdb.db.query<{ status: string }>('SELECT status FROM statechain_operator_coins WHERE coin_id = $1', [coinId])).rows).toEqual([{ status: 'withdrawn' }]);
      expect(await count(pgdb.db, 'backups', 'coin_id = $1', [coinId])).toBe(2);
      expect(await count(pgdb.db, 'transfers', "coin_id = $1 AND state = 'done'", [coinId])).toBe(1);
      expect(await count(pgdb.db, 'withdrawals', 'coin_id = $1', [coinId])).toBe(1);
    }
    expect(await count(pgdb.db, 'coins')).toBe(6);
    expect(await count(pgdb.db, 'offers')).toBe(6);
  }, 240_000);
});
