/**
 * Transactions built by hand in test code for the TRUC checker's tests: the network
 * serialization written here (BIP-144), outputs and inputs chosen so no signature is
 * needed — coins locked to P2WSH(OP_TRUE) (spent with the witness script alone), and
 * pay-to-anchor outputs (spent with an empty witness). Sizes and ids come from
 * test/independent/tx.ts's reader, never from the product.
 */
import { createHash } from 'node:crypto';
import { compactSize, concat, hexOf, parseTx, serializeOutput, u32le, type ParsedTx, type TxOutput } from '../../independent/tx.ts';

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

/** `OP_TRUE`: the witness script of our anyone-can-spend test coins. */
export const OP_TRUE_SCRIPT = Uint8Array.of(0x51);
/** P2WSH(OP_TRUE): `OP_0 <sha256(OP_TRUE)>`. */
export const ANYONE = concat(Uint8Array.of(0x00, 0x20), sha256(OP_TRUE_SCRIPT));
/** BIP-433 pay-to-anchor: `OP_1 <0x4e73>`. */
export const P2A = Uint8Array.of(0x51, 0x02, 0x4e, 0x73);
/** A P2WSH output paying `witnessScript`. */
export const p2wshOf = (witnessScript: Uint8Array) => concat(Uint8Array.of(0x00, 0x20), sha256(witnessScript));

export type BuildInput = { txid: string; vout: number; witness: Uint8Array[]; scriptSig?: Uint8Array; sequence?: number };
export type Built = { hex: string; raw: Uint8Array; parsed: ParsedTx };

export function buildTx(version: number, inputs: BuildInput[], outputs: TxOutput[], lockTime = 0): Built {
  const segwit = inputs.some((i) => i.witness.length > 0);
  const parts: Uint8Array[] = [u32le(version)];
  if (segwit) parts.push(Uint8Array.of(0x00, 0x01));
  parts.push(compactSize(inputs.length));
  for (const i of inputs) {
    const scriptSig = i.scriptSig ?? new Uint8Array();
    parts.push(Buffer.from(i.txid, 'hex').reverse(), u32le(i.vout), compactSize(scriptSig.length), scriptSig, u32le(i.sequence ?? 0xfffffffd));
  }
  parts.push(compactSize(outputs.length), ...outputs.map(serializeOutput));
  if (segwit) for (const i of inputs) parts.push(compactSize(i.witness.length), ...i.witness.flatMap((w) => [compactSize(w.length), w]));
  parts.push(u32le(lockTime));
  const raw = concat(...parts);
  return { hex: hexOf(raw), raw, parsed: parseTx(raw) };
}

/** Spend an anyone-can-spend coin (witness: the OP_TRUE script). */
export const spendAnyone = (txid: string, vout: number, witnessScript: Uint8Array = OP_TRUE_SCRIPT): BuildInput => ({ txid, vout, witness: [witnessScript] });
/** Spend a P2A output with an empty witness (or `witness`, to break the rule). */
export const spendAnchor = (txid: string, vout: number, witness: Uint8Array[] = []): BuildInput => ({ txid, vout, witness });

/** An OP_RETURN of `n` data bytes (never dust): the padding that sets a transaction's size byte by byte. */
export const opReturn = (n: number) => ({ amount: 0n, script: concat(n < 0x4c ? Uint8Array.of(0x6a, n) : n <= 0xff ? Uint8Array.of(0x6a, 0x4c, n) : Uint8Array.of(0x6a, 0x4d, n & 0xff, n >> 8), new Uint8Array(n)) });

/** The smallest OP_RETURN padding that brings `build(pad)` to exactly `vsize` (independent reader), or throws. */
export function padTo(vsize: number, build: (pad: number) => Built): Built {
  for (let pad = 0; pad < 20_000; pad++) {
    const b = build(pad);
    if (b.parsed.vsize === vsize) return b;
    if (b.parsed.vsize > vsize) break;
  }
  throw new Error(`no padding reaches ${vsize} vB`);
}

/** A witness script holding `n` sigops for Core's accurate count, never executed: OP_0 OP_IF … OP_ENDIF OP_1. */
export const sigopScript = (n: number): Uint8Array => {
  const body: number[] = [];
  for (let i = 0; i < Math.floor(n / 16); i++) body.push(0x60, 0xae); // OP_16 OP_CHECKMULTISIG: 16
  for (let i = 0; i < n % 16; i++) body.push(0xac); // OP_CHECKSIG: 1
  return Uint8Array.from([0x00, 0x63, ...body, 0x68, 0x51]);
};
