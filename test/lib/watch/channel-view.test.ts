/**
 * `commitment list`'s rows (src/lib/watch/channel-view.ts over src/topics/commitment/list.ts):
 * first Alice's fixture channel (fixtures/bolt3/alice-state-dir — Bob's commitments 0 and 1
 * revoked, 2 current, hers 2; both delays 144) read from a copy of her state directory, the
 * node's answers scripted: Bob's revoked commitment 0 (fixtures/bolt3/alice-penalties.json: its
 * six revocable outputs, the justice transaction on its to_local) in the mempool and mined, taken
 * output by output; his current one; hers. Expected values are worked out here from the fixtures
 * and BOLT 5's rule in words (mined at H, punished by H + to_self_delay − 1). Then the module's
 * INVARIANTS as properties over any spend.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../../helpers.ts';
import { channelsList } from '../../../src/topics/commitment/list.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { OfflineChainSource } from '../../../src/lib/chain/offline.ts';
import type { ChainSource, UtxoInfo } from '../../../src/lib/chain/types.ts';
import { channelRow, type ChannelSummary } from '../../../src/lib/watch/channel-view.ts';
import type { FundingSpend } from '../../../src/lib/watch/channel.ts';

const fx = (p: string) => JSON.parse(readFileSync(join(ROOT, 'fixtures/bolt3', p), 'utf8'));
const penalties = fx('alice-penalties.json') as { channel_id: string; revoked_txid: string; transactions: { txid: string; hex: string; inputs: { vout: number; kind: string }[] }[] };
const CHANNEL = penalties.channel_id;
const FUNDING = CHANNEL.split(':')[0]!;
const REVOKED = penalties.revoked_txid; // Bob's commitment 0, as Alice signed it (alice-signed-0.json)
const CURRENT = '36d899b0c95f0f1770c1a0ab46dc997bea85f5e077ac4187a2b4ce4c71939488'; // Bob's commitment 2, not revoked
const OWN = 'cb08e6ff5f46770d84d17caf000664343bd9a2d4c28ef4ff9d3c7529f45a8b58'; // Alice's commitment 2
const toLocalJustice = penalties.transactions.find((t) => t.inputs[0]!.kind === 'to_local')!;
const TIP_HASH = '11'.repeat(32);
/** The revoked commitment's revocable outputs: vout 0 (an HTLC worth less than its fee there, yet revocable) to 5 (to_local). */
const REVOCABLE = [0, 1, 2, 3, 4, 5];

const work = tempDir('offchain-channel-view-');
afterAll(() => work.cleanup());
let copies = 0;
function alicesDir() {
  const dir = join(work.path, `alice-${++copies}`);
  cpSync(join(ROOT, 'fixtures/bolt3/alice-state-dir'), dir, { recursive: true });
  const net = join(dir, 'regtest');
  return { net, open: async (create: boolean) => openState(net, { create }) };
}

type Answers = {
  /** The funding's spender in the mempool, or in the tip's block (with the funding mined 10 deep). */
  mempool?: string; block?: string;
  /** The funding in no block and no mempool of the node's. */
  missing?: boolean;
  confirmations?: Record<string, number>;
  /** Outpoints (txid:vout) in the UTXO set. */
  unspent?: string[];
  /** Spenders in the mempool, by outpoint, and their raw transactions. */
  spenders?: Record<string, string>; raw?: Record<string, string>;
  /** scantxoutset's answer (or its failure). */
  paying?: UtxoInfo[] | Error;
};

function node(tip: number, a: Answers): ChainSource {
  const spendsFunding = (txid: string, vout: number) => txid === FUNDING && vout === 0;
  return {
    kind: 'rpc',
    tip: async () => ({ height: tip, medianTimePast: 0, hash: TIP_HASH }),
    txIndex: async () => true,
    txConfirmations: async (txid: string) => a.confirmations?.[txid] ?? (txid === FUNDING && a.block ? 10 : null),
    mempoolSpender: async (txid: string, vout: number) => (spendsFunding(txid, vout) ? a.mempool : a.spenders?.[`${txid}:${vout}`]),
    utxo: async (txid: string, vout: number): Promise<UtxoInfo | null> =>
      (spendsFunding(txid, vout) ? !a.mempool && !a.block && !a.missing : a.unspent?.includes(`${txid}:${vout}`)) ? { txid, vout, value: 1n, scriptPubKey: new Uint8Array(), confirmations: 1 } : null,
    blockSpender: async (hash: string, txid: string, vout: number) => (hash === TIP_HASH && spendsFunding(txid, vout) ? a.block : undefined),
    blockHeader: async () => ({ height: tip - 1, prev: null }),
    rawTransaction: async (txid: string) => Buffer.from(a.raw?.[txid] ?? '', 'hex'),
    outputsPaying: async () => {
      if (a.paying instanceof Error) throw a.paying;
      return a.paying ?? [];
    },
  } as unknown as ChainSource;
}

