/**
 * The output and leaf script shapes `psbt analyze` reasons about (key, hash, multisig and
 * taproot n-of-n / m-of-n leaves), read with @scure/btc-signer's OutScript. Anything it
 * does not recognise is `other`; no script is executed or checked here.
 */
import { OutScript } from '@scure/btc-signer';

/** The script shapes the analysis reasons about; everything else is `other`. */
export type ScriptShape =
  | { type: 'tr' | 'pk'; pubkey: Uint8Array }
  | { type: 'sh' | 'wsh' | 'pkh' | 'wpkh'; hash: Uint8Array }
  | { type: 'ms' | 'tr_ms'; m: number; pubkeys: Uint8Array[] }
  | { type: 'tr_ns'; pubkeys: Uint8Array[] }
  | { type: 'other' };

export function decodeScript(script: Uint8Array): ScriptShape {
  let decoded: { type: string; pubkey?: Uint8Array; hash?: Uint8Array; m?: number; pubkeys?: Uint8Array[] };
  try {
    decoded = OutScript.decode(script) as typeof decoded;
  } catch {
    return { type: 'other' };
  }
  const { type, pubkey, hash, m, pubkeys } = decoded;
  if ((type === 'tr' || type === 'pk') && pubkey) return { type, pubkey };
  if ((type === 'sh' || type === 'wsh' || type === 'pkh' || type === 'wpkh') && hash) return { type, hash };
  if ((type === 'ms' || type === 'tr_ms') && pubkeys && m !== undefined) return { type, m, pubkeys };
  if (type === 'tr_ns' && pubkeys) return { type, pubkeys };
  return { type: 'other' };
}
