/**
 * A new secret key file: a uniformly drawn secp256k1 scalar, written once (never
 * overwriting) with mode 0600. Returns only the public half; the secret is wiped.
 */
import { toHex } from '../bytes.ts';
import type { Network } from '../network.ts';
import type { RandomSource } from '../random.ts';
import { writeNewFile } from './exclusive.ts';
import { encodeWif, keyPair } from '../keys/keys.ts';

export function newKeyFile(path: string, format: 'hex' | 'wif', network: Network, random: RandomSource): { publicKey: Uint8Array; xOnly: Uint8Array } {
  for (;;) {
    const secret = random.bytes(32, 'key/new');
    let pair;
    try {
      pair = keyPair(secret); // rejects 0 and ≥ n (probability ~2^-128): draw again
    } catch {
      continue;
    }
    writeNewFile(path, (format === 'wif' ? encodeWif(secret, network) : toHex(secret)) + '\n', 0o600);
    secret.fill(0);
    return { publicKey: pair.publicKey, xOnly: pair.xOnly };
  }
}
