/**
 * What a restore means for the statechain operator (issue 29): a backup of the operator's
 * PostgreSQL store taken before a transfer, the transfer made (Alice → Bob: the operator's
 * share s₁ replaced by s₂), the backup restored (the server's data directory put back, as a
 * restored base backup or a promoted lagging standby would be). The restored store believes
 * Alice still owns the coin and holds s₁ again.
 *
 *  - The operator host that committed the transfer refuses every step on the coin
 *    (E_STORE_ROLLED_BACK, exit 1): its witness outside the database saw a later version.
 *    Alice's withdrawal to herself is not signed; nothing is written.
 *  - A host without that witness (a new machine, a wiped --state-dir) cannot tell. It
 *    signs Alice's withdrawal with the resurrected s₁, and the spend verifies: the coin Bob
 *    owns goes to Alice. This is the risk docs/deployment.md states; the test pins it
 *    down so that the documentation stays true.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { bytesOf, parseTx } from '../independent/tx.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS, OPERATOR_PUB, depositThrough, fundingTo, ok, refused, transferThrough } from '../e2e/statechain-flow.ts';
import { connect, pgFlow, snapshot } from './operator.ts';

const ALICE_ADDRESS = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

describePostgres('statechain operator: a restored store', (fx) => {
  let url: string;
  beforeAll(async () => {
    url = await fx.server.createDatabase('operator');
  });

  // The data directory belongs to the server's user: copied with owners and modes kept, while the server is stopped.
  const copyData = (from: string, to: string) => execFileSync('cp', ['-a', from, to]);

  it('restored before a transfer: the host that saw the transfer refuses; a host that did not signs the old owner\'s withdrawal with the old share', async () => {
    const f = pgFlow(fx.root, fx.server, url, { ALICE_OLD: KEYS.ALICE_KEY! });
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const S1 = JSON.parse(d.offer).statement.operator_share as string;

    // The backup: the whole cluster, stopped (a base backup's worth); Alice keeps a copy of her state of that moment.
    const backup = join(fx.root, 'backup');
    await fx.server.pause();
    copyData(fx.server.dataDir, backup);
    await fx.server.resume();
    cpSync(join(fx.root, 'ALICE_KEY'), join(fx.root, 'ALICE_OLD'), { recursive: true });

    const t = transferThrough(f, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    const S2 = JSON.parse(t.done).statement.operator_share as string;
    expect(S2).not.toBe(S1);

    // The restore.
    await fx.server.pause();
    rmSync(fx.server.dataDir, { recursive: true, force: true });
    copyData(backup, fx.server.dataDir);
    await fx.server.resume();
    const db = await connect(fx.server, 'operator');
    try {
      const restored = await snapshot(db);
      expect((restored['statechain_operator_transfers'] ?? []).length).toBe(0); // the transfer is gone from the store

      // Alice, from her state before the transfer, withdraws the coin to herself.
      const w1 = ok(f.as('ALICE_OLD', ['statechain-withdraw', '--coin', d.coinId, '--to', ALICE_ADDRESS, '--fee-rate', '2']));
      const r = f.as('OPERATOR_KEY', ['statechain-withdraw'], w1);
      refused(r, 'E_STORE_ROLLED_BACK', 1);
      expect(r.stderr).toMatch(/holds version \d+ of [0-9a-f]{32}, but this host committed version \d+/);
      expect(await snapshot(db)).toEqual(restored);

      // A host with no witness: the restored store is all it knows. It signs with s₁ — the share it had deleted.
      const w2 = ok(f.as('OPERATOR_NEW', ['statechain-withdraw'], w1));
      expect(JSON.parse(w2).statement.operator_share).toBe(S1);
      const spend = JSON.parse(ok(f.as('ALICE_OLD', ['statechain-withdraw'], w2))) as { hex: string };
      const P = d.coin.statement.aggregate;
      const fundingOut = parseTx(readFileSync(d.fundingFile, 'utf8')).outputs[1]!;
      // A valid key-path spend of the coin Bob owns, paying Alice: the risk a restore carries.
      verifyKeyPathSpend(spend.hex, [{ amount: fundingOut.amount, script: fundingOut.script }], taprootOutput(bytesOf(P).subarray(1)).outputKey);
      expect(t.coin.coin_id).toBe(d.coinId);
    } finally {
      await db.end();
    }
  }, 300_000);
}, { prefix: 'offchain-pg-restore-' });
