/**
 * The terms of a credit contract (BRIEF §3.1, seed 000): who the two parties are, how
 * much is locked, until when, and where each party's money goes. Both sides compute the
 * same contract id, aggregate key and every transaction from the terms alone, so a
 * message naming another contract is refused by the id it carries.
 *
 * Fees, decided once here and used everywhere: the user pays every fee of the
 * contract's own transactions — the funding (its wallet), the refund and every update
 * state (out of its change), close and rollover — and the mint is always paid its
 * cumulative amount exactly. The mint pays only the CPFP child that bumps its exit.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex, utf8 } from '../bytes.ts';
import { musigTaprootDescriptor } from '../descriptor.ts';
import { musigKey, type MusigKey } from '../musig/keyagg.ts';
import { MalformedInputError } from '../errors.ts';
import { isMilliSatPrecise } from '../tx/policy.ts';
import type { Network } from '../network.ts';
import { LOCKTIME_THRESHOLD } from '../chain/finality.ts';

export const CREDIT_VERSION = 1;

export type Outpoint = { txid: string; vout: number };

export type CreditTerms = {
  network: Network;
  userPubkey: Uint8Array;
  mintPubkey: Uint8Array;
  /** Satoshis locked in the funding output. */
  capacity: bigint;
  funding: Outpoint;
  /** Absolute block height: the refund's nLockTime, final from block expiry + 1. */
  expiryHeight: number;
  /** The user's refund output script (refund tx). */
  refundScript: Uint8Array;
  /** The user's change script in update, close and rollover transactions. */
  changeScript: Uint8Array;
  /** The mint's payout script in update, close and rollover transactions. */
  payoutScript: Uint8Array;
  /** sat/vB of the refund and of every update state (at least the mint's floor). */
  feeRate: number;
};

export type CreditContract = CreditTerms & {
  id: string;
  key: MusigKey;
  /** P2TR output script of the funding output. */
  script: Uint8Array;
  descriptor: string;
};

function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, false);
  return out;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

function lengthPrefixed(b: Uint8Array): Uint8Array {
  return concatBytes(u32(b.length), b);
}

/**
 * The contract id commits to every term (length-prefixed, so no two term sets share an
 * encoding) under a domain tag. The fee rate is committed in milli-sat/vB as an
 * integer; terms with a finer fee rate are refused when read (isMilliSatPrecise), and an
 * expiry that is not a block height is refused here — it is committed in 4 bytes, so an expiry
 * moved by 2^32 (a writer of the mint's database) would otherwise keep the id — so two
 * different term sets never share an id.
 */
export function contractId(t: CreditTerms): string {
  if (!Number.isInteger(t.expiryHeight) || t.expiryHeight < 0 || t.expiryHeight >= LOCKTIME_THRESHOLD) {
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `expiry_height ${t.expiryHeight} is not a block height (an integer below ${LOCKTIME_THRESHOLD}): the contract id commits to it in 4 bytes`);
  }
  const body = concatBytes(
    utf8(`offchain/credit/v${CREDIT_VERSION}/${t.network}`),
    t.userPubkey,
    t.mintPubkey,
    u64(t.capacity),
    lengthPrefixed(utf8(`${t.funding.txid}:${t.funding.vout}`)),
    u32(t.expiryHeight),
    lengthPrefixed(t.refundScript),
    lengthPrefixed(t.changeScript),
    lengthPrefixed(t.payoutScript),
    u64(BigInt(Math.round(t.feeRate * 1000))),
  );
  return toHex(sha256(body));
}

/** The contract key: BIP-327 KeyAgg of the sorted user and mint keys, key-path-only taproot. */
export function contractKey(userPubkey: Uint8Array, mintPubkey: Uint8Array): MusigKey {
  return musigKey([userPubkey, mintPubkey]);
}

export function makeContract(t: CreditTerms): CreditContract {
  if (!isMilliSatPrecise(t.feeRate)) throw new MalformedInputError('E_BAD_FEE_RATE', `fee rate ${t.feeRate} sat/vB has more than three decimals: contracts carry milli-sat/vB precision`);
  const key = contractKey(t.userPubkey, t.mintPubkey);
  // The descriptor (a pure-JS checksum) is written out only by the user's open: computed when read.
  return { ...t, id: contractId(t), key, script: key.output.script, get descriptor() { return musigTaprootDescriptor(key.participants); } };
}
