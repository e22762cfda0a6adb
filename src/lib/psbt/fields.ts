/**
 * The BIP-174 / BIP-370 / BIP-373 field table as words, for error messages: each key
 * type's BIP name, and what its key data and value must be. Data only; parse.ts names
 * the field and the rule a malformed record breaks with it.
 */

export type MapScope = 'global' | 'input' | 'output';

const PUBKEY = 'a valid public key (33 or 65 bytes)';
const XONLY = 'a valid 32-byte x-only public key';
const COMPRESSED = 'a valid 33-byte compressed public key';
const MUSIG_KEY = 'a 33-byte participant key, a 33-byte aggregate key and an optional 32-byte leaf hash';
const SCRIPT = 'a script';
const U32 = 'a 4-byte integer';

// [name, what the key data must be, what the value must be]
const FIELDS: Record<MapScope, Record<number, readonly [string, string, string]>> = {
  global: {
    0x00: ['PSBT_GLOBAL_UNSIGNED_TX', '', 'a transaction with empty scriptSigs'],
    0x01: ['PSBT_GLOBAL_XPUB', 'a 78-byte BIP-32 extended public key', 'a fingerprint and derivation path'],
    0x02: ['PSBT_GLOBAL_TX_VERSION', '', U32],
    0x03: ['PSBT_GLOBAL_FALLBACK_LOCKTIME', '', U32],
    0x04: ['PSBT_GLOBAL_INPUT_COUNT', '', 'a CompactSize count'],
    0x05: ['PSBT_GLOBAL_OUTPUT_COUNT', '', 'a CompactSize count'],
    0x06: ['PSBT_GLOBAL_TX_MODIFIABLE', '', 'one byte of flags'],
    0x07: ['PSBT_GLOBAL_SP_ECDH_SHARE', COMPRESSED, COMPRESSED],
    0x08: ['PSBT_GLOBAL_SP_DLEQ', COMPRESSED, 'a 64-byte proof'],
    0x09: ['PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE', '', 'a message'],
    0xfb: ['PSBT_GLOBAL_VERSION', '', U32],
    0xfc: ['PSBT_GLOBAL_PROPRIETARY', 'an identifier, a subtype and key data', 'any bytes'],
  },
  input: {
    0x00: ['PSBT_IN_NON_WITNESS_UTXO', '', 'a complete transaction'],
    0x01: ['PSBT_IN_WITNESS_UTXO', '', 'an 8-byte amount and a scriptPubKey'],
    0x02: ['PSBT_IN_PARTIAL_SIG', PUBKEY, 'a signature'],
    0x03: ['PSBT_IN_SIGHASH_TYPE', '', U32],
    0x04: ['PSBT_IN_REDEEM_SCRIPT', '', SCRIPT],
    0x05: ['PSBT_IN_WITNESS_SCRIPT', '', SCRIPT],
    0x06: ['PSBT_IN_BIP32_DERIVATION', PUBKEY, 'a fingerprint and derivation path'],
    0x07: ['PSBT_IN_FINAL_SCRIPTSIG', '', SCRIPT],
    0x08: ['PSBT_IN_FINAL_SCRIPTWITNESS', '', 'a serialized witness stack'],
    0x09: ['PSBT_IN_POR_COMMITMENT', '', 'a UTF-8 string'],
    0x0a: ['PSBT_IN_RIPEMD160', 'a 20-byte hash', 'a preimage'],
    0x0b: ['PSBT_IN_SHA256', 'a 32-byte hash', 'a preimage'],
    0x0c: ['PSBT_IN_HASH160', 'a 20-byte hash', 'a preimage'],
    0x0d: ['PSBT_IN_HASH256', 'a 32-byte hash', 'a preimage'],
    0x0e: ['PSBT_IN_PREVIOUS_TXID', '', 'a 32-byte txid'],
    0x0f: ['PSBT_IN_OUTPUT_INDEX', '', U32],
    0x10: ['PSBT_IN_SEQUENCE', '', U32],
    0x11: ['PSBT_IN_REQUIRED_TIME_LOCKTIME', '', 'a 4-byte time lock (>= 500000000)'],
    0x12: ['PSBT_IN_REQUIRED_HEIGHT_LOCKTIME', '', 'a 4-byte height lock (< 500000000)'],
    0x13: ['PSBT_IN_TAP_KEY_SIG', '', 'a 64- or 65-byte Schnorr signature'],
    0x14: ['PSBT_IN_TAP_SCRIPT_SIG', 'a 32-byte x-only key and a 32-byte leaf hash', 'a 64- or 65-byte Schnorr signature'],
    0x15: ['PSBT_IN_TAP_LEAF_SCRIPT', 'a taproot control block', 'a script followed by its leaf version'],
    0x16: ['PSBT_IN_TAP_BIP32_DERIVATION', XONLY, 'leaf hashes, a fingerprint and a derivation path'],
    0x17: ['PSBT_IN_TAP_INTERNAL_KEY', '', XONLY],
    0x18: ['PSBT_IN_TAP_MERKLE_ROOT', '', 'a 32-byte hash'],
    0x19: ['PSBT_IN_P2C_TWEAK', COMPRESSED, 'a 32-byte tweak'],
    0x1a: ['PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS', 'a 33-byte compressed aggregate public key', 'a list of 33-byte compressed participant public keys'],
    0x1b: ['PSBT_IN_MUSIG2_PUB_NONCE', MUSIG_KEY, 'a 66-byte public nonce'],
    0x1c: ['PSBT_IN_MUSIG2_PARTIAL_SIG', MUSIG_KEY, 'a 32-byte partial signature'],
    0x1d: ['PSBT_IN_SP_ECDH_SHARE', COMPRESSED, COMPRESSED],
    0x1e: ['PSBT_IN_SP_DLEQ', COMPRESSED, 'a 64-byte proof'],
    0x1f: ['PSBT_IN_SP_SPEND_BIP32_DERIVATION', COMPRESSED, 'a fingerprint and derivation path'],
    0x20: ['PSBT_IN_SP_TWEAK', '', 'a 32-byte tweak'],
    0xfc: ['PSBT_IN_PROPRIETARY', 'an identifier, a subtype and key data', 'any bytes'],
  },
  output: {
    0x00: ['PSBT_OUT_REDEEM_SCRIPT', '', SCRIPT],
    0x01: ['PSBT_OUT_WITNESS_SCRIPT', '', SCRIPT],
    0x02: ['PSBT_OUT_BIP32_DERIVATION', PUBKEY, 'a fingerprint and derivation path'],
    0x03: ['PSBT_OUT_AMOUNT', '', 'an 8-byte amount'],
    0x04: ['PSBT_OUT_SCRIPT', '', SCRIPT],
    0x05: ['PSBT_OUT_TAP_INTERNAL_KEY', '', XONLY],
    0x06: ['PSBT_OUT_TAP_TREE', '', 'a complete taproot tree in depth-first order'],
    0x07: ['PSBT_OUT_TAP_BIP32_DERIVATION', XONLY, 'leaf hashes, a fingerprint and a derivation path'],
    0x08: ['PSBT_OUT_MUSIG2_PARTICIPANT_PUBKEYS', 'a 33-byte compressed aggregate public key', 'a list of 33-byte compressed participant public keys'],
    0x09: ['PSBT_OUT_SP_V0_INFO', '', 'a 33-byte scan key and a 33-byte spend key'],
    0x0a: ['PSBT_OUT_SP_V0_LABEL', '', U32],
    0x35: ['PSBT_OUT_DNSSEC_PROOF', '', 'a name and an RFC 9102 proof'],
    0xfc: ['PSBT_OUT_PROPRIETARY', 'an identifier, a subtype and key data', 'any bytes'],
  },
};

/** The BIP name of a key type in a map, e.g. `PSBT_IN_MUSIG2_PUB_NONCE`, or `type 0x42`. */
export function fieldName(scope: MapScope, keyType: number): string {
  return FIELDS[scope][keyType]?.[0] ?? `type 0x${keyType.toString(16).padStart(2, '0')}`;
}

export function describeRecord(scope: MapScope, keyType: number): { key: string; value: string } {
  const f = FIELDS[scope][keyType];
  return { key: f?.[1] || 'valid key data', value: f?.[2] ?? 'well-formed' };
}
