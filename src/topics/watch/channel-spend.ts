/**
 * Who spent a BOLT 2/3 channel's funding, as the node says — the channel watcher's question
 * (./channel.ts) and `commitment list`'s (../commitment/list.ts), one implementation: the node's
 * mempool (gettxspendingprevout), else the UTXO set, else — the funding mined — the block that
 * spent it (the spender the watcher recorded, checked; the blocks new to its view this round; back
 * from the tip, block by block, never below a walk's recorded start), classified by the party's
 * record: the peer's revoked commitment, its current one, the party's own, the mutual close, or a
 * transaction the record does not know.
 */
import { Transaction } from '@scure/btc-signer';
import { toHex } from '../../lib/bytes.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import type { FundingSpend } from '../../lib/watch/channel.ts';
import { MAX_WALK } from '../../lib/watch/chain-view.ts';
import type { Round } from './credit.ts';
import type { ChannelWatch } from './state.ts';

/** Does `txid` (a transaction the node has) spend the outpoint? */
async function spends(r: SpendRound, txid: string, funding: { txid: string; vout: number }): Promise<boolean> {
  const tx = Transaction.fromRaw(await r.chain.rawTransaction(txid), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (toHex(input.txid!) === funding.txid && input.index === funding.vout) return true;
  }
  return false;
}

/**
 * The funding's spender in a block, without a look at every commitment the channel ever had:
 * the one recorded (checked: mined, and spending the funding), else the blocks the view walked
 * this round, else back from the tip, block by block, down to the funding's own block (at most
 * MAX_WALK blocks) — or to the block an earlier walk started from (`walkedTo`: everything below
 * it was read then; a reorganisation that took it away walks again, once). `fundingHeight`: the
 * funding's block (the node knows it mined). `top`: the block this walk started from.
 */
async function blockSpender(
  r: SpendRound, funding: { txid: string; vout: number }, fundingHeight: number, recorded?: string, walkedTo?: string,
): Promise<{ spender?: string; top?: string }> {
  if (recorded !== undefined && ((await r.chain.txConfirmations(recorded)) ?? 0) > 0 && (await spends(r, recorded, funding))) return { spender: recorded };
  const scan = r.chain.blockSpender;
  if (!scan) return {};
  const seen = new Set<string>();
  for (const hash of [...(r.connected ?? [])].reverse()) {
    seen.add(hash);
    const found = await scan.call(r.chain, hash, funding.txid, funding.vout);
    if (found !== undefined) return { spender: found };
  }
  // The funding's own block too: a commitment may be mined beside it.
  let hash: string | null = r.block;
  for (let height = r.tip; hash !== null && hash !== walkedTo && height >= Math.max(fundingHeight, r.tip - MAX_WALK); height--) {
    if (!seen.has(hash)) {
      const found = await scan.call(r.chain, hash, funding.txid, funding.vout);
      if (found !== undefined) return { spender: found };
    }
    hash = (await r.chain.blockHeader(hash)).prev;
  }
  return { top: r.block };
}

/** The chain as a look for the funding's spender reads it: the tip, its block, the blocks new to a watcher's view this round. */
export type SpendRound = Pick<Round, 'tip' | 'block' | 'connected' | 'chain'>;

/**
 * Who spent the channel's funding, as the node says (the watcher and `commitment list` both ask it so): its mempool
 * (gettxspendingprevout), else the UTXO set (unspent), else — the funding mined — the block that spent it (blockSpender:
 * the spender `watch` recorded, checked; the blocks new this round; back from the tip, never below `watch.walked_to`),
 * classified by the record. `top`: a walk that found nothing started from this block (the watcher records it).
 */
