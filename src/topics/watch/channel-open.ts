/**
 * An open channel in a watcher's round (its funding unspent): whether an HTLC of the party's
 * latest commitment makes it go on chain (src/lib/watch/channel-onchain.ts decides) — and then its
 * latest commitment signed by `commitment finalize`'s own code
 * (src/lib/bolt3/party-holder-commitment.ts closeUnilaterally) under the channel's lock, the
 * record saying it went out for broadcast (never revoked, no further commitment signed) stored
 * BEFORE it is sent. A refused broadcast changes nothing more: the record already says the
 * commitment is out, and the next round sends it again (`rebroadcast`). Its HTLC second stages
 * follow once it is mined (./channel.ts ownTurn).
 *
 * An anchors channel's commitment pays the fee agreed when it was signed: with the node's wallet
 * (--rpc-wallet) it goes out with a CPFP child on the party's own anchor — at the schedule's rate
 * when it asks more than the commitment pays alone, else at the commitment's own, holding the
 * party's place in its cluster — and the child is rebid each block it stays in the mempool
 * (./channel-cpfp.ts; `pendingTurn` below, the funding's spender the commitment in the mempool).
 */
import { equalBytes, fromHex } from '../../lib/bytes.ts';
import { RefusedError, StateConflictError } from '../../lib/errors.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import { decideChannel, type ChannelDecision, type ChannelFacts } from '../../lib/watch/channel.ts';
import { goOnChainAt, type OpenChannel } from '../../lib/watch/channel-onchain.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import { errorText, type Round } from './credit.ts';
import type { CpfpOutcome } from './channel-cpfp.ts';
import type { NodeWallet } from './wallet.ts';

/** What an open channel's turn needs of the party's side (./channel.ts ChannelHost holds it). */
export type OpenHost = {
  /** A copy of the htlc_basepoint secret and of the preimages: which received HTLCs' preimages are held. */
  htlcKey?: () => Promise<{ secret: Uint8Array; preimages: Uint8Array[] }>;
  /** Copies of the funding key and the per-commitment seed (--funding-key-env/-file, --seed-file; the caller zeroes them): the party's latest commitment signed to go on chain. */
  closeKeys?: () => Promise<{ fundingSecret: Uint8Array; seed: Uint8Array }>;
  /** Whether closeKeys are this channel's (its funding_pubkey, its local_first_point); none: not asked. */
  closeFits?: (record: ChannelRecord) => boolean;
  /** One step on a channel's record under its lock, written before it returns (the `commitment` commands' ChannelBook.step): with closeKeys. */
  step?: <T>(id: string, fn: (record: ChannelRecord) => { record?: ChannelRecord; message: T }) => Promise<T>;
  /** The node's wallet (--rpc-wallet): an anchors commitment's CPFP child takes its coins from it. */
  wallet?: NodeWallet;
  limits: FeeLimits;
};

/** The channel's open side as the decision sees it: its latest commitment, its HTLCs (a received one's preimage held or not), the secrets lacking. */
async function openSide(host: OpenHost, rec: ChannelRecord): Promise<OpenChannel> {
  const state = rec.local?.state;
  const htlcs = state?.htlcs ?? [];
  let preimageHeld = (_hash: string) => false;
  if (host.htlcKey && htlcs.some((h) => h.direction === 'received')) {
    const { sha256 } = await import('../../lib/hash.ts');
    const { secret, preimages } = await host.htlcKey();
    const hashes = preimages.map((p) => sha256(p));
    for (const x of [secret, ...preimages]) x.fill(0);
    preimageHeld = (hash) => hashes.some((h) => equalBytes(h, fromHex(hash, 'payment_hash', 32)));
  }
  const fits = host.closeKeys !== undefined && (host.closeFits?.(rec) ?? true);
  const missing = [
    ...(fits ? [] : host.closeKeys ? ['--funding-key-env (or --funding-key-file) and --seed-file of this channel (those given are another channel\'s)'] : ['--funding-key-env (or --funding-key-file)', '--seed-file']),
    ...(htlcs.length > 0 && !host.htlcKey ? ['--htlc-key-env (or --htlc-key-file)'] : []),
  ];
  // Which HTLCs have no output on that commitment (BOLT 3 trimming: its feerate, our dust limit): they never send it.
  const { channelFromJson } = await import('../../lib/bolt3/messages.ts');
  const { isTrimmed } = await import('../../lib/bolt3/commitment.ts');
  const params = channelFromJson(rec.channel);
  const trimmed = (h: (typeof htlcs)[number]) => isTrimmed(params, state!.feerate_per_kw, { direction: h.direction, amountMsat: BigInt(h.amount_msat), paymentHash: new Uint8Array(32), cltvExpiry: h.cltv_expiry });
  return {
    latest: state?.commitment_number ?? null, revokedThrough: rec.local_revoked_through, ...(rec.broadcast !== undefined ? { broadcast: rec.broadcast } : {}),
    htlcs: htlcs.map((h) => ({ direction: h.direction, cltvExpiry: h.cltv_expiry, preimage: h.direction === 'received' && preimageHeld(h.payment_hash), trimmed: trimmed(h) })),
    missing, ...(rec.channel.format === 'zero-fee' ? { feeless: true } : {}),
  };
}

/** What going on chain saves, sat: the HTLCs of the latest commitment that make it go (received with the preimage, offered) — --max-fee-share's base for the child. */
function stakeOf(rec: ChannelRecord, open: OpenChannel): number {
  const htlcs = rec.local?.state.htlcs ?? [];
  return htlcs.reduce((a, h, i) => a + (goOnChainAt(open.htlcs[i]!) !== undefined ? Number(BigInt(h.amount_msat) / 1000n) : 0), 0);
}

