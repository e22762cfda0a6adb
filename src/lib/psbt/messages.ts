/**
 * Messages of the generic PSBT commands (schemas in schemas.ts). `psbt/updated` is what
 * every PSBT step prints (combine, finalize, the MuSig2 rounds): the PSBT plus where it
 * stands, shaped after Core's `{psbt, complete}` answers so runbooks can branch on
 * `complete` and `next`.
 */
import { base64 } from '@scure/base';
import type { Transaction } from '@scure/btc-signer';
import type { Network } from '../network.ts';
import { analyzePsbt } from './analyze.ts';
import { serializePsbt } from './parse.ts';

export function psbtUpdated(tx: Transaction, network: Network, step: string) {
  const bytes = serializePsbt(tx);
  const analysis = analyzePsbt(tx);
  return {
    message: {
      type: 'psbt/updated',
      version: 1,
      network,
      txid: tx.id,
      step,
      complete: analysis.next === 'extractor',
      next: analysis.next,
      summary: analysis.summary,
      psbt: base64.encode(bytes),
    },
    psbt: bytes,
  };
}
