/**
 * What a BOLT 3 commitment is built from, as plain typed values a JSON decoder maps onto
 * directly: the channel's fixed parameters (funding outpoint, both parties' basepoints,
 * who opened it, to_self_delay, dust limit, format) and one commitment's state (number,
 * per-commitment point, balances, feerate, HTLCs). Plus what BOLT 3 derives from them
 * before any output exists: the per-commitment keys, the funding output and the
 * obscured commitment number.
 *
 * "local" is always the holder of the commitment being built (the party that can
 * broadcast it, whose outputs are delayed); to build the other party's commitment,
 * swap local and remote, flip `opener` and every HTLC's direction (`counterpartyView`).
 * Amounts are bigint: satoshis, or millisatoshis where the name says msat.
 *
 * The `CommitmentFormat` interface is declared here, with the parameters that carry it;
 * ./formats.ts supplies the three formats (so formats know the channel, never the reverse).
 */
import { sha256 } from '../hash.ts';
import { concatBytes } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';
import { NOBLE, type Bolt3Backend } from './backend.ts';
import { decodePoint, derivePubkeyAt, deriveRevocationPubkeyAt, type Ec, type KeyPoint } from './keys.ts';
import { checkIndex } from './per-commitment.ts';
import { p2wsh } from './script.ts';
import { fundingScript } from './scripts.ts';
import type { OutPoint } from './tx.ts';

/** One party's keys from open_channel / accept_channel (BOLT 2), all 33-byte compressed points. */
export type ChannelPublicKeys = {
  fundingPubkey: Uint8Array;
  revocationBasepoint: Uint8Array;
  paymentBasepoint: Uint8Array;
  delayedPaymentBasepoint: Uint8Array;
  htlcBasepoint: Uint8Array;
};

export type ChannelParameters = {
  format: CommitmentFormat;
  fundingOutpoint: OutPoint;
  fundingSatoshis: bigint;
  /** Who opened (funded) the channel: it pays the commitment fee and the keyed anchors. */
  opener: 'local' | 'remote';
  local: ChannelPublicKeys;
  remote: ChannelPublicKeys;
  /** The CSV delay on the local party's own outputs (the remote's `to_self_delay`). */
  toSelfDelay: number;
  /** The local party's `dust_limit_satoshis`: outputs below it are trimmed from its commitment. */
  dustLimitSatoshis: bigint;
};

/** An HTLC seen from the commitment's holder: `offered` = local pays remote, `received` = remote pays local. */
export type Htlc = {
  direction: 'offered' | 'received';
  amountMsat: bigint;
  /** SHA256 of the payment preimage. */
  paymentHash: Uint8Array;
  /** Block height after which an offered HTLC times out (nLockTime of its HTLC-timeout tx). */
  cltvExpiry: number;
  /** The caller's bookkeeping (BOLT 2 `id`); not part of any transaction. */
  id?: bigint;
};

export type CommitmentState = {
  /** 48-bit commitment number, counted from 0. */
  commitmentNumber: number;
  /** The local party's per-commitment point for this commitment. */
  perCommitmentPoint: Uint8Array;
  /** Balances after every in-flight HTLC is set aside, before the fee (BOLT 3's to_local_msat / to_remote_msat). */
  toLocalMsat: bigint;
  toRemoteMsat: bigint;
  feeratePerKw: number;
  htlcs: readonly Htlc[];
};

/** The keys one commitment's scripts use (BOLT 3 "Keys"); LDK's TxCreationKeys. */
export type CommitmentKeys = {
  perCommitmentPoint: Uint8Array;
  /** `revocationpubkey`: remote's revocation_basepoint with local's per-commitment point. */
  revocationPubkey: Uint8Array;
  /** `local_delayedpubkey` */
  localDelayedPubkey: Uint8Array;
  /** `local_htlcpubkey` */
  localHtlcPubkey: Uint8Array;
  /** `remote_htlcpubkey` */
  remoteHtlcPubkey: Uint8Array;
  /** `remotepubkey`: with option_static_remotekey, the remote payment_basepoint itself. */
  remotePubkey: Uint8Array;
};

// ---- what a commitment format provides (the three formats themselves: ./formats.ts) ----

export type CommitmentFormatName = 'legacy' | 'anchors' | 'zero-fee';

/** An output's scriptPubKey and, for P2WSH, the witness script it commits to. */
export type OutputTemplate = { script: Uint8Array; witnessScript?: Uint8Array };

