/**
 * An HTLC output of the party's own commitment on an anchors / zero-fee channel
 * (option_anchors_zero_fee_htlc_tx), as the watcher keeps it (./channel.ts ownTurn): BOLT 3's
 * second stage pays no fee of its own and carries the peer's SIGHASH_SINGLE|ANYONECANPAY
 * signature, so the node's wallet adds an input and change (./wallet.ts, as the tower pays its
 * children) and only then does the party sign SIGHASH_ALL (`commitment finalize --fee-psbt`'s
 * own code: src/lib/bolt3/htlc-fee.ts fundHtlcTransaction); the wallet signs its inputs last.
 *
 * Who holds the output is the node's word: a transaction in its mempool whose input 0 and
 * output 0 are BOLT 3's (src/lib/bolt3/funded-htlc.ts matchFundedHtlcTx: only the party's
 * signature completes one) is the party's second stage, rebid by the next; spent in a block, by
 * one of the txids the watcher bid (its records), else by the peer.
 *
 * The wallet's coins are recorded with every bid, and every bid of an HTLC output spends the
 * same ones (across restarts): a replacement, never a second set while a bid may be mined —
 * unless a coin of theirs is spent while no bid of the party's is (the wallet spent it
 * elsewhere): then new ones.
 */
import type { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { OffchainError, RefusedError } from '../../lib/errors.ts';
import type { CommitmentTransaction } from '../../lib/bolt3/commitment.ts';
import type { HtlcTransaction } from '../../lib/bolt3/htlc-tx.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import type { OwnHtlc } from '../../lib/watch/channel.ts';
import type { Round } from './credit.ts';
import type { ChannelWatch } from './state.ts';
import { feeCoinsSat, vouchedCoins, type NodeWallet } from './wallet.ts';
import type { Network } from '../../lib/network.ts';

/** Funds, signs (the party, then the wallet) and returns a second stage paying `feeSat` (at most), with the wallet's coins it spends (base64). */
export type Funder = (feeSat: number) => Promise<{ txid: string; hex: string; wallet: string }>;

/** The weight a P2WPKH wallet input adds (41 vB + a 108-byte witness), and a P2WPKH output: the estimate before the wallet chose its coins. */
const P2WPKH_INPUT_WU = 272;
const P2WPKH_OUTPUT_WU = 124;

/** Is `raw` a second stage of `h` (BOLT 3's input 0 and output 0, any wallet's inputs and outputs after them)? */
async function secondStageOf(h: HtlcTransaction, raw: Uint8Array, commitmentTxid: string): Promise<boolean> {
  const { matchFundedHtlcTx } = await import('../../lib/bolt3/funded-htlc.ts');
  try {
    matchFundedHtlcTx([h], raw, commitmentTxid);
    return true;
  } catch (e) {
    if (e instanceof RefusedError) return false;
    throw e;
  }
}

export async function anchorsStage(o: {
  r: Round; c: CommitmentTransaction; h: HtlcTransaction; commitmentTxid: string; preimage?: Uint8Array; peerSignature: string;
  watch: ChannelWatch; wallet: NodeWallet; network: Network; limits: FeeLimits; htlcKey: () => Promise<{ secret: Uint8Array; preimages: Uint8Array[] }>;
}): Promise<{ htlc: OwnHtlc; funder?: Funder; mined?: { txid: string; confirmations: number } }> {
  const { r, h, commitmentTxid } = o;
  const vout = h.commitmentOutputIndex;
  const outpoint = `${commitmentTxid}:${vout}`;
  const record = o.watch.funded?.[outpoint];
  const base = { outpoint, kind: h.kind, cltvExpiry: h.htlc.cltvExpiry, preimage: o.preimage !== undefined, feeSat: 0, sentBefore: o.watch.sent[outpoint] !== undefined };
  let state: OwnHtlc['state'] = 'open';
  let held: { txid: string; feeSat: number } | undefined;
  const spender = await r.chain.mempoolSpender(commitmentTxid, vout);
  if (spender !== undefined) {
    const entry = (await secondStageOf(h, await r.chain.rawTransaction(spender), commitmentTxid)) ? await r.chain.mempoolEntry(spender) : null;
    if (!entry) return { htlc: { ...base, state: 'gone' } };
    state = 'held';
    held = { txid: spender, feeSat: Number(entry.fee) };
  } else if ((await r.chain.utxo(commitmentTxid, vout)) === null) {
    // Spent in a block: by a bid of the party's (its records say which), else by the peer.
    for (const txid of record?.txids ?? []) {
      const confirmations = (await r.chain.txConfirmations(txid)) ?? 0;
      if (confirmations > 0) return { htlc: { ...base, state: 'gone' }, mined: { txid, confirmations } };
    }
    return { htlc: { ...base, state: 'gone' } };
  }
  const { parsePsbtBase64 } = await import('../../lib/psbt/parse.ts');
  // The recorded coins while the node and the wallet vouch for them (a writer of the database can edit them: ./wallet.ts
  // vouchedCoins) — unspent, or spent by the second stage held there (a bid of the party's); else new ones.
  const coins = record ? await vouchedCoins(r.chain, o.wallet, o.network, record.wallet, held?.txid) : undefined;
  const fundAt = async (wallet: Transaction, feeRate: number) => {
    const { fundHtlcTransaction } = await import('../../lib/bolt3/htlc-fee.ts');
    const { holderHtlcKey, preimageOf } = await import('../../lib/bolt3/party-holder-commitment.ts');
    const { secret, preimages } = await o.htlcKey();
    const privkey = holderHtlcKey(o.c, secret);
    try {
      return fundHtlcTransaction(h, wallet, feeRate, o.limits, privkey, fromHex(o.peerSignature, 'htlc signature'), preimageOf(h, preimages));
    } finally {
      for (const x of [privkey, secret, ...preimages]) x.fill(0);
    }
  };
  // Sized with the coins it spends (the recorded ones), else as one P2WPKH coin paying itself and its change.
  const sizingRate = Math.min(1, o.limits.maxFeeRate);
  const { WEIGHTS } = await import('../../lib/bolt3/formats.ts');
  const weight = coins ? 4 * (await fundAt(coins, sizingRate)).vsize
    : (h.kind === 'htlc-success' ? WEIGHTS.anchors.htlcSuccess : WEIGHTS.anchors.htlcTimeout) + P2WPKH_INPUT_WU + 2 * P2WPKH_OUTPUT_WU;
  const htlc: OwnHtlc = { ...base, state, funded: { valueSat: Number(h.spentAmountSat), weight, inputs: 1 + (coins?.inputsLength ?? 1), ...(held ? { held } : {}) } };
  const funder: Funder = async (feeSat) => {
    const wallet = coins ?? await o.wallet.coins(feeCoinsSat(o.limits.maxFeeRate), { lock: true });
    // The rate the fee was decided at (on `weight`: before the wallet chose its coins, one P2WPKH coin), on the real size —
    // never less than the fee asked (a replacement's rule 3), nor above --max-fee-rate: the fee alone on a larger real size
    // fell below the rate, under the node's floor at worst ("min relay fee not met"), and the stage waited a block.
    const rate = Math.min(feeSat / Math.min((await fundAt(wallet, sizingRate)).vsize, weight / 4), o.limits.maxFeeRate);
    const f = await fundAt(wallet, rate);
    const raw = await o.wallet.sign(parsePsbtBase64(f.psbt, 'the funded HTLC transaction'));
    const { measureTx } = await import('../../lib/truc/transaction.ts');
    const { txid } = measureTx(raw, 'the HTLC transaction as the wallet signed it');
    if (txid !== f.txid || !(await secondStageOf(h, raw, commitmentTxid))) {
      throw new OffchainError('E_WALLET_ALTERED', `the node's wallet changed the ${h.kind} transaction it signed (${txid}, not ${f.txid}): not sent`);
    }
    const { base64 } = await import('@scure/base');
    return { txid, hex: toHex(raw), wallet: record && coins ? record.wallet : base64.encode(wallet.toPSBT()) };
  };
  return { htlc, funder };
}
