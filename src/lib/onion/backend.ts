/**
 * The secp256k1 backend onion work runs on: the one the CLI selected for MuSig2
 * ($OFFCHAIN_SECP256K1, or a one-shot `auto`: base-command.ts `curveWork`) — the very
 * instance loaded and self-tested then, noble when none was (or for the `reference`
 * engine). The libsecp256k1 backends (native, libsecp256k1) also offer `ecdhSha256`
 * (BOLT 4's shared secret, constant time) and `mulSecret` (constant-time k·P).
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';

export async function onionBackend(): Promise<Secp256k1Backend<unknown>> {
  const { activeSecp256k1 } = await import('../musig/engine/select.ts');
  return activeSecp256k1();
}
