/**
 * An HTLC output of one of four kinds, from its parameters: the seed's P2WSH script,
 * BOLT 3's offered and received HTLC outputs (with or without anchors), and the
 * taproot HTLC. `htlcOutput` gives what a payer funds (scriptPubKey, witness script or
 * taproot tree, descriptor where one exists) and what a spender needs later.
 *
 * Invariants, for every kind:
 * - the recipient can take the coins only with the preimage of `paymentHash`, which is
 *   32 bytes long (except the seed's bare form, which takes any length);
 * - the payer can take them only once `locktime` (BOLT 3: cltv_expiry) is final, an
 *   absolute lock checked by CHECKLOCKTIMEVERIFY against nLockTime;
 * - BOLT 3 kinds: cltv_expiry is a block height (< 500,000,000, BOLT 2), never a time;
 *   whoever holds the revocation key can take them at any time (the
 *   penalty), and the commitment holder's own path (offered timeout, received success)
 *   goes through a second-stage transaction that both HTLC keys sign, paying into a
 *   delayed, revocable output;
 * - taproot: payer and recipient together (MuSig2 key path) can spend at any time.
 *
 * "payer" and "recipient" are the HTLC's two sides: for BOLT 3's offered HTLC (the
 * commitment holder pays) the recipient is the remote HTLC key; for a received HTLC it
 * is the local one.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { withChecksum } from '../descriptor.ts';
import { p2wsh } from '../bolt3/script.ts';
import { offeredHtlcScript, receivedHtlcScript, toLocalScript } from '../bolt3/scripts.ts';
import { musigKey } from '../musig/keyagg.ts';
import { controlBlock, merkleRoot, type TapTree } from '../taproot/tree.ts';
import { LOCKTIME_THRESHOLD, checkLocktime, seedHtlcScript, taprootClaimLeaf, taprootRefundLeaf } from './scripts.ts';

export const HTLC_KINDS = ['seed', 'offered', 'received', 'taproot'] as const;
export type HtlcKind = (typeof HTLC_KINDS)[number];

/** What BOLT 3's second-stage transaction pays into: the holder's delayed, revocable output. */
export type SecondStage = {
  toSelfDelay: number;
  localDelayedPubkey: Uint8Array;
  /** The commitment's feerate, which fixes the legacy HTLC transactions' fee. */
  feeratePerKw: number;
};

export type HtlcSpec =
  | { kind: 'seed'; paymentHash: Uint8Array; recipient: Uint8Array; payer: Uint8Array; locktime: number; sizeCheck: boolean }
  | { kind: 'taproot'; paymentHash: Uint8Array; recipient: Uint8Array; payer: Uint8Array; locktime: number }
  | {
      kind: 'offered' | 'received';
      paymentHash: Uint8Array;
      revocationPubkey: Uint8Array;
      localHtlcPubkey: Uint8Array;
      remoteHtlcPubkey: Uint8Array;
      /** The HTLC's cltv_expiry: in a received HTLC's script, an offered HTLC's timeout nLockTime. */
      cltvExpiry: number;
      anchors: boolean;
      secondStage: SecondStage;
    };

export type TaprootHtlc = {
  /** Payer and recipient in KeyAgg (sorted) order. */
  participants: Uint8Array[];
  internalKey: Uint8Array;
  outputKey: Uint8Array;
  merkleRoot: Uint8Array;
  claimLeaf: Uint8Array;
  refundLeaf: Uint8Array;
  claimControlBlock: Uint8Array;
  refundControlBlock: Uint8Array;
};

export type HtlcOutput = {
  spec: HtlcSpec;
  scriptPubKey: Uint8Array;
  /** P2WSH kinds. */
  witnessScript?: Uint8Array;
  taproot?: TaprootHtlc;
  /** BIP-380 descriptor with checksum, where the script has one (taproot). */
  descriptor?: string;
  /** The hash the script compares with: RIPEMD160(payment_hash) for HASH160 scripts. */
  scriptHash: Uint8Array;
};

/** Who claims with the preimage and who takes the coins back after the timeout. */
export function recipientKey(spec: HtlcSpec): Uint8Array {
  if (spec.kind === 'seed' || spec.kind === 'taproot') return spec.recipient;
  return spec.kind === 'offered' ? spec.remoteHtlcPubkey : spec.localHtlcPubkey;
}

