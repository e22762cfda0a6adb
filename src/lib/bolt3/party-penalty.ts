/**
 * A channel party's penalties (BOLT 5 "Revoked Transaction Close Handling") on a revoked
 * commitment of its peer, from its own record (./party.ts): the commitment rebuilt from
 * the state the party signed for it, the secret derived from the compact store — any
 * revoked commitment, however old — and one justice transaction per revocable output by
 * default, so an output the cheater already spent (found with a node) or moved to the
 * second stage cannot make the others fail; the second stage's output is taken through
 * its own revocation path. Invariant: the revoked commitment's to_local, every HTLC output
 * and every second-stage output stay the party's to take until the cheater's
 * to_self_delay runs out.
 */
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, OffchainError, RefusedError } from '../errors.ts';
import type { CommitmentTransaction } from './commitment.ts';
import type { HtlcTransaction } from './htlc-tx.ts';
import { channelIdOf, peerCommitment, secretStore, type ChannelRecord } from './party.ts';
import { penaltyTransaction, revocableOutputs, type SecondStageOutput } from './penalty.ts';
import { indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';

/** A revoked commitment of the peer, rebuilt from what we signed, with its secret out of the compact store. */
export function revokedPeerCommitment(rec: ChannelRecord, revokedTxid: string): { n: number; c: CommitmentTransaction; htlcTxs: HtlcTransaction[]; secret: Uint8Array } {
  const signed = rec.remote_signed.find((s) => s.txid === revokedTxid);
  if (!signed) throw new RefusedError('E_UNKNOWN_COMMITMENT', `${revokedTxid} is not a commitment of the peer you signed`);
  const n = signed.state.commitment_number;
  if (n > rec.remote_revoked_through) {
    throw new RefusedError('E_NOT_REVOKED', `the peer's commitment ${n} is not revoked (it revoked through ${rec.remote_revoked_through}): it may broadcast it`);
  }
  const secret = secretStore(rec).deriveSecret(indexOfCommitment(n));
  const { c, htlcTxs } = peerCommitment(rec.channel, signed.state, perCommitmentPoint(secret));
  if (c.txid !== revokedTxid) throw new OffchainError('E_BAD_CHANNEL_RECORD', `the record's commitment ${n} rebuilds to ${c.txid}, not ${revokedTxid}`);
  return { n, c, htlcTxs, secret };
}

/** A second-stage transaction the cheater broadcast: which HTLC output it spends, and its output 0. */
export type BroadcastSecondStage = { txid: string; spends: { txid: string; vout: number }; amountSat: bigint };

export type PenaltyPlan = {
  revocationBasepointSecret: Uint8Array;
  destinationScript: Uint8Array;
  feeratePerKw: number;
  /** Commitment outputs to take (vouts); every revocable one when absent. */
  outputs?: readonly number[];
  /** Outputs found spent on chain: left out, and reported. */
  spent?: ReadonlySet<number>;
  secondStage?: readonly BroadcastSecondStage[];
  /** One transaction for everything instead of one per output. */
  combine?: boolean;
};

/** Justice transactions for a revoked peer commitment: per output by default, second-stage outputs included. */
export function penalties(rec: ChannelRecord, revokedTxid: string, plan: PenaltyPlan): Record<string, unknown> {
  const { n, c, htlcTxs, secret } = revokedPeerCommitment(rec, revokedTxid);
  const revocable = revocableOutputs(c).map((i) => i.vout);
  const wanted = plan.outputs ?? revocable;
  for (const v of wanted) {
    if (!revocable.includes(v)) throw new RefusedError('E_NOT_REVOCABLE', `output ${v} of ${revokedTxid} is not one the revocation key can take`, { vout: v });
  }
  const skipped = wanted.filter((v) => plan.spent?.has(v)).map((vout) => ({ vout, reason: 'spent' }));
  const outputs = wanted.filter((v) => !plan.spent?.has(v));
  const second: SecondStageOutput[] = (plan.secondStage ?? []).map((s) => {
    const h = htlcTxs.find((t) => t.commitmentOutputIndex === s.spends.vout);
    if (s.spends.txid !== c.txid || !h) {
      throw new RefusedError('E_NOT_SECOND_STAGE', `${s.txid} does not spend an HTLC output of the revoked commitment ${c.txid}`);
    }
    return { txid: s.txid, vout: 0, amountSat: s.amountSat };
  });
  const base = { revoked: c, perCommitmentSecret: secret, revocationBasepointSecret: plan.revocationBasepointSecret, destinationScript: plan.destinationScript, feeratePerKw: plan.feeratePerKw };
  const groups: { outputs: number[]; secondStage: SecondStageOutput[] }[] = plan.combine
    ? [{ outputs, secondStage: second }]
    : [...outputs.map((v) => ({ outputs: [v], secondStage: [] })), ...second.map((s) => ({ outputs: [], secondStage: [s] }))];
  if (groups.length === 0 || (groups.length === 1 && groups[0]!.outputs.length === 0 && groups[0]!.secondStage.length === 0)) {
    throw new RefusedError('E_PENALTY_NOTHING_TO_TAKE', `nothing left to take from ${revokedTxid}: every chosen output is spent (give the second-stage transactions that spent them)`);
  }
  const transactions = groups.flatMap((g) => {
    let p: ReturnType<typeof penaltyTransaction>;
    try {
      p = penaltyTransaction({ ...base, outputs: g.outputs, secondStage: g.secondStage });
    } catch (e) {
      // One output worth less than its own justice transaction's fee: reported, the others go on.
      if (!plan.combine && e instanceof OffchainError && e.code === 'E_PENALTY_BELOW_DUST') {
        skipped.push(...(g.outputs.length ? g.outputs.map((vout) => ({ vout, reason: 'worth less than its fee at this feerate' })) : []));
        return [];
      }
      throw e;
    }
    return [{
      txid: p.txid, hex: p.hex, fee_sat: Number(p.feeSat),
      inputs: p.inputs.map((i) => ({ kind: i.kind, txid: i.txid, vout: i.vout, amount_sat: Number(i.amountSat) })),
    }];
  });
  if (transactions.length === 0) {
    throw new RefusedError('E_PENALTY_BELOW_DUST', `every output of ${revokedTxid} is worth less than its justice transaction's fee at ${plan.feeratePerKw} sat/kw: lower the feerate or --combine`);
  }
  secret.fill(0);
  return { type: 'bolt3/penalties', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: n, revoked_txid: revokedTxid, skipped, transactions };
}

/** A broadcast second-stage transaction (raw hex): the outpoint its input 0 spends, its txid and output 0's amount. */
export function parseSecondStage(hex: string, what: string): BroadcastSecondStage {
  let tx: Transaction;
  try {
    tx = Transaction.fromRaw(fromHex(hex, what), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  } catch (e) {
    throw new MalformedInputError('E_BAD_TRANSACTION', `${what} is not a transaction: ${(e as Error).message}`);
  }
  if (tx.inputsLength !== 1 || tx.outputsLength < 1) throw new RefusedError('E_NOT_SECOND_STAGE', `${what} has ${tx.inputsLength} inputs: an HTLC-timeout/-success transaction has one`);
  const input = tx.getInput(0);
  return { txid: tx.id, spends: { txid: toHex(input.txid!), vout: input.index! }, amountSat: tx.getOutput(0).amount! };
}
