/**
 * What Bitcoin Core's package policy measures on one transaction, computed from its raw
 * bytes: txid/wtxid, weight, the signature-operation cost (GetTransactionSigOpCost) and
 * the sigop-adjusted virtual size Core's TRUC limits and feerates use
 * (GetVirtualTransactionSize: max(weight, sigop cost × 20) / 4, rounded up), and the
 * dust threshold of an output (GetDustThreshold).
 *
 * Sigop cost is exact for every standard input type — P2PKH, P2SH (its redeem script
 * counted accurately), P2WPKH (1), P2WSH and P2SH-P2WSH (the witness script counted
 * accurately), P2SH-P2WPKH, P2TR and P2A (0) — given each input's previous output
 * script; legacy sigops of scriptSigs and output scripts are counted as Core counts them
 * (inaccurately: a bare CHECKMULTISIG is 20). Non-standard scripts are counted the same
 * way Core would, but their transactions are not standard anyway.
 *
 * Deliberately not here: script validity, standardness of output types, anything the
 * chain must tell (whether an input is confirmed).
 */
import { RawTx } from '@scure/btc-signer';
import { hash256 } from '../hash.ts';
import { dustThreshold, standardScriptType, witnessProgram } from '../tx/policy.ts';
import { MalformedInputError } from '../errors.ts';
import { toHex } from '../bytes.ts';

export type RawTransaction = ReturnType<typeof RawTx.decode>;

/** One transaction and what Core's policy measures on it. */
export type MeasuredTx = {
  tx: RawTransaction;
  txid: string;
  wtxid: string;
  weight: number;
  /** Bytes without witnesses (Core's tx-size-small measures this). */
  baseSize: number;
  /** BIP-141 virtual size, weight / 4 rounded up. */
  vsize: number;
};

/** Core's DEFAULT_BYTES_PER_SIGOP: one sigop costs as much block space as 20 bytes of weight. */
export const BYTES_PER_SIGOP = 20;
/** Core's WITNESS_SCALE_FACTOR. */
const WITNESS_SCALE = 4;

function hash256Display(bytes: Uint8Array): string {
  return toHex(hash256(bytes).reverse());
}

/** Parse raw transaction bytes (with or without witnesses); refuses trailing bytes. */
export function measureTx(raw: Uint8Array, what: string): MeasuredTx {
  let tx: RawTransaction;
  try {
    tx = RawTx.decode(raw);
  } catch (e) {
    throw new MalformedInputError('E_TRUC_BAD_TX', `${what} is not a raw transaction: ${(e as Error).message}`);
  }
  if (tx.inputs.length === 0 || tx.outputs.length === 0) throw new MalformedInputError('E_TRUC_BAD_TX', `${what} has no ${tx.inputs.length === 0 ? 'inputs' : 'outputs'}`);
  const stripped = RawTx.encode({ ...tx, segwitFlag: false, witnesses: [] });
  const full = tx.segwitFlag ? RawTx.encode(tx) : stripped;
  const weight = stripped.length * (WITNESS_SCALE - 1) + full.length;
  return { tx, txid: hash256Display(stripped), wtxid: hash256Display(full), weight, baseSize: stripped.length, vsize: Math.ceil(weight / WITNESS_SCALE) };
}

/** Core's GetVirtualTransactionSize(weight, sigop_cost, bytes_per_sigop). */
export function sigopAdjustedVsize(weight: number, sigopCost: number): number {
  return Math.ceil(Math.max(weight, sigopCost * BYTES_PER_SIGOP) / WITNESS_SCALE);
}

const OP_CHECKSIG = 0xac, OP_CHECKSIGVERIFY = 0xad, OP_CHECKMULTISIG = 0xae, OP_CHECKMULTISIGVERIFY = 0xaf;
const OP_PUSHDATA1 = 0x4c, OP_PUSHDATA2 = 0x4d, OP_PUSHDATA4 = 0x4e, OP_1 = 0x51, OP_16 = 0x60;
const MAX_PUBKEYS_PER_MULTISIG = 20;

