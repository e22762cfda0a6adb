/**
 * The secp256k1 backend onion work runs on: the one the CLI selected for MuSig2
 * ($OFFCHAIN_SECP256K1) when it is noble, tiny-secp256k1, native or libsecp256k1, else
 * noble. The libsecp256k1 backends other than tiny-secp256k1 also offer `ecdhSha256`
 * (BOLT 4's shared secret, constant time) and `mulSecret` (constant-time k·P).
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';

export async function onionBackend(): Promise<Secp256k1Backend<unknown>> {
  const { backendSelection } = await import('../musig/bip327.ts');
  const name = backendSelection().engine;
  if (name === 'tiny-secp256k1' || name === 'native' || name === 'libsecp256k1') {
    const { loadBackend } = await import('../musig/engine/select.ts');
    return loadBackend(name);
  }
  return nobleBackend as Secp256k1Backend<unknown>;
}
