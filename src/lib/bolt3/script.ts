/**
 * Bitcoin Script assembly for the BOLT 3 scripts: the opcodes they use, minimal data
 * pushes and minimal script numbers (BIP-62 rules, which BOLT 3's byte-exact scripts
 * follow: `1` is OP_1, `144` is a two-byte push `9000`), and the two segwit v0 output
 * forms (P2WSH, P2WPKH) every BOLT 3 output takes.
 *
 * Deliberately tiny: no parsing of arbitrary scripts (./script-decode.ts matches the
 * BOLT 3 templates only) and no interpreter.
 */
import { ripemd160, sha256 } from '../hash.ts';

/** The opcodes BOLT 3 scripts are made of, by their Bitcoin Core names. */
export const OP = {
  OP_0: 0x00,
  OP_PUSHDATA1: 0x4c,
  OP_1: 0x51,
  OP_2: 0x52,
  OP_16: 0x60,
  OP_IF: 0x63,
  OP_NOTIF: 0x64,
  OP_ELSE: 0x67,
  OP_ENDIF: 0x68,
  OP_VERIFY: 0x69,
  OP_IFDUP: 0x73,
  OP_DROP: 0x75,
  OP_DUP: 0x76,
  OP_SWAP: 0x7c,
  OP_SIZE: 0x82,
  OP_EQUAL: 0x87,
  OP_EQUALVERIFY: 0x88,
  OP_HASH160: 0xa9,
  OP_CHECKSIG: 0xac,
  OP_CHECKSIGVERIFY: 0xad,
  OP_CHECKMULTISIG: 0xae,
  OP_CHECKLOCKTIMEVERIFY: 0xb1,
  OP_CHECKSEQUENCEVERIFY: 0xb2,
} as const;

/** One script element: an opcode (number 0..255 from OP), pushed bytes, or a script number. */
export type ScriptPart = number | Uint8Array | { num: number };

/** A number as Script pushes it: OP_0, OP_1..OP_16, else the shortest sign-magnitude LE push. */
export function scriptNumber(n: number): Uint8Array {
  const out = new Uint8Array(scriptNumberLength(n));
  putScriptNumber(out, 0, n);
  return out;
}

/** The bytes `scriptNumber(n)` takes, its push opcode included. */
export function scriptNumberLength(n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`script number ${n} is not an integer`);
  if (n >= 0 && n <= 16) return 1;
  let length = 0;
  let abs = Math.abs(n);
  let top = 0;
  while (abs > 0) {
    top = abs & 0xff;
    abs = Math.floor(abs / 256);
    length++;
  }
  // The top bit is the sign: a byte more when the magnitude uses it.
  return 1 + length + (top & 0x80 ? 1 : 0);
}

/** Write `scriptNumber(n)` into `out` at `at` (written in place: an HTLC script's cltv_expiry); returns the offset after it. */
export function putScriptNumber(out: Uint8Array, at: number, n: number): number {
  const length = scriptNumberLength(n);
  if (n === 0) out[at] = OP.OP_0;
  else if (n >= 1 && n <= 16) out[at] = OP.OP_1 + n - 1;
  else {
    out[at] = length - 1;
    let abs = Math.abs(n);
    for (let i = 1; i < length; i++) {
      out[at + i] = abs & 0xff;
      abs = Math.floor(abs / 256);
    }
    // The sign: a byte of its own (0x80 or 0, written above as the magnitude ran out) or the top bit of the last.
    if (n < 0) out[at + length - 1]! |= 0x80;
  }
  return at + length;
}

/** A minimal push of `data` (direct push up to 75 bytes, OP_PUSHDATA1 up to 255). */
export function pushData(data: Uint8Array): Uint8Array {
  if (data.length <= 75) {
    const out = new Uint8Array(1 + data.length);
    out[0] = data.length;
    out.set(data, 1);
    return out;
  }
  if (data.length <= 255) {
    const out = new Uint8Array(2 + data.length);
    out[0] = OP.OP_PUSHDATA1;
    out[1] = data.length;
    out.set(data, 2);
    return out;
  }
  throw new RangeError('BOLT 3 scripts push at most 255 bytes');
}

/** Assemble a script from opcodes, pushes and numbers (sized first, then written once: no chunk per opcode). */
export function script(...parts: ScriptPart[]): Uint8Array {
  const out = new Uint8Array(scriptLength(parts));
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'number') out[at++] = p;
    else if (p instanceof Uint8Array) {
      if (p.length > 75) out[at++] = OP.OP_PUSHDATA1;
      out[at++] = p.length;
      out.set(p, at);
      at += p.length;
    } else at = putScriptNumber(out, at, p.num);
  }
  return out;
}

/** The bytes `script(...parts)` takes. */
export function scriptLength(parts: readonly ScriptPart[]): number {
  let length = 0;
  for (const p of parts) {
    if (typeof p === 'number') length += 1;
    else if (p instanceof Uint8Array) length += pushLength(p.length);
    else length += scriptNumberLength(p.num);
  }
  return length;
}

/** The bytes a minimal push of `n` bytes takes, its opcode(s) included. */
function pushLength(n: number): number {
  if (n <= 75) return 1 + n;
  if (n <= 255) return 2 + n;
  throw new RangeError('BOLT 3 scripts push at most 255 bytes');
}

export function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

/** P2WSH scriptPubKey: `0 <SHA256(witnessScript)>`. */
export function p2wsh(witnessScript: Uint8Array): Uint8Array {
  const out = new Uint8Array(34);
  out[0] = OP.OP_0;
  out[1] = 32;
  out.set(sha256(witnessScript), 2);
  return out;
}

/** P2WPKH scriptPubKey: `0 <HASH160(pubkey)>`. */
export function p2wpkh(pubkey: Uint8Array): Uint8Array {
  const out = new Uint8Array(22);
  out[0] = OP.OP_0;
  out[1] = 20;
  out.set(hash160(pubkey), 2);
  return out;
}

/** BIP-433 pay-to-anchor: `OP_1 <0x4e73>`, spendable by anyone with an empty witness. */
export const P2A_SCRIPT: Uint8Array = Uint8Array.of(OP.OP_1, 0x02, 0x4e, 0x73);
