/**
 * One hop's step on an onion (BOLT 4 "Onion Decryption", with route blinding): peel the
 * layer with the node's key — or, inside a blinded path, its blinded key from the path_key
 * that came with the HTLC — decode the payload, and for a blinded hop decrypt its
 * encrypted_recipient_data and say the next path_key. Pure. Not here: reading the packet
 * or the node's key (the `onion peel` command), forwarding.
 */
import { fromHex, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { blindedNodePrivkey, unblindHop } from './blinding.ts';
import { payloadToJson } from './json.ts';
import { decodeHopPayload } from './payload.ts';
import { decodeRecipientData } from './recipient-data.ts';
import { peelOnion } from './sphinx.ts';

/**
 * The onion/peeled fields for this hop. `given`: --path-key, the path_key that came with
 * the HTLC (a hop after a blinded path's introduction node).
 */
export function peelHop<P>(ec: Secp256k1Backend<P>, nodeSecret: Uint8Array, packetHex: string, adHex: string, given: Uint8Array | undefined): Record<string, unknown> {
  // A blinded hop after the introduction node peels with its blinded key.
  let peelKey = nodeSecret;
  if (given) peelKey = blindedNodePrivkey(ec, nodeSecret, given);
  let peeled;
  try {
    peeled = peelOnion(ec, peelKey, fromHex(packetHex, 'packet'), fromHex(adHex, 'associated_data', 32));
  } catch (e) {
    // A hop inside a blinded path cannot tell from the packet that it is blinded: say how it would peel.
    if (given || !(e instanceof RefusedError) || e.code !== 'E_ONION_HMAC') throw e;
    throw new RefusedError(e.code, `${e.message}; a hop inside a blinded path peels with --path-key`);
  }
  const payload = decodeHopPayload(peeled.payload);
  const blinded: Record<string, unknown> = {};
  if (given && payload.current_path_key) {
    throw new RefusedError('E_ONION_PATH_KEY_UNEXPECTED', 'the payload carries current_path_key and --path-key was given too: BOLT 4 fails such an HTLC');
  }
  if (payload.encrypted_recipient_data) {
    const pathKey = payload.current_path_key ?? given;
    if (!pathKey) throw new UsageError('E_ONION_PATH_KEY_MISSING', 'this hop is in a blinded path: give --path-key, the path_key that came with the HTLC');
    const u = unblindHop(ec, nodeSecret, pathKey, payload.encrypted_recipient_data);
    const data = decodeRecipientData(u.decryptedData);
    blinded.recipient_data = data;
    if (!peeled.final) blinded.next_path_key = data.next_path_key_override ?? toHex(u.nextPathKey);
  } else if (given) {
    throw new RefusedError('E_ONION_PATH_KEY_UNEXPECTED', '--path-key was given but the payload has no encrypted_recipient_data: this hop is not in a blinded path');
  }
  return {
    final: peeled.final, payload: payloadToJson(payload), payload_hex: toHex(peeled.payload),
    unknown_even_types: payload.unknownEvenTypes.map(String), associated_data: adHex,
    ...(peeled.nextPacket ? { packet: toHex(peeled.nextPacket) } : {}),
    ...blinded,
  };
}
