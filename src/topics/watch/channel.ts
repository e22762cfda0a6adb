/**
 * The BOLT 2/3 channel party's kind in a watcher's round (docs/watch.md): for each channel the
 * state directory holds (the `commitment` commands' ChannelBook), who spent the funding — the
 * node's mempool (gettxspendingprevout), else, once it is gone from the UTXO set, the block
 * that spent it (./channel-spend.ts fundingSpend, which `commitment list` asks too): the spender
 * the watcher recorded (advice, checked against the node), else the blocks its view walked this
 * round, else back from the tip to the funding's block — then the
 * decision of src/lib/watch/channel.ts, and the justice transactions signed and sent by
 * `commitment penalty`'s own code (src/lib/bolt3/party-penalty.ts punishRevoked).
 *
 * The party's own commitment, mined: its to_local swept once to_self_delay has passed, with
 * `commitment sweep`'s own code (src/lib/bolt3/sweep.ts delayedInputs, sweepMessage), when the
 * watcher holds the delayed_payment_basepoint secret.
 *
 * The peer's current commitment, mined (./channel-claim.ts): the party's HTLC outputs on it taken with `commitment
 * claim`'s own code (src/lib/bolt3/party-claim.ts claimFromPeerCommitment) — the peer's offered
 * HTLCs with the preimages given, the party's own back once their cltv_expiry is final — when the
 * watcher holds the htlc_basepoint secret.
 *
 * The party's own commitment's HTLC outputs: their second stages (HTLC-success with a preimage given,
 * at once, and past its cltv_expiry while unspent; HTLC-timeout from its cltv_expiry on), signed with the peer's stored
 * signatures by `commitment finalize`'s own code (src/lib/bolt3/party-holder-commitment.ts
 * signHolderHtlc) when the watcher holds the htlc_basepoint secret — a legacy channel's as signed (their
 * fee fixed), an anchors channel's with a fee input of the node's wallet, bid and rebid on the schedule
 * (./channel-anchors.ts); then each one's output swept like the to_local.
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes } from '../../lib/bytes.ts';
import { OffchainError } from '../../lib/errors.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import { SWEEP_HORIZON, decideChannel, type ChannelDecision, type FundingSpend, type JusticeItem, type OwnHtlc } from '../../lib/watch/channel.ts';
import { FINAL_DEPTH, type Decision } from '../../lib/watch/decision.ts';
import { errorText, startRates, type Round } from './credit.ts';
import { fundingSpend } from './channel-spend.ts';
import { claimTurn } from './channel-claim.ts';
import { broadcastAll, countedWeight, floorPerKw } from './channel-send.ts';
import type { ChannelWatch } from './state.ts';
import type { NodeWallet } from './wallet.ts';
import { anchorsStage, type Funder } from './channel-anchors.ts';
import type { Network } from '../../lib/network.ts';
import type { OpenHost } from './channel-open.ts';

/** A channel the state directory holds: its record, or why it could not be read. */
export type WatchedChannel = { id: string; record: ChannelRecord; error?: undefined; coin?: string } | { id: string; record?: undefined; error: string; coin?: undefined };

/** The party's side, as the watch command gives it. */
export type ChannelHost = {
  channels(): Promise<WatchedChannel[]>;
  /** A copy of the revocation_basepoint secret (the caller zeroes it). */
  revocationKey(): Promise<Uint8Array>;
  /** A copy of the delayed_payment_basepoint secret, when given (--delayed-key-env/--delayed-key-file): the party's own to_local is swept. */
  delayedKey?: () => Promise<Uint8Array>;
  /** A copy of the htlc_basepoint secret and of the preimages (--htlc-key-env/--htlc-key-file, --preimage-file): the party's HTLCs on the peer's current commitment are taken. */
  htlcKey?: () => Promise<{ secret: Uint8Array; preimages: Uint8Array[] }>;
  /** Where htlcKey's preimages come from, each round's (--preimage-dir read again, those learnt on chain: ./preimages.ts). */
  preimages?: { refresh(r: Round, channels: readonly WatchedChannel[]): Promise<void>; learn(r: Round, channels: readonly WatchedChannel[]): Promise<void> };
  /** Going on chain (./channel-open.ts): the funding key and seed, and the record's step under its lock. */
  closeKeys?: OpenHost['closeKeys'];
  closeFits?: OpenHost['closeFits'];
  step?: OpenHost['step'];
  /** The node's wallet (offline: none): an anchors channel's HTLC second stages take their fee input from it. */
  wallet?: NodeWallet;
  /** --sweep-to's script and its dust threshold. */
  destination: { script: Uint8Array; dustSat: number };
  limits: { maxFeeRate: number; maxFeeShare: number };
  /** Channels a long-running watcher saw done (not evaluated again until a deep reorganisation). */
  done: Set<string>;
};

