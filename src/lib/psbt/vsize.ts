/**
 * Size estimate of the finished transaction `psbt analyze` reports (BIP-141 weight;
 * vsize = ceil(weight / 4)). It assumes 72-byte ECDSA and 64-byte Schnorr signatures
 * (65 with a non-default sighash), as Core does; undefined when an input's script is
 * one it cannot size.
 */
import { TAPROOT_UNSPENDABLE_KEY } from '@scure/btc-signer';
import type { Transaction } from '@scure/btc-signer';
import { equalBytes } from '../bytes.ts';
import { prevoutOf } from './decode.ts';
import { decodeScript } from './script-shape.ts';

type InputSize = { scriptSig: number; witness: number[] };

export function estimateVsize(tx: Transaction): number | undefined {
  const sizes: InputSize[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const size = estimateInput(tx, i);
    if (!size) return undefined;
    sizes.push(size);
  }
  let base = 4 + 4 + compactLen(tx.inputsLength) + compactLen(tx.outputsLength);
  for (let o = 0; o < tx.outputsLength; o++) base += 8 + varLen(tx.getOutput(o).script?.length ?? 0);
  for (const s of sizes) base += 32 + 4 + 4 + varLen(s.scriptSig);
  let witness = 0;
  if (sizes.some((s) => s.witness.length)) {
    witness = 2; // marker and flag
    for (const s of sizes) witness += compactLen(s.witness.length) + s.witness.reduce((n, item) => n + varLen(item), 0);
  }
  return Math.ceil((base * 4 + witness) / 4);
}

const ECDSA_SIG = 72; // DER signature with sighash byte, low-R (Core's estimate)
const PUBKEY = 33;

function estimateInput(tx: Transaction, index: number): InputSize | undefined {
  const input = tx.getInput(index);
  if (input.finalScriptSig?.length || input.finalScriptWitness?.length) {
    return { scriptSig: input.finalScriptSig?.length ?? 0, witness: (input.finalScriptWitness ?? []).map((w) => w.length) };
  }
  const prevout = prevoutOf(tx, index);
  if (!prevout) return undefined;
  const outer = decodeScript(prevout.script);
  if (outer.type === 'tr') {
    const schnorr = input.sighashType ? 65 : 64;
    const internal = input.tapInternalKey;
    if (input.tapKeySig || !input.tapLeafScript?.length || (internal && !equalBytes(internal, TAPROOT_UNSPENDABLE_KEY))) {
      return { scriptSig: 0, witness: [input.tapKeySig?.length ?? schnorr] };
    }
    let best: number[] | undefined;
    for (const [cb, s] of input.tapLeafScript) {
      const leaf = decodeScript(s.subarray(0, -1));
      if (leaf.type !== 'tr_ns' && leaf.type !== 'tr_ms') continue;
      const sigs = leaf.type === 'tr_ns' ? leaf.pubkeys.map(() => schnorr) : leaf.pubkeys.map((_, i) => (i < leaf.m ? schnorr : 0));
      const witness = [...sigs, s.length - 1, 33 + 32 * cb.merklePath.length];
      if (!best || sum(witness) < sum(best)) best = witness;
    }
    return best && { scriptSig: 0, witness: best };
  }
  let last = outer;
  let scriptSigPrefix = 0;
  if (outer.type === 'sh') {
    if (!input.redeemScript) return undefined;
    last = decodeScript(input.redeemScript);
    if (last.type === 'sh') return undefined;
    scriptSigPrefix = pushLen(input.redeemScript.length);
  }
  let witnessScript: Uint8Array | undefined;
  if (last.type === 'wsh') {
    if (!input.witnessScript) return undefined;
    witnessScript = input.witnessScript;
    last = decodeScript(witnessScript);
  }
  let items: number[];
  if (last.type === 'ms') items = [0, ...Array.from({ length: last.m }, () => ECDSA_SIG)];
  else if (last.type === 'pkh' || last.type === 'wpkh') items = [ECDSA_SIG, PUBKEY];
  else if (last.type === 'pk') items = [ECDSA_SIG];
  else return undefined;
  if (witnessScript) return { scriptSig: scriptSigPrefix, witness: [...items, witnessScript.length] };
  if (last.type === 'wpkh') return { scriptSig: scriptSigPrefix, witness: items };
  return { scriptSig: scriptSigPrefix + items.reduce((n, item) => n + (item === 0 ? 1 : pushLen(item)), 0), witness: [] };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function compactLen(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

function varLen(n: number): number {
  return compactLen(n) + n;
}

/** Bytes of a minimal data push of `n` bytes inside a script. */
function pushLen(n: number): number {
  return (n < 0x4c ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5) + n;
}
