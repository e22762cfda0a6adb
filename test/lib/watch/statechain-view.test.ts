/**
 * `statechain list`'s rows (src/lib/watch/statechain-view.ts over src/topics/statechain/list.ts):
 * first Bob's fixture coin (fixtures/statechain/state/bob — his backup 2 final at 290, Alice's
 * backup 1 at 300, so his must be mined by block 299) read from a copy of his state directory,
 * the node's answers scripted, every expected value worked out here from the fixture's backups
 * (read with the independent parser) and the watcher's rules in words (acts from 6 blocks before
 * the deadline, once final); then the module's INVARIANTS as properties over any coin and facts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../../helpers.ts';
import { parseTx } from '../../independent/tx.ts';
import { coinsList } from '../../../src/topics/statechain/list.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { OfflineChainSource } from '../../../src/lib/chain/offline.ts';
import type { ChainSource, UtxoInfo } from '../../../src/lib/chain/types.ts';
import { coinRow, type CoinInput } from '../../../src/lib/watch/statechain-view.ts';
import type { OwnerCoin, Spender } from '../../../src/lib/watch/statechain.ts';

const coinMessage = JSON.parse(readFileSync(join(ROOT, 'fixtures/statechain/coin-bob.json'), 'utf8')) as { coin_id: string; outpoint: string; backups: string[] };
const [alice, bob] = coinMessage.backups.map((h) => parseTx(h)) as [ReturnType<typeof parseTx>, ReturnType<typeof parseTx>];
const FUNDING = coinMessage.outpoint.split(':')[0]!;
const work = tempDir('offchain-statechain-view-');
afterAll(() => work.cleanup());

let copies = 0;
/** A fresh copy of Bob's state directory: its `open`, and the directory as the command names it. */
function bobsDir() {
  const dir = join(work.path, `bob-${++copies}`);
  cpSync(join(ROOT, 'fixtures/statechain/state/bob'), dir, { recursive: true });
  const net = join(dir, 'regtest');
  return { net, open: async (create: boolean) => openState(net, { create }) };
}

/** A node's answers: the tip, each txid's confirmations (absent: unknown to it), the coin's mempool spender, whether the coin is in the UTXO set. */
function node(tip: number, a: { confirmations?: Record<string, number>; mempoolSpender?: string; unspent?: boolean } = {}): ChainSource {
  return {
    kind: 'rpc',
    tip: async () => ({ height: tip, medianTimePast: 0, hash: '00'.repeat(32) }),
    txIndex: async () => true,
    txConfirmations: async (txid: string) => a.confirmations?.[txid] ?? null,
    mempoolSpender: async (txid: string, vout: number) => (`${txid}:${vout}` === coinMessage.outpoint ? a.mempoolSpender : undefined),
    utxo: async (txid: string, vout: number): Promise<UtxoInfo | null> => (a.unspent && `${txid}:${vout}` === coinMessage.outpoint ? { txid, vout, value: 100_000n, scriptPubKey: new Uint8Array(), confirmations: 3 } : null),
  } as unknown as ChainSource;
}

async function row(chain: ChainSource) {
  const { net, open } = bobsDir();
  const m = await coinsList(open, net, chain, 'regtest');
  expect(m.coins).toHaveLength(1);
  return { m, c: m.coins[0]! };
}