export async function fundingSpend(r: SpendRound, rec: ChannelRecord, watch: Pick<ChannelWatch, 'spender' | 'walked_to'>, coin?: string): Promise<{ spend: FundingSpend; top?: string }> {
  const funding = { txid: rec.channel.funding_txid, vout: rec.channel.funding_vout };
  let spender = await r.chain.mempoolSpender(funding.txid, funding.vout);
  if (spender === undefined) {
    if ((await r.chain.utxo(funding.txid, funding.vout)) !== null) return { spend: { kind: 'unspent' } };
    // Not in the UTXO set: spent in a block — or never mined (unknown to the node, or in its mempool only): nothing to walk for.
    const fundingConfirmations = await r.chain.txConfirmations(funding.txid);
    if (fundingConfirmations === null || fundingConfirmations === 0) return { spend: await notMined(r, rec, fundingConfirmations === 0, coin) };
    const walk = await blockSpender(r, funding, r.tip - fundingConfirmations + 1, watch.spender, watch.walked_to);
    if (walk.spender === undefined) return { spend: { kind: 'not-found' }, ...(walk.top !== undefined ? { top: walk.top } : {}) };
    spender = walk.spender;
  }
  const confirmations = (await r.chain.txConfirmations(spender)) ?? 0;
  return { spend: { ...classify(rec, spender), txid: spender, confirmations } };
}

/**
 * The funding not mined. A channel on a statechain coin (docs/statechain.md "A Lightning channel on the coin"): its
 * backup's nLockTime, and — `coin`, the outpoint that backup spends, when the state directory holds the coin's record
 * (./channel-coin.ts) — whether another transaction spent it (the mempool's, else the block's, found as a funding's
 * spender is): then the channel can never be on chain.
 */
async function notMined(r: SpendRound, rec: ChannelRecord, known: boolean, coin?: string): Promise<FundingSpend> {
  const out = { kind: 'not-mined' as const, known, ...(rec.funding_locktime !== undefined ? { locktime: rec.funding_locktime } : {}) };
  if (known || coin === undefined) return out;
  const outpoint = { txid: coin.slice(0, coin.lastIndexOf(':')), vout: Number(coin.slice(coin.lastIndexOf(':') + 1)) };
  const rival = await r.chain.mempoolSpender(outpoint.txid, outpoint.vout);
  if (rival !== undefined) return rival === rec.channel.funding_txid ? out : { ...out, lost: { coin, txid: rival, confirmations: 0 } };
  if ((await r.chain.utxo(outpoint.txid, outpoint.vout)) !== null) return out;
  const coinConfirmations = await r.chain.txConfirmations(outpoint.txid);
  if (!coinConfirmations) return out; // the coin itself is not mined
  const { spender, top } = await blockSpender(r, outpoint, r.tip - coinConfirmations + 1);
  if (spender === undefined) {
    // Spent in a block deeper than a walk reads — the walk (`top`) read the MAX_WALK blocks above it, and no block came
    // since the tip was read (its spender would be there): at least MAX_WALK deep, final. Else it was walked again, MAX_WALK
    // blocks every round, and never done.
    const deep = top !== undefined && coinConfirmations > MAX_WALK && (await r.chain.tip()).height === r.tip;
    return { ...out, lost: { coin, confirmations: deep ? MAX_WALK : 1 } };
  }
  return { ...out, lost: { coin, txid: spender, confirmations: (await r.chain.txConfirmations(spender)) ?? 1 } };
}

/** Who the spender is, by the party's record. */
function classify(rec: ChannelRecord, txid: string): { kind: 'revoked' | 'peer-current' | 'own' | 'mutual-close' | 'foreign'; commitmentNumber?: number } {
  const signed = rec.remote_signed.find((s) => s.txid === txid);
  if (signed) {
    const n = signed.state.commitment_number;
    return { kind: n <= rec.remote_revoked_through ? 'revoked' : 'peer-current', commitmentNumber: n };
  }
  if (rec.local?.txid === txid) return { kind: 'own', commitmentNumber: rec.local.state.commitment_number };
  if (rec.closing?.txid === txid) return { kind: 'mutual-close' };
  return { kind: 'foreign' };
}