async function row(chain: ChainSource) {
  const { net, open } = alicesDir();
  const m = await channelsList(open, net, chain, 'regtest');
  expect(m.channels).toHaveLength(1);
  return m.channels[0]!;
}

describe('Alice\'s fixture channel: Bob revoked his commitments 0 and 1; both to_self_delays 144', () => {
  it('offline at 500: open, the record\'s numbers, nothing of the chain claimed', async () => {
    const c = await row(new OfflineChainSource({ tipHeight: 500 }));
    expect(c).toMatchObject({
      channel_id: CHANNEL, capacity_sat: 10_000_000, status: 'open', record_status: 'open', local_commitment: 2, remote_commitment: 2, revoked_commitments: 2,
      htlcs: 0, htlc_sat: 0, to_local_msat: '7000000000', to_remote_msat: '3000000000', to_self_delay: 144, remote_to_self_delay: 144, must_act: false,
    });
    expect(c.chain).toBeUndefined();
  });

  it('a node, the funding unspent: open', async () => {
    expect(await row(node(500, {}))).toMatchObject({ status: 'open', chain: { funding: 'unspent' }, must_act: false });
  });

  it('Bob\'s revoked commitment 0 in the mempool: penalty due by tip + 144 (it may be mined in the next block), its six revocable outputs to take; the to_local\'s justice transaction in the mempool is one on its way, not one taken', async () => {
    const unspent = REVOCABLE.map((v) => `${REVOKED}:${v}`);
    const c = await row(node(500, { mempool: REVOKED, confirmations: { [REVOKED]: 0 }, unspent }));
    expect(c).toMatchObject({
      status: 'penalty-due', must_act: true,
      chain: { funding: 'spent', spent_by: 'revoked-commitment', txid: REVOKED, confirmations: 0, commitment_number: 0 },
      penalty: { deadline_height: 644, blocks_left: 144, outputs_left: 6, in_mempool: 0 },
    });
    const toLocal = `${REVOKED}:5`;
    const sending = await row(node(500, {
      mempool: REVOKED, confirmations: { [REVOKED]: 0 }, unspent: unspent.filter((o) => o !== toLocal), spenders: { [toLocal]: toLocalJustice.txid }, raw: { [toLocalJustice.txid]: toLocalJustice.hex },
    }));
    expect(sending.penalty).toMatchObject({ outputs_left: 6, in_mempool: 1 });
  });

  it('mined at 498 (3 deep at 500): punished by 498 + 144 − 1 = 641; every output spent in a block and no second stage left: penalized, nothing to do', async () => {
    const due = await row(node(500, { block: REVOKED, confirmations: { [REVOKED]: 3 }, unspent: [`${REVOKED}:5`] }));
    expect(due).toMatchObject({ status: 'penalty-due', penalty: { deadline_height: 641, blocks_left: 141, outputs_left: 1 }, must_act: true });
    const done = await row(node(500, { block: REVOKED, confirmations: { [REVOKED]: 3 } }));
    expect(done).toMatchObject({ status: 'penalized', penalty: { deadline_height: 641, outputs_left: 0, in_mempool: 0 }, must_act: false });
  });

  it('an HTLC output moved to a second stage whose output is unspent: left to take; the search for it failing: what is left is not known, must act', async () => {
    const second = { txid: 'cc'.repeat(32), vout: 0, value: 5_000n, scriptPubKey: new Uint8Array(), confirmations: 1 };
    const left = await row(node(500, { block: REVOKED, confirmations: { [REVOKED]: 3 }, paying: [second], unspent: [`${second.txid}:0`] }));
    expect(left).toMatchObject({ status: 'penalty-due', penalty: { outputs_left: 1 }, must_act: true });
    const failed = await row(node(500, { block: REVOKED, confirmations: { [REVOKED]: 3 }, paying: new Error('Scan already in progress') }));
    expect(failed).toMatchObject({ status: 'penalty-due', penalty: { outputs_left: null }, must_act: true });
    expect(failed.penalty!.error).toMatch(/second-stage/);
  });

  it('Bob\'s current commitment: peer-closing, then peer-closed; hers: force-closing, then force-closed with her to_local hers from 498 + 144', async () => {
    expect(await row(node(500, { mempool: CURRENT, confirmations: { [CURRENT]: 0 } }))).toMatchObject({ status: 'peer-closing', chain: { spent_by: 'their-commitment', commitment_number: 2 }, must_act: false });
    expect(await row(node(500, { block: CURRENT, confirmations: { [CURRENT]: 3 } }))).toMatchObject({ status: 'peer-closed', must_act: false });
    expect(await row(node(500, { mempool: OWN, confirmations: { [OWN]: 0 } }))).toMatchObject({ status: 'force-closing', chain: { spent_by: 'own-commitment' } });
    const own = await row(node(500, { block: OWN, confirmations: { [OWN]: 3 } }));
    expect(own).toMatchObject({ status: 'force-closed', sweep_from: 642, must_act: false });
  });

  it('spent by a transaction the record does not know: spent-unknown, must act; the funding unknown to the node: unfunded', async () => {
    expect(await row(node(500, { mempool: 'dd'.repeat(32), confirmations: { ['dd'.repeat(32)]: 0 } }))).toMatchObject({ status: 'spent-unknown', chain: { spent_by: 'unknown' }, must_act: true });
    expect(await row(node(500, { missing: true }))).toMatchObject({ status: 'unfunded', chain: { funding: 'not-mined', in_mempool: false }, must_act: false });
  });

  it('a state directory without a database: E_NO_STATE, none made; a damaged record: E_BAD_CHANNEL_RECORD; a node without -txindex: E_CHAIN_NO_TXINDEX', async () => {
    const none = join(work.path, 'nothing', 'regtest');
    await expect(channelsList(async (create) => openState(none, { create }), none, node(1, {}), 'regtest')).rejects.toMatchObject({ code: 'E_NO_STATE' });
    expect(openState(none, { create: false })).toBeUndefined();
    const { net, open } = alicesDir();
    await expect(channelsList(open, net, Object.assign(node(500, {}), { txIndex: async () => false }), 'regtest')).rejects.toMatchObject({ code: 'E_CHAIN_NO_TXINDEX' });
    const db = (await open(false))!;
    const body = JSON.parse(db.sql.prepare<[], { body: string }>('SELECT body FROM records WHERE kind = \'bolt3\'').get()!.body);
    delete body.remote_signed;
    db.sql.prepare('UPDATE records SET body = ? WHERE kind = \'bolt3\'').run(JSON.stringify(body));
    await expect(channelsList(open, net, node(500, {}), 'regtest')).rejects.toMatchObject({ code: 'E_BAD_CHANNEL_RECORD' });
  });
});