export type AnchorKind = 'to_local_anchor' | 'to_remote_anchor' | 'shared_anchor';
export type AnchorOutput = OutputTemplate & { kind: AnchorKind; amountSat: bigint };

/** What a format needs to decide its anchor outputs, once every other output is known. */
export type AnchorContext = {
  localFundingPubkey: Uint8Array;
  remoteFundingPubkey: Uint8Array;
  hasToLocal: boolean;
  hasToRemote: boolean;
  hasUntrimmedHtlcs: boolean;
  /** Funding amount minus every non-anchor output: trimmed amounts, msat remainders and the fee. */
  unassignedSat: bigint;
};

export interface CommitmentFormat {
  readonly name: CommitmentFormatName;
  /** The BOLT 9 channel_type features that select this format. */
  readonly channelType: readonly string[];
  readonly commitmentTxVersion: number;
  readonly htlcTxVersion: number;
  /** Refuse a feerate the format does not allow (zero-fee commitments have none). */
  checkFeerate(feeratePerKw: number): void;
  /** BOLT 3 "Fee Calculation": the base fee for a commitment with this many untrimmed HTLCs. */
  commitmentFee(feeratePerKw: number, untrimmedHtlcs: number): bigint;
  /** The fee a second-stage transaction takes out of its HTLC (0 for zero-fee HTLC transactions). */
  htlcTxFee(kind: 'htlc-timeout' | 'htlc-success', feeratePerKw: number): bigint;
  /** What the opener pays for anchors besides the fee. */
  readonly openerAnchorCostSat: bigint;
  /** The CSV on HTLC outputs, hence the nSequence of the HTLC transactions' input (0 or 1). */
  readonly htlcCsv: number;
  /** The sighash type of the remote party's signature on HTLC transactions (the local one is ALL). */
  readonly remoteHtlcSighash: number;
  toLocal(keys: CommitmentKeys, toSelfDelay: number): OutputTemplate;
  /** `to_remote`: with option_static_remotekey it pays `remotepubkey` = the remote payment_basepoint, the same output on every commitment. */
  toRemote(remotePubkey: Uint8Array): OutputTemplate;
  offeredHtlc(keys: CommitmentKeys, htlc: Htlc): OutputTemplate;
  receivedHtlc(keys: CommitmentKeys, htlc: Htlc): OutputTemplate;
  /** The output of HTLC-timeout / HTLC-success transactions. */
  secondStage(keys: CommitmentKeys, toSelfDelay: number): OutputTemplate;
  anchors(ctx: AnchorContext): AnchorOutput[];
}

/** BOLT 3 "Key Derivation" for the commitment held by `local` at `perCommitmentPoint`. */
export function commitmentKeys(local: ChannelPublicKeys, remote: ChannelPublicKeys, perCommitmentPoint: Uint8Array, ec: Ec = nobleBackend): CommitmentKeys {
  return keysAt(local, remote, perCommitmentPoint, ec, (bytes, field) => ({ bytes, point: decodePoint(ec, bytes, field) }));
}

/**
 * The five keys of one commitment, every point through `decode` — a channel's basepoints are
 * decoded once (Channel) — in the order the checks name a bad one: to_remote's point, the
 * revocation basepoint, the per-commitment point (decoded once), then the three basepoints.
 */
function keysAt(
  local: ChannelPublicKeys, remote: ChannelPublicKeys, perCommitmentPoint: Uint8Array, ec: Ec, decode: (bytes: Uint8Array, field: string) => KeyPoint,
): CommitmentKeys {
  decode(remote.paymentBasepoint, 'remote payment_basepoint'); // to_remote pays to it as it is
  const revocationBasepoint = decode(remote.revocationBasepoint, 'revocation_basepoint');
  const point = { bytes: perCommitmentPoint, point: decodePoint(ec, perCommitmentPoint, 'per_commitment_point') };
  return {
    perCommitmentPoint,
    revocationPubkey: deriveRevocationPubkeyAt(ec, revocationBasepoint, point),
    localDelayedPubkey: derivePubkeyAt(ec, decode(local.delayedPaymentBasepoint, 'basepoint'), point),
    localHtlcPubkey: derivePubkeyAt(ec, decode(local.htlcBasepoint, 'basepoint'), point),
    remoteHtlcPubkey: derivePubkeyAt(ec, decode(remote.htlcBasepoint, 'basepoint'), point),
    remotePubkey: remote.paymentBasepoint,
  };
}