type ScriptOp = { op: number; data?: Uint8Array };

/** The script's operations, stopping (as Core's GetOp loop does) at a truncated push. */
function scriptOps(script: Uint8Array): ScriptOp[] {
  const ops: ScriptOp[] = [];
  let i = 0;
  while (i < script.length) {
    const op = script[i++]!;
    let len = -1;
    if (op < OP_PUSHDATA1) len = op;
    else if (op === OP_PUSHDATA1) { if (i + 1 > script.length) break; len = script[i]!; i += 1; }
    else if (op === OP_PUSHDATA2) { if (i + 2 > script.length) break; len = script[i]! | (script[i + 1]! << 8); i += 2; }
    else if (op === OP_PUSHDATA4) { if (i + 4 > script.length) break; len = (script[i]! | (script[i + 1]! << 8) | (script[i + 2]! << 16)) + script[i + 3]! * 2 ** 24; i += 4; }
    if (len >= 0) {
      if (i + len > script.length) break;
      ops.push({ op, data: script.subarray(i, i + len) });
      i += len;
    } else ops.push({ op });
  }
  return ops;
}

/** CScript::GetSigOpCount(fAccurate). */
export function scriptSigOps(script: Uint8Array, accurate: boolean): number {
  let n = 0;
  let last = 0xff;
  for (const { op } of scriptOps(script)) {
    if (op === OP_CHECKSIG || op === OP_CHECKSIGVERIFY) n += 1;
    else if (op === OP_CHECKMULTISIG || op === OP_CHECKMULTISIGVERIFY) n += accurate && last >= OP_1 && last <= OP_16 ? last - OP_1 + 1 : MAX_PUBKEYS_PER_MULTISIG;
    last = op;
  }
  return n;
}

const isP2sh = (s: Uint8Array) => standardScriptType(s) === 'p2sh';


/** The last push of a push-only scriptSig (a P2SH redeem script), or undefined. */
function lastPush(scriptSig: Uint8Array): Uint8Array | undefined {
  const ops = scriptOps(scriptSig);
  if (ops.length === 0 || ops.some((o) => o.op > OP_16)) return undefined;
  return ops[ops.length - 1]!.data;
}

/** WitnessSigOps: version 0 only (P2WPKH 1, P2WSH the witness script's accurate count). */
function witnessSigOps(program: { version: number; program: Uint8Array }, witness: Uint8Array[]): number {
  if (program.version !== 0) return 0;
  if (program.program.length === 20) return 1;
  if (program.program.length === 32 && witness.length > 0) return scriptSigOps(witness[witness.length - 1]!, true);
  return 0;
}

/**
 * GetTransactionSigOpCost: legacy sigops (scriptSigs and output scripts, inaccurate) × 4,
 * P2SH sigops (each P2SH input's redeem script, accurate) × 4, and witness sigops.
 * `prevoutScript(i)` is the script of the output input i spends.
 */
export function sigOpCost(tx: RawTransaction, prevoutScript: (i: number) => Uint8Array): number {
  let legacy = 0;
  for (const input of tx.inputs) legacy += scriptSigOps(input.finalScriptSig, false);
  for (const output of tx.outputs) legacy += scriptSigOps(output.script, false);
  let cost = legacy * WITNESS_SCALE;
  tx.inputs.forEach((input, i) => {
    const prev = prevoutScript(i);
    const witness = tx.witnesses?.[i] ?? [];
    let program = witnessProgram(prev);
    if (isP2sh(prev)) {
      const redeem = lastPush(input.finalScriptSig);
      if (redeem) {
        cost += scriptSigOps(redeem, true) * WITNESS_SCALE;
        program = witnessProgram(redeem);
      }
    }
    if (program) cost += witnessSigOps(program, witness);
  });
  return cost;
}


/** The pay-to-anchor output, `OP_1 <0x4e73>` (BIP-433). */
export function isP2a(script: Uint8Array): boolean {
  return standardScriptType(script) === 'p2a';
}

// The one dust rule and witness-program reading are src/lib/tx/policy.ts's.
export { dustThreshold, witnessProgram };
