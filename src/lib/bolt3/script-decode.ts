/**
 * Recognise a BOLT 3 witness script and read its parameters back: the funding 2-of-2,
 * `to_local` (also the HTLC transactions' output), the anchors `to_remote`, a keyed
 * anchor, and offered / received HTLC outputs with or without the anchors'
 * `1 OP_CHECKSEQUENCEVERIFY OP_DROP`. For `htlc decode`: "which kind is this script and
 * what are its parameters".
 *
 * A script is recognised only if it is byte for byte what ./scripts.ts would build from
 * the parameters read (each template is matched opcode by opcode, every push minimal),
 * so a look-alike script is never given a BOLT 3 name. Hashes stay hashes: an HTLC
 * script carries RIPEMD160(payment_hash) and HASH160(revocationpubkey), not the values.
 */
import { equalBytes } from '../bytes.ts';
import { OP, pushData, scriptNumber } from './script.ts';

export type Bolt3Script =
  | { kind: 'funding'; pubkeys: [Uint8Array, Uint8Array] }
  | { kind: 'to_local'; revocationPubkey: Uint8Array; toSelfDelay: number; localDelayedPubkey: Uint8Array }
  | { kind: 'to_remote_anchors'; remotePubkey: Uint8Array }
  | { kind: 'anchor'; fundingPubkey: Uint8Array }
  | {
      kind: 'offered_htlc';
      revocationPubkeyHash: Uint8Array;
      remoteHtlcPubkey: Uint8Array;
      localHtlcPubkey: Uint8Array;
      paymentHashRipemd160: Uint8Array;
      csv: number;
    }
  | {
      kind: 'received_htlc';
      revocationPubkeyHash: Uint8Array;
      remoteHtlcPubkey: Uint8Array;
      localHtlcPubkey: Uint8Array;
      paymentHashRipemd160: Uint8Array;
      cltvExpiry: number;
      csv: number;
    };

type Token = { op: number } | { data: Uint8Array };

/** Split a script into opcodes and pushes; undefined when a push runs past the end. */
function tokens(script: Uint8Array): Token[] | undefined {
  const out: Token[] = [];
  let at = 0;
  while (at < script.length) {
    const op = script[at]!;
    let len = -1;
    let skip = 1;
    if (op >= 1 && op <= 75) len = op;
    else if (op === OP.OP_PUSHDATA1 && at + 1 < script.length) {
      [len, skip] = [script[at + 1]!, 2];
      if (len <= 75) return undefined; // not minimal: BOLT 3 never writes it
    }
    if (len < 0) {
      out.push({ op });
      at += 1;
      continue;
    }
    if (at + skip + len > script.length) return undefined;
    out.push({ data: script.subarray(at + skip, at + skip + len) });
    at += skip + len;
  }
  return out;
}

/** A template element: an opcode, a push of `n` bytes (captured), or a script number (captured). */
type Pattern = number | { bytes: number } | 'number';
type Captured = (Uint8Array | number)[];

/** Decode a minimal script number push (as scriptNumber writes it); undefined otherwise. */
function readNumber(t: Token): number | undefined {
  if ('op' in t) {
    if (t.op === OP.OP_0) return 0;
    if (t.op >= OP.OP_1 && t.op <= OP.OP_16) return t.op - OP.OP_1 + 1;
    return undefined;
  }
  const d = t.data;
  if (d.length === 0 || d.length > 4) return undefined;
  let n = 0;
  for (let i = d.length - 1; i >= 0; i--) n = n * 256 + (i === d.length - 1 ? d[i]! & 0x7f : d[i]!);
  if (d[d.length - 1]! & 0x80) n = -n;
  return equalBytes(scriptNumber(n), pushData(d)) ? n : undefined;
}

function match(toks: Token[], pattern: Pattern[]): Captured | undefined {
  if (toks.length !== pattern.length) return undefined;
  const captured: Captured = [];
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const t = toks[i]!;
    if (typeof p === 'number') {
      if (!('op' in t) || t.op !== p) return undefined;
    } else if (p === 'number') {
      const n = readNumber(t);
      if (n === undefined) return undefined;
      captured.push(n);
    } else {
      if (!('data' in t) || t.data.length !== p.bytes) return undefined;
      captured.push(t.data);
    }
  }
  return captured;
}

