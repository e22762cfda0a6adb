/**
 * REVIEW (htlc/ptlc payer refunds, H1), fixed: `watch-add` signs the record with the payer's key
 * (BIP-340 over outpoint, amount, `to`, the created message); the watcher signs a refund only for
 * a record its own key signed — one whose `to` the database administrator rewrote (or one written
 * unsigned) is `hold`, E_STATE_CORRUPT, nothing signed, nothing sent. And each round the node's
 * gettxout must show the record's script and amount: otherwise `hold`, E_UTXO_MISMATCH.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { payerRound } from '../../src/topics/watch/htlc.ts';
import { payerContract, payerTerms, signPayerRecord, type PayerRecord } from '../../src/topics/htlc/payer.ts';
import { keyPair, parseSecretKey } from '../../src/lib/keys/keys.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { ROOT } from '../helpers.ts';

const fixture = (p: string) => JSON.parse(readFileSync(join(ROOT, 'fixtures', p), 'utf8'));
const key = (n: string) => keyPair(parseSecretKey(readFileSync(join(ROOT, 'fixtures', 'keys', n), 'utf8').trim()));
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const ADMIN_TO = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';

async function round(rec: PayerRecord, utxoValue = 50_000n) {
  const payer = [key('alice.key'), key('bob.key')].find((k) => toHex(k.xOnly) === '4f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa')!;
  const terms = payerTerms(await payerContract('ptlc', rec.created));
  const sent: Uint8Array[] = [];
  const chain = {
    txConfirmations: async () => 10, utxo: async () => ({ txid: rec.outpoint.txid, vout: 1, value: utxoValue, scriptPubKey: terms.scriptPubKey, confirmations: 10 }),
    mempoolSpender: async () => undefined, rawTransaction: async () => new Uint8Array(),
    mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 1000 }), estimateFeeRate: async () => 2000,
    broadcast: async (raw: Uint8Array) => { sent.push(raw); return ''; },
  };
  const records = { bid: async () => undefined, setBid: async () => undefined };
  const host = { network: 'regtest' as const, records: async () => [rec], key: async () => payer, limits: { maxFeeRate: 10, maxFeeShare: 0.5 }, auxRand: () => new Uint8Array(32) };
  const ds = await payerRound(host as never, { tip: 1100, block: '00'.repeat(32), dryRun: false, offline: false, chain: chain as never, records: records as never });
  return { ds, sent, payer };
}

describe('a kept PTLC whose `to` the DB admin rewrote', () => {
  const outpoint = { txid: '5f'.repeat(32), vout: 1 };
  const base = (): PayerRecord => ({ contract: `${outpoint.txid}:1`, kind: 'ptlc', outpoint, amount_sat: 50_000, to: TO, created: fixture('ptlc/created.json') });

  it('a signed record refunds to its own `to`; the same record with `to` rewritten: hold, E_STATE_CORRUPT, nothing sent', async () => {
    const { payer } = await round(base());
    const signed = { ...base(), sig: await signPayerRecord(base(), payer) };
    const good = await round(signed);
    expect(good.ds[0]).toMatchObject({ action: 'refund' });
    expect(good.sent).toHaveLength(1);
    const forged = await round({ ...signed, to: ADMIN_TO });
    expect(forged.ds[0], JSON.stringify(forged.ds)).toMatchObject({ action: 'hold' });
    expect(forged.ds[0]!.error).toMatch(/^E_STATE_CORRUPT: /);
    expect(forged.sent).toHaveLength(0);
  });

  it('a record written without the payer\'s signature: hold, E_STATE_CORRUPT, nothing sent', async () => {
    const r = await round({ ...base(), to: ADMIN_TO });
    expect(r.ds[0]).toMatchObject({ action: 'hold' });
    expect(r.ds[0]!.error).toMatch(/^E_STATE_CORRUPT: /);
    expect(r.sent).toHaveLength(0);
  });

  it('the node\'s gettxout shows another amount than the record\'s: hold, E_UTXO_MISMATCH, nothing sent', async () => {
    const { payer } = await round(base());
    const signed = { ...base(), sig: await signPayerRecord(base(), payer) };
    const r = await round(signed, 40_000n);
    expect(r.ds[0]).toMatchObject({ action: 'hold' });
    expect(r.ds[0]!.error).toMatch(/^E_UTXO_MISMATCH: /);
    expect(r.sent).toHaveLength(0);
  });
});
