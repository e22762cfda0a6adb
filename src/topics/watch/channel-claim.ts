/**
 * The peer's current commitment, mined, in a channel party's watcher round (./channel.ts spendTurn): the
 * party's HTLC outputs on it, each taken by a `commitment claim` transaction of its own
 * (src/lib/bolt3/party-claim.ts claimFromPeerCommitment) — the peer's offered HTLCs with the preimages held,
 * the party's own back once their cltv_expiry is final — bid on the schedule (src/lib/watch/channel.ts),
 * recorded, then sent.
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, fromHex } from '../../lib/bytes.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import { OffchainError } from '../../lib/errors.ts';
import { SWEEP_HORIZON, decideChannel, type ChannelDecision, type JusticeItem } from '../../lib/watch/channel.ts';
import { startRates, type Round } from './credit.ts';
import type { ChannelWatch } from './state.ts';
import { broadcastAll, countedWeight, floorPerKw } from './channel-send.ts';

/** What claiming needs of the party's side (./channel.ts ChannelHost): the htlc_basepoint secret and the preimages, and where it pays. */
export type ClaimHost = { htlcKey?: () => Promise<{ secret: Uint8Array; preimages: Uint8Array[] }>; destination: { script: Uint8Array } };

type Claim = { kind: 'htlc-claim' | 'htlc-timeout'; vout: number; locktime: number; txid: string; hex: string; fee_sat: number; amount_sat: number };

/** The party's HTLC outputs on the peer's current commitment, each taken by a `commitment claim` transaction of its own. */
export async function claimTurn(host: ClaimHost, r: Round, rec: ChannelRecord, base: Parameters<typeof decideChannel>[0], commitmentTxid: string, watch: ChannelWatch): Promise<ChannelDecision> {
  const { claimFromPeerCommitment } = await import('../../lib/bolt3/party-claim.ts');
  const { peerCommitment } = await import('../../lib/bolt3/party.ts');
  const dest = host.destination.script;
  const sign = async (perKw: number): Promise<Claim[]> => {
    const { secret, preimages } = await host.htlcKey!();
    try {
      return claimFromPeerCommitment(rec, commitmentTxid, { htlcBasepointSecret: secret, preimages, destinationScript: dest, feeratePerKw: perKw }).transactions as Claim[];
    } catch (e) {
      if (e instanceof OffchainError && e.code === 'E_CLAIM_NOTHING_TO_TAKE') return [];
      throw e;
    } finally {
      for (const x of [secret, ...preimages]) x.fill(0);
    }
  };
  const mined = await Promise.all([...new Set(Object.values(watch.sent))].map((t) => r.chain.txConfirmations(t)));
  // Each HTLC's cltv_expiry, from the commitment as the record rebuilds it (claimFromPeerCommitment checked it is this one).
  const signed = rec.remote_signed.find((x) => x.txid === commitmentTxid)!;
  const n = signed.state.commitment_number;
  const { c } = peerCommitment(rec.channel, signed.state, fromHex(rec.remote_points[String(n)] ?? '', 'peer point', 33));
  const items: JusticeItem[] = [];
  let later: number | undefined;
  // Sized at the node's relay floor (the lowest rate a round could bid): an HTLC worth claiming there is not left out.
  for (const t of await sign(await floorPerKw(r))) {
    const cltv = c.outputs[t.vout]!.htlc!.cltvExpiry;
    // The party's own HTLC comes back with nLockTime = cltv_expiry: final once the tip reaches it.
    if (t.kind === 'htlc-timeout' && t.locktime > r.tip) {
      later = Math.min(later ?? Infinity, t.locktime);
      continue;
    }
    const outpoint = `${commitmentTxid}:${t.vout}`;
    const spender = await r.chain.mempoolSpender(commitmentTxid, t.vout);
    let held: { txid: string; feeSat: number } | undefined;
    if (spender !== undefined) {
      const tx = Transaction.fromRaw(await r.chain.rawTransaction(spender), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
      const entry = await r.chain.mempoolEntry(spender);
      if (!entry) continue;
      if (tx.outputsLength !== 1 || !equalBytes(tx.getOutput(0).script!, dest)) {
        // The peer's timeout, unconfirmed: a preimage claim may still replace it — paying all it evicts
        // (its descendants too) plus the incremental relay fee on its own size (BIP-125 rules 3 and 4) within
        // the budget; else it stands. The party's own HTLC coming back has no rival to outbid: gone.
        if (t.kind !== 'htlc-claim') continue;
        const evicted = await r.chain.mempoolEviction(spender);
        held = { txid: spender, feeSat: Number(evicted?.descendantFee ?? entry.fee) };
      } else {
        held = { txid: spender, feeSat: Number(entry.fee) };
      }
    } else if ((await r.chain.utxo(commitmentTxid, t.vout)) === null) {
      continue; // spent in a block
    }
    items.push({
      outpoint, valueSat: t.amount_sat, weight: countedWeight(t.hex), inputs: 1, sentBefore: watch.sent[outpoint] !== undefined,
      // A claim must be mined by cltv_expiry (from the next block the peer may time it out); one's own timeout has no rival deadline: a horizon.
      deadline: t.kind === 'htlc-claim' ? cltv : cltv + SWEEP_HORIZON, ...(held ? { held } : {}),
    });
  }
  const soonest = items.length > 0 ? Math.min(...items.map((i) => i.deadline!)) - r.tip : SWEEP_HORIZON;
  const { start, incremental } = await startRates(r.chain)(soonest);
  const d = decideChannel({ ...base, claims: { items, ...(later !== undefined ? { later } : {}), mined }, startRate: start, incrementalRate: incremental, startTip: watch.start_tip ?? r.tip });
  if (r.dryRun || d.sends.length === 0) return d;
  const chosen: Claim[] = [];
  for (const perKw of new Set(d.sends.map((x) => x.perKw))) {
    const wanted = new Set(d.sends.filter((x) => x.perKw === perKw).map((x) => x.outpoint));
    chosen.push(...(await sign(perKw)).filter((t) => wanted.has(`${commitmentTxid}:${t.vout}`)));
  }
  const sent = { ...watch.sent };
  for (const t of chosen) sent[`${commitmentTxid}:${t.vout}`] = t.txid;
  await r.records.setChannel(base.channel, { ...watch, start_tip: watch.start_tip ?? r.tip, sent });
  return broadcastAll(r, d, chosen);
}
