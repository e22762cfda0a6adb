/**
 * The bytes of a base64 PSBT carried in a message field. Bad base64 (wrong alphabet or
 * length) is malformed input like any other bad PSBT: E_MALFORMED_PSBT, exit 3. Kept
 * apart from parse.ts so the CLI layer can use it without loading btc-signer.
 */
import { base64 } from '@scure/base';
import { MalformedInputError } from '../errors.ts';

/**
 * Canonical base64 (what @scure/base's strict `base64.decode` accepts: RFC 4648, padded, zero
 * pad bits) is exactly what Node's encoder writes, so a string that Node decodes and encodes
 * back to itself is canonical — and Node's bytes are the ones @scure/base would give. That is
 * ~20 times faster than the JS radix conversion on a credit update's PSBT; the bytes are decoded
 * straight into a Uint8Array of their own (no Buffer pool, no copy). Anything else goes to
 * @scure/base, which refuses it in its words.
 */
export function psbtBytesFromBase64(b64: string, field: string): Uint8Array {
  if (typeof b64 === 'string' && b64.length % 4 === 0) {
    const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    const out = new Uint8Array((b64.length / 4) * 3 - pad);
    const view = Buffer.from(out.buffer, 0, out.length);
    if (view.write(b64, 'base64') === out.length && view.toString('base64') === b64) return out;
  }
  try {
    return base64.decode(b64);
  } catch (e) {
    throw new MalformedInputError('E_MALFORMED_PSBT', `${field} is not valid base64: ${(e as Error).message}`);
  }
}