describe('Bob\'s fixture coin: his backup 2 final at 290, Alice\'s backup 1 at 300 — his mined by 299', () => {
  it('the fixture is what this test reads: backup 1 locked at 300 (Alice\'s), backup 2 at 290 (Bob\'s)', () => {
    expect([alice.lockTime, bob.lockTime]).toEqual([300, 290]);
  });

  it('offline at 285: active, nothing of the chain claimed, five blocks before his is final and fifteen before hers', async () => {
    const { m, c } = await row(new OfflineChainSource({ tipHeight: 285 }));
    expect(m).toMatchObject({ type: 'statechain/coins', version: 1, network: 'regtest', tip_height: 285 });
    expect(c).toMatchObject({
      coin_id: coinMessage.coin_id, outpoint: coinMessage.outpoint, amount_sat: 100_000, status: 'active', record_status: 'active', backup: 2, backups: 2,
      locktime: 290, blocks_to_final: 5, previous_locktime: 300, blocks_to_previous_final: 15, deadline_height: 299, must_act: false,
    });
    expect(c.chain).toBeUndefined();
  });

  it('offline, must_act from block 293 (six before 299; his backup final since 290), not at 292', async () => {
    expect((await row(new OfflineChainSource({ tipHeight: 292 }))).c.must_act).toBe(false);
    expect((await row(new OfflineChainSource({ tipHeight: 293 }))).c.must_act).toBe(true);
  });

  it('a node at 295, the coin unspent: active, must act', async () => {
    const { c } = await row(node(295, { unspent: true }));
    expect(c).toMatchObject({ status: 'active', chain: { funding: 'unspent' }, must_act: true });
  });

  it('his backup in the node\'s mempool: exiting, still must act (mined by 299); mined: exited, nothing more', async () => {
    const pending = (await row(node(295, { confirmations: { [bob.txid]: 0 }, mempoolSpender: bob.txid }))).c;
    expect(pending).toMatchObject({ status: 'exiting', chain: { funding: 'spent', spent_by: 'own-backup', txid: bob.txid, confirmations: 0 }, must_act: true });
    const mined = (await row(node(296, { confirmations: { [bob.txid]: 1 } }))).c;
    expect(mined).toMatchObject({ status: 'exited', chain: { funding: 'spent', spent_by: 'own-backup', txid: bob.txid, confirmations: 1 }, must_act: false });
    expect(mined.next).toContain(bob.txid);
  });

  it('at 300 Alice\'s older backup is in the mempool: contested, act now; mined first: lost, nothing to do', async () => {
    const contested = (await row(node(300, { mempoolSpender: alice.txid }))).c;
    expect(contested).toMatchObject({ status: 'contested', chain: { funding: 'spent', spent_by: 'previous-backup', txid: alice.txid, confirmations: 0 }, must_act: true });
    expect(contested.next).toMatch(/^act now/);
    const lost = (await row(node(302, { confirmations: { [alice.txid]: 2 } }))).c;
    expect(lost).toMatchObject({ status: 'lost', chain: { funding: 'spent', spent_by: 'previous-backup', txid: alice.txid, confirmations: 2 }, must_act: false });
  });

  it('spent in a block by nothing the record knows: spent-unknown; the deposit itself unknown to the node: unfunded', async () => {
    expect((await row(node(295, { confirmations: { [FUNDING]: 20 } }))).c).toMatchObject({ status: 'spent-unknown', chain: { funding: 'spent', spent_by: 'unknown' }, must_act: false });
    expect((await row(node(295))).c).toMatchObject({ status: 'unfunded', chain: { funding: 'not-on-chain' }, must_act: false });
  });

  it('a node without -txindex is refused (E_CHAIN_NO_TXINDEX): a mined backup would look unknown', async () => {
    const chain = Object.assign(node(295, { unspent: true }), { txIndex: async () => false });
    await expect(row(chain)).rejects.toMatchObject({ code: 'E_CHAIN_NO_TXINDEX' });
  });

  it('a state directory without a database: E_NO_STATE, and none is made', async () => {
    const net = join(work.path, 'nothing', 'regtest');
    await expect(coinsList(async (create) => openState(net, { create }), net, node(1), 'regtest')).rejects.toMatchObject({ code: 'E_NO_STATE' });
    expect(openState(net, { create: false })).toBeUndefined();
  });

  it('a record that is not an owner\'s (E_STATE_CORRUPT), and one whose statement was edited (the operator\'s signature fails)', async () => {
    const { net, open } = bobsDir();
    const db = (await open(false))!;
    const id = `coin-${coinMessage.coin_id}`;
    const body = db.sql.prepare<[string], { body: string }>('SELECT body FROM records WHERE kind = \'statechain\' AND id = ?').get(id)!.body;
    const put = (b: string) => db.sql.prepare('UPDATE records SET body = ? WHERE kind = \'statechain\' AND id = ?').run(b, id);
    put(JSON.stringify({ coin_id: coinMessage.coin_id, status: 'active' }));
    await expect(coinsList(open, net, node(295), 'regtest')).rejects.toMatchObject({ code: 'E_STATE_CORRUPT' });
    put('{not json');
    await expect(coinsList(open, net, node(295), 'regtest')).rejects.toMatchObject({ code: 'E_STATE_CORRUPT' });
    const edited = JSON.parse(body);
    edited.statement.backups[0].locktime += 1_000;
    put(JSON.stringify(edited));
    await expect(coinsList(open, net, node(295), 'regtest')).rejects.toMatchObject({ code: 'E_BAD_OPERATOR_SIG' });
  });
});

