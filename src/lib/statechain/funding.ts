/**
 * The deposit's funding transaction as its owner gives it (./deposit.ts, step 3): the one
 * output paying the coin, and the check that signing it cannot change its txid — every
 * input native segwit, from a wallet PSBT's witness_utxo or a raw transaction's inputs
 * looked up on a node (owner.ts, invariants). Pure: the caller reads the PSBT or asks the node.
 * Not here: building or signing the funding (the owner's wallet does), backup 1 (./deposit.ts).
 */
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { parseTransaction, type OutPoint } from './coin.ts';

/** The deposit output in an (unsigned) funding transaction: exactly one output paying the coin. */
export function findDeposit(fundingHex: string, script: Uint8Array): { outpoint: OutPoint; amountSat: bigint; unsignedHex: string } {
  const tx = parseTransaction(fundingHex, 'the funding transaction');
  const hits: number[] = [];
  for (let i = 0; i < tx.outputsLength; i++) if (equalBytes(tx.getOutput(i).script ?? new Uint8Array(), script)) hits.push(i);
  if (hits.length === 0) throw new RefusedError('E_DEPOSIT_MISMATCH', 'the funding transaction pays nothing to the coin\'s address');
  if (hits.length > 1) throw new RefusedError('E_SECOND_DEPOSIT', `the funding transaction pays the coin's address ${hits.length} times: one coin is one output`);
  return { outpoint: { txid: tx.id, vout: hits[0]! }, amountSat: tx.getOutput(hits[0]!).amount!, unsignedHex: toHex(tx.unsignedTx) };
}

/** A witness program (native segwit, any version): its spend's signature is in the witness only. */
function isWitnessProgram(script: Uint8Array): boolean {
  const version = script[0];
  return script.length >= 4 && script.length <= 42 && (version === 0x00 || (version! >= 0x51 && version! <= 0x60)) && script[1] === script.length - 2;
}

/** Refuse a funding input whose spent output is not native segwit (or unknown): signing it would change the txid. */
function requireWitnessInput(i: number, script: Uint8Array | undefined, how: string): void {
  if (script === undefined || !isWitnessProgram(script)) {
    throw new RefusedError('E_FUNDING_MALLEABLE', `funding input ${i} does not spend a native segwit output (${how}): signing it would change the txid backup 1 is signed for`);
  }
}

/**
 * The funding from a wallet's PSBT (walletcreatefundedpsbt): every input must spend a
 * native segwit output, or signing it would change the txid backup 1 spends
 * (E_FUNDING_MALLEABLE) — a P2SH-wrapped or legacy input's scriptSig is in the txid.
 */
export function fundingFromPsbt(tx: Transaction): string {
  for (let i = 0; i < tx.inputsLength; i++) requireWitnessInput(i, tx.getInput(i).witnessUtxo?.script, 'or its witness_utxo is missing');
  return toHex(tx.unsignedTx);
}

/**
 * The funding as a raw unsigned transaction, checked like a PSBT: `spent` is each input's
 * output as the node knows it (gettxout), in input order. Offline there is nothing to
 * check a raw transaction's inputs against, so it is refused (E_FUNDING_UNCHECKED) with
 * the two ways to give it.
 */
export function fundingFromRaw(hex: string, spent: ({ scriptPubKey: Uint8Array } | null)[] | undefined): string {
  const tx = parseTransaction(hex, 'the funding transaction');
  if (spent === undefined) {
    throw new RefusedError('E_FUNDING_UNCHECKED', 'a raw funding transaction cannot be checked offline (are its inputs segwit? signing a non-segwit one changes its txid): give the wallet\'s PSBT (walletcreatefundedpsbt) as --funding, or pass --rpc-url so each input is looked up');
  }
  if (spent.length !== tx.inputsLength) throw new RefusedError('E_FUNDING_UNCHECKED', `${spent.length} of the funding's ${tx.inputsLength} inputs were looked up`);
  for (let i = 0; i < tx.inputsLength; i++) requireWitnessInput(i, spent[i]?.scriptPubKey, spent[i] === null ? 'the node knows no unspent output there' : 'looked up on the node');
  return toHex(tx.unsignedTx);
}

/** The funding's inputs as (txid, vout), in order: what to look up for fundingFromRaw. */
export function fundingInputs(hex: string): { txid: string; vout: number }[] {
  const tx = parseTransaction(hex, 'the funding transaction');
  return Array.from({ length: tx.inputsLength }, (_, i) => ({ txid: toHex(tx.getInput(i).txid!), vout: tx.getInput(i).index! }));
}
