/** The `key/public` message: public data of a key, for runbooks and the other party. */
import type { KeyPair } from './keys.ts';
import type { Network } from '../network.ts';
import { taprootOutput } from '../taproot/taproot.ts';
import { scriptAddress } from '../address.ts';

export const KEY_PUBLIC = 'key/public';

export function publicKeyMessage(pair: Pick<KeyPair, 'publicKey' | 'xOnly'>, network: Network, keyFile?: string) {
  return {
    type: KEY_PUBLIC,
    version: 1,
    network,
    public_key: pair.publicKey,
    x_only: pair.xOnly,
    // The single-key BIP-86-style P2TR address of this key (no script tree).
    p2tr_address: scriptAddress(taprootOutput(pair.xOnly).script, network),
    key_file: keyFile,
  };
}