export function payerKey(spec: HtlcSpec): Uint8Array {
  if (spec.kind === 'seed' || spec.kind === 'taproot') return spec.payer;
  return spec.kind === 'offered' ? spec.localHtlcPubkey : spec.remoteHtlcPubkey;
}

/** The absolute lock of the payer's path. */
export function timeoutOf(spec: HtlcSpec): number {
  return spec.kind === 'seed' || spec.kind === 'taproot' ? spec.locktime : spec.cltvExpiry;
}

export function htlcOutput(spec: HtlcSpec): HtlcOutput {
  switch (spec.kind) {
    case 'seed': {
      const witnessScript = seedHtlcScript(spec);
      return { spec, witnessScript, scriptPubKey: p2wsh(witnessScript), scriptHash: ripemd160(spec.paymentHash) };
    }
    case 'offered':
    case 'received': {
      checkLocktime(spec.cltvExpiry, 'cltv_expiry');
      // BOLT 2: cltv_expiry is a block height. A timestamp (≥ 500,000,000) would make the
      // HTLC-timeout final at once (median-time-past is far past any such value).
      if (spec.cltvExpiry >= LOCKTIME_THRESHOLD) {
        throw new RefusedError('E_CLTV_NOT_HEIGHT', `a BOLT 3 HTLC's cltv_expiry must be a block height below ${LOCKTIME_THRESHOLD}, got ${spec.cltvExpiry} (a time: its timeout would be final at once)`);
      }
      const keys = { revocationPubkey: spec.revocationPubkey, localHtlcPubkey: spec.localHtlcPubkey, remoteHtlcPubkey: spec.remoteHtlcPubkey };
      const csv = spec.anchors ? 1 : 0;
      const witnessScript =
        spec.kind === 'offered' ? offeredHtlcScript(keys, spec.paymentHash, csv) : receivedHtlcScript(keys, spec.paymentHash, spec.cltvExpiry, csv);
      return { spec, witnessScript, scriptPubKey: p2wsh(witnessScript), scriptHash: ripemd160(spec.paymentHash) };
    }
    case 'taproot':
      return taprootHtlcOutput(spec);
  }
}

function taprootHtlcOutput(spec: Extract<HtlcSpec, { kind: 'taproot' }>): HtlcOutput {
  const claimLeaf = taprootClaimLeaf(spec.recipient.subarray(1), spec.paymentHash);
  const refundLeaf = taprootRefundLeaf(spec.payer.subarray(1), spec.locktime);
  const tree: TapTree = [
    { script: claimLeaf, leafVersion: 0xc0 },
    { script: refundLeaf, leafVersion: 0xc0 },
  ];
  const root = merkleRoot(tree);
  const key = musigKey([spec.payer, spec.recipient], { merkleRoot: root });
  const taproot: TaprootHtlc = {
    participants: key.participants,
    internalKey: key.internalKey,
    outputKey: key.output.outputKey,
    merkleRoot: root,
    claimLeaf,
    refundLeaf,
    claimControlBlock: controlBlock(key.internalKey, tree, 0),
    refundControlBlock: controlBlock(key.internalKey, tree, 1),
  };
  // The descriptor (a pure-JS checksum, ~3 ms in a fresh process) is computed when read: a channel state
  // carrying the HTLC (src/lib/device/) needs its script only.
  let descriptor: string | undefined;
  return {
    spec, scriptPubKey: key.output.script, taproot, scriptHash: spec.paymentHash,
    get descriptor() {
      return (descriptor ??= withChecksum(
        `tr(musig(${key.participants.map(toHex).join(',')}),{and_v(v:pk(${toHex(spec.recipient.subarray(1))}),sha256(${toHex(spec.paymentHash)})),` +
          `and_v(v:pk(${toHex(spec.payer.subarray(1))}),after(${spec.locktime}))})`,
      ));
    },
  };
}

/** The witness script of BOLT 3's second-stage output (to_local form) for this HTLC. */
export function secondStageScript(spec: Extract<HtlcSpec, { kind: 'offered' | 'received' }>): Uint8Array {
  return toLocalScript(spec.revocationPubkey, spec.secondStage.toSelfDelay, spec.secondStage.localDelayedPubkey);
}
