/**
 * The HTLC scripts that are not BOLT 3's (those live in ../bolt3/scripts.ts):
 *
 * The seed's P2WSH HTLC ("payment channels", seed 002), with the recipient's key in the
 * hash branch as the seed suggests, and by default a size check so that only a 32-byte
 * preimage claims it:
 *
 *     OP_IF
 *         [OP_SIZE 32 OP_EQUALVERIFY]           # default; absent in the bare seed form
 *         OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY
 *         <recipient>
 *     OP_ELSE
 *         <locktime> OP_CHECKLOCKTIMEVERIFY OP_DROP
 *         <payer>
 *     OP_ENDIF
 *     OP_CHECKSIG
 *
 * Why the size check: on a route every hop's HTLC is locked to the same hash, and each
 * hop claims its incoming HTLC with the preimage it learnt from the outgoing one. If one
 * hop's script accepted a preimage of another length (HASH160 hashes anything), a
 * payee could claim that hop with a value the next hop's script — or a BOLT 3 script,
 * which demands 32 bytes — refuses, and the hop in between would pay without being able
 * to claim its own incoming HTLC. Fixing the length makes "the same preimage works on
 * every hop" true by construction.
 *
 * The taproot HTLC: a MuSig2 internal key of payer and recipient (cooperative key-path
 * spend) and two tapscript leaves written as miniscript, so the output has a standard
 * descriptor that wallets and Bitcoin Core understand:
 *
 *     claim:  and_v(v:pk(recipient),sha256(H))  = <R> CHECKSIGVERIFY SIZE 32 EQUALVERIFY SHA256 <H> EQUAL
 *     refund: and_v(v:pk(payer),after(L))       = <P> CHECKSIGVERIFY <L> CHECKLOCKTIMEVERIFY
 *
 * Deliberately absent: any other script shape. A script is recognised by the decoders
 * below only if rebuilding it from the parameters read gives the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { equalBytes } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { OP, script } from '../bolt3/script.ts';
import { MAX_LOCKTIME } from '../constants.ts';

const OP_SHA256 = 0xa8;

export { MAX_LOCKTIME };
/** nLockTime at or above this is a unix time, below it a block height (BIP-65, Core's LOCKTIME_THRESHOLD). */
export const LOCKTIME_THRESHOLD = 500_000_000;

export type SeedHtlcParams = {
  /** SHA256 of the preimage (the payment hash); the script carries its RIPEMD160. */
  paymentHash: Uint8Array;
  /** 33-byte compressed key that claims with the preimage. */
  recipient: Uint8Array;
  /** 33-byte compressed key that takes the coins back once `locktime` is final. */
  payer: Uint8Array;
  /** Absolute locktime: a height below 500 000 000, else a unix time. */
  locktime: number;
  /** The default `SIZE 32 EQUALVERIFY`; false is the seed's bare form. */
  sizeCheck: boolean;
};

export function checkLocktime(locktime: number, field = 'locktime'): number {
  if (!Number.isSafeInteger(locktime) || locktime < 1 || locktime > MAX_LOCKTIME) {
    throw new MalformedInputError('E_BAD_LOCKTIME', `${field} must be an absolute height or time between 1 and ${MAX_LOCKTIME}, got ${locktime}`);
  }
  return locktime;
}

export function seedHtlcScript(p: SeedHtlcParams): Uint8Array {
  checkLocktime(p.locktime);
  return script(
    OP.OP_IF,
    ...(p.sizeCheck ? [OP.OP_SIZE, { num: 32 }, OP.OP_EQUALVERIFY] : []),
    OP.OP_HASH160, ripemd160(p.paymentHash), OP.OP_EQUALVERIFY,
    p.recipient,
    OP.OP_ELSE,
    { num: p.locktime }, OP.OP_CHECKLOCKTIMEVERIFY, OP.OP_DROP,
    p.payer,
    OP.OP_ENDIF,
    OP.OP_CHECKSIG,
  );
}

/** `and_v(v:pk(recipient),sha256(H))`: the recipient's signature and the 32-byte preimage. */
export function taprootClaimLeaf(recipientXOnly: Uint8Array, paymentHash: Uint8Array): Uint8Array {
  return script(recipientXOnly, OP.OP_CHECKSIGVERIFY, OP.OP_SIZE, { num: 32 }, OP.OP_EQUALVERIFY, OP_SHA256, paymentHash, OP.OP_EQUAL);
}

