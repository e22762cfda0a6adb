/**
 * A host epoch's nonce ledger (src/lib/store/pg/host-epoch.ts, "THE LEDGER"), with the
 * library's one-shot "commands" of host-stores.ts: a used epoch keeps its journal beside
 * its key; one used without it — an older offchain's, or its ledger lost — cannot tell which
 * of its nonces it opened, and is retired as after a restore (its nonces then refused
 * E_NONCE_ELSEWHERE, recovered by abandon); a fresh epoch is not. And the rewind of one row
 * against one-shot commands: refused by the next command, whichever process it is.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { refusalAsync } from '../setup/refusal.ts';
import { describePostgres } from './fixture.ts';
import { command, issue, storeTarget, type Rec } from './host-stores.ts';
import { dba, rewind, save } from './rewind.ts';

describePostgres('host epochs keep a nonce ledger beside their key', (fx) => {
  it('a used epoch without its ledger is retired (its nonces refused elsewhere, burnable); a fresh one is not', async () => {
    const { t } = await storeTarget(fx.server, 'ledger_lost');
    const host = join(fx.root, 'ledger-lost');
    const a = await issue(t, host, 'ctx:a');
    const first = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(first.retiredHostEpoch).toBeUndefined();
    const epoch = first.epoch;
    await first.close();
    const ledgers = readdirSync(host).filter((f) => f.startsWith('ledger-'));
    expect(ledgers).toEqual([`ledger-${epoch}`]);
    rmSync(join(host, ledgers[0]!), { recursive: true });
    const next = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(next.retiredHostEpoch).toMatchObject({ epoch, noLedger: true });
    expect(next.epoch).not.toBe(epoch);
    await next.close();
    await refusalAsync(command(t, host, (s) => s.take(a.pub, 'ctx:a')), 'E_NONCE_ELSEWHERE', 5);
    await command(t, host, (s) => s.burn(a.pub, 'ctx:a'));
    expect(await command(t, host, (s) => s.status(a.pub))).toBe('consumed');
  }, 60_000);

  it('one-shot commands: a nonce taken by one command, its row put back, is refused by every later command of the host (E_NONCE_REOPENED) and never opened twice', async () => {
    const { t, url } = await storeTarget(fx.server, 'ledger_rewind');
    const host = join(fx.root, 'ledger-rewind');
    const a = await issue(t, host, 'ctx:a');
    const db = await dba(fx.server, url);
    try {
      const rows = await db.query("INSERT INTO contracts (contract_id, record) VALUES ('c', '{\"contract_id\":\"c\",\"status\":\"open\"}') RETURNING contract_id");
      expect(rows.rowCount).toBe(1);
      const saved = await save(db, 'c', Buffer.from(a.pub).toString('hex'));
      const opened = await command(t, host, (s) => s.take(a.pub, 'ctx:a'));
      expect(Buffer.from(opened).equals(Buffer.from(a.sec))).toBe(true);
      for (let i = 0; i < 3; i++) {
        await rewind(db, 'c', saved);
        await refusalAsync(command(t, host, (s) => s.take(a.pub, 'ctx:a')), 'E_NONCE_REOPENED', 1);
      }
      // A burn (credit abandon) still takes it out: nothing is opened.
      await command(t, host, (s) => s.burn(a.pub, 'ctx:a'));
    } finally {
      await db.end();
    }
  }, 60_000);
}, { prefix: 'offchain-pg-ledger-' });
