/**
 * parsePsbt against the official BIP-174 and BIP-373 vectors: every valid PSBT parses and
 * re-serialises byte for byte, every invalid one is refused with E_MALFORMED_PSBT and a
 * message naming the map and field at fault.
 */
import { describe, expect, it } from 'vitest';
import { base64, hex } from '@scure/base';
import { loadVector } from '../../helpers.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { looksLikePsbt } from '../../../src/lib/psbt/maps.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { PSBT_MAGIC } from '../../../src/lib/constants.ts';

type Case = { description: string; hex: string; base64: string };
const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const bip373 = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');

function rejection(bytes: Uint8Array, options?: { scriptChecks?: boolean }): MalformedInputError {
  try {
    parsePsbt(bytes, options);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedInputError);
    const error = e as MalformedInputError;
    expect(error.code).toBe('E_MALFORMED_PSBT');
    expect(error.exitCode).toBe(3);
    expect(error.message).not.toMatch(/\n|Reader\(/); // one line, no decoder internals
    return error;
  }
  throw new Error('expected the PSBT to be rejected');
}

describe('parsePsbt: a narrated example', () => {
  it('reads a BIP-373 PSBT, keeps its MuSig2 fields and writes it back unchanged', () => {
    // "Spend of a Taproot output where the output key is a MuSig2 Aggregate Pubkey / With all pubnonces"
    const c = bip373.valid.cases[1] as Case;
    const bytes = hex.decode(c.hex);
    expect(looksLikePsbt(bytes)).toBe(true);
    const tx = parsePsbt(bytes);
    const input = tx.getInput(0);
    expect(input.musig2ParticipantPubkeys).toHaveLength(1);
    expect(input.musig2PubNonce).toHaveLength(3);
    expect(hex.encode(serializePsbt(tx))).toBe(c.hex);
  });
});

describe('BIP-174 valid PSBTs', () => {
  for (const c of bip174.valid.cases as Case[]) {
    it(c.description, () => {
      expect(base64.encode(hex.decode(c.hex))).toBe(c.base64); // the copied vector is self-consistent
      const tx = parsePsbt(hex.decode(c.hex));
      // Unknown key-value pairs included: re-serialising gives the same bytes.
      expect(hex.encode(serializePsbt(tx))).toBe(c.hex);
    });
  }
});

describe('BIP-373 valid PSBTs', () => {
  for (const c of bip373.valid.cases as Case[]) {
    it(c.description, () => {
      const tx = parsePsbt(hex.decode(c.hex));
      expect(hex.encode(serializePsbt(tx))).toBe(c.hex);
    });
  }
});

// What each invalid vector must be blamed on (a substring of our one-line message).
const BIP174_INVALID: Record<string, string> = {
  'Network transaction, not PSBT format': 'looks like a raw network transaction',
  'PSBT missing outputs': 'output maps',
  'PSBT where one input has a filled scriptSig in the unsigned tx': 'input 0 of the unsigned transaction has a non-empty scriptSig',
  'PSBT where inputs and outputs are provided but without an unsigned tx': 'PSBT_GLOBAL_UNSIGNED_TX is missing',
  'PSBT with duplicate keys in an input': 'input 0: duplicate key 00 (PSBT_IN_NON_WITNESS_UTXO)',
  'PSBT with invalid global transaction typed key': 'global: PSBT_GLOBAL_UNSIGNED_TX must have no key data',
  'PSBT with invalid input witness utxo typed key': 'input 0: PSBT_IN_WITNESS_UTXO must have no key data',
  'PSBT with invalid pubkey length for input partial signature typed key': 'input 0: PSBT_IN_PARTIAL_SIG key data (32 bytes) is not a valid public key',
  'PSBT with invalid redeemscript typed key': 'input 0: PSBT_IN_REDEEM_SCRIPT must have no key data',
  'PSBT with invalid witnessscript typed key': 'input 0: PSBT_IN_WITNESS_SCRIPT must have no key data',
  'PSBT with invalid pubkey in input BIP 32 derivation paths typed key': 'input 0: PSBT_IN_BIP32_DERIVATION key data (32 bytes)',
  'PSBT with invalid non-witness utxo typed key': 'input 0: PSBT_IN_NON_WITNESS_UTXO must have no key data',
  'PSBT with invalid final scriptsig typed key': 'input 0: PSBT_IN_FINAL_SCRIPTSIG must have no key data',
  'PSBT with invalid final script witness typed key': 'input 1: PSBT_IN_FINAL_SCRIPTWITNESS must have no key data',
  'PSBT with invalid pubkey in output BIP 32 derivation paths typed key': 'output 0: PSBT_OUT_BIP32_DERIVATION key data (32 bytes)',
  'PSBT with invalid input sighash type typed key': 'input 0: PSBT_IN_SIGHASH_TYPE must have no key data',
  'PSBT with invalid output redeemScript typed key': 'output 0: PSBT_OUT_REDEEM_SCRIPT must have no key data',
  'PSBT with invalid output witnessScript typed key': 'output 1: PSBT_OUT_WITNESS_SCRIPT must have no key data',
  'PSBT with unsigned tx serialized with witness serialization format': 'the unsigned transaction uses the witness serialization',
  'PSBT with an invalid value data due to its size being not the stated size': 'PSBT_GLOBAL_UNSIGNED_TX value (51 bytes) is not a transaction with empty scriptSigs (22 unexpected bytes after its end)',
};

