/**
 * The payer's refund of an HTLC or a PTLC in a watcher's round (docs/watch.md): the outputs
 * `htlc watch-add` / `ptlc watch-add` kept in the state directory, the chain's facts asked of
 * the node (the funding transaction, the output — one gettxout — and who spends it), the
 * decision taken by src/lib/watch/htlc.ts, and the refund built by the refund commands' own
 * code (../htlc/payer.ts payerRefund), signed by the watcher's key and sent with
 * sendrawtransaction at the node's estimate for the next block (the refund races a claim that
 * has no lock), capped by the budget (--max-fee-rate, --max-fee-share: min(estimate, budget),
 * `shortfall: 'budget'` when capped); its own refund in the mempool re-bid each block the
 * estimate rises above it (outbidding it by the incremental relay fee, within the budget). Its
 * txid is stored before it is sent (records kind `watch`, `refund-<outpoint>`). Before signing:
 * the node's gettxout must match the record's script and amount (E_UTXO_MISMATCH), and the
 * record must carry the payer's signature by the watcher's key (E_STATE_CORRUPT).
 */
import type { Network } from '../../lib/network.ts';
import type { KeyPair } from '../../lib/keys/keys.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import { SENDING, type Decision } from '../../lib/watch/decision.ts';
import { decidePayer, spendPath, type OutputSpend, type PayerFacts, type PayerKind } from '../../lib/watch/htlc.ts';
import type { PayerRecord } from '../htlc/payer.ts';
import { errorText, satVb, startRates, turns, type Round } from './credit.ts';

/** The payer's side, as the watch command gives it: the kept outputs, its key, its fee guard. */
export type PayerHost = {
  network: Network;
  records(): Promise<PayerRecord[]>;
  key(): Promise<KeyPair>;
  limits: FeeLimits;
  auxRand(): Uint8Array;
};

/** The payer's outputs kept in a state directory (none: no database, or none kept). */
export async function payerRecords(db: StateDb | undefined): Promise<PayerRecord[]> {
  if (db === undefined) return [];
  const { Records } = await import('../../lib/store/sqlite/records.ts');
  const { PAYER_RECORDS } = await import('../htlc/watch-add.ts');
  return new Records<PayerRecord>(db, PAYER_RECORDS).list().map((r) => r.record);
}

/**
 * A watcher of a directory with kept outputs holds their payer's key: a missing one is refused
 * before any round (E_NO_KEY), as the mint's and the statechain owner's are. Nothing per output:
 * an output registered under another key (watch-add checks it: E_WRONG_KEY), a BOLT 3 HTLC or a
 * record that does not decode — written straight into the database — is that output's `hold`
 * with its error when its turn comes, and every other output and kind goes on.
 */
export async function payerKeyCheck(records: PayerRecord[], key: () => Promise<KeyPair>): Promise<void> {
  if (records.length === 0) return;
  await key();
}

const kindOf = (rec: PayerRecord): PayerKind => (rec.kind === 'ptlc' ? 'ptlc-payer' : 'htlc-payer');

export async function payerRound(host: PayerHost, r: Round): Promise<Decision[]> {
  const rows = await host.records();
  const start = startRates(r.chain);
  const failed = (rec: PayerRecord) => {
    const locktime = typeof rec.created?.locktime === 'number' ? rec.created.locktime : r.tip;
    return { kind: kindOf(rec), contract: rec.contract, deadline: locktime, blocks_left: locktime - r.tip, action: 'hold' as const };
  };
  return turns(rows, (rec) => payerTurn(host, r, rec, start), failed);
}

