/**
 * A point-locked taproot output (PTLC, seed 003): the key path is the MuSig2 aggregate
 * of payer and payee, spent by the payee with an adaptor signature that only the secret
 * t of the lock point T = t·G completes — so the claim reveals t to whoever holds the
 * pre-signature, and on chain it is one ordinary key-path spend. One tapscript leaf
 * refunds the payer once the timeout is final: `and_v(v:pk(payer),after(L))`.
 *
 * Design choice: no claim leaf. The payee's only way in is the key path with the
 * pre-signature both parties made before the payer funds (or before it forwards); a
 * claim leaf would need a single-party adaptor signature from the payer and add
 * nothing, since the payee must claim before L either way.
 *
 * Invariants: the payee can take the coins only by publishing a signature from which
 * the payer learns t; the payer can take them back only once L is final; T and t are
 * never the same on two hops of a route (./multi-hop.ts).
 */
import { toHex } from '../bytes.ts';
import { withChecksum } from '../descriptor.ts';
import { musigKey } from '../musig/keyagg.ts';
import { controlBlock, merkleRoot, type TapTree } from '../taproot/tree.ts';
import { checkLocktime, taprootRefundLeaf } from '../htlc/scripts.ts';

export type PtlcSpec = {
  payer: Uint8Array;
  payee: Uint8Array;
  /** The lock point T (33-byte compressed). */
  point: Uint8Array;
  locktime: number;
};

export type PtlcOutput = {
  spec: PtlcSpec;
  participants: Uint8Array[];
  internalKey: Uint8Array;
  outputKey: Uint8Array;
  /** The x-only TapTweak the MuSig2 session applies (BIP-327 tweak, is_xonly = true). */
  tweak: Uint8Array;
  merkleRoot: Uint8Array;
  refundLeaf: Uint8Array;
  refundControlBlock: Uint8Array;
  scriptPubKey: Uint8Array;
  descriptor: string;
};

export function ptlcOutput(spec: PtlcSpec): PtlcOutput {
  checkLocktime(spec.locktime);
  const refundLeaf = taprootRefundLeaf(spec.payer.subarray(1), spec.locktime);
  const tree: TapTree = { script: refundLeaf, leafVersion: 0xc0 };
  const root = merkleRoot(tree);
  const key = musigKey([spec.payer, spec.payee], { merkleRoot: root });
  return {
    spec,
    participants: key.participants,
    internalKey: key.internalKey,
    outputKey: key.output.outputKey,
    tweak: key.output.tweak,
    merkleRoot: root,
    refundLeaf,
    refundControlBlock: controlBlock(key.internalKey, tree, 0),
    scriptPubKey: key.output.script,
    descriptor: withChecksum(`tr(musig(${key.participants.map(toHex).join(',')}),and_v(v:pk(${toHex(spec.payer.subarray(1))}),after(${spec.locktime})))`),
  };
}