describe('BIP-174 invalid PSBTs are refused with E_MALFORMED_PSBT', () => {
  it('covers every invalid vector', () => {
    expect(Object.keys(BIP174_INVALID).sort()).toEqual((bip174.invalid.cases as Case[]).map((c) => c.description).sort());
  });
  for (const c of bip174.invalid.cases as Case[]) {
    it(c.description, () => {
      expect(rejection(hex.decode(c.hex)).message).toContain(BIP174_INVALID[c.description]);
      // Inspection mode does not loosen well-formedness.
      expect(rejection(hex.decode(c.hex), { scriptChecks: false }).message).toContain(BIP174_INVALID[c.description]);
    });
  }
});

const BIP373_INVALID: Record<string, string> = {
  'PSBT with x-only aggregate pubkey in input participant pubkeys keydata': 'input 0: PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS key data (32 bytes)',
  'PSBT with an x-only input participant pubkey': 'input 0: PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS value (98 bytes)',
  'PSBT with x-only aggregate pubkey in output participant pubkeys keydata': 'output 0: PSBT_OUT_MUSIG2_PARTICIPANT_PUBKEYS key data (32 bytes)',
  // The BIP prints the same bytes for this case as for the one above (an erratum upstream:
  // its output participant list is not x-only), so it is refused for the same reason.
  'PSBT with an x-only output participant pubkey': 'output 0: PSBT_OUT_MUSIG2_PARTICIPANT_PUBKEYS key data (32 bytes)',
  'PSBT with x-only aggregate pubkey in public nonce keydata': 'input 0: PSBT_IN_MUSIG2_PUB_NONCE key data (65 bytes)',
  'PSBT with an x-only participant pubkey in public nonce keydata': 'input 0: PSBT_IN_MUSIG2_PUB_NONCE key data (65 bytes)',
  'PSBT with invalid public nonce valuedata length': 'input 0: PSBT_IN_MUSIG2_PUB_NONCE value (65 bytes) is not a 66-byte public nonce',
  'PSBT with x-only aggregate pubkey in partial sig keydata': 'input 0: PSBT_IN_MUSIG2_PARTIAL_SIG key data (97 bytes)',
  'PSBT with an x-only participant pubkey in partial sig keydata': 'input 0: PSBT_IN_MUSIG2_PARTIAL_SIG key data (97 bytes)',
  'PSBT with invalid partial sig valuedata length': 'input 0: PSBT_IN_MUSIG2_PARTIAL_SIG value (31 bytes) is not a 32-byte partial signature',
};

describe('BIP-373 invalid PSBTs are refused with E_MALFORMED_PSBT', () => {
  it('covers every invalid vector', () => {
    expect(Object.keys(BIP373_INVALID).sort()).toEqual((bip373.invalid.cases as Case[]).map((c) => c.description).sort());
  });
  it('reproduces the upstream duplicate: two output cases carry identical bytes', () => {
    const cases = bip373.invalid.cases as Case[];
    const a = cases.find((c) => c.description === 'PSBT with x-only aggregate pubkey in output participant pubkeys keydata')!;
    const b = cases.find((c) => c.description === 'PSBT with an x-only output participant pubkey')!;
    expect(a.hex).toBe(b.hex);
  });
  for (const c of bip373.invalid.cases as Case[]) {
    it(c.description, () => {
      const error = rejection(hex.decode(c.hex));
      expect(error.message).toContain(BIP373_INVALID[c.description]);
      expect(error.detail).toMatchObject({ field: expect.stringMatching(/^PSBT_(IN|OUT)_MUSIG2_/) });
    });
  }
});