/** The channels' decisions this round, each acted on unless a dry run. */
export async function channelRound(host: ChannelHost, r: Round): Promise<Decision[]> {
  const out: Decision[] = [];
  const channels = (await host.channels()).filter((c) => !host.done.has(c.id));
  await host.preimages?.refresh(r, channels);
  for (const { id, record: rec, error, coin } of channels) {
    if (!rec) {
      out.push({ kind: 'channel', contract: id, action: 'hold', deadline: r.tip, blocks_left: 0, reason: 'this channel\'s record cannot be read: nothing is decided for it', error });
      continue;
    }
    try {
      const { sends: _sends, close: _close, ...d } = await channelTurn(host, r, rec, id, coin);
      if (d.action === 'done') host.done.add(id);
      out.push(d);
    } catch (e) {
      const delay = rec.channel.remote_to_self_delay;
      out.push({ kind: 'channel', contract: id, action: 'hold', deadline: r.tip + delay, blocks_left: delay, reason: 'this channel\'s turn failed: taken again at the next round', error: errorText(e) });
    }
  }
  await host.preimages?.learn(r, channels);
  return out;
}

/** `coin`: a channel on a statechain coin, the outpoint its funding backup spends (./channel-coin.ts). */
async function channelTurn(host: ChannelHost, r: Round, rec: ChannelRecord, id: string, coin?: string): Promise<ChannelDecision> {
  const funding = { txid: rec.channel.funding_txid, vout: rec.channel.funding_vout };
  const base = { channel: id, tip: r.tip, toSelfDelay: rec.channel.remote_to_self_delay, startRate: 0, incrementalRate: 0, limits: host.limits, dustSat: host.destination.dustSat };
  if (r.offline) return decideChannel({ ...base, spend: { kind: 'unknown-offline' } });
  const watch = await r.records.channel(id);
  const found = await fundingSpend(r, rec, watch, coin);
  if (!('txid' in found.spend)) {
    if (found.top !== undefined && found.top !== watch.walked_to && !r.dryRun) await r.records.setChannel(id, { ...watch, walked_to: found.top });
    // Open: an HTLC about to be lost sends the party's latest commitment (./channel-open.ts).
    if (found.spend.kind === 'unspent' && rec.local) return (await import('./channel-open.ts')).openTurn(host, r, rec, base);
    return decideChannel({ ...base, spend: found.spend });
  }
  const spend = found.spend;
  const { txid: spender, confirmations } = spend;
  if (spender !== watch.spender && !r.dryRun) await r.records.setChannel(id, { ...watch, spender });
  const height = r.tip - confirmations + 1;
  // Done before, its spender still mined at the same height (FINAL_DEPTH deep then: only a reorganisation that deep moves it): not evaluated again.
  if (watch.done?.spender === spender && confirmations >= FINAL_DEPTH && watch.done.height === height) {
    const d = decideChannel({ ...base, spend, items: [] });
    return { ...d, action: 'done', reason: `done (recorded when the closing transaction ${spender} was mined at height ${height}, as it still is): not evaluated again` };
  }
  const d = await spendTurn(host, r, rec, base, spend, watch);
  if (d.action === 'done' && confirmations >= FINAL_DEPTH && !r.dryRun) await r.records.setChannel(id, { ...(await r.records.channel(id)), spender, done: { spender, height } });
  return d;
}