/** `and_v(v:pk(payer),after(L))`: the payer's signature once nLockTime ≥ L is final. */
export function taprootRefundLeaf(payerXOnly: Uint8Array, locktime: number): Uint8Array {
  checkLocktime(locktime);
  return script(payerXOnly, OP.OP_CHECKSIGVERIFY, { num: locktime }, OP.OP_CHECKLOCKTIMEVERIFY);
}

export type DecodedSeedHtlc = {
  paymentHashRipemd160: Uint8Array;
  recipient: Uint8Array;
  payer: Uint8Array;
  locktime: number;
  sizeCheck: boolean;
};

/**
 * Read a seed HTLC's parameters back, or undefined when `ws` is not one byte for byte.
 * The hash is RIPEMD160(payment_hash): the payment hash itself is not in the script.
 */
export function decodeSeedHtlcScript(ws: Uint8Array): DecodedSeedHtlc | undefined {
  for (const sizeCheck of [true, false]) {
    const prefix = sizeCheck ? 5 : 1; // OP_IF [OP_SIZE 0x01 0x20 OP_EQUALVERIFY]
    const at = prefix + 1; // OP_HASH160
    if (ws[0] !== OP.OP_IF || ws[at - 1] !== OP.OP_HASH160 || ws[at] !== 20) continue;
    const h = ws.subarray(at + 1, at + 21);
    const rAt = at + 22; // after OP_EQUALVERIFY
    if (ws[rAt] !== 33) continue;
    const recipient = ws.subarray(rAt + 1, rAt + 34);
    const lAt = rAt + 35; // after OP_ELSE
    const locktime = readScriptNumber(ws, lAt);
    if (!locktime) continue;
    const pAt = lAt + locktime.length + 2; // CLTV DROP
    if (ws[pAt] !== 33) continue;
    const payer = ws.subarray(pAt + 1, pAt + 34);
    let params: SeedHtlcParams;
    try {
      params = { paymentHash: new Uint8Array(32), recipient, payer, locktime: locktime.value, sizeCheck };
      checkLocktime(locktime.value);
    } catch {
      continue;
    }
    // Rebuild with a placeholder hash, then splice the script's hash in: equal bytes or nothing.
    const rebuilt = seedHtlcScript(params);
    rebuilt.set(h, at + 1);
    if (equalBytes(rebuilt, ws)) {
      return { paymentHashRipemd160: h.slice(), recipient: recipient.slice(), payer: payer.slice(), locktime: locktime.value, sizeCheck };
    }
  }
  return undefined;
}

export type DecodedTaprootLeaf =
  | { leaf: 'claim'; recipient: Uint8Array; paymentHash: Uint8Array }
  | { leaf: 'refund'; payer: Uint8Array; locktime: number };

/** Recognise one of the two taproot HTLC leaves, byte for byte. */
export function decodeTaprootHtlcLeaf(leaf: Uint8Array): DecodedTaprootLeaf | undefined {
  if (leaf[0] !== 32 || leaf[33] !== OP.OP_CHECKSIGVERIFY) return undefined;
  const key = leaf.subarray(1, 33);
  if (leaf.length === 73) {
    // <R> CHECKSIGVERIFY SIZE <32> EQUALVERIFY SHA256 <H> EQUAL: H is pushed at byte 39.
    const paymentHash = leaf.subarray(40, 72);
    if (equalBytes(taprootClaimLeaf(key, paymentHash), leaf)) return { leaf: 'claim', recipient: key.slice(), paymentHash: paymentHash.slice() };
    return undefined;
  }
  const n = readScriptNumber(leaf, 34);
  if (!n || leaf.length !== 34 + n.length + 1) return undefined;
  try {
    if (equalBytes(taprootRefundLeaf(key, n.value), leaf)) return { leaf: 'refund', payer: key.slice(), locktime: n.value };
  } catch {
    return undefined;
  }
  return undefined;
}

/** A minimally pushed, positive script number at `at` (OP_1..OP_16 or a ≤5-byte push). */
function readScriptNumber(s: Uint8Array, at: number): { value: number; length: number } | undefined {
  const op = s[at];
  if (op === undefined) return undefined;
  if (op >= OP.OP_1 && op <= OP.OP_16) return { value: op - OP.OP_1 + 1, length: 1 };
  if (op < 1 || op > 5 || at + 1 + op > s.length) return undefined;
  let value = 0;
  for (let i = op - 1; i >= 0; i--) value = value * 256 + s[at + 1 + i]!;
  if (s[at + op]! & 0x80) return undefined; // negative: never a locktime
  return { value, length: 1 + op };
}

/** The SHA256 payment hash of a preimage, and whether it has the length every hop demands. */
export function paymentHashOf(preimage: Uint8Array): Uint8Array {
  return sha256(preimage);
}