describe('a channel on a statechain coin (its funding a backup with nLockTime 1,050)', () => {
  const summary: ChannelSummary = { id: `${'ab'.repeat(32)}:0`, capacitySat: 90_000, local: 1, remote: 1, revoked: 1, htlcs: 0, htlcSat: 0, toSelfDelay: 6, remoteToSelfDelay: 6 };
  it('its backup unmined: funding-pending, nothing to act on — non-final 50 blocks before (next: wait), final from the tip 1,050 (next: send it); in the mempool: funding-unconfirmed', () => {
    const early = channelRow(summary, 1_000, { spend: { kind: 'not-mined', known: false, locktime: 1_050 } });
    expect(early).toMatchObject({ status: 'funding-pending', chain: { funding: 'not-mined', in_mempool: false, funding_locktime: 1_050 }, must_act: false });
    expect(early.next).toMatch(/^wait: .*nLockTime 1050 \(50 block/);
    expect(channelRow(summary, 1_050, { spend: { kind: 'not-mined', known: false, locktime: 1_050 } }).next).toMatch(/^send the funding: .*final \(nLockTime 1050\)/);
    expect(channelRow(summary, 1_060, { spend: { kind: 'not-mined', known: true, locktime: 1_050 } })).toMatchObject({ status: 'funding-unconfirmed', chain: { funding_locktime: 1_050 } });
  });
  it('its coin\'s outpoint spent by another transaction: funding-lost, the rival named, nothing to act on', () => {
    const r = channelRow(summary, 1_100, { spend: { kind: 'not-mined', known: false, locktime: 1_050, lost: { coin: `${'cd'.repeat(32)}:1`, txid: 'ef'.repeat(32), confirmations: 2 } } });
    expect(r).toMatchObject({ status: 'funding-lost', must_act: false, chain: { lost_to: { coin_outpoint: `${'cd'.repeat(32)}:1`, txid: 'ef'.repeat(32), confirmations: 2 } } });
    expect(r.next).toContain('can never be on chain');
  });
});

describe('INVARIANTS', () => {
  const summary: ChannelSummary = { id: `${'ab'.repeat(32)}:0`, capacitySat: 1_000_000, local: 3, remote: 3, revoked: 3, htlcs: 1, htlcSat: 5_000, toSelfDelay: 144, remoteToSelfDelay: 100 };
  const spent = fc.record({
    kind: fc.constantFrom<'revoked' | 'peer-current' | 'own' | 'mutual-close' | 'foreign'>('revoked', 'peer-current', 'own', 'mutual-close', 'foreign'),
    confirmations: fc.integer({ min: 0, max: 200 }),
  }).map((s): FundingSpend => ({ ...s, txid: 'ee'.repeat(32) }));
  const spend = fc.oneof(spent, fc.constantFrom<FundingSpend>(
    { kind: 'unspent' }, { kind: 'not-mined', known: true }, { kind: 'not-mined', known: false }, { kind: 'not-found' },
    { kind: 'not-mined', known: false, locktime: 1_500 }, { kind: 'not-mined', known: false, locktime: 1_500, lost: { coin: `${'cd'.repeat(32)}:1`, confirmations: 0 } },
  ));
  const penalty = fc.record({ left: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }), inMempool: fc.integer({ min: 0, max: 5 }) });
  const tip = fc.integer({ min: 1_000, max: 2_000 });

  it('a spent funding is never shown open (nor with any word of the record\'s)', () => {
    fc.assert(fc.property(spent, penalty, tip, (s, p, t) => {
      const r = channelRow(summary, t, { spend: s, penalty: p });
      expect(['open', 'closing-signed']).not.toContain(r.status);
    }));
  });

  it('a revoked commitment mined at H is punished by H + remote_to_self_delay − 1; in the mempool by tip + remote_to_self_delay', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 200 }), penalty, tip, (confirmations, p, t) => {
      const r = channelRow(summary, t, { spend: { kind: 'revoked', txid: 'ee'.repeat(32), confirmations }, penalty: p });
      const expected = confirmations === 0 ? t + 100 : t - confirmations + 1 + 100 - 1;
      expect(r.penalty).toMatchObject({ deadline_height: expected, blocks_left: expected - t });
    }));
  });

  it('must_act exactly while something of a revoked commitment is left (or not known to be taken), for a spend no record explains, and while a mined closing commitment (ours, the peer\'s current) has HTLC outputs unspent', () => {
    const htlcs = fc.option(fc.record({ unspent: fc.integer({ min: 0, max: 3 }), soonest: fc.integer({ min: 0, max: 3_000 }) }), { nil: undefined });
    fc.assert(fc.property(spend, penalty, tip, htlcs, (s, p, t, h) => {
      const r = channelRow(summary, t, { spend: s, penalty: p, ...(h ? { htlcs: h } : {}) });
      const revokedLeft = s.kind === 'revoked' && p.left !== 0;
      const htlcsLeft = (s.kind === 'own' || s.kind === 'peer-current') && s.confirmations > 0 && (h?.unspent ?? 0) > 0;
      expect(r.must_act).toBe(revokedLeft || s.kind === 'foreign' || s.kind === 'not-found' || htlcsLeft);
      if (htlcsLeft) expect(r.next).toMatch(/act: \d HTLC output\(s\) unspent/);
      if (s.kind === 'revoked') expect(r.status).toBe(p.left === 0 ? 'penalized' : 'penalty-due');
    }));
  });

  it('offline nothing of the chain is claimed: no chain, no penalty, must_act false', () => {
    fc.assert(fc.property(fc.constantFrom<ChannelSummary['closing']>(undefined, 'proposed', 'signed'), fc.boolean(), (closing, broadcast) => {
      const r = channelRow({ ...summary, ...(closing ? { closing } : {}), broadcast }, 1_000);
      expect(r.chain).toBeUndefined();
      expect(r.penalty).toBeUndefined();
      expect(r.must_act).toBe(false);
      expect(r.status).toBe(r.record_status);
    }));
  });
});
