/**
 * The holder's own delayed outputs, swept once their CSV delay has passed (BOLT 5
 * "Unilateral Close Handling: Local Commitment Transaction"): `to_local` of its
 * commitment and the outputs of its HTLC-timeout / HTLC-success transactions, all
 * locked by the same `to_local` script:
 *
 *     witness: <local_delayedsig> <> <to_local script>      (the OP_ELSE branch)
 *     nSequence: to_self_delay (BIP-68 blocks), so the spend is valid only
 *                `to_self_delay` blocks after the output confirmed
 *
 * Until then only the revocation key can spend these outputs — the window in which the
 * other party punishes a revoked commitment. The key is `local_delayedprivkey`
 * (`derivePrivkey(delayed_payment_basepoint_secret, per_commitment_point)`); a secret
 * that is not this channel's delayed payment basepoint is refused before signing.
 */
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { dustThreshold } from '../tx/policy.ts';
import { NOBLE, type Bolt3Backend } from './backend.ts';
import type { CommitmentTransaction } from './commitment.ts';
import { derFromCompact } from './ecdsa.ts';
import { feeFromWeight } from './formats.ts';
import { derivePrivkey, pointOf } from './keys.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { serializeTx, txid, weight, type Tx } from './tx.ts';

/** A delayed output of the commitment: its `to_local`, or an HTLC transaction's output. */
export type DelayedOutput = { txid: string; vout: number; amountSat: bigint };

export type DelayedSweepRequest = {
  commitment: CommitmentTransaction;
  outputs: readonly DelayedOutput[];
  /** The holder's delayed_payment_basepoint secret. */
  delayedPaymentBasepointSecret: Uint8Array;
  destinationScript: Uint8Array;
  feeratePerKw: number;
};

export type DelayedSweep = { tx: Tx; hex: string; txid: string; feeSat: bigint; weight: number };

/** The commitment's `to_local` output as a DelayedOutput (undefined when trimmed). */
export function toLocalOutput(c: CommitmentTransaction): DelayedOutput | undefined {
  const o = c.outputs.find((x) => x.kind === 'to_local');
  return o && { txid: c.txid, vout: o.index, amountSat: o.amountSat };
}

export function sweepDelayedOutputs(request: DelayedSweepRequest, backend: Bolt3Backend = NOBLE): DelayedSweep {
  const { commitment: c } = request;
  const basepoint = c.params.local.delayedPaymentBasepoint;
  if (!equalBytes(pointOf(request.delayedPaymentBasepointSecret, 'delayed payment basepoint secret', backend.ec), basepoint)) {
    throw new RefusedError('E_WRONG_SIGNING_KEY', 'the secret key given is not the delayed_payment_basepoint secret of this commitment\'s holder');
  }
  if (request.outputs.length === 0) throw new RefusedError('E_SWEEP_NOTHING_TO_TAKE', `nothing to sweep from commitment ${c.txid}`);
  const privkey = derivePrivkey(request.delayedPaymentBasepointSecret, c.keys.perCommitmentPoint, backend.ec, basepoint);
  const script = c.params.format.toLocal(c.keys, c.params.toSelfDelay).witnessScript!;
  const total = request.outputs.reduce((a, o) => a + o.amountSat, 0n);
  const unsigned: Tx = {
    version: 2, // BIP-68 relative locks need version 2
    lockTime: 0,
    inputs: request.outputs.map((o) => ({ txid: o.txid, vout: o.vout, sequence: c.params.toSelfDelay })),
    outputs: [{ amount: total, script: request.destinationScript }],
  };
  const estimated = weight({ ...unsigned, inputs: unsigned.inputs.map((i) => ({ ...i, witness: [new Uint8Array(73), new Uint8Array(0), script] })) });
  const feeSat = feeFromWeight(request.feeratePerKw, estimated);
  const amount = total - feeSat;
  const dust = dustThreshold(request.destinationScript);
  if (amount < dust) throw new RefusedError('E_SWEEP_BELOW_DUST', `the sweep would pay ${amount} sat after a ${feeSat} sat fee, below the ${dust} sat dust threshold`);
  const tx: Tx = { ...unsigned, outputs: [{ amount, script: request.destinationScript }] };
  const signed: Tx = {
    ...tx,
    inputs: tx.inputs.map((input, n) => {
      const digest = segwitV0Sighash(tx, n, script, request.outputs[n]!.amountSat, SIGHASH_ALL);
      const sig = Uint8Array.from([...derFromCompact(backend.ecdsa.signCompact(digest, privkey)), SIGHASH_ALL]);
      return { ...input, witness: [sig, new Uint8Array(0), script] };
    }),
  };
  return { tx: signed, hex: toHex(serializeTx(signed)), txid: txid(signed), feeSat, weight: estimated };
}

/** A delayed output to sweep, with what it is: the commitment's to_local, or an HTLC transaction's output. */
export type DelayedInput = DelayedOutput & { kind: 'to_local' | 'htlc-timeout' | 'htlc-success' };

/**
 * What `commitment sweep` takes from a commitment it rebuilt: its to_local (`toLocal`; refused when
 * trimmed) and the output of each HTLC transaction named by txid (refused when not this
 * commitment's). The command and the watcher alike.
 */
export function delayedInputs(c: CommitmentTransaction, htlcTxs: readonly { kind: 'htlc-timeout' | 'htlc-success'; tx: Tx }[], choice: { toLocal: boolean; htlcTxids: readonly string[] }): DelayedInput[] {
  const inputs: DelayedInput[] = [];
  if (choice.toLocal) {
    const o = toLocalOutput(c);
    if (!o) throw new RefusedError('E_SWEEP_NOTHING_TO_TAKE', `commitment ${c.txid} has no to_local output (trimmed): pass --no-to-local`);
    inputs.push({ kind: 'to_local', ...o });
  }
  const byTxid = new Map(htlcTxs.map((h) => [txid(h.tx), h]));
  for (const id of new Set(choice.htlcTxids.map((t) => t.toLowerCase()))) {
    const h = byTxid.get(id);
    if (!h) throw new RefusedError('E_UNKNOWN_HTLC_TX', `${id} is not an HTLC transaction of commitment ${c.txid}`);
    inputs.push({ kind: h.kind, txid: id, vout: 0, amountSat: h.tx.outputs[0]!.amount });
  }
  return inputs;
}

/** `commitment sweep`'s message (bolt3/sweep): the signed sweep of `inputs` to `destinationScript`. */
export function sweepMessage(network: string, c: CommitmentTransaction, inputs: readonly DelayedInput[], secret: Uint8Array, destinationScript: Uint8Array, feeratePerKw: number): Record<string, unknown> {
  const s = sweepDelayedOutputs({ commitment: c, outputs: inputs, delayedPaymentBasepointSecret: secret, destinationScript, feeratePerKw });
  return {
    type: 'bolt3/sweep', version: 1, network, commitment_txid: c.txid, txid: s.txid, hex: s.hex, fee_sat: Number(s.feeSat), weight: s.weight,
    to_self_delay: c.params.toSelfDelay, inputs: inputs.map((i) => ({ kind: i.kind, txid: i.txid, vout: i.vout, amount_sat: Number(i.amountSat) })),
  };
}