/**
 * A channel its caller holds while the channel is open, so that what every commitment repeats
 * is worked out once: the parameters checked, each basepoint and funding key decoded the first
 * time a commitment uses it (so a bad one is named as when it is decoded for one commitment),
 * the obscuring factor, the `to_remote` output. Public values only, on one backend;
 * buildCommitment takes one, or makes one from plain parameters for a single commitment
 * (whose points then come from ./keys.ts's process-wide cache of decoded public points).
 * The parameters must not change while it is held.
 */
export class Channel {
  readonly #points = new Map<Uint8Array, KeyPoint>();
  #obscuringFactor: { high: number; low: number } | undefined;
  #toRemote: OutputTemplate | undefined;

  constructor(
    readonly params: ChannelParameters,
    readonly backend: Bolt3Backend = NOBLE,
  ) {
    checkChannelParameters(params);
  }

  /** A basepoint or funding key of this channel, decoded once; E_BAD_PUBKEY naming `field` when it is not a point. */
  point(bytes: Uint8Array, field: string): KeyPoint {
    let p = this.#points.get(bytes);
    if (!p) this.#points.set(bytes, (p = { bytes, point: decodePoint(this.backend.ec, bytes, field) }));
    return p;
  }

  /** BOLT 3 "Key Derivation" for the commitment held by `params.local` at `perCommitmentPoint`. */
  commitmentKeys(perCommitmentPoint: Uint8Array): CommitmentKeys {
    const { local, remote } = this.params;
    return keysAt(local, remote, perCommitmentPoint, this.backend.ec, (bytes, field) => this.point(bytes, field));
  }

  /** The opener's payment_basepoint then the accepter's, hashed (obscuringFactor). */
  get obscuringFactor(): { high: number; low: number } {
    return (this.#obscuringFactor ??= channelObscuringFactor(this.params));
  }

  get toRemote(): OutputTemplate {
    return (this.#toRemote ??= this.params.format.toRemote(this.params.remote.paymentBasepoint));
  }
}

/** The funding output: P2WSH of the 2-of-2 funding script. */
export function fundingOutput(localFundingPubkey: Uint8Array, remoteFundingPubkey: Uint8Array, fundingSatoshis: bigint): {
  amount: bigint;
  script: Uint8Array;
  witnessScript: Uint8Array;
} {
  const witnessScript = fundingScript(localFundingPubkey, remoteFundingPubkey);
  return { amount: fundingSatoshis, script: p2wsh(witnessScript), witnessScript };
}

/** The funding output of a channel. */
export function channelFundingOutput(params: ChannelParameters): ReturnType<typeof fundingOutput> {
  return fundingOutput(params.local.fundingPubkey, params.remote.fundingPubkey, params.fundingSatoshis);
}

/**
 * The lower 48 bits of SHA256(payment_basepoint from open_channel || payment_basepoint
 * from accept_channel), as two 24-bit halves (JS bit operators stop at 32 bits).
 */
export function obscuringFactor(openerPaymentBasepoint: Uint8Array, accepterPaymentBasepoint: Uint8Array): { high: number; low: number } {
  const h = sha256(concatBytes(openerPaymentBasepoint, accepterPaymentBasepoint));
  return { high: (h[26]! << 16) | (h[27]! << 8) | h[28]!, low: (h[29]! << 16) | (h[30]! << 8) | h[31]! };
}

function channelObscuringFactor(params: ChannelParameters): { high: number; low: number } {
  const [opener, accepter] = params.opener === 'local' ? [params.local, params.remote] : [params.remote, params.local];
  return obscuringFactor(opener.paymentBasepoint, accepter.paymentBasepoint);
}

/**
 * The commitment transaction's nLockTime and its input's nSequence: upper 8 bits 0x20
 * and 0x80, lower 24 bits the lower and upper halves of the obscured commitment number.
 */
export function obscuredCommitmentNumber(params: ChannelParameters | Channel, commitmentNumber: number): {
  obscured: number;
  lockTime: number;
  sequence: number;
} {
  checkIndex(commitmentNumber, 'commitment number');
  const f = params instanceof Channel ? params.obscuringFactor : channelObscuringFactor(params);
  const high = f.high ^ Math.floor(commitmentNumber / 2 ** 24);
  const low = f.low ^ (commitmentNumber % 2 ** 24);
  return { obscured: high * 2 ** 24 + low, lockTime: (0x20 * 2 ** 24) + low, sequence: (0x80 * 2 ** 24) + high };
}

/**
 * The other party's commitment, described from our side: the same channel with local and
 * remote swapped, `opener` flipped and every HTLC's direction flipped, at the other
 * party's per-commitment point, with its own to_self_delay (the one we imposed) and
 * its own dust limit. This is the transaction we sign in commitment_signed.
 */
export function counterpartyView(
  params: ChannelParameters,
  state: CommitmentState,
  theirs: { perCommitmentPoint: Uint8Array; toSelfDelay: number; dustLimitSatoshis: bigint },
): { params: ChannelParameters; state: CommitmentState } {
  return {
    params: {
      ...params,
      opener: params.opener === 'local' ? 'remote' : 'local',
      local: params.remote,
      remote: params.local,
      toSelfDelay: theirs.toSelfDelay,
      dustLimitSatoshis: theirs.dustLimitSatoshis,
    },
    state: {
      ...state,
      perCommitmentPoint: theirs.perCommitmentPoint,
      toLocalMsat: state.toRemoteMsat,
      toRemoteMsat: state.toLocalMsat,
      htlcs: state.htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? 'received' : 'offered' })),
    },
  };
}

