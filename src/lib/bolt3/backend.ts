/**
 * Which secp256k1 implementation BOLT 3 work runs on: point arithmetic for the key
 * derivations (the project's Secp256k1Backend, ../musig/engine/backend.ts) and ECDSA
 * for the signatures (./ecdsa.ts). noble (pure JS) is the default; the libsecp256k1
 * ones (WASM, native) give the same bytes faster. Loading the optional modules is the
 * CLI's job (../musig/engine/select.ts loads the same two packages); this module only
 * pairs what was loaded.
 */
import type { BackendName, Secp256k1Backend } from '../musig/engine/backend.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';
import { nobleEcdsa, type EcdsaSigner } from './ecdsa.ts';

export type Bolt3Backend = {
  readonly name: BackendName;
  readonly ec: Secp256k1Backend<unknown>;
  readonly ecdsa: EcdsaSigner;
};

export const NOBLE: Bolt3Backend = { name: 'noble', ec: nobleBackend, ecdsa: nobleEcdsa };

/** Pair a loaded point backend with the ECDSA of the same library. */
export function bolt3Backend(ec: Secp256k1Backend<unknown>, ecdsa: EcdsaSigner): Bolt3Backend {
  if (ec.name !== ecdsa.name) throw new RangeError(`point backend ${ec.name} paired with ECDSA ${ecdsa.name}`);
  return { name: ec.name, ec, ecdsa };
}
