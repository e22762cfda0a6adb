/**
 * Bitcoin Core's relay policy, as far as our transactions need it: which output
 * scripts are standard, their dust thresholds (GetDustThreshold at the default
 * -dustrelayfee of 3 sat/vB), and virtual sizes for fee estimates.
 *
 * Sizes are exact for the shapes we build (taproot key-path inputs with a 64-byte
 * SIGHASH_DEFAULT signature) and an upper bound otherwise.
 */
/** Core's default -incrementalrelayfee, sat/kvB (0.1 sat/vB since v29): what a replacement pays on top, per vB of its own. */
export const INCREMENTAL_RELAY_FEE_RATE = 100;

export type StandardScriptType = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr' | 'p2a' | 'op_return';

export function standardScriptType(script: Uint8Array): StandardScriptType | undefined {
  const n = script.length;
  if (n === 25 && script[0] === 0x76 && script[1] === 0xa9 && script[2] === 0x14 && script[23] === 0x88 && script[24] === 0xac) return 'p2pkh';
  if (n === 23 && script[0] === 0xa9 && script[1] === 0x14 && script[22] === 0x87) return 'p2sh';
  if (n === 22 && script[0] === 0x00 && script[1] === 0x14) return 'p2wpkh';
  if (n === 34 && script[0] === 0x00 && script[1] === 0x20) return 'p2wsh';
  if (n === 34 && script[0] === 0x51 && script[1] === 0x20) return 'p2tr';
  if (n === 4 && script[0] === 0x51 && script[1] === 0x02 && script[2] === 0x4e && script[3] === 0x73) return 'p2a';
  if (n >= 1 && n <= 83 && script[0] === 0x6a) return 'op_return';
  return undefined;
}

/** A witness program (version, program) as Core's IsWitnessProgram reads one. */
export function witnessProgram(script: Uint8Array): { version: number; program: Uint8Array } | undefined {
  if (script.length < 4 || script.length > 42) return undefined;
  const v = script[0]!;
  if (v !== 0 && (v < 0x51 || v > 0x60)) return undefined; // OP_0, or OP_1 … OP_16
  if (script[1]! + 2 !== script.length) return undefined;
  return { version: v === 0 ? 0 : v - 0x50, program: script.subarray(2) };
}

/**
 * Core's GetDustThreshold at `dustRelayFeeRate` sat/kvB (-dustrelayfee, default 3,000): the
 * output's serialized size plus what spending it costs (67 vB for a witness program, 148
 * otherwise), at that rate, rounded UP as CFeeRate::GetFee rounds (EvaluateFeeUp: at 1.111
 * sat/vB a P2WSH is dust below 123 sat, not 122). Provably unspendable outputs (OP_RETURN, or longer
 * than 10,000 bytes) are never dust. At the default: P2PKH 546, P2WPKH 294, P2WSH/P2TR 330,
 * P2A 240 sat.
 */
export function dustThreshold(script: Uint8Array, dustRelayFeeRate = 3000): bigint {
  if ((script.length > 0 && script[0] === 0x6a) || script.length > 10_000) return 0n;
  const spend = witnessProgram(script) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  const size = 8 + compactSizeLength(script.length) + script.length + spend;
  return BigInt(Math.ceil((size * dustRelayFeeRate) / 1000));
}

export function compactSizeLength(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

/** vbytes of one output paying `script`. */
export function outputVsize(script: Uint8Array): number {
  return 8 + compactSizeLength(script.length) + script.length;
}

/** A taproot key-path input with a 64-byte signature: 41 bytes + (1 + 1 + 64) / 4 witness. */
export const TAPROOT_KEYPATH_INPUT_VBYTES = 41 + 66 / 4;

/** Version, locktime, counts, and the segwit marker and flag (¼ vB each). */
export function txOverheadVsize(inputs: number, outputs: number): number {
  return 8 + compactSizeLength(inputs) + compactSizeLength(outputs) + 0.5;
}

/**
 * vbytes of an input spending `script`: taproot key path (64-byte signature) 57.5,
 * P2WPKH (72-byte signature, 33-byte key) 68. Other types cannot be estimated without
 * their witness script; callers refuse them where a fee must be checked.
 */
export function inputVsize(script: Uint8Array): number | undefined {
  const type = standardScriptType(script);
  if (type === 'p2tr') return TAPROOT_KEYPATH_INPUT_VBYTES;
  if (type === 'p2wpkh') return 41 + (1 + 1 + 72 + 1 + 33) / 4;
  return undefined;
}

/** vsize of a tx spending `keyPathInputs` taproot key-path inputs into `outputs`. */
export function keyPathTxVsize(keyPathInputs: number, outputs: readonly Uint8Array[]): number {
  const v = txOverheadVsize(keyPathInputs, outputs.length) + keyPathInputs * TAPROOT_KEYPATH_INPUT_VBYTES + outputs.reduce((a, s) => a + outputVsize(s), 0);
  return Math.ceil(v);
}

/** Fee for `vsize` at `feeRate` sat/vB, rounded up (never under the rate). */
export function feeFor(vsize: number, feeRate: number): bigint {
  return BigInt(Math.ceil(vsize * feeRate));
}

/**
 * A fee rate a contract can carry: a number of sat/vB with at most three decimals, so
 * its value in milli-sat/vB is an exact integer and the id commits to it exactly.
 */
export function isMilliSatPrecise(feeRate: number): boolean {
  return Number.isFinite(feeRate) && Math.round(feeRate * 1000) / 1000 === feeRate;
}
