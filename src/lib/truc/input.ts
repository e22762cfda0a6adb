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
import { RawTx, type Transaction } from '@scure/btc-signer';
import { standardScriptType } from '../tx/policy.ts';

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
  const raw = finalizedRaw(tx, what);
  const prevouts: Prevout[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const utxo = input.witnessUtxo ?? input.nonWitnessUtxo?.outputs[input.index!];
    if (utxo?.amount !== undefined && utxo.script) prevouts.push({ txid: toHex(input.txid!), vout: input.index!, amount: utxo.amount, script: utxo.script });
  }
  return { raw, prevouts, from: 'psbt' };
}

/**
 * The network transaction of a finalized PSBT. An input spending a pay-to-anchor output
 * is final with an empty witness and no scriptSig — and BIP-174 cannot say "empty": Core's
 * walletprocesspsbt answers `complete: true` leaving such an input with its witness_utxo
 * alone. So a P2A input without final fields is taken as final and empty; every other
 * input needs its final scriptSig or witness (E_TRUC_NOT_FINAL).
 */
export function finalizedRaw(tx: Transaction, what: string): Uint8Array {
  const inputs: { txid: Uint8Array; index: number; finalScriptSig: Uint8Array; sequence: number }[] = [];
  const witnesses: Uint8Array[][] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const utxo = input.witnessUtxo ?? input.nonWitnessUtxo?.outputs[input.index!];
    const anchor = utxo?.script !== undefined && standardScriptType(utxo.script) === 'p2a';
    if (!input.finalScriptSig && !input.finalScriptWitness && !anchor) {
      throw new UsageError('E_TRUC_NOT_FINAL', `${what} is a PSBT whose input ${i} is not finalized: sign it (bitcoin-cli walletprocesspsbt, complete: true) first`);
    }
    inputs.push({ txid: input.txid!, index: input.index!, finalScriptSig: input.finalScriptSig ?? new Uint8Array(), sequence: input.sequence ?? 0xffff_ffff });
    witnesses.push(input.finalScriptWitness ?? []);
  }
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => ({ amount: tx.getOutput(i).amount!, script: tx.getOutput(i).script! }));
  const segwitFlag = witnesses.some((w) => w.length > 0);
  return RawTx.encode({ version: tx.version, segwitFlag, inputs, outputs, witnesses: segwitFlag ? witnesses : [], lockTime: tx.lockTime });
}

/**
 * A transaction given as one of our messages or a wallet's answer: `bitcoin-cli
 * walletprocesspsbt`'s JSON (its "psbt", whose witness_utxo carry the prevouts), a
 * `package/child` message (its parent), exit-credit's exit (its "state_tx"), a
 * `statechain/spend` (the backup or withdrawal) — or raw hex / a PSBT as packageTxFrom reads.
 */
export async function packageTxFromDocument(bytes: Uint8Array, what: string, role: 'parent' | 'child'): Promise<PackageTx> {
  const text = new TextDecoder().decode(bytes).trim();
  if (!text.startsWith('{')) return packageTxFrom(bytes, what);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new MalformedInputError('E_TRUC_BAD_TX', `${what} is not valid JSON: ${(e as Error).message}`);
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const field = (o: unknown, k: string) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined);
  let found: string | undefined;
  if (doc.type === 'package/child') found = role === 'parent' ? str(field(doc.parent, 'hex')) : str(doc.psbt);
  else if (str(doc.psbt) !== undefined) found = str(doc.psbt); // walletprocesspsbt's answer
  else if (field(doc, 'state_tx') !== undefined) found = role === 'parent' ? str(field(doc.state_tx, 'hex')) : str(field(doc.child, 'hex'));
  else if (doc.type === 'statechain/spend') found = role === 'parent' ? str(doc.hex) : str(doc.child_hex);
  else found = str(doc.hex);
  if (found === undefined) throw new MalformedInputError('E_TRUC_BAD_TX', `${what} is a JSON document carrying no ${role} transaction (expected walletprocesspsbt's "psbt", a package/child, exit-credit's state_tx, a statechain/spend, or a "hex")`);
  const tx = await packageTxFrom(new TextEncoder().encode(found), what);
  // A package/child carries the parent's inputs as they were taken (a claim: with a node, vouched for again).
  const carried = doc.type === 'package/child' && role === 'parent' ? field(doc.parent, 'prevouts') : undefined;
  if (carried !== undefined) {
    if (!Array.isArray(carried) || carried.some((p) => typeof p !== 'string')) throw new MalformedInputError('E_TRUC_BAD_TX', `${what}: parent.prevouts is not a list of TXID:VOUT:AMOUNT:SCRIPT`);
    for (const p of carried as string[]) {
      try {
        tx.prevouts.push(parsePrevout(p));
      } catch {
        throw new MalformedInputError('E_TRUC_BAD_TX', `${what}: parent.prevouts holds "${p.slice(0, 80)}", not TXID:VOUT:AMOUNT:SCRIPT`);
      }
    }
  }
  return tx;
}

/** `TXID:VOUT:AMOUNT:SCRIPT` (amount in sat, script hex). */
export function parsePrevout(text: string): Prevout {
  const m = /^([0-9a-f]{64}):(\d{1,10}):(\d{1,16}):((?:[0-9a-f]{2})+)$/.exec(text.trim().toLowerCase());
  if (!m || Number(m[2]) > 0xffff_ffff || BigInt(m[3]!) > 2_100_000_000_000_000n) {
    throw new UsageError('E_USAGE', `--prevout takes TXID:VOUT:AMOUNT:SCRIPT (amount in sat, the output script in hex), got "${text}"`);
  }
  return { txid: m[1]!, vout: Number(m[2]), amount: BigInt(m[3]!), script: hex.decode(m[4]!) };
}
