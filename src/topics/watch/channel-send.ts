/**
 * What a channel party's turns share in sending their transactions (./channel.ts, ./channel-claim.ts): the
 * node's relay floor as the lowest rate a round bids, a transaction's weight as BOLT 3 counts it for the fee,
 * and sending the chosen transactions one by one.
 */
import { Transaction } from '@scure/btc-signer';
import { fromHex } from '../../lib/bytes.ts';
import type { ChannelDecision } from '../../lib/watch/channel.ts';
import { errorText, type Round } from './credit.ts';

/** The node's relay floor as BOLT 3's feerate_per_kw (sat/kvB ÷ 4, rounded up): the lowest rate a round could bid. */
export async function floorPerKw(r: Round): Promise<number> {
  const p = await r.chain.mempoolPolicy();
  return Math.max(1, Math.ceil(Math.max(p.minRelayFeeRate, p.mempoolMinFeeRate) / 4));
}

/** A justice transaction's weight as BOLT 3 counts it for the fee: its real weight with each signature (its witness's first item) counted at 73 bytes. */
export function countedWeight(hex: string): number {
  const tx = Transaction.fromRaw(fromHex(hex), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  let slack = 0;
  for (let i = 0; i < tx.inputsLength; i++) slack += 73 - (tx.getInput(i).finalScriptWitness?.[0]?.length ?? 73);
  return tx.weight + slack;
}

/** Each transaction sent (after its record is stored); the decision's txid the first the node took, its error the first refusal. */
export async function broadcastAll(r: Round, d: ChannelDecision, chosen: readonly { hex: string }[]): Promise<ChannelDecision> {
  const txids: string[] = [];
  for (const t of chosen) {
    try {
      txids.push(await r.chain.broadcast(fromHex(t.hex)));
    } catch (e) {
      d.error ??= errorText(e);
    }
  }
  if (txids.length > 0) d.txid = txids[0]!;
  return d;
}