describe('a withdrawn coin and a handed-on one (the rows alone)', () => {
  const base: CoinInput['coin'] = { coin: 'c0ffee', status: 'active', own: { txid: 'bob', lockTime: 800_090 }, older: { txid: 'alice', lockTime: 800_100 }, olderAll: ['alice'], newer: [] };
  const input = (coin: CoinInput['coin'], chain?: CoinInput['chain']): CoinInput => ({ coin, outpoint: `${'ab'.repeat(32)}:0`, amountSat: 50_000, backups: 2, ...(chain ? { chain } : {}) });
  const withdrawn = { ...base, status: 'withdrawn' as const, withdrawal: 'w' };

  it('the signed withdrawal: offline withdrawal-signed; unknown to the node with the coin unspent, still to send; in the mempool withdrawal-sent; mined withdrawn, nothing to act on even past the deadline', () => {
    expect(coinRow(input(withdrawn), 800_080, 6)).toMatchObject({ status: 'withdrawal-signed', must_act: false });
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: null }), 800_080, 6)).toMatchObject({ status: 'withdrawal-signed', chain: { funding: 'unspent' } });
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: 0 }), 800_080, 6)).toMatchObject({ status: 'withdrawal-sent', chain: { funding: 'spent', spent_by: 'withdrawal', txid: 'w', confirmations: 0 }, must_act: false });
    // Unmined with the previous owner's backup near final: the owner's backup must replace it (the watcher's rule).
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: 0 }), 800_095, 6).must_act).toBe(true);
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: 3 }), 800_120, 6)).toMatchObject({ status: 'withdrawn', chain: { spent_by: 'withdrawal', confirmations: 3 }, must_act: false });
  });

  it('the withdrawal the watcher still sends or bumps is flagged by its own rule: unknown to the node — withdrawal_pending unknown, must act (send it); in the mempool — pending there, the watcher bumps it; neither offline, mined, nor in the backup\'s window', () => {
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: null }), 800_080, 6)).toMatchObject({ withdrawal_pending: 'unknown', must_act: true });
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: null }), 800_080, 6).next).toMatch(/^act now: the node does not have it/);
    const sent = coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: 0 }), 800_080, 6);
    expect(sent).toMatchObject({ withdrawal_pending: 'mempool', must_act: false });
    expect(sent.next).toMatch(/offchain watch running: it bumps it/);
    expect(coinRow(input(withdrawn), 800_080, 6).withdrawal_pending).toBeUndefined();
    expect(coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: 1 }), 800_080, 6).withdrawal_pending).toBeUndefined();
    // In the backup's window (800,093 on) the backup is the way out: must act for it, the withdrawal not pending.
    const window = coinRow(input(withdrawn, { confirmations: null, withdrawalConfirmations: 0 }), 800_095, 6);
    expect(window).toMatchObject({ must_act: true });
    expect(window.withdrawal_pending).toBeUndefined();
  });

  it('a pair\'s coin (a part\'s joint record): the same row, marked joint, its next step the wallet-funded child', () => {
    const joint = { ...base, joint: true };
    expect(coinRow(input(joint, { confirmations: null }), 800_080, 6)).toMatchObject({ joint: true, status: 'active', must_act: false });
    const due = coinRow(input(joint, { confirmations: null }), 800_095, 6);
    expect(due).toMatchObject({ joint: true, must_act: true });
    expect(due.next).toMatch(/--wallet-psbt/);
    expect(coinRow(input(base, { confirmations: null }), 800_095, 6)).not.toHaveProperty('joint');
  });

  it('handed on: transferred, whoever spent it after (a later owner\'s backup, or something this record never saw), and never must act — also when the record, past a refused withdrawal, still says withdrawing', () => {
    const sent = { ...base, status: 'sent' as const, newer: ['carol'] };
    expect(coinRow(input({ ...sent, status: 'withdrawing' }, { confirmations: null }), 800_095, 6)).toMatchObject({ status: 'transferred', record_status: 'withdrawing', chain: { funding: 'unspent' }, must_act: false });
    expect(coinRow(input({ ...sent, status: 'withdrawing' }), 800_095, 6)).toMatchObject({ status: 'transferred', must_act: false });
    expect(coinRow(input(sent), 800_095, 6)).toMatchObject({ status: 'transferred', must_act: false });
    expect(coinRow(input(sent, { confirmations: null, spender: { who: 'newer', where: 'block', txid: 'carol' }, spenderConfirmations: 4 }), 800_095, 6)).toMatchObject({ status: 'transferred', chain: { spent_by: 'later-backup', txid: 'carol', confirmations: 4 } });
    expect(coinRow(input(sent, { confirmations: null, spender: { who: 'unknown', where: 'block' } }), 800_095, 6)).toMatchObject({ status: 'transferred', chain: { spent_by: 'unknown' } });
  });

  it('backup 1 (the depositor\'s): no previous owner, no deadline, never must act', () => {
    const depositor = { ...base, older: undefined, olderAll: [] } as CoinInput['coin'];
    const r = coinRow(input(depositor, { confirmations: null }), 900_000, 6);
    expect(r).toMatchObject({ backup: 1, must_act: false, status: 'active' });
    expect(r.deadline_height).toBeUndefined();
  });
});

