/**
 * The bytes of a base64 PSBT carried in a message field. Bad base64 (wrong alphabet or
 * length) is malformed input like any other bad PSBT: E_MALFORMED_PSBT, exit 3. Kept
 * apart from parse.ts so the CLI layer can use it without loading btc-signer.
 */
import { base64 } from '@scure/base';
import { MalformedInputError } from '../errors.ts';

export function psbtBytesFromBase64(b64: string, field: string): Uint8Array {
  try {
    return base64.decode(b64);
  } catch (e) {
    throw new MalformedInputError('E_MALFORMED_PSBT', `${field} is not valid base64: ${(e as Error).message}`);
  }
}
