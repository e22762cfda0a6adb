/**
 * Addresses per network: decode an address into its output script, refusing by name an
 * address of another network (a mainnet address in a regtest contract is a costly
 * mistake), and the address of an output script.
 */
import { Address, NETWORK, TEST_NETWORK, OutScript } from '@scure/btc-signer';
import { concatBytes } from './bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from './errors.ts';
import { activeSecp256k1 } from './musig/engine/select.ts';
import { NETWORKS, type Network } from './network.ts';

export type NetworkParams = typeof NETWORK;

const REGTEST: NetworkParams = { ...TEST_NETWORK, bech32: 'bcrt' };

export function networkParams(network: Network): NetworkParams {
  switch (network) {
    case 'mainnet':
      return NETWORK;
    case 'regtest':
      return REGTEST;
    default:
      return TEST_NETWORK;
  }
}

/** Decode an address for `network`; an address of another network is refused by name. */
export function decodeAddress(address: string, network: Network, field = 'address'): Uint8Array {
  try {
    const decoded = Address(networkParams(network)).decode(address);
    // P2TR: the key checked to be a point (lift_x) on the selected secp256k1 backend, not by
    // OutScript's pure-JS square root (~100 µs; a mint decodes three addresses per contract) —
    // the same script, the same refusal (caught below) for an x that is no point.
    if (decoded.type === 'tr') {
      if (activeSecp256k1().liftX(decoded.pubkey) === undefined) throw new Error('the taproot output key is not a point');
      return concatBytes(Uint8Array.of(0x51, 0x20), decoded.pubkey);
    }
    return OutScript.encode(decoded);
  } catch {
    for (const other of NETWORKS) {
      if (networkParams(other).bech32 === networkParams(network).bech32) continue;
      try {
        Address(networkParams(other)).decode(address);
        throw new RefusedError('E_NETWORK_MISMATCH', `${field} ${address} is a ${other} address, not ${network}`);
      } catch (e) {
        if (e instanceof RefusedError) throw e;
      }
    }
    // An address typed as a flag's value (`--to`) is a usage error (exit 2, docs/cli.md); one read from an input is malformed input.
    if (field.startsWith('--')) throw new UsageError('E_BAD_ADDRESS', `${field} is not a valid ${network} address: ${address}`);
    throw new MalformedInputError('E_BAD_ADDRESS', `${field} is not a valid ${network} address: ${address}`);
  }
}

/** The address of an output script on `network`, or undefined for scripts without one. */
export function scriptAddress(script: Uint8Array, network: Network): string | undefined {
  try {
    return Address(networkParams(network)).encode(OutScript.decode(script));
  } catch {
    return undefined;
  }
}
