/**
 * Bitcoin networks. The network travels in every message and may be given by
 * `--network`; `resolveNetwork` applies the brief's rule (flag and message must agree;
 * regtest by default). Address codecs per network live in address.ts (they pull in
 * btc-signer, which this light module must not: the base command imports it).
 */
import { RefusedError } from './errors.ts';

export const NETWORKS = ['regtest', 'signet', 'testnet', 'testnet4', 'mainnet'] as const;
export type Network = (typeof NETWORKS)[number];

export function isNetwork(value: unknown): value is Network {
  return typeof value === 'string' && (NETWORKS as readonly string[]).includes(value);
}

/**
 * The network an invocation works on: the flag and the message must agree when both
 * are present; either alone decides; regtest when neither says.
 */
export function resolveNetwork(flag: Network | undefined, fromMessage: Network | undefined): Network {
  if (flag && fromMessage && flag !== fromMessage) {
    throw new RefusedError(
      'E_NETWORK_MISMATCH',
      `the message is for ${fromMessage} but --network is ${flag}; pass --network ${fromMessage} or use a ${flag} message`,
    );
  }
  return flag ?? fromMessage ?? 'regtest';
}
