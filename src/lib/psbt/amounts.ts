/**
 * Amounts no valid transaction can carry (consensus: each output and their sum at most
 * MAX_MONEY, 21 million BTC; the same bounds the coins being spent), which `parsePsbt` refuses
 * in a PSBT btc-signer accepts — so that every amount and fee we print is a real satoshi value,
 * well inside JSON's exact integers. Without btc-signer: `psbt decode`'s shortcut applies the
 * same rule to a PSBT it reads alone (src/fast-decode/plain.ts).
 */
import type { Transaction } from '@scure/btc-signer';
import { MAX_MONEY } from '../constants.ts';
import type { Problem } from './diagnose.ts';
import { inputView, outputView } from './views.ts';

const tooMuch = (amount: bigint) => amount > MAX_MONEY;

/** The first impossible amount of a parsed PSBT (a Transaction, or ./plain.ts's reading), said as parse.ts refuses it; undefined if none. */
export function amountProblem(tx: Pick<Transaction, 'inputsLength' | 'outputsLength'>): Problem | undefined {
  let totalOut = 0n;
  for (let o = 0; o < tx.outputsLength; o++) {
    const amount = outputView(tx, o).amount ?? 0n;
    if (tooMuch(amount)) return { message: `output ${o} pays ${amount} sat, more than 21 million BTC`, detail: { map: `output ${o}` } };
    totalOut += amount;
  }
  if (tooMuch(totalOut)) return { message: `the outputs together pay ${totalOut} sat, more than 21 million BTC`, detail: {} };
  let totalIn = 0n;
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = inputView(tx, i);
    const label = `input ${i}`;
    for (const [n, out] of (input.nonWitnessUtxo?.outputs ?? []).entries()) {
      if (tooMuch(out.amount)) return { message: `${label}: output ${n} of PSBT_IN_NON_WITNESS_UTXO holds ${out.amount} sat, more than 21 million BTC`, detail: { map: label } };
    }
    const spent = input.nonWitnessUtxo && input.index !== undefined ? input.nonWitnessUtxo.outputs[input.index] : input.witnessUtxo;
    if (spent && tooMuch(spent.amount)) return { message: `${label}: PSBT_IN_WITNESS_UTXO holds ${spent.amount} sat, more than 21 million BTC`, detail: { map: label } };
    totalIn += spent?.amount ?? 0n;
  }
  if (tooMuch(totalIn)) return { message: `the inputs together claim ${totalIn} sat, more than 21 million BTC`, detail: {} };
  return undefined;
}
