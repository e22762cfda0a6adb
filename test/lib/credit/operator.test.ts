/**
 * The operator view: what must be exited now. A contract with a signed state inside the
 * safety margin must exit — unless its close or rollover is confirmed the mint's required
 * number of times, which only a node can say (offline, it stays "must exit").
 */
import { describe, it, expect } from 'vitest';
import { contractsMessage } from '../../../src/lib/credit/operator.ts';
import type { ChainSource } from '../../../src/lib/chain/types.ts';
import type { MintContractRecord } from '../../../src/lib/credit/ports.ts';
import { POLICY } from './world.ts';

const TXID = 'ab'.repeat(32);

function record(id: string, expiry: number, settled: boolean): MintContractRecord {
  return {
    contract_id: id.repeat(64).slice(0, 64),
    network: 'regtest',
    contract: {
      user_pubkey: '02'.padEnd(66, '1'), mint_pubkey: '02'.padEnd(66, '2'), capacity_sat: 100_000, funding: { txid: 'cd'.repeat(32), vout: 0 },
      expiry_height: expiry, refund_address: 'x', change_address: 'x', payout_address: 'x', fee_rate: 1,
    },
    status: settled ? 'closing' : 'open',
    next_state: 2,
    latest: { state: 1, cumulative_sat: 5000, txid: 'ef'.repeat(32), hex: '00', receipt: {} as never },
    open_accept: {},
    settlement: settled ? { kind: 'close', state: 2, txid: TXID, response: {} } : undefined,
  };
}

/** A chain that knows the settlement's confirmations (null: cannot say) and, separately, whether its outputs are unspent. */
function chain(kind: 'rpc' | 'offline', confirmations: number | null, outputsUnspent = confirmations !== null): ChainSource {
  return {
    kind,
    tip: async () => ({ height: 0, medianTimePast: 0 }),
    txConfirmations: async () => confirmations,
    utxo: async (txid, vout) => (outputsUnspent && confirmations !== null ? { txid, vout, value: 1n, scriptPubKey: new Uint8Array(), confirmations } : null),
    rawTransaction: async () => new Uint8Array(),
    testMempoolAccept: async () => [],
    broadcast: async () => '',
  };
}

describe('credit list: must_exit', () => {
  const tip = 1000;
  const near = 1000 + POLICY.safety_margin_blocks; // inside the margin
  const far = near + 1;

  it('flags a signed state inside the safety margin, not outside it', async () => {
    const m = await contractsMessage([record('a', near, false), record('b', far, false)], tip, POLICY, 'regtest', chain('offline', null));
    expect(m.contracts.map((c) => [c.blocks_to_expiry, c.must_exit])).toEqual([[144, true], [145, false]]);
  });

  it('does not flag a contract whose close a node confirms enough times; does while it does not', async () => {
    const enough = await contractsMessage([record('a', near, true)], tip, POLICY, 'regtest', chain('rpc', POLICY.min_confirmations));
    expect(enough.contracts[0]).toMatchObject({ must_exit: false, settlement: { kind: 'close', txid: TXID, confirmations: POLICY.min_confirmations } });
    const unconfirmed = await contractsMessage([record('a', near, true)], tip, POLICY, 'regtest', chain('rpc', 0));
    expect(unconfirmed.contracts[0]!.must_exit).toBe(true);
    const missing = await contractsMessage([record('a', near, true)], tip, POLICY, 'regtest', chain('rpc', null));
    expect(missing.contracts[0]!.must_exit).toBe(true);
  });

  it('a confirmed close whose outputs were spent since stays settled (shown closed, not must_exit): settlement is the transaction\'s confirmations', async () => {
    const spent = await contractsMessage([record('a', near, true)], tip, POLICY, 'regtest', chain('rpc', 6, false));
    expect(spent.contracts[0]).toMatchObject({ status: 'closed', must_exit: false, settlement: { kind: 'close', txid: TXID, confirmations: 6 } });
  });

  it('offline, a settlement is unknown: the contract still must exit', async () => {
    const m = await contractsMessage([record('a', near, true)], tip, POLICY, 'regtest', chain('offline', 99));
    expect(m.contracts[0]).toMatchObject({ must_exit: true, settlement: { confirmations: undefined } });
  });
});