async function spendTurn(host: ChannelHost, r: Round, rec: ChannelRecord, base: Omit<Parameters<typeof decideChannel>[0], 'spend'>, spend: FundingSpend & { txid: string; confirmations: number }, watch: ChannelWatch): Promise<ChannelDecision> {
  const { txid: spender, confirmations, kind } = spend;
  if (kind === 'peer-current' && confirmations > 0 && host.htlcKey) return claimTurn(host, r, rec, { ...base, spend }, spender, { ...watch, spender });
  if (kind === 'own' && confirmations === 0) return (await import('./channel-open.ts')).pendingTurn(host, r, rec, { ...base, spend }, spender);
  if (kind === 'own' && confirmations > 0 && (host.delayedKey || host.htlcKey)) return ownTurn(host, r, rec, { ...base, spend }, spender, confirmations, { ...watch, spender });
  if (kind !== 'revoked') return decideChannel({ ...base, spend });
  return penaltyTurn(host, r, rec, { ...base, spend }, spender, confirmations, { ...watch, spender });
}

type Built = { txid: string; hex: string; fee_sat: number; inputs: { kind: string; txid: string; vout: number; amount_sat: number }[] };

async function penaltyTurn(
  host: ChannelHost, r: Round, rec: ChannelRecord, base: Parameters<typeof decideChannel>[0], revokedTxid: string, confirmations: number, watch: ChannelWatch,
): Promise<ChannelDecision> {
  const { punishRevoked } = await import('../../lib/bolt3/party-penalty.ts');
  const dest = host.destination.script;
  // The party's own justice transactions in the mempool (one output, to --sweep-to): replaced, not counted as the cheater's.
  const replaceable = (tx: { outputs: { script: Uint8Array }[] }) => tx.outputs.length === 1 && equalBytes(tx.outputs[0]!.script, dest);
  // The search for the cheater's second stages (scantxoutset: slow, one at a time on a node) may fail: the commitment's own
  // outputs are taken all the same, the failure reported, the search made again next round.
  let searchError: string | undefined;
  const outputsPaying = r.chain.outputsPaying;
  const node = {
    utxo: (txid: string, vout: number) => r.chain.utxo(txid, vout),
    rawTransaction: (txid: string) => r.chain.rawTransaction(txid),
    mempoolSpender: (txid: string, vout: number) => r.chain.mempoolSpender(txid, vout),
    ...(outputsPaying ? {
      outputsPaying: async (script: Uint8Array) => {
        try {
          return await outputsPaying.call(r.chain, script);
        } catch (e) {
          searchError = `${errorText(e)} (the search for the cheater's second-stage outputs failed: the commitment's own outputs are taken, the search is made again next round)`;
          return [];
        }
      },
    } : {}),
  };
  const sign = (perKw: number, findings?: Awaited<ReturnType<typeof punishRevoked>>['onChain']) =>
    punishRevoked(rec, revokedTxid, { destinationScript: dest, feeratePerKw: perKw }, host.revocationKey, findings ? { findings } : { chain: node, replaceable });
  let sized: Awaited<ReturnType<typeof punishRevoked>>;
  try {
    // Sized at the lowest rate the round could bid: an output worth taking at the relay floor is not left out.
    sized = await sign(await floorPerKw(r));
  } catch (e) {
    if (!(e instanceof OffchainError && (e.code === 'E_PENALTY_NOTHING_TO_TAKE' || e.code === 'E_PENALTY_BELOW_DUST'))) throw e;
    const idle = decideChannel({ ...base, items: [] });
    if (e.code === 'E_PENALTY_BELOW_DUST') {
      // Unspent, but worth less than its fee at the floor: kept in view (the floor may fall), never done.
      return { ...idle, action: 'hold', shortfall: 'budget', reason: `the revocable outputs left are worth less than their justice transactions' fee at the node's relay floor: nothing sent, asked again each round`, ...(searchError ? { error: searchError } : {}) };
    }
    if (searchError) return { ...idle, action: 'hold', reason: 'the commitment\'s outputs are spent; whether second-stage outputs are left is not known (the search failed): asked again next round', error: searchError };
    // Nothing left to take (the node says every output is spent): the justice transactions sent (the records', checked with the node) say whether it is done.
    const mined = await Promise.all([...new Set(Object.values(watch.sent))].map((t) => r.chain.txConfirmations(t)));
    return decideChannel({ ...base, items: [], mined });
  }
  const findings = sized.onChain!;
  const commitmentHeight = confirmations > 0 ? r.tip - confirmations + 1 : undefined;
  const items: JusticeItem[] = [];
  for (const t of (sized.message.transactions as Built[])) {
    const input = t.inputs[0]!;
    const outpoint = `${input.txid}:${input.vout}`;
    let confirmedAt = commitmentHeight;
    if (input.txid !== revokedTxid) {
      const c = (await r.chain.txConfirmations(input.txid)) ?? 0;
      confirmedAt = c > 0 ? r.tip - c + 1 : undefined;
    }
    const heldTxid = findings.held.get(outpoint);
    const entry = heldTxid ? await r.chain.mempoolEntry(heldTxid) : null;
    items.push({
      outpoint, valueSat: input.amount_sat, weight: countedWeight(t.hex), inputs: t.inputs.length, sentBefore: watch.sent[outpoint] !== undefined,
      ...(confirmedAt !== undefined ? { confirmedAt } : {}), ...(heldTxid && entry ? { held: { txid: heldTxid, feeSat: Number(entry.fee) } } : {}),
    });
  }
  const { start, incremental } = await startRates(r.chain)(Math.min(...items.map((i) => (i.confirmedAt === undefined ? r.tip + base.toSelfDelay : i.confirmedAt + base.toSelfDelay - 1))) - r.tip);
  const d = decideChannel({ ...base, items, startRate: start, incrementalRate: incremental, ...(watch.start_tip !== undefined ? { startTip: watch.start_tip } : {}) });
  if (searchError) d.error = searchError;
  const belowFee = ((sized.message.skipped ?? []) as { reason: string }[]).filter((x) => x.reason.startsWith('worth less')).length;
  if (belowFee > 0) {
    d.shortfall ??= 'budget';
    d.reason += ` — ${belowFee} output(s) worth less than their fee at the node's relay floor left for now`;
  }
  if (r.dryRun || d.sends.length === 0) return d;
  // Signed at each rate the decision asks (one signing per distinct rate), stored, then sent (commit before the act).
  const chosen: Built[] = [];
  for (const perKw of new Set(d.sends.map((s) => s.perKw))) {
    const wanted = new Set(d.sends.filter((s) => s.perKw === perKw).map((s) => s.outpoint));
    const { message } = await sign(perKw, findings);
    chosen.push(...(message.transactions as Built[]).filter((t) => wanted.has(`${t.inputs[0]!.txid}:${t.inputs[0]!.vout}`)));
  }
  const sent = { ...watch.sent };
  for (const t of chosen) sent[`${t.inputs[0]!.txid}:${t.inputs[0]!.vout}`] = t.txid;
  await r.records.setChannel(base.channel, { ...watch, start_tip: watch.start_tip ?? r.tip, sent });
  return broadcastAll(r, d, chosen);
}