const MAX_U32 = 0xffffffff;

/**
 * The checks every commitment build starts with: shapes and ranges (malformed, exit 3)
 * and the balance rule (refused, exit 4): to_local + to_remote + every HTLC must be the
 * funding amount exactly, or the commitment would create or destroy money.
 */
export function checkCommitmentInputs(params: ChannelParameters, state: CommitmentState): void {
  checkChannelParameters(params);
  checkCommitmentState(params, state);
}

function bad(code: string, message: string): never {
  throw new MalformedInputError(code, message);
}

/** The channel's own shapes and ranges (a Channel checks them once). */
export function checkChannelParameters(params: ChannelParameters): void {
  if (params.fundingSatoshis <= 0n) bad('E_BAD_AMOUNT', 'funding_satoshis must be positive');
  if (!Number.isInteger(params.fundingOutpoint.vout) || params.fundingOutpoint.vout < 0 || params.fundingOutpoint.vout > MAX_U32) {
    bad('E_BAD_OUTPOINT', 'the funding output index must be a 32-bit unsigned integer');
  }
  if (!Number.isInteger(params.toSelfDelay) || params.toSelfDelay < 0 || params.toSelfDelay > 0xffff) {
    bad('E_BAD_TO_SELF_DELAY', 'to_self_delay must be an integer in [0, 65535] blocks');
  }
  if (params.dustLimitSatoshis < 0n) bad('E_BAD_AMOUNT', 'dust_limit_satoshis must not be negative');
}

/** One commitment's shapes and ranges, and the balance rule. */
export function checkCommitmentState(params: ChannelParameters, state: CommitmentState): void {
  if (!Number.isInteger(state.feeratePerKw) || state.feeratePerKw < 0 || state.feeratePerKw > MAX_U32) {
    bad('E_BAD_FEERATE', 'feerate_per_kw must be a 32-bit unsigned integer');
  }
  if (state.toLocalMsat < 0n || state.toRemoteMsat < 0n) bad('E_BAD_AMOUNT', 'to_local_msat and to_remote_msat must not be negative');
  state.htlcs.forEach((h, i) => {
    if (h.direction !== 'offered' && h.direction !== 'received') bad('E_BAD_HTLC', `HTLC ${i}: direction must be offered or received`);
    if (h.amountMsat <= 0n) bad('E_BAD_HTLC', `HTLC ${i}: amount_msat must be positive`);
    if (h.paymentHash.length !== 32) bad('E_BAD_HTLC', `HTLC ${i}: payment_hash must be 32 bytes`);
    // BOLT 2: cltv_expiry is a block height, below the 500,000,000 where nLockTime means time.
    if (!Number.isInteger(h.cltvExpiry) || h.cltvExpiry < 0 || h.cltvExpiry >= 500_000_000) {
      bad('E_BAD_HTLC', `HTLC ${i}: cltv_expiry must be a block height below 500000000`);
    }
  });
  const total = state.toLocalMsat + state.toRemoteMsat + state.htlcs.reduce((a, h) => a + h.amountMsat, 0n);
  if (total !== params.fundingSatoshis * 1000n) {
    throw new RefusedError(
      'E_COMMITMENT_UNBALANCED',
      `to_local_msat + to_remote_msat + HTLCs = ${total} msat, but the funding output holds ${params.fundingSatoshis * 1000n} msat`,
      { totalMsat: total.toString(), fundingMsat: (params.fundingSatoshis * 1000n).toString() },
    );
  }
}