/** The package's bid in the decision: its rate, its shortfall, what the child did. */
function withChild(d: ChannelDecision, out: CpfpOutcome): ChannelDecision {
  const b = out.bid;
  d.fee_rate = b.rate / 1000;
  if (b.shortfall) d.shortfall = b.shortfall;
  else delete d.shortfall;
  d.reason += b.action === 'alone' ? ` — it pays ${b.rate / 1000} sat/vB alone, what the schedule asks (mined by block ${out.deadline}): no anchor child yet`
    : b.action === 'keep' ? ` — its package in the node's mempool stands at ${b.rate / 1000} sat/vB: ${b.shortfall ? 'no bid within the budget outbids it by the incremental relay fee' : `what the schedule asks (mined by block ${out.deadline})`}`
      : b.reserve ? ` — it pays what the schedule asks (mined by block ${out.deadline}); its anchor child (a coin of the node's wallet) at its rate holds your place in its package (${b.rate / 1000} sat/vB), which the peer's descendants could otherwise fill (Core keeps no CPFP carve-out)`
        : ` — its anchor child (a coin of the node's wallet) brings the package to ${b.rate / 1000} sat/vB, to be mined by block ${out.deadline}`;
  if (out.error) d.error ??= out.error;
  return d;
}

export async function openTurn(host: OpenHost, r: Round, rec: ChannelRecord, base: Omit<ChannelFacts, 'spend'>): Promise<ChannelDecision> {
  const open = await openSide(host, rec);
  const d = decideChannel({ ...base, spend: { kind: 'unspent' }, open });
  if (!d.close || r.dryRun) return d;
  const { closeUnilaterally } = await import('../../lib/bolt3/party-holder-commitment.ts');
  const { fundingSecret, seed } = await host.closeKeys!();
  const htlc = host.htlcKey ? await host.htlcKey() : undefined;
  let signed: { commitment_number: number; txid: string; hex: string };
  try {
    // Under the channel's lock, on the record as it is now (a `commitment` command may have moved it since the round read it):
    // its latest commitment, never one whose secret was revealed; the record written (broadcast = n) before anything is sent.
    signed = await host.step!(base.channel, (now) => {
      const n = now.local?.state.commitment_number;
      if (n === undefined || n <= now.local_revoked_through) throw new RefusedError('E_REVOKED_COMMITMENT', `channel ${base.channel}'s commitment ${n} is revoked (its secret revealed through ${now.local_revoked_through}): never broadcast`);
      // Only the commitment decided on: a newer one stored since (the peer settled the HTLC off chain) is decided again next round.
      if (now.local!.txid !== rec.local!.txid || (now.broadcast !== undefined && now.broadcast !== n)) {
        throw new StateConflictError('E_STALE_STATE', `channel ${base.channel}'s record moved since this round read it (its latest commitment now ${n}, decided on ${d.close!.commitment}): nothing sent, decided again next round`);
      }
      const out = closeUnilaterally(now, seed, { fundingSecret, ...(htlc ? { htlcBasepointSecret: htlc.secret } : {}) }, []);
      return { ...(out.record ? { record: out.record } : {}), message: out.message as typeof signed };
    });
  } finally {
    for (const x of [fundingSecret, seed, ...(htlc ? [htlc.secret, ...htlc.preimages] : [])]) x.fill(0);
  }
  d.txid = signed.txid;
  // Anchors, with the node's wallet: with a CPFP child, at the schedule's rate or the commitment's own (sent, and stored first, there).
  const { anchorChildTurn } = await import('./channel-cpfp.ts');
  const raw = fromHex(signed.hex);
  let child: CpfpOutcome | undefined;
  try {
    child = await anchorChildTurn(host, r, rec, base.channel, { txid: signed.txid, raw, inMempool: false }, open.htlcs, stakeOf(rec, open));
  } catch (e) {
    d.error = errorText(e); // the child could not even be decided (the node's policy unread, no anchor of hers): the commitment still goes
  }
  if (child) withChild(d, child);
  if (child?.child !== undefined) return d;
  try {
    await r.chain.broadcast(raw); // alone: as the schedule asks, or its child refused (the commitment may still be taken)
  } catch (e) {
    d.error ??= errorText(e); // recorded as out for broadcast: sent again next round
  }
  return d;
}

/**
 * The party's own commitment in the node's mempool, not mined (the funding's spender, unconfirmed): an anchors one's
 * CPFP child sent, or rebid, on the schedule (./channel-cpfp.ts); else it waits.
 */
export async function pendingTurn(host: OpenHost, r: Round, rec: ChannelRecord, base: ChannelFacts, txid: string): Promise<ChannelDecision> {
  const d = decideChannel(base);
  if (!host.closeKeys || !host.wallet || rec.local?.txid !== txid) return d;
  const open = await openSide(host, rec);
  const { anchorChildTurn } = await import('./channel-cpfp.ts');
  const out = await anchorChildTurn(host, r, rec, base.channel, { txid, raw: await r.chain.rawTransaction(txid), inMempool: true }, open.htlcs, stakeOf(rec, open));
  if (!out) return d;
  const sent = out.child !== undefined;
  const action = out.bid.action === 'keep' || (!sent && out.bid.action !== 'alone') ? 'hold' : out.bid.action === 'alone' ? 'wait' : 'rebid';
  const reason = `your commitment ${rec.local.state.commitment_number} is in the node's mempool, not mined`;
  return withChild({ ...d, action, reason, deadline: out.deadline, blocks_left: out.deadline - r.tip, txid: out.child ?? txid }, out);
}
