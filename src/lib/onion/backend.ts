/**
 * The secp256k1 backend onion work runs on: the one the CLI selected for MuSig2
 * ($OFFCHAIN_SECP256K1, or a one-shot `auto`: base-command.ts `curveWork`) when it is
 * tiny-secp256k1, native or libsecp256k1 — the very instance loaded and self-tested then,
 * not a second one — else noble. The libsecp256k1 backends other than tiny-secp256k1 also
 * offer `ecdhSha256` (BOLT 4's shared secret, constant time) and `mulSecret` (constant-time k·P).
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';

export async function onionBackend(): Promise<Secp256k1Backend<unknown>> {
  const { activeSecp256k1, backendSelection } = await import('../musig/engine/select.ts');
  const name = backendSelection().engine;
  if (name === 'tiny-secp256k1' || name === 'native' || name === 'libsecp256k1') return activeSecp256k1();
  return nobleBackend as Secp256k1Backend<unknown>;
}
