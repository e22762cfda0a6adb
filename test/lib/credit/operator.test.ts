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