describe('BIP-174 "fails signer checks" PSBTs', () => {
  // These are well-formed. We parse the first (a witness UTXO on a non-witness input): it is
  // analyze's job to say the updater must add the previous transaction. The other three
  // carry scripts that do not hash to what the spent output commits to; by default parsePsbt
  // refuses them (a signer must), and with scriptChecks: false they parse for inspection.
  const cases = bip174.fails_signer_checks.cases as Case[];
  it('A Witness UTXO is provided for a non-witness input: parses', () => {
    expect(parsePsbt(hex.decode(cases[0]!.hex)).inputsLength).toBe(2);
  });
  const expected: [number, string][] = [
    [1, 'input 0: redeem_script does not hash to the P2SH scriptPubKey of the spent output'],
    [2, 'input 1: redeem_script does not hash to the P2SH scriptPubKey of the spent output'],
    [3, 'input 1: witness_script does not hash to the P2WSH program of the spent output'],
  ];
  for (const [i, message] of expected) {
    it(`${cases[i]!.description}: refused by default, readable when asked`, () => {
      const error = rejection(hex.decode(cases[i]!.hex));
      expect(error.message).toContain(message);
      expect(error.detail).toMatchObject({ check: 'signer' });
      const tx = parsePsbt(hex.decode(cases[i]!.hex), { scriptChecks: false });
      expect(hex.encode(serializePsbt(tx))).toBe(cases[i]!.hex);
    });
  }
});

describe('content sniffing and odd inputs', () => {
  it('PSBT_MAGIC is "psbt" 0xff', () => {
    expect(new TextDecoder().decode(PSBT_MAGIC.subarray(0, 4))).toBe('psbt');
    expect(PSBT_MAGIC[4]).toBe(0xff);
  });
  it('looksLikePsbt only checks the magic', () => {
    expect(looksLikePsbt(new Uint8Array(0))).toBe(false);
    expect(looksLikePsbt(PSBT_MAGIC.subarray(0, 4))).toBe(false);
    expect(looksLikePsbt(PSBT_MAGIC)).toBe(true);
  });
  it('names base64 and hex text that was not decoded first', () => {
    const c = bip174.valid.cases[0] as Case;
    expect(rejection(new TextEncoder().encode(c.base64)).message).toContain('this is base64 text');
    expect(rejection(new TextEncoder().encode(c.hex)).message).toContain('this is hex text');
  });
  it('explains truncation and trailing garbage', () => {
    const c = hex.decode((bip174.valid.cases[0] as Case).hex);
    expect(rejection(PSBT_MAGIC).message).toContain('no global map');
    // This vector ends with two empty output maps (a lone 0x00 each): drop one.
    expect(rejection(c.subarray(0, c.length - 1)).message).toBe('the PSBT ends after 1 of 2 output maps; the unsigned transaction has 1 input(s) and 2 output(s)');
    expect(rejection(c.subarray(0, c.length - 30)).message).toMatch(/^truncated: a \d+-byte value at byte \d+ runs past the end/);
    expect(rejection(c.subarray(0, 130)).message).toMatch(/^truncated: /);
    expect(rejection(new Uint8Array([...c, 0x01, 0x02])).message).toMatch(/truncated|map\(s\) follow the last output map/);
    expect(rejection(new Uint8Array([...c, 0x00, 0x00])).message).toContain('follow the last output map');
  });
  it('rejects an unsupported PSBT version', () => {
    // Global map with only PSBT_GLOBAL_VERSION = 1.
    const bytes = new Uint8Array([...PSBT_MAGIC, 0x01, 0xfb, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00]);
    expect(rejection(bytes).message).toContain('unsupported PSBT version 1');
  });
  it('names a non-witness UTXO that is not the spent transaction', () => {
    // Valid vector 4 has one; swap the input's outpoint txid inside the unsigned tx.
    const good = (bip174.valid.cases[3] as Case).hex;
    const spent = '0f61a7b8f1a5d2ae1cd28a4f9e7be3c1fb1d1ea1f3a5d6f0e1234567890abcde';
    const tx = parsePsbt(hex.decode(good));
    const txid = hex.encode(tx.getInput(0).txid!.slice().reverse());
    const bad = good.replace(txid, spent);
    expect(rejection(hex.decode(bad)).message).toMatch(/^input 0: PSBT_IN_NON_WITNESS_UTXO is transaction [0-9a-f]{64}, but the input spends /);
  });
  it('rejects non-bytes without crashing', () => {
    expect(rejection('cHNidP8' as unknown as Uint8Array).message).toBe('a PSBT must be given as bytes');
  });
});