/**
 * Its own commitment, mined: its HTLC outputs' second stages (`commitment finalize`'s signing:
 * signHolderHtlc, with the peer's stored signatures) sent as signed, and its to_local and each mined
 * second stage's output swept once to_self_delay allows (`commitment sweep`'s transactions), on the
 * same schedule and replacement rules.
 */
async function ownTurn(
  host: ChannelHost, r: Round, rec: ChannelRecord, base: Parameters<typeof decideChannel>[0], commitmentTxid: string, confirmations: number, watch: ChannelWatch,
): Promise<ChannelDecision> {
  const local = rec.local!;
  const { closingCommitment } = await import('../../lib/bolt3/party.ts');
  const { delayedInputs, sweepMessage, toLocalOutput } = await import('../../lib/bolt3/sweep.ts');
  const { holderHtlcKey, preimageOf, signHolderHtlc } = await import('../../lib/bolt3/party-holder-commitment.ts');
  const { txid: txidOf } = await import('../../lib/bolt3/tx.ts');
  const rebuilt = closingCommitment(rec, commitmentTxid);
  if (!rebuilt?.own) return decideChannel(base);
  const { c, htlcTxs } = rebuilt;
  const height = r.tip - confirmations + 1;
  const delay = rec.channel.to_self_delay;
  const dest = host.destination.script;
  const floor = await floorPerKw(r);
  const sweeps = new Map<string, (perKw: number) => Promise<{ txid: string; hex: string; weight: number }>>();
  const items: JusticeItem[] = [];
  /** A delayed output of the party's (to_local, a second stage's), its sweep from block `from`: an item, unless spent (in a block, or by another in the mempool). */
  const delayed = async (input: ReturnType<typeof delayedInputs>[number], from: number) => {
    const outpoint = `${input.txid}:${input.vout}`;
    const sign = async (perKw: number) => {
      const secret = await host.delayedKey!();
      try {
        return sweepMessage(rec.network, c, [input], secret, dest, perKw) as { txid: string; hex: string; fee_sat: number; weight: number };
      } finally {
        secret.fill(0);
      }
    };
    // Who holds it: a sweep of the party's in the mempool (replaced by the next), else spent (a block) or unspent.
    const spender = await r.chain.mempoolSpender(input.txid, input.vout);
    let held: { txid: string; feeSat: number } | undefined;
    if (spender !== undefined) {
      const tx = Transaction.fromRaw(await r.chain.rawTransaction(spender), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
      const entry = await r.chain.mempoolEntry(spender);
      if (tx.outputsLength !== 1 || !equalBytes(tx.getOutput(0).script!, dest) || !entry) return;
      held = { txid: spender, feeSat: Number(entry.fee) };
    } else if ((await r.chain.utxo(input.txid, input.vout)) === null) {
      return;
    }
    const sized = await sign(floor); // at the relay floor: a small output is not refused at a rate no round bids
    sweeps.set(outpoint, sign);
    items.push({ outpoint, valueSat: Number(input.amountSat), weight: sized.weight, inputs: 1, sentBefore: watch.sent[outpoint] !== undefined, deadline: from + SWEEP_HORIZON, from, ...(held ? { held } : {}) });
  };
  let from: number | undefined;
  if (host.delayedKey && toLocalOutput(c)) {
    from = height + delay;
    // Not before the tip at from − 1 (BIP-68): nothing asked of the node until then.
    if (r.tip + 1 >= from) await delayed(delayedInputs(c, [], { toLocal: true, htlcTxids: [] })[0]!, from);
  }
  // Its HTLC outputs: each second stage signed with the peer's stored signature — legacy: its fee fixed; anchors: a fee
  // input and change of the node's wallet's added first (./channel-anchors.ts), the bid on the schedule.
  const htlcs: OwnHtlc[] = [];
  const stages = new Map<string, { txid: string; hex: string }>();
  const funders = new Map<string, Funder>();
  const wallet = host.wallet;
  if (host.htlcKey && htlcTxs.some((h) => h.feeSat > 0n || wallet)) {
    const { secret, preimages } = await host.htlcKey();
    const privkey = holderHtlcKey(c, secret);
    try {
      for (const [i, h] of htlcTxs.entries()) {
        if (h.feeSat === 0n) {
          if (!wallet) continue;
          const a = await anchorsStage({ r, c, h, commitmentTxid, preimage: preimageOf(h, preimages), peerSignature: local.htlc_signatures[i]!, watch, wallet, network: rec.network as Network, limits: host.limits, htlcKey: host.htlcKey });
          htlcs.push(a.htlc);
          if (a.funder) funders.set(a.htlc.outpoint, a.funder);
          // Its second stage mined: its output the party's once to_self_delay has passed.
          if (a.mined && host.delayedKey) {
            const at = r.tip - a.mined.confirmations + 1 + delay;
            const input = { kind: h.kind, txid: a.mined.txid, vout: 0, amountSat: h.tx.outputs[0]!.amount };
            if (r.tip + 1 >= at) await delayed(input, at);
            else items.push({ outpoint: `${a.mined.txid}:0`, valueSat: Number(input.amountSat), weight: 0, inputs: 1, sentBefore: false, from: at });
          }
          continue;
        }
        const vout = h.commitmentOutputIndex;
        const outpoint = `${commitmentTxid}:${vout}`;
        const second = txidOf(h.tx);
        const preimage = preimageOf(h, preimages);
        if (h.kind === 'htlc-timeout' || preimage) stages.set(outpoint, signHolderHtlc(h, privkey, local.htlc_signatures[i]!, preimage));
        const spender = await r.chain.mempoolSpender(commitmentTxid, vout);
        let state: OwnHtlc['state'] = spender === undefined ? 'open' : spender === second ? 'held' : 'gone';
        if (spender === undefined && (await r.chain.utxo(commitmentTxid, vout)) === null) {
          state = 'gone';
          // Its second stage mined: its output the party's once to_self_delay has passed.
          const c2 = (await r.chain.txConfirmations(second)) ?? 0;
          if (c2 > 0 && host.delayedKey) {
            const at = r.tip - c2 + 1 + delay;
            if (r.tip + 1 >= at) await delayed(delayedInputs(c, htlcTxs, { toLocal: false, htlcTxids: [second] })[0]!, at);
            else items.push({ outpoint: `${second}:0`, valueSat: Number(h.tx.outputs[0]!.amount), weight: 0, inputs: 1, sentBefore: false, from: at });
          }
        }
        htlcs.push({ outpoint, kind: h.kind, cltvExpiry: h.htlc.cltvExpiry, preimage: preimage !== undefined, state, feeSat: Number(h.feeSat), sentBefore: watch.sent[outpoint] !== undefined });
      }
    } finally {
      privkey.fill(0);
      for (const x of [secret, ...preimages]) x.fill(0);
    }
  }
  const bids = [...Object.values(watch.sent), ...Object.values(watch.funded ?? {}).flatMap((f) => f.txids)];
  const mined = await Promise.all([...new Set(bids)].map((t) => r.chain.txConfirmations(t)));
  // The schedule starts at the node's estimate for the soonest deadline: an anchors HTLC-success's cltv_expiry, else a horizon.
  const soonest = Math.min(SWEEP_HORIZON, ...htlcs.filter((h) => h.funded && h.kind === 'htlc-success' && h.state !== 'gone').map((h) => h.cltvExpiry - r.tip));
  const { start, incremental } = await startRates(r.chain)(soonest);
  const d = decideChannel({ ...base, own: { ...(from !== undefined ? { from } : {}), items, mined, htlcs }, startRate: start, incrementalRate: incremental, startTip: watch.start_tip ?? r.tip });
  const zeroFee = host.htlcKey && !wallet ? htlcTxs.filter((h) => h.feeSat === 0n).length : 0;
  if (zeroFee > 0) d.reason += ` — ${zeroFee} HTLC output(s) of this anchors channel not kept: their zero-fee second stages need a fee input from the node's wallet (a watcher beside a node, --rpc-url)`;
  if (r.dryRun || d.sends.length === 0) return d;
  // Signed (the sweeps at the rate asked; anchors' second stages funded by the wallet at the fee asked), recorded, then sent (commit before the act).
  const chosen: { outpoint: string; txid: string; hex: string }[] = [];
  const funded = { ...(watch.funded ?? {}) };
  for (const x of d.sends) {
    const funder = funders.get(x.outpoint);
    if (funder) {
      try {
        const t = await funder(x.feeSat);
        funded[x.outpoint] = { wallet: t.wallet, txids: [...(funded[x.outpoint]?.txids ?? []).filter((id) => id !== t.txid), t.txid] };
        chosen.push({ outpoint: x.outpoint, txid: t.txid, hex: t.hex });
      } catch (e) {
        d.error ??= errorText(e); // the wallet could not fund it (no wallet, too few coins, the fee guard): the others go on, this one next round
      }
      continue;
    }
    const t = x.stage ? stages.get(x.outpoint)! : await sweeps.get(x.outpoint)!(x.perKw);
    chosen.push({ outpoint: x.outpoint, txid: t.txid, hex: t.hex });
  }
  const sent = { ...watch.sent };
  for (const t of chosen) sent[t.outpoint] = t.txid;
  await r.records.setChannel(base.channel, { ...watch, start_tip: watch.start_tip ?? r.tip, sent, ...(Object.keys(funded).length > 0 ? { funded } : {}) });
  return broadcastAll(r, d, chosen);
}
