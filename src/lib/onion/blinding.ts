/**
 * Route blinding (BOLT 4 "Route Blinding"): the recipient builds a blinded path, each
 * hop unblinds its part. For hop i with path key E_i = e_i·G:
 *   ss_i = SHA256(e_i·N_i)             (the hop computes SHA256(k_i·E_i))
 *   rho_i = HMAC-SHA256("rho", ss_i)
 *   B_i = HMAC-SHA256("blinded_node_id", ss_i)·N_i          (blinded node id)
 *   encrypted_data_i = ChaCha20-Poly1305(rho_i, nonce 0, encoded_tlvs_i)
 *   e_{i+1} = SHA256(E_i || ss_i)·e_i
 * Pure; points through the project's secp256k1 backend, AEAD through node:crypto.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { N } from '../musig/engine/scalar.ts';
import { secretMul } from '../musig/engine/secret-mul.ts';
import { sharedSecretOf } from './ecdh.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { generateKey, hmacSha256, sha256 } from './crypto.ts';

const NONCE = new Uint8Array(12);
const BLINDED_NODE_ID = new TextEncoder().encode('blinded_node_id');

function scalar(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
function scalarBytes(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

export function aeadEncrypt(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, NONCE, { authTagLength: 16 });
  const body = c.update(plaintext);
  c.final();
  return new Uint8Array(Buffer.concat([body, c.getAuthTag()]));
}

export function aeadDecrypt(key: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < 16) throw new RefusedError('E_ONION_BLINDED_DATA', 'encrypted_recipient_data shorter than its 16-byte tag');
  const d = createDecipheriv('chacha20-poly1305', key, NONCE, { authTagLength: 16 });
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const body = d.update(ciphertext.subarray(0, ciphertext.length - 16));
  try {
    d.final();
  } catch {
    throw new RefusedError('E_ONION_BLINDED_DATA', 'encrypted_recipient_data does not decrypt with this node\'s key and path_key');
  }
  return new Uint8Array(body);
}

export type BlindedHop = {
  readonly pathKey: Uint8Array;
  readonly sharedSecret: Uint8Array;
  readonly rho: Uint8Array;
  readonly blindedNodeId: Uint8Array;
  readonly encryptedData: Uint8Array;
  /** e_{i+1}: the path private key for the next hop. */
  readonly nextPathPrivkey: Uint8Array;
};

/** One hop of a blinded path, from the path private key e_i. */
export function blindHop<P>(ec: Secp256k1Backend<P>, pathPrivkey: Uint8Array, nodeId: Uint8Array, encodedTlvs: Uint8Array): BlindedHop {
  const e = scalar(pathPrivkey);
  if (e <= 0n || e >= N) throw new RefusedError('E_ONION_SESSION_KEY', 'path private key is not a valid secp256k1 secret key');
  const E = ec.pointToBytes(ec.mulBase(e)!);
  const Np = ec.pointFromBytes(nodeId);
  if (Np === undefined) throw new RefusedError('E_ONION_HOP_PUBKEY', 'node id is not a valid compressed point');
  const ss = sharedSecretOf(ec, Np, e);
  const rho = generateKey('rho', ss);
  const blindedNodeId = ec.pointToBytes(secretMul(ec, Np, scalar(hmacSha256(BLINDED_NODE_ID, ss)) % N)!);
  const next = (e * (scalar(sha256(E, ss)) % N)) % N;
  return { pathKey: E, sharedSecret: ss, rho, blindedNodeId, encryptedData: aeadEncrypt(rho, encodedTlvs), nextPathPrivkey: scalarBytes(next) };
}

export type Unblinded = { readonly blindedPrivkey: Uint8Array; readonly decryptedData: Uint8Array; readonly nextPathKey: Uint8Array; readonly sharedSecret: Uint8Array };

/** A hop's side: its blinded private key, its decrypted data and the next path_key. */
export function unblindHop<P>(ec: Secp256k1Backend<P>, nodePrivkey: Uint8Array, pathKey: Uint8Array, encryptedData: Uint8Array): Unblinded {
  const k = scalar(nodePrivkey);
  if (k <= 0n || k >= N) throw new RefusedError('E_ONION_NODE_KEY', 'node key is not a valid secp256k1 secret key');
  const E = ec.pointFromBytes(pathKey);
  if (E === undefined) throw new MalformedInputError('E_ONION_PATH_KEY', 'path_key is not a valid compressed point');
  const ss = sharedSecretOf(ec, E, k);
  const blindedPrivkey = scalarBytes((k * (scalar(hmacSha256(BLINDED_NODE_ID, ss)) % N)) % N);
  const decryptedData = aeadDecrypt(generateKey('rho', ss), encryptedData);
  const nextPathKey = ec.pointToBytes(secretMul(ec, E, scalar(sha256(pathKey, ss)) % N)!);
  return { blindedPrivkey, decryptedData, nextPathKey, sharedSecret: ss };
}

/** The key a blinded hop peels its onion with: k·HMAC("blinded_node_id", SHA256(k·path_key)). */
export function blindedNodePrivkey<P>(ec: Secp256k1Backend<P>, nodePrivkey: Uint8Array, pathKey: Uint8Array): Uint8Array {
  const k = scalar(nodePrivkey);
  if (k <= 0n || k >= N) throw new RefusedError('E_ONION_NODE_KEY', 'node key is not a valid secp256k1 secret key');
  const E = ec.pointFromBytes(pathKey);
  if (E === undefined) throw new MalformedInputError('E_ONION_PATH_KEY', 'path_key is not a valid compressed point');
  const ss = sharedSecretOf(ec, E, k);
  return scalarBytes((k * (scalar(hmacSha256(BLINDED_NODE_ID, ss)) % N)) % N);
}
