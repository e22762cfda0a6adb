/**
 * REVIEW (htlc/ptlc payer refunds, H2), fixed: the PTLC refund — `ptlc refund` and a watcher
 * alike, one builder (src/topics/htlc/payer.ts payerRefund) — applies --max-fee-rate and
 * --max-fee-share as the HTLC refund does; and a watcher under a fee spike bids min(its estimate,
 * the budget), `shortfall: 'budget'`, instead of a refund the guard refuses every round.
 * (Was: a 300 sat/vB estimate took 71% of a 50,000-sat PTLC under --max-fee-rate 2; the HTLC
 * refund was refused each round and never sent.)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { payerContract, payerRefund, payerTerms, signPayerRecord, wrongPayerKey, type PayerRecord } from '../../src/topics/htlc/payer.ts';
import { payerRound } from '../../src/topics/watch/htlc.ts';
import { keyPair, parseSecretKey, type KeyPair } from '../../src/lib/keys/keys.ts';
import { decodeAddress } from '../../src/lib/address.ts';
import { ROOT } from '../helpers.ts';

const fixture = (p: string) => JSON.parse(readFileSync(join(ROOT, 'fixtures', p), 'utf8'));
const key = (n: string) => keyPair(parseSecretKey(readFileSync(join(ROOT, 'fixtures', 'keys', n), 'utf8').trim()));
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const LIMITS = { maxFeeRate: 2, maxFeeShare: 0.05 };
const TXID = '5f'.repeat(32);

async function payerOf(kind: 'htlc' | 'ptlc', created: Record<string, unknown>, rec: PayerRecord): Promise<KeyPair> {
  const payer = payerTerms(await payerContract(kind, created)).payer;
  return [key('alice.key'), key('bob.key')].find((k) => wrongPayerKey(rec, payer, k.publicKey) === undefined)!;
}

describe('payer refund fee guard', () => {
  it('PTLC (ptlc refund\'s builder): --max-fee-rate 2 and --max-fee-share 0.05 apply — a 300 sat/vB request is refused (E_FEE_TOO_HIGH)', async () => {
    const created = fixture('ptlc/created.json');
    const c = await payerContract('ptlc', created);
    const rec: PayerRecord = { contract: `${TXID}:1`, kind: 'ptlc', outpoint: { txid: TXID, vout: 1 }, amount_sat: 50_000, to: TO, created };
    const payer = await payerOf('ptlc', created, rec);
    await expect(payerRefund(c, { outpoint: rec.outpoint, amountSat: 50_000n, destination: decodeAddress(TO, 'regtest', 'to'), feeRate: 300, feeLimits: LIMITS, signer: payer, auxRand: new Uint8Array(32) }))
      .rejects.toThrow(/E_FEE_TOO_HIGH|above the limit/);
  });

  for (const [kind, file, vout] of [['htlc', 'htlc/seed.json', 0], ['ptlc', 'ptlc/created.json', 1]] as const) {
    it(`${kind.toUpperCase()}: a watcher under a 300 sat/vB estimate bids within the budget (shortfall: budget) and sends it`, async () => {
      const created = fixture(file);
      const c = await payerContract(kind, created);
      const terms = payerTerms(c);
      const unsigned: PayerRecord = { contract: `${TXID}:${vout}`, kind, outpoint: { txid: TXID, vout }, amount_sat: 50_000, to: TO, created };
      const payer = await payerOf(kind, created, unsigned);
      const rec = { ...unsigned, sig: await signPayerRecord(unsigned, payer) };
      const sent: Uint8Array[] = [];
      const chain = {
        txConfirmations: async () => 10, utxo: async () => ({ txid: TXID, vout, value: 50_000n, scriptPubKey: terms.scriptPubKey, confirmations: 10 }),
        mempoolSpender: async () => undefined, rawTransaction: async () => new Uint8Array(),
        mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 1000 }), estimateFeeRate: async () => 300_000,
        broadcast: async (raw: Uint8Array) => { sent.push(raw); return ''; },
      };
      const records = { bid: async () => undefined, setBid: async () => undefined };
      const host = { network: 'regtest' as const, records: async () => [rec], key: async () => payer, limits: LIMITS, auxRand: () => new Uint8Array(32) };
      const ds = await payerRound(host as never, { tip: 1100, block: '00'.repeat(32), dryRun: false, offline: false, chain: chain as never, records: records as never });
      expect(ds[0], JSON.stringify(ds)).toMatchObject({ action: 'refund', shortfall: 'budget' });
      expect(ds[0]!.error).toBeUndefined();
      expect(ds[0]!.fee_rate!).toBeLessThanOrEqual(LIMITS.maxFeeRate);
      expect(sent).toHaveLength(1);
      const tx = Transaction.fromRaw(sent[0]!, { allowUnknownOutputs: true });
      const fee = 50_000 - Number(tx.getOutput(0).amount!);
      expect(fee).toBeLessThanOrEqual(50_000 * LIMITS.maxFeeShare);
      expect(fee / tx.vsize).toBeLessThanOrEqual(LIMITS.maxFeeRate);
    });
  }
});
