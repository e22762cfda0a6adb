/**
 * Addresses per network: decode an address into its output script, refusing by name an
 * address of another network (a mainnet address in a regtest contract is a costly
 * mistake), and the address of an output script.
 */
import { Address, NETWORK, TEST_NETWORK, OutScript } from '@scure/btc-signer';
import { MalformedInputError, RefusedError, UsageError } from './errors.ts';
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
    return OutScript.encode(Address(networkParams(network)).decode(address));
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
