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
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { p2wsh } from './script.ts';
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

/**
 * A transaction the cheater broadcast from the revoked commitment: what each input spends
 * and each output pays. Under SIGHASH_SINGLE (anchors) input i pairs with output i, so a
 * second stage batched with fee inputs keeps its HTLC at any index.
 */
export type BroadcastSecondStage = { txid: string; inputs: { txid: string; vout: number }[]; outputs: { amountSat: bigint; script: Uint8Array }[] };

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
export function penalties(
  rec: ChannelRecord, revokedTxid: string, plan: PenaltyPlan, revoked: ReturnType<typeof revokedPeerCommitment> = revokedPeerCommitment(rec, revokedTxid),
): Record<string, unknown> {
  const { n, c, htlcTxs, secret } = revoked;
  const revocable = revocableOutputs(c).map((i) => i.vout);
  const wanted = plan.outputs ?? revocable;
  if (new Set(wanted).size !== wanted.length) throw new MalformedInputError('E_BAD_OUTPUTS', `--outputs names an output twice: ${wanted.join(',')}`);
  for (const v of wanted) {
    if (!revocable.includes(v)) throw new RefusedError('E_NOT_REVOCABLE', `output ${v} of ${revokedTxid} is not one the revocation key can take`, { vout: v });
  }
  const skipped: { txid?: string; vout: number; reason: string }[] = wanted.filter((v) => plan.spent?.has(v)).map((vout) => ({ vout, reason: 'spent' }));
  const outputs = wanted.filter((v) => !plan.spent?.has(v));
  const secondScript = p2wsh(c.params.format.secondStage(c.keys, c.params.toSelfDelay).witnessScript!);
  const second: SecondStageOutput[] = (plan.secondStage ?? []).map((s) => {
    // The input spending an HTLC output of the revoked commitment, and the output paired with it.
    const k = s.inputs.findIndex((i) => i.txid === c.txid && htlcTxs.some((t) => t.commitmentOutputIndex === i.vout));
    const paired = k >= 0 ? s.outputs[k] : undefined;
    if (!paired) throw new RefusedError('E_NOT_SECOND_STAGE', `${s.txid} does not spend an HTLC output of the revoked commitment ${c.txid}`);
    if (!equalBytes(paired.script, secondScript)) {
      throw new RefusedError('E_NOT_SECOND_STAGE', `${s.txid} output ${k} is not the revoked commitment's second-stage script: nothing there for the revocation key`);
    }
    return { txid: s.txid, vout: k, amountSat: paired.amountSat };
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
        const reason = 'worth less than its fee at this feerate';
        skipped.push(...g.outputs.map((vout) => ({ vout, reason })), ...g.secondStage.map((o) => ({ txid: o.txid, vout: o.vout, reason })));
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

/** A transaction the cheater broadcast (raw hex): its txid, the outpoints its inputs spend, its outputs. */
export function parseSecondStage(hex: string, what: string): BroadcastSecondStage {
  let tx: Transaction;
  try {
    tx = Transaction.fromRaw(fromHex(hex, what), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  } catch (e) {
    throw new MalformedInputError('E_BAD_TRANSACTION', `${what} is not a transaction: ${(e as Error).message}`);
  }
  const inputs = Array.from({ length: tx.inputsLength }, (_, i) => tx.getInput(i)).map((x) => ({ txid: toHex(x.txid!), vout: x.index! }));
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => tx.getOutput(i)).map((o) => ({ amountSat: o.amount!, script: o.script! }));
  return { txid: tx.id, inputs, outputs };
}
