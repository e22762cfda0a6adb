/**
 * On-chain fallback addresses of BOLT 11 `f` fields and BOLT 12 `invoice_fallbacks`:
 * a witness version and program (BIP-173 bech32 for v0, BIP-350 bech32m above), or BOLT
 * 11's 17 (P2PKH hash) and 18 (P2SH hash). Base58Check and bech32 from @scure/base, so
 * this stays light enough for a small device (no transaction library).
 */
import { bech32, bech32m, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Network } from '../network.ts';

const base58check = createBase58check(sha256);
const HRP: Record<Network, string> = { mainnet: 'bc', testnet: 'tb', testnet4: 'tb', signet: 'tb', regtest: 'bcrt' };
const P2PKH: Record<Network, number> = { mainnet: 0x00, testnet: 0x6f, testnet4: 0x6f, signet: 0x6f, regtest: 0x6f };
const P2SH: Record<Network, number> = { mainnet: 0x05, testnet: 0xc4, testnet4: 0xc4, signet: 0xc4, regtest: 0xc4 };

/** The address of a fallback, or undefined when BIP-141/BOLT 11 gives none (a reader skips it). */
export function fallbackAddress(version: number, program: Uint8Array, network: Network): string | undefined {
  if (version === 17 || version === 18) {
    if (program.length !== 20) return undefined;
    const prefix = version === 17 ? P2PKH[network] : P2SH[network];
    const payload = new Uint8Array(21);
    payload[0] = prefix;
    payload.set(program, 1);
    return base58check.encode(payload);
  }
  if (version > 16 || program.length < 2 || program.length > 40) return undefined;
  if (version === 0 && program.length !== 20 && program.length !== 32) return undefined;
  const words = [version, ...bech32.toWords(program)];
  return version === 0 ? bech32.encode(HRP[network], words, false) : bech32m.encode(HRP[network], words, false);
}