describe('credit list: frozen, exiting and exited contracts, and what to do next', () => {
  const tip = 1000;
  const near = 1000 + POLICY.safety_margin_blocks;
  const far = near + 500;
  const EXIT_TXID = 'ef'.repeat(32); // the latest state's txid: what exit-credit marks
  const exiting = (expiry: number): MintContractRecord => ({ ...record('e', expiry, false), exiting: { state: 1, txid: EXIT_TXID } });
  /** A node that knows the confirmations of exactly these transactions. */
  const node = (known: Record<string, number>): ChainSource => ({ ...chain('rpc', null), txConfirmations: async (txid) => known[txid] ?? null });

  it('a contract exit-credit marked is "exiting", with the state and txid it exits with, and next says to wait or bump', async () => {
    const m = await contractsMessage([exiting(far)], tip, POLICY, 'regtest', chain('offline', null));
    expect(m.contracts[0]).toMatchObject({ status: 'exiting', exit: { state: 1, txid: EXIT_TXID, confirmations: undefined }, must_exit: false });
    expect(m.contracts[0]!.next).toContain(`wait for the exit (state 1, ${EXIT_TXID})`);
    expect(m.contracts[0]!.next).toContain('higher --fee-rate');
  });

  it('an exiting contract inside the margin whose exit is unconfirmed still must exit (bump it); confirmed enough times it is "exited" and needs nothing', async () => {
    const pending = await contractsMessage([exiting(near)], tip, POLICY, 'regtest', node({ [EXIT_TXID]: 0 }));
    expect(pending.contracts[0]).toMatchObject({ status: 'exiting', must_exit: true, exit: { confirmations: 0 } });
    const done = await contractsMessage([exiting(near)], tip, POLICY, 'regtest', node({ [EXIT_TXID]: POLICY.min_confirmations }));
    expect(done.contracts[0]).toMatchObject({ status: 'exited', must_exit: false, exit: { confirmations: POLICY.min_confirmations } });
    expect(done.contracts[0]!.next).toBe('nothing: the exit is confirmed');
    const short = await contractsMessage([exiting(near)], tip, POLICY, 'regtest', node({ [EXIT_TXID]: POLICY.min_confirmations - 1 }));
    expect(short.contracts[0]!.status).toBe('exiting');
  });

  it('next names the command for a contract that must exit, and says when for one that need not yet', async () => {
    const m = await contractsMessage([record('a', near, false), record('b', far, false)], tip, POLICY, 'regtest', chain('offline', null));
    expect(m.contracts[0]!.next).toBe(`exit now: exit-credit --contract ${'a'.repeat(64)} --fee-rate R --broadcast (with a node), before block ${near}`);
    expect(m.contracts[1]!.next).toContain(`in ${far - 1000 - POLICY.safety_margin_blocks} blocks`);
  });

  it('a frozen (closing) contract says which settlement to wait for', async () => {
    const m = await contractsMessage([record('a', far, true)], tip, POLICY, 'regtest', chain('offline', null));
    expect(m.contracts[0]).toMatchObject({ status: 'closing', must_exit: false });
    expect(m.contracts[0]!.next).toContain(`wait for the close ${TXID}`);
  });
});

describe('credit list asks the node about many contracts together', () => {
  it('1,000 closes and 3 exits: one txConfirmationsMany for all of them (a JSON-RPC batch, rpc.ts), none asked one by one; each row from its own answer', async () => {
    const txid = (n: number) => n.toString(16).padStart(64, '0');
    const closes = Array.from({ length: 1_000 }, (_, i) => ({ ...record(String(i % 10), 5_000, true), contract_id: txid(i + 1), settlement: { kind: 'close' as const, state: 2, txid: txid(10_000 + i), response: {} } }));
    const exits = [1, 2, 3].map((i) => ({ ...record('e', 5_000, false), contract_id: txid(50_000 + i), exiting: { state: 1, txid: txid(60_000 + i) } }));
    const batches: string[][] = [];
    const node: ChainSource = {
      ...chain('rpc', null),
      txConfirmations: async () => { throw new Error('asked one by one'); },
      // Even closes and the first exit mined once; the rest in the mempool.
      txConfirmationsMany: async (txids) => (batches.push([...txids]), new Map(txids.map((t) => [t, (parseInt(t, 16) % 2 === 0 && parseInt(t, 16) < 50_000) || t === txid(60_001) ? 1 : 0]))),
    };
    const m = await contractsMessage([...closes, ...exits], 1_000, POLICY, 'regtest', node);
    expect(batches).toHaveLength(1);
    expect(new Set(batches[0])).toEqual(new Set([...closes.map((c) => c.settlement.txid), ...exits.map((e) => e.exiting.txid)]));
    const status = new Map(m.contracts.map((c) => [c.contract_id, c.status]));
    expect(status.get(txid(1))).toBe('closed'); // its close 10,000: even
    expect(status.get(txid(2))).toBe('closing'); // 10,001: odd
    expect([1, 2, 3].map((i) => status.get(txid(50_000 + i)))).toEqual(['exited', 'exiting', 'exiting']);
  });
});
