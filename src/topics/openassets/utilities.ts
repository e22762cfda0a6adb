/**
 * `openassets decode`'s stand-alone utilities: --asset-id-of SCRIPT, --colored-address ADDRESS,
 * --bitcoin-address COLORED (one at a time, without a transaction). An address names its
 * network: without --network (or $OFFCHAIN_NETWORK), a mainnet address is read as mainnet.
 */
import { fromHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';
import { MESSAGE_VERSION } from '../../lib/envelope.ts';
import type { Network } from '../../lib/network.ts';

export type UtilityFlags = { 'asset-id-of'?: string; 'colored-address'?: string; 'bitcoin-address'?: string; network?: string; tx?: string; stream?: boolean; prev?: string[]; in?: string };

/** The flags' conflicts, checked before anything is read. */
export function checkUtilityFlags(f: UtilityFlags): void {
  const utilities = [f['asset-id-of'], f['colored-address'], f['bitcoin-address']].filter((x) => x !== undefined).length;
  if (utilities > 1 || (utilities === 1 && (f.tx !== undefined || f.stream || f.prev !== undefined))) {
    throw new UsageError('E_USAGE', '--asset-id-of, --colored-address and --bitcoin-address stand alone: give one, without a transaction');
  }
  if (f.prev?.includes('-') && f.tx === undefined && (f.in === undefined || f.in === '-')) {
    throw new UsageError('E_USAGE', '--prev - and the input (no --in) both read standard input: give one of them a file');
  }
}

/** The utility's answer, or undefined when none was asked; `network` is the command's (--network or the default). */
export async function utilityMessage(f: UtilityFlags, network: Network): Promise<{ network: Network; message?: Record<string, unknown> }> {
  const ids = await import('../../lib/openassets/ids.ts');
  // An address names its network: without --network (or $OFFCHAIN_NETWORK), a mainnet
  // address is read as mainnet instead of refused against the regtest default.
  const address = f['colored-address'] ?? f['bitcoin-address'];
  if (address !== undefined && f.network === undefined) {
    try {
      if (f['colored-address'] !== undefined) ids.toColoredAddress(address, 'mainnet');
      else ids.fromColoredAddress(address, 'mainnet');
      network = 'mainnet';
    } catch {
      // not a mainnet address: the default stands, and the call below words any refusal
    }
  }
  if (f['asset-id-of'] !== undefined) {
    const script = fromHex(f['asset-id-of'], '--asset-id-of');
    return { network, message: { type: 'openassets/asset-id', version: MESSAGE_VERSION, network, script: f['asset-id-of'].toLowerCase(), asset_id: ids.assetIdOfScript(script, network) } };
  }
  if (f['colored-address'] !== undefined) {
    const address = f['colored-address'];
    return { network, message: { type: 'openassets/address', version: MESSAGE_VERSION, network, address, colored_address: ids.toColoredAddress(address, network) } };
  }
  if (f['bitcoin-address'] !== undefined) {
    const colored = f['bitcoin-address'];
    return { network, message: { type: 'openassets/address', version: MESSAGE_VERSION, network, address: ids.fromColoredAddress(colored, network), colored_address: colored } };
  }
  return { network };
}
