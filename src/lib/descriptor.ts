/**
 * Output descriptors (BIP-380) for what we create, so a Bitcoin Core wallet can watch
 * it: the checksum algorithm of BIP-380, and `tr(musig(A,B))` (BIP-390, key path only)
 * for a MuSig2 aggregate key.
 *
 * Deliberately absent: parsing descriptors, and musig() with derivation paths.
 */
import { toHex } from './bytes.ts';

const INPUT_CHARSET = '0123456789()[],\'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#"\\ ';
const CHECKSUM_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];

function polymod(symbols: number[]): bigint {
  let chk = 1n;
  for (const value of symbols) {
    const top = chk >> 35n;
    chk = ((chk & 0x7ffffffffn) << 5n) ^ BigInt(value);
    for (let i = 0; i < 5; i++) if ((top >> BigInt(i)) & 1n) chk ^= GENERATOR[i]!;
  }
  return chk;
}

function expand(descriptor: string): number[] {
  const groups: number[] = [];
  const symbols: number[] = [];
  for (const ch of descriptor) {
    const v = INPUT_CHARSET.indexOf(ch);
    if (v < 0) throw new Error(`character ${JSON.stringify(ch)} is not allowed in a descriptor`);
    symbols.push(v & 31);
    groups.push(v >> 5);
    if (groups.length === 3) {
      symbols.push(groups[0]! * 9 + groups[1]! * 3 + groups[2]!);
      groups.length = 0;
    }
  }
  if (groups.length === 1) symbols.push(groups[0]!);
  else if (groups.length === 2) symbols.push(groups[0]! * 3 + groups[1]!);
  return symbols;
}

/** BIP-380 DescriptorChecksum: eight characters appended after '#'. */
export function descriptorChecksum(descriptor: string): string {
  const symbols = [...expand(descriptor), 0, 0, 0, 0, 0, 0, 0, 0];
  const checksum = polymod(symbols) ^ 1n;
  let out = '';
  for (let i = 0; i < 8; i++) out += CHECKSUM_CHARSET[Number((checksum >> (5n * BigInt(7 - i))) & 31n)];
  return out;
}

export function withChecksum(descriptor: string): string {
  return `${descriptor}#${descriptorChecksum(descriptor)}`;
}

/** `tr(musig(K1,K2,…))#checksum` for participants given as 33-byte keys, in KeyAgg order. */
export function musigTaprootDescriptor(participants: readonly Uint8Array[]): string {
  return withChecksum(`tr(musig(${participants.map(toHex).join(',')}))`);
}