describe('INVARIANTS', () => {
  const statuses = fc.constantFrom<OwnerCoin['status']>('depositing', 'active', 'sending', 'sent', 'receiving', 'withdrawing', 'withdrawn');
  const coinArb = fc.record({ status: statuses, withdrawn: fc.boolean(), handedOn: fc.boolean(), own: fc.integer({ min: 1_000, max: 2_000 }), interval: fc.integer({ min: 2, max: 50 }) }).map(
    (c): CoinInput['coin'] => ({
      coin: 'c0ffee', status: c.status, own: { txid: 'own', lockTime: c.own }, older: { txid: 'older', lockTime: c.own + c.interval }, olderAll: ['older'], newer: c.handedOn ? ['newer'] : [],
      ...(c.withdrawn ? { withdrawal: 'w' } : {}),
    }),
  );
  const depth = fc.option(fc.integer({ min: 0, max: 10 }), { nil: null });
  const spender = fc.option(fc.record({ who: fc.constantFrom<Spender['who']>('older', 'newer', 'withdrawal', 'unknown'), where: fc.constantFrom<Spender['where']>('mempool', 'block'), txid: fc.constantFrom('older', 'newer', 'w', 'x') }), { nil: undefined });
  const facts = fc.record({ confirmations: depth, withdrawalConfirmations: depth, spender }).map((f) => ({ confirmations: f.confirmations, withdrawalConfirmations: f.withdrawalConfirmations, ...(f.spender ? { spender: f.spender } : {}) }));
  const tip = fc.integer({ min: 900, max: 2_100 });
  const RECORD_WORDS = ['depositing', 'active', 'sending', 'transferred', 'receiving', 'withdrawing', 'withdrawal-signed'];

  it('the chain\'s word wins: a coin the node says is spent is never shown active (nor any word of the record\'s but transferred and depositing)', () => {
    fc.assert(fc.property(coinArb, facts, tip, (coin, f, t) => {
      const r = coinRow({ coin, outpoint: 'o', amountSat: 1, backups: 2, chain: f }, t, 6);
      if (r.chain?.funding === 'spent') expect(['active', 'sending', 'withdrawing', 'receiving', 'withdrawal-signed']).not.toContain(r.status);
    }));
  });

  it('must_act is never asked once the backup or the withdrawal is mined, once a previous owner\'s backup is mined, nor for a coin handed on', () => {
    fc.assert(fc.property(coinArb, facts, tip, (coin, f, t) => {
      const r = coinRow({ coin, outpoint: 'o', amountSat: 1, backups: 2, chain: f }, t, 6);
      const settled = (f.confirmations ?? 0) >= 1 || (f.withdrawalConfirmations ?? 0) >= 1 || (f.spender?.who === 'older' && f.spender.where === 'block');
      if (settled || coin.newer.length > 0 || coin.status === 'sent') expect(r.must_act).toBe(false);
      // …and never before the owner's backup is final, nor further than 6 blocks from the block before the previous owner's is final.
      if (t < coin.own!.lockTime || coin.older!.lockTime - 1 - t > 6) expect(r.must_act).toBe(false);
    }));
  });

  it('a previous owner\'s backup in the mempool, in the window, the coin held: must act (replace it)', () => {
    fc.assert(fc.property(coinArb, tip, (coin, t) => {
      const held = ['active', 'sending', 'withdrawing'].includes(coin.status) && coin.newer.length === 0;
      const inWindow = t >= coin.own!.lockTime && coin.older!.lockTime - 1 - t <= 6;
      const r = coinRow({ coin, outpoint: 'o', amountSat: 1, backups: 2, chain: { confirmations: null, spender: { who: 'older', where: 'mempool', txid: 'older' } } }, t, 6);
      expect(r.status).toBe('contested');
      if (held && inWindow) expect(r.must_act).toBe(true);
    }));
  });

  it('offline nothing of the chain is claimed: no chain field, the record\'s word — transferred once a later owner\'s backup is in it', () => {
    fc.assert(fc.property(coinArb, tip, (coin, t) => {
      const r = coinRow({ coin, outpoint: 'o', amountSat: 1, backups: 2 }, t, 6);
      expect(r.chain).toBeUndefined();
      expect(RECORD_WORDS).toContain(r.status);
      if (coin.newer.length > 0) expect(r.status).toBe('transferred');
    }));
  });
});
