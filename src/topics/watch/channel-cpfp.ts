/**
 * An anchors commitment the watcher sent (./channel-open.ts) and its CPFP child: the commitment
 * pays the fee agreed when it was signed; while it is not mined, a child spending the party's own
 * `to_local_anchor` (signed with the funding key: src/lib/bolt3/anchor-child.ts) and coins of the
 * node's wallet (./wallet.ts) brings the package to the deadline schedule's rate
 * (src/lib/watch/channel-cpfp.ts decides), sent with `submitpackage` — the commitment with it
 * while the node does not hold it, the child alone beside it once it does. Rebid each block on the
 * SAME wallet coins (a replacement of the child, never a second set), stored with every child's
 * txid BEFORE it is sent (ChannelWatch.funded, by the anchor's outpoint): a refused send changes
 * nothing, a restart reads the coins back. New coins only when a stored one is spent while no child
 * of the party's is in the mempool (the wallet spent it elsewhere). Once the commitment is mined
 * nothing here runs: the funding's spender is then mined (./channel.ts ownTurn).
 */
import { toHex } from '../../lib/bytes.ts';
import { OffchainError, RefusedError } from '../../lib/errors.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import { bidAnchorChild, commitmentSchedule, type AnchorChildBid } from '../../lib/watch/channel-cpfp.ts';
import type { OpenHtlc } from '../../lib/watch/channel-onchain.ts';
import { errorText, startRates, type Round } from './credit.ts';
import { feeCoinsSat, vouchedCoins, type NodeWallet } from './wallet.ts';
import type { Network } from '../../lib/network.ts';

export type CpfpHost = {
  wallet?: NodeWallet;
  closeKeys?: () => Promise<{ fundingSecret: Uint8Array; seed: Uint8Array }>;
  limits: FeeLimits;
};

/** What became of the commitment's package this round. */
export type CpfpOutcome = {
  bid: AnchorChildBid;
  /** The commitment's schedule: the last block that may hold it. */
  deadline: number;
  /** The child sent (stored first). */
  child?: string;
  /** The node's refusal, or why no child could be made ("CODE: message"). */
  error?: string;
};

/**
 * The commitment `parent` (the party's own, signed; `inMempool`: the node holds it) and its anchor child this round:
 * undefined when the channel is not an anchors one, or no wallet or funding key is at hand (the commitment goes alone).
 * Nothing is sent unless `send`: the caller sends the commitment alone when the bid is `alone`.
 */
