/**
 * One transaction of a package as a caller gives it: raw transaction hex, or a PSBT
 * (binary, base64 or hex) whose every input is finalized — then each input's
 * witness_utxo (or non_witness_utxo) is the prevout the checker needs, so no --prevout
 * is asked for. `--prevout TXID:VOUT:AMOUNT:SCRIPT` gives a raw transaction's inputs.
 * Pure: bytes in, a raw transaction and prevouts out.
 */
import { hex } from '@scure/base';
import { MalformedInputError, UsageError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import { PSBT_MAGIC } from '../constants.ts';
import type { Prevout } from './check.ts';

export type PackageTx = { raw: Uint8Array; prevouts: Prevout[]; from: 'hex' | 'psbt' };

const HEX = /^([0-9a-fA-F]{2})+$/;
const PSBT_HEX = /^70736274ff/i;

/** Bytes of a file or a flag's inline text: raw transaction hex, or a PSBT in any encoding. */
export async function packageTxFrom(bytes: Uint8Array, what: string): Promise<PackageTx> {
  const isBinaryPsbt = bytes.length >= PSBT_MAGIC.length && PSBT_MAGIC.every((b, i) => bytes[i] === b);
  const text = isBinaryPsbt ? '' : new TextDecoder().decode(bytes).trim();
  if (!isBinaryPsbt && HEX.test(text) && !PSBT_HEX.test(text)) return { raw: hex.decode(text.toLowerCase()), prevouts: [], from: 'hex' };
  const { parsePsbt } = await import('../psbt/parse.ts');
  const { psbtBytesFromBase64 } = await import('../psbt/base64-field.ts');
  let psbt: Uint8Array;
  if (isBinaryPsbt) psbt = bytes;
  else if (PSBT_HEX.test(text) && HEX.test(text)) psbt = hex.decode(text.toLowerCase());
  else if (text.startsWith('cHNidP8')) psbt = psbtBytesFromBase64(text, what);
  else throw new MalformedInputError('E_TRUC_BAD_TX', `${what} is neither a raw transaction in hex nor a PSBT`);
  const tx = parsePsbt(psbt);
  let raw: Uint8Array;
  try {
    raw = tx.extract();
  } catch (e) {
    throw new UsageError('E_TRUC_NOT_FINAL', `${what} is a PSBT that is not finalized (${(e as Error).message}): sign it (walletprocesspsbt) first`);
  }
  const prevouts: Prevout[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const utxo = input.witnessUtxo ?? input.nonWitnessUtxo?.outputs[input.index!];
    if (utxo?.amount !== undefined && utxo.script) prevouts.push({ txid: toHex(input.txid!), vout: input.index!, amount: utxo.amount, script: utxo.script });
  }
  return { raw, prevouts, from: 'psbt' };
}

/** `TXID:VOUT:AMOUNT:SCRIPT` (amount in sat, script hex). */
export function parsePrevout(text: string): Prevout {
  const m = /^([0-9a-f]{64}):(\d{1,10}):(\d{1,16}):((?:[0-9a-f]{2})+)$/.exec(text.trim().toLowerCase());
  if (!m || Number(m[2]) > 0xffff_ffff || BigInt(m[3]!) > 2_100_000_000_000_000n) {
    throw new UsageError('E_USAGE', `--prevout takes TXID:VOUT:AMOUNT:SCRIPT (amount in sat, the output script in hex), got "${text}"`);
  }
  return { txid: m[1]!, vout: Number(m[2]), amount: BigInt(m[3]!), script: hex.decode(m[4]!) };
}
