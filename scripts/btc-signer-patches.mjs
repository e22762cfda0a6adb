/**
 * What scripts/build.mjs changes in @scure/btc-signer as it bundles it. The patch finds the exact
 * text it replaces, or fails the build: a btc-signer whose text differs is reviewed, never silently
 * left unpatched. test/setup/btc-signer-patches.test.ts holds it to the behaviour it replaces.
 */
import { replaceOnce } from './oclif-patches.mjs';

/**
 * btc-signer checks a public key to be a point (`validatePubkey`: noble's square root in pure JS,
 * whichever secp256k1 backend the process selected) each time a coder meets it: every PSBT update
 * re-encodes the whole input, each of its BIP-373 MuSig2 keys, and every serialisation does it
 * again — the same few keys dozens of times in one signing step (~10 ms of a `device pay --peer`'s
 * CPU, bench/device-serve.ts). Here a key found valid is remembered (by its bytes and the type it
 * was checked as: at most 4096 of them, then forgotten all at once), and checked again only when
 * unknown. Whether bytes are a point does not change, so every answer is the one the check gives:
 * a key that fails is never remembered and fails every time, with the same error. A build of
 * another btc-signer whose text differs fails here.
 */
const BTC_SIGNER_UTILS = /node_modules[\\/]@scure[\\/]btc-signer[\\/]utils\.js$/;
const VALIDATE_PUBKEY = 'export function validatePubkey(pub, type) {';
export function rememberValidKeys(path, text) {
  const remembered =
    'const __validPubkeys = new Map();\n' +
    'export function validatePubkey(pub, type) {\n' +
    '    if (!(pub instanceof Uint8Array)) return __checkPubkey(pub, type);\n' +
    "    const id = Buffer.from(pub.buffer, pub.byteOffset, pub.length).toString('latin1');\n" +
    '    if (__validPubkeys.get(id) === type) return pub;\n' +
    '    __checkPubkey(pub, type);\n' +
    '    if (__validPubkeys.size >= 4096) __validPubkeys.clear();\n' +
    '    __validPubkeys.set(id, type);\n' +
    '    return pub;\n' +
    '}\n' +
    'function __checkPubkey(pub, type) {';
  return replaceOnce(path, text, VALIDATE_PUBKEY, remembered, 'rememberValidKeys', 'key check', 'btc-signer');
}

/** The btc-signer files patched at build, and how. */
export const BTC_SIGNER_PATCHES = [[BTC_SIGNER_UTILS, rememberValidKeys]];