export async function anchorChildTurn(
  host: CpfpHost, r: Round, rec: ChannelRecord, channel: string, parent: { txid: string; raw: Uint8Array; inMempool: boolean }, htlcs: readonly OpenHtlc[], stakeSat: number,
): Promise<CpfpOutcome | undefined> {
  if (rec.channel.format !== 'anchors' || !host.wallet || !host.closeKeys || !r.chain.submitPackage) return undefined;
  const { closingCommitment } = await import('../../lib/bolt3/party.ts');
  const built = closingCommitment(rec, parent.txid);
  if (!built?.own) return undefined;
  const { c } = built;
  const { anchorChildMaxFee, anchorChildVsize, fundAnchorChild, ownAnchor } = await import('../../lib/bolt3/anchor-child.ts');
  const { parsePsbtBase64 } = await import('../../lib/psbt/parse.ts');
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const anchor = ownAnchor(c);
  const outpoint = `${parent.txid}:${anchor.index}`;
  const watch = await r.records.channel(channel);
  const record = watch.funded?.[outpoint];
  // A child in the node's mempool (only the funding key spends the anchor before the commitment is 16 blocks deep): replaced by the next.
  const spender = parent.inMempool ? await r.chain.mempoolSpender(parent.txid, anchor.index) : undefined;
  const parentSize = { vsize: measureTx(parent.raw, 'the commitment').vsize, feeSat: Number(c.actualFeeSat) };
  let held: Parameters<typeof bidAnchorChild>[0]['held'];
  if (spender !== undefined) {
    // What the next child replaces is this child and its descendants only (its input conflicts with nothing else): the
    // commitment's other descendants — the peer's child on its own anchor, large at a low rate — are not Core's rule 3 bar.
    // So: the commitment and this child's descendants (Core's modified fees), and this child's chunk.
    const eviction = await r.chain.mempoolEviction(spender);
    if (eviction) {
      held = {
        descendantFee: BigInt(parentSize.feeSat) + eviction.descendantFee, descendantVsize: parentSize.vsize + eviction.descendantVsize,
        chunkFee: eviction.chunkFee, chunkWeight: eviction.chunkWeight, childFeeSat: Number(eviction.descendantFee),
      };
    }
  }
  // The recorded coins while the node and the wallet vouch for them (a writer of the database can edit them: ./wallet.ts
  // vouchedCoins) — unspent, or spent by the child held there (a bid of the party's); else new ones.
  const coins = record ? await vouchedCoins(r.chain, host.wallet, rec.network as Network, record.wallet, spender) : undefined;
  const { deadline, startTip } = commitmentSchedule(htlcs, r.tip);
  const { start, incremental, floor } = await startRates(r.chain)(deadline - r.tip);
  // The wallet asked for no more than the child may ever pay: --max-fee-share of the stake (packageMaxFee's bound).
  const ask = feeCoinsSat(host.limits.maxFeeRate, host.limits.maxFeeShare * stakeSat);
  const facts = (wallet: typeof coins) => ({
    tip: r.tip, startTip, deadline, startRate: start, incrementalRate: incremental, floorRate: floor, limits: host.limits,
    parent: parentSize, childVsize: anchorChildVsize(c, wallet),
    stakeSat, coinsMaxFeeSat: wallet ? Number(anchorChildMaxFee(c, wallet)) : Number(ask), ...(held ? { held } : {}),
  });
  let bid = bidAnchorChild(facts(coins));
  if (r.dryRun || bid.action === 'alone' || bid.action === 'keep') return { bid, deadline };
  let wallet = coins;
  if (!wallet) {
    try {
      wallet = await host.wallet.coins(ask, { lock: true });
    } catch (e) {
      // The wallet gives no coins (empty, or holding less than asked): the bid is short for the wallet, said as such.
      return { bid: bid.reserve ? bid : { ...bid, shortfall: bid.shortfall === 'deadline-passed' ? bid.shortfall : 'wallet' }, deadline, error: errorText(e) };
    }
  }
  try {
    if (!coins) bid = bidAnchorChild(facts(wallet)); // sized again on the coins the wallet chose
    if (bid.action === 'alone' || bid.action === 'keep') return { bid, deadline };
    const f = facts(wallet);
    const { fundingSecret, seed } = await host.closeKeys();
    let child: ReturnType<typeof fundAnchorChild>;
    try {
      child = fundAnchorChild(c, wallet, BigInt(bid.childFeeSat), fundingSecret, { parent: { vsize: f.parent.vsize, feeSat: c.actualFeeSat }, stakeSat: BigInt(stakeSat), limits: host.limits });
    } finally {
      fundingSecret.fill(0);
      seed.fill(0);
    }
    const raw = await host.wallet.sign(parsePsbtBase64(child.psbt, 'the anchor child'));
    const { Transaction } = await import('@scure/btc-signer');
    const signed = measureTx(raw, 'the anchor child as the wallet signed it');
    const input0 = Transaction.fromRaw(raw, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true }).getInput(0);
    if (signed.txid !== child.txid || toHex(input0.txid!) !== parent.txid || input0.index !== anchor.index) {
      throw new OffchainError('E_WALLET_ALTERED', `the node's wallet changed the anchor child it signed (${signed.txid}, not ${child.txid}): not sent`);
    }
    // Stored before it is sent: the coins (every later child spends them) and this child's txid.
    const { base64 } = await import('@scure/base');
    const now = await r.records.channel(channel);
    const txids = [...(now.funded?.[outpoint]?.txids ?? []).filter((t) => t !== child.txid), child.txid];
    await r.records.setChannel(channel, { ...now, funded: { ...now.funded, [outpoint]: { wallet: record && coins ? record.wallet : base64.encode(wallet.toPSBT()), txids } } });
    const result = await r.chain.submitPackage([parent.raw, raw]);
    const refused = result.txResults.filter((t) => t.error !== undefined);
    if (result.packageMsg !== 'success' || refused.length > 0) {
      throw new RefusedError('E_BROADCAST_REJECTED', `the node did not accept the commitment's package: ${result.packageMsg}${refused.map((t) => ` (${t.txid}: ${t.error})`).join('')}`);
    }
    return { bid, deadline, child: child.txid };
  } catch (e) {
    return { bid, deadline, error: errorText(e) };
  }
}
