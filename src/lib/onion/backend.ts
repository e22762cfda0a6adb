/**
 * The secp256k1 backend onion work runs on: the one the CLI selected for MuSig2
 * ($OFFCHAIN_SECP256K1) when it is noble, tiny-secp256k1 or native, else noble.
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';

export async function onionBackend(): Promise<Secp256k1Backend<unknown>> {
  const { backendSelection } = await import('../musig/bip327.ts');
  const name = backendSelection().engine;
  if (name === 'tiny-secp256k1' || name === 'native') {
    const { loadBackend } = await import('../musig/engine/select.ts');
    return loadBackend(name);
  }
  return nobleBackend as Secp256k1Backend<unknown>;
}
