/**
 * REVIEW (payer refunds, H3), fixed: the watcher's own refund in the mempool is a bid — re-bid
 * each block the next block's estimate asks more than it pays, outbidding what the node holds by
 * the incremental relay fee, within the budget; never over a claim. (Was: `wait` for as long as
 * it sat there, so fees could outrun it and the recipient replace it with a late claim.)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { decidePayer } from '../../src/lib/watch/htlc.ts';
import { payerRound } from '../../src/topics/watch/htlc.ts';
import { payerContract, payerRefund, payerTerms, signPayerRecord, type PayerRecord } from '../../src/topics/htlc/payer.ts';
import { keyPair, parseSecretKey } from '../../src/lib/keys/keys.ts';
import { decodeAddress } from '../../src/lib/address.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { ROOT } from '../helpers.ts';

const fixture = (p: string) => JSON.parse(readFileSync(join(ROOT, 'fixtures', p), 'utf8'));
const key = (n: string) => keyPair(parseSecretKey(readFileSync(join(ROOT, 'fixtures', 'keys', n), 'utf8').trim()));
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

describe('own refund stuck in the mempool', () => {
  it('100 blocks after L the watcher re-bids its own unconfirmed refund (rebid), never a claim', () => {
    const row = { kind: 'htlc-payer' as const, contract: `${'5f'.repeat(32)}:0`, locktime: 1100 };
    const d = decidePayer(row, { tip: 1200, funding: 50, output: { where: 'mempool', txid: 'r1', path: 'refund' }, refund: { txid: 'r1', confirmations: 0 } });
    expect(d.action).toBe('rebid');
    const claim = decidePayer(row, { tip: 1200, funding: 50, output: { where: 'mempool', txid: 'c1', path: 'claim' }, refund: { txid: 'r1', confirmations: 0 } });
    expect(claim.action).toBe('wait');
  });

  it('a round: fees rose above it — replaced at max(estimate, held + incremental) within the budget; fees did not — kept; above the budget — kept, shortfall: budget', async () => {
    const created = fixture('ptlc/created.json');
    const c = await payerContract('ptlc', created);
    const terms = payerTerms(c);
    const outpoint = { txid: '5f'.repeat(32), vout: 1 };
    const payer = [key('alice.key'), key('bob.key')].find((k) => toHex(k.xOnly) === toHex(terms.payer.subarray(1)))!;
    const unsigned: PayerRecord = { contract: `${outpoint.txid}:1`, kind: 'ptlc', outpoint, amount_sat: 50_000, to: TO, created };
    const rec = { ...unsigned, sig: await signPayerRecord(unsigned, payer) };
    const first = await payerRefund(c, { outpoint, amountSat: 50_000n, destination: decodeAddress(TO, 'regtest', 'to'), feeRate: 2, signer: payer, auxRand: new Uint8Array(32) });
    const firstTx = Transaction.fromRaw(fromHex(first.hex), { allowUnknownOutputs: true });
    const heldFee = 50_000n - firstTx.getOutput(0).amount!;
    const run = async (estimate: number, limits = { maxFeeRate: 100, maxFeeShare: 0.5 }) => {
      const sent: Uint8Array[] = [];
      const chain = {
        txConfirmations: async (txid: string) => (txid === first.txid ? 0 : 10), utxo: async () => null,
        mempoolSpender: async () => first.txid, rawTransaction: async () => fromHex(first.hex),
        mempoolEntry: async () => ({ fee: heldFee, vsize: firstTx.vsize }),
        mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 1000 }), estimateFeeRate: async () => estimate,
        broadcast: async (raw: Uint8Array) => { sent.push(raw); return ''; },
      };
      const records = { bid: async () => ({ start_tip: 1100, rate: 2000, tip: 1100, block: '', txid: first.txid }), setBid: async () => undefined };
      const host = { network: 'regtest' as const, records: async () => [rec], key: async () => payer, limits, auxRand: () => new Uint8Array(32) };
      const ds = await payerRound(host as never, { tip: 1200, block: '00'.repeat(32), dryRun: false, offline: false, chain: chain as never, records: records as never });
      return { d: ds[0]!, sent };
    };
    const up = await run(20_000);
    expect(up.d, JSON.stringify(up.d)).toMatchObject({ action: 'rebid', fee_rate: 20 });
    expect(up.sent).toHaveLength(1);
    const fee = 50_000n - Transaction.fromRaw(up.sent[0]!, { allowUnknownOutputs: true }).getOutput(0).amount!;
    expect(fee >= heldFee + BigInt(firstTx.vsize)).toBe(true); // Core's rule: the old fee plus the incremental relay fee on its size
    const same = await run(2_000);
    expect(same.d).toMatchObject({ action: 'wait' });
    expect(same.sent).toHaveLength(0);
    const capped = await run(20_000, { maxFeeRate: 2.5, maxFeeShare: 0.5 });
    expect(capped.d).toMatchObject({ action: 'wait', shortfall: 'budget' });
    expect(capped.sent).toHaveLength(0);
  });
});
