/**
 * Colu asset IDs (cc-assetid-encoder): Base58Check(padding(2) || hash160(X) ||
 * divisibility(2, big-endian)). Locked assets: X = ASCII "<txid>:<vout>" of the first
 * input; unlocked: X = the output script the first input spends (given, or rebuilt
 * from an address or from a P2PKH / P2SH scriptSig, hex or asm).
 *
 * A P2SH scriptSig is rebuilt the way cc-assetid-encoder 0.6.2 does it, which is not the
 * P2SH output that was spent: the redeem script is split into its chunks and the chunks
 * are concatenated again WITHOUT their push opcodes (a multisig `OP_2 <33> <33> OP_2
 * OP_CHECKMULTISIG` becomes `52 || key1 || key2 || 52 || ae`), and X = OP_HASH160
 * hash160(that) OP_EQUAL. The four P2SH-multisig vectors of asset_id_vectors.json give
 * exactly these IDs and none of the alternatives (the real redeem script's P2SH output,
 * the redeem script itself, its hash); docs/openassets.md says so.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check } from '@scure/base';
import { MalformedInputError } from '../errors.ts';
import { concatBytes, fromHex, utf8 } from '../bytes.ts';

const b58c = createBase58check(sha256);
const hash160 = (b: Uint8Array) => ripemd160(sha256(b));
export type AggregationPolicy = 'aggregatable' | 'hybrid' | 'dispersed';
const PADDING = {
  locked: { aggregatable: 0x20ce, hybrid: 0x2102, dispersed: 0x20e4 },
  unlocked: { aggregatable: 0x2e37, hybrid: 0x2e6b, dispersed: 0x2e4e },
} as const;

function encode(x: Uint8Array, locked: boolean, policy: AggregationPolicy, divisibility: number): string {
  const pad = PADDING[locked ? 'locked' : 'unlocked'][policy];
  return b58c.encode(concatBytes(Uint8Array.of(pad >> 8, pad & 0xff), hash160(x), Uint8Array.of(divisibility >> 8, divisibility & 0xff)));
}

export function lockedAssetId(txid: string, vout: number, policy: AggregationPolicy, divisibility: number): string {
  return encode(utf8(`${txid}:${vout}`), true, policy, divisibility);
}

export function unlockedAssetId(prevScript: Uint8Array, policy: AggregationPolicy, divisibility: number): string {
  return encode(prevScript, false, policy, divisibility);
}

/** The output script a scriptSig spends, as Colu hashes it: P2PKH (last push a public key) or P2SH (last push the redeem script; see above). */
export function scriptFromScriptSig(pushes: Uint8Array[]): Uint8Array {
  const last = pushes[pushes.length - 1];
  if (!last) throw new MalformedInputError('E_COLU_MALFORMED', 'empty scriptSig');
  const isPubkey = pushes.length === 2 && ((last.length === 33 && (last[0] === 2 || last[0] === 3)) || (last.length === 65 && last[0] === 4));
  return isPubkey
    ? concatBytes(fromHex('76a914'), hash160(last), fromHex('88ac'))
    : concatBytes(fromHex('a914'), hash160(coluRedeemForm(last)), fromHex('87'));
}

/** cc-assetid-encoder's form of a redeem script: its chunks concatenated, push opcodes dropped. */
export function coluRedeemForm(redeem: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let i = 0;
  while (i < redeem.length) {
    const op = redeem[i++]!;
    let len: number;
    if (op >= 0x01 && op <= 0x4b) len = op;
    else if (op === 0x4c) len = redeem[i++] ?? 0;
    else if (op === 0x4d) { len = (redeem[i] ?? 0) | ((redeem[i + 1] ?? 0) << 8); i += 2; }
    else if (op === 0x4e) { len = ((redeem[i] ?? 0) | ((redeem[i + 1] ?? 0) << 8) | ((redeem[i + 2] ?? 0) << 16)) + (redeem[i + 3] ?? 0) * 0x1000000; i += 4; }
    else { parts.push(Uint8Array.of(op)); continue; }
    if (i + len > redeem.length) throw new MalformedInputError('E_COLU_MALFORMED', 'redeem script push truncated');
    parts.push(redeem.subarray(i, i + len));
    i += len;
  }
  return concatBytes(...parts);
}

/** The pushes of a scriptSig given as asm (bitcoind's form: OP_0 or hex data, a signature maybe ending "[ALL]"). */
export function pushesOfAsm(asm: string): Uint8Array[] {
  const tokens = asm.trim().split(/\s+/).filter((t) => t.length > 0);
  if (tokens.length === 0) throw new MalformedInputError('E_COLU_MALFORMED', 'empty scriptSig asm');
  return tokens.map((t) => {
    if (t === 'OP_0' || t === '0') return new Uint8Array(0);
    const hex = t.replace(/\[ALL\]$/, '01');
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new MalformedInputError('E_COLU_MALFORMED', `scriptSig asm token "${t.slice(0, 20)}" is not a push (OP_0 or hex data)`);
    return fromHex(hex);
  });
}

/** The pushes of a push-only script (hex). */
export function pushesOf(script: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < script.length) {
    const op = script[i++]!;
    let len: number;
    if (op === 0) { out.push(new Uint8Array(0)); continue; }
    if (op <= 0x4b) len = op;
    else if (op === 0x4c) len = script[i++]!;
    else if (op === 0x4d) { len = script[i]! | (script[i + 1]! << 8); i += 2; }
    else throw new MalformedInputError('E_COLU_MALFORMED', `scriptSig is not push-only (opcode 0x${op.toString(16)})`);
    if (i + len > script.length) throw new MalformedInputError('E_COLU_MALFORMED', 'scriptSig push truncated');
    out.push(script.subarray(i, i + len));
    i += len;
  }
  return out;
}