const {
  OP_IF, OP_NOTIF, OP_ELSE, OP_ENDIF, OP_DROP, OP_DUP, OP_SWAP, OP_SIZE, OP_EQUAL, OP_EQUALVERIFY, OP_HASH160,
  OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CHECKMULTISIG, OP_CHECKLOCKTIMEVERIFY, OP_CHECKSEQUENCEVERIFY, OP_IFDUP, OP_16, OP_2, OP_1,
} = OP;
const KEY = { bytes: 33 };
const H20 = { bytes: 20 };
const CSV_TAIL = [OP_1, OP_CHECKSEQUENCEVERIFY, OP_DROP];

const HTLC_HEAD: Pattern[] = [OP_DUP, OP_HASH160, H20, OP_EQUAL, OP_IF, OP_CHECKSIG, OP_ELSE, KEY, OP_SWAP, OP_SIZE, 'number', OP_EQUAL];
const OFFERED_BODY: Pattern[] = [OP_NOTIF, OP_DROP, OP_2, OP_SWAP, KEY, OP_2, OP_CHECKMULTISIG, OP_ELSE, OP_HASH160, H20, OP_EQUALVERIFY, OP_CHECKSIG, OP_ENDIF];
const RECEIVED_BODY: Pattern[] = [
  OP_IF, OP_HASH160, H20, OP_EQUALVERIFY, OP_2, OP_SWAP, KEY, OP_2, OP_CHECKMULTISIG,
  OP_ELSE, OP_DROP, 'number', OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_CHECKSIG, OP_ENDIF,
];

/** The BOLT 3 kind and parameters of `witnessScript`, or undefined when it is none of them. */
export function decodeBolt3Script(witnessScript: Uint8Array): Bolt3Script | undefined {
  const toks = tokens(witnessScript);
  if (!toks) return undefined;
  let m: Captured | undefined;
  if ((m = match(toks, [OP_2, KEY, KEY, OP_2, OP_CHECKMULTISIG]))) {
    return { kind: 'funding', pubkeys: [m[0] as Uint8Array, m[1] as Uint8Array] };
  }
  if ((m = match(toks, [OP_IF, KEY, OP_ELSE, 'number', OP_CHECKSEQUENCEVERIFY, OP_DROP, KEY, OP_ENDIF, OP_CHECKSIG]))) {
    const delay = m[1] as number;
    if (delay < 0 || delay > 0xffff) return undefined;
    return { kind: 'to_local', revocationPubkey: m[0] as Uint8Array, toSelfDelay: delay, localDelayedPubkey: m[2] as Uint8Array };
  }
  if ((m = match(toks, [KEY, OP_CHECKSIGVERIFY, OP_1, OP_CHECKSEQUENCEVERIFY]))) {
    return { kind: 'to_remote_anchors', remotePubkey: m[0] as Uint8Array };
  }
  if ((m = match(toks, [KEY, OP_CHECKSIG, OP_IFDUP, OP_NOTIF, OP_16, OP_CHECKSEQUENCEVERIFY, OP_ENDIF]))) {
    return { kind: 'anchor', fundingPubkey: m[0] as Uint8Array };
  }
  for (const csv of [0, 1]) {
    const tail: Pattern[] = [...(csv ? CSV_TAIL : []), OP_ENDIF];
    if ((m = match(toks, [...HTLC_HEAD, ...OFFERED_BODY, ...tail])) && m[2] === 32) {
      return {
        kind: 'offered_htlc',
        revocationPubkeyHash: m[0] as Uint8Array,
        remoteHtlcPubkey: m[1] as Uint8Array,
        localHtlcPubkey: m[3] as Uint8Array,
        paymentHashRipemd160: m[4] as Uint8Array,
        csv,
      };
    }
    if ((m = match(toks, [...HTLC_HEAD, ...RECEIVED_BODY, ...tail])) && m[2] === 32) {
      const cltv = m[5] as number;
      if (cltv < 0) return undefined;
      return {
        kind: 'received_htlc',
        revocationPubkeyHash: m[0] as Uint8Array,
        remoteHtlcPubkey: m[1] as Uint8Array,
        paymentHashRipemd160: m[3] as Uint8Array,
        localHtlcPubkey: m[4] as Uint8Array,
        cltvExpiry: cltv,
        csv,
      };
    }
  }
  return undefined;
}