async function payerTurn(host: PayerHost, r: Round, rec: PayerRecord, startRate: ReturnType<typeof startRates>): Promise<Decision> {
  const { payerContract, payerTerms, payerRefund, payerRefundCap, wrongPayerKey, forgedPayerRecord } = await import('../htlc/payer.ts');
  const { equalBytes, fromHex, toHex } = await import('../../lib/bytes.ts');
  const c = await payerContract(rec.kind, rec.created);
  const terms = payerTerms(c);
  const { outpoint } = rec;
  const pathOf = async (txid: string) => spendPath(await r.chain.rawTransaction(txid), outpoint, terms);
  // Offline (a dry run at --tip-height): what it would do with the output funded and unspent.
  const funding = r.offline ? 0 : await r.chain.txConfirmations(outpoint.txid);
  let output: OutputSpend = { where: 'none' };
  let mismatch: string | undefined;
  if (!r.offline && funding !== null) {
    const utxo = await r.chain.utxo(outpoint.txid, outpoint.vout);
    if (utxo === null) {
      const spender = await r.chain.mempoolSpender(outpoint.txid, outpoint.vout);
      output = spender !== undefined ? { where: 'mempool', txid: spender, path: await pathOf(spender) } : funding >= 1 ? { where: 'block' } : { where: 'none' };
    } else if (!equalBytes(utxo.scriptPubKey, terms.scriptPubKey) || utxo.value !== BigInt(rec.amount_sat)) {
      // The node's gettxout, each round: the record's script and amount are what the refund signs (BIP 143/341).
      mismatch = `E_UTXO_MISMATCH: ${rec.contract} holds ${utxo.value} sat paying ${toHex(utxo.scriptPubKey)}; the record says ${rec.amount_sat} sat to ${terms.address}: register the funded output again`;
    }
  }
  const bid = await r.records.bid(rec.contract, 'refund');
  const facts: PayerFacts = { tip: r.tip, funding, output, ...(bid ? { refund: { txid: bid.txid ?? '', confirmations: null } } : {}), ...(mismatch ? { mismatch } : {}) };
  // The stored txid is advice: it counts as mined only when the node shows it spending this output through the refund path.
  if (bid?.txid && !r.offline) {
    const confirmations = await r.chain.txConfirmations(bid.txid);
    if (confirmations !== null && confirmations >= 1 && (await pathOf(bid.txid)) === 'refund') facts.refund = { txid: bid.txid, confirmations };
  }
  const row = { kind: kindOf(rec), contract: rec.contract, locktime: terms.locktime };
  let d = decidePayer(row, facts);
  if (!SENDING.has(d.action)) return d;
  // The key only when a refund is due: the decision again, with whether it is the payer's and signed this record.
  const key = await host.key();
  const wrong = wrongPayerKey(rec, terms.payer, key.publicKey);
  const corrupt = wrong ? undefined : await forgedPayerRecord(rec, key);
  if (wrong || corrupt) d = decidePayer(row, { ...facts, ...(wrong ? { wrongKey: wrong } : {}), ...(corrupt ? { corrupt } : {}) });
  if (r.dryRun || !SENDING.has(d.action)) return d;
  // A race with a claim that has no lock: the refund bids what the node expects for the next block, within the budget.
  const { start, incremental } = await startRate(1);
  const { decodeAddress } = await import('../../lib/address.ts');
  const destination = decodeAddress(rec.to, host.network, 'to');
  const amountSat = BigInt(rec.amount_sat);
  const cap = await payerRefundCap(c, amountSat, destination, host.limits);
  let want = start;
  if (d.action === 'rebid' && output.where === 'mempool') {
    // Its own refund in the mempool: replaced only when the next block asks more than it pays, outbidding it by the incremental relay fee.
    const held = r.offline ? null : await r.chain.mempoolEntry(output.txid);
    const heldRate = held ? Math.ceil((1000 * Number(held.fee)) / held.vsize) : 0;
    if (start <= heldRate) return { ...d, action: 'wait', reason: `the watcher's own refund in the mempool pays ${satVb(heldRate)} sat/vB, at least the node's estimate for the next block: kept`, fee_rate: heldRate / 1000 };
    if (heldRate + incremental > cap) {
      return { ...d, action: 'wait', reason: `the watcher's own refund in the mempool pays ${satVb(heldRate)} sat/vB; outbidding it by the incremental relay fee is above the budget (--max-fee-rate, --max-fee-share): kept`, fee_rate: heldRate / 1000, shortfall: 'budget' };
    }
    want = Math.max(start, heldRate + incremental);
  }
  const rate = Math.min(want, cap);
  d.fee_rate = Number(satVb(rate));
  if (rate < want) d.shortfall = 'budget';
  try {
    const refund = await payerRefund(c, { outpoint, amountSat, destination, feeRate: rate / 1000, feeLimits: host.limits, signer: key, auxRand: host.auxRand() });
    // Stored before it is sent: a watcher killed after the send sees it in the node next round.
    await r.records.setBid(rec.contract, { start_tip: bid?.start_tip ?? r.tip, rate, tip: r.tip, block: r.block, txid: refund.txid }, 'refund');
    d.txid = refund.txid;
    await r.chain.broadcast(fromHex(refund.hex));
  } catch (e) {
    d.error = errorText(e);
  }
  return d;
}
