/**
 * Addresses per network: decode an address into its output script, refusing by name an
 * address of another network (a mainnet address in a regtest contract is a costly
 * mistake), and the address of an output script.
 */
import { Address, OutScript, type NETWORK } from '@scure/btc-signer';
import { bech32, bech32m, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from './bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from './errors.ts';
import { NETWORKS, type Network } from './network.ts';

export type NetworkParams = typeof NETWORK;

// Each network's address prefixes (Bitcoin Core's chainparams: the bech32 human-readable part,
// the base58 version bytes of P2PKH, P2SH and WIF keys), as btc-signer's NETWORK and
// TEST_NETWORK give them (test/lib/address.test.ts), written here so that rendering an address
// loads no btc-signer (psbt decode's shortcut, src/fast-decode/plain.ts).
const MAINNET: NetworkParams = Object.freeze({ bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 });
const TESTNET: NetworkParams = Object.freeze({ bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef });
const REGTEST: NetworkParams = Object.freeze({ ...TESTNET, bech32: 'bcrt' });

export function networkParams(network: Network): NetworkParams {
  switch (network) {
    case 'mainnet':
      return MAINNET;
    case 'regtest':
      return REGTEST;
    default:
      return TESTNET;
  }
}

/**
 * Whether a P2TR address's 32 bytes are the x of a point (BIP-340 lift_x). A caller above the
 * foundation passes the selected secp256k1 backend's (src/lib/credit/codec.ts): this layer may
 * not import it, and btc-signer's OutScript check is a pure-JS square root (~100 µs).
 */
export type XOnlyPointCheck = (x: Uint8Array) => boolean;

/**
 * Decode an address for `network`; an address of another network is refused by name. With
 * `isXOnlyPoint`, a P2TR address's key is checked by it instead of by OutScript: the same
 * script (OP_1 <x>), the same refusal for an x that is no point.
 */
export function decodeAddress(address: string, network: Network, field = 'address', isXOnlyPoint?: XOnlyPointCheck): Uint8Array {
  try {
    const decoded = Address(networkParams(network)).decode(address);
    if (decoded.type === 'tr' && isXOnlyPoint) {
      if (!isXOnlyPoint(decoded.pubkey)) throw new Error('the taproot output key is not a point');
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

/**
 * A witness program as BIP-141 shapes it — a version opcode (OP_0, OP_1..OP_16) then one push
 * of 2 to 40 bytes, nothing else — with its version number, or undefined.
 */
export function witnessProgram(script: Uint8Array): { version: number; program: Uint8Array } | undefined {
  if (script.length < 4 || script.length > 42 || script[1] !== script.length - 2) return undefined;
  const op = script[0]!;
  const version = op === 0x00 ? 0 : op >= 0x51 && op <= 0x60 ? op - 0x50 : -1;
  return version < 0 ? undefined : { version, program: script.subarray(2) };
}

/** Base58Check (double-SHA-256 checksum): P2PKH and P2SH addresses, and the PSBT view's xpubs. */
export const base58check = createBase58check(sha256);

/**
 * The address of an output script on `network`, or undefined for scripts without one, as Core's
 * ExtractDestination gives it. A witness program of version 1 to 16 is its bech32m address
 * (BIP-350) whatever its program (WitnessV1Taproot, PayToAnchor, WitnessUnknown): the program is
 * not read as a key, so a taproot output key that is not on the curve still has the address Core
 * shows, and no square root is taken (lifting the x-only key was most of `psbt decode`'s own
 * cold-start work). Version 0 has addresses for its two program lengths (BIP-173, bech32), and
 * P2PKH and P2SH their base58check ones; no other script has an address (a bare key or
 * multisig has none in Core either). Written out rather than asked of btc-signer's Address,
 * which gives the same (test/lib/address.test.ts) but would load btc-signer to render one.
 */
export function scriptAddress(script: Uint8Array, network: Network): string | undefined {
  const params = networkParams(network);
  const witness = witnessProgram(script);
  if (witness && witness.version > 0) return bech32m.encode(params.bech32, [witness.version, ...bech32m.toWords(witness.program)]);
  if (witness && (witness.program.length === 20 || witness.program.length === 32)) return bech32.encode(params.bech32, [0, ...bech32.toWords(witness.program)]);
  if (isP2pkh(script)) return base58check.encode(concatBytes(Uint8Array.of(params.pubKeyHash), script.subarray(3, 23)));
  if (isP2sh(script)) return base58check.encode(concatBytes(Uint8Array.of(params.scriptHash), script.subarray(2, 22)));
  return undefined;
}

/** OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG. */
export function isP2pkh(s: Uint8Array): boolean {
  return s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac;
}

/** OP_HASH160 <20 bytes> OP_EQUAL. */
export function isP2sh(s: Uint8Array): boolean {
  return s.length === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87;
}
