/**
 * decodePsbt: Core-style names, integer amounts, deterministic output, and the BIP-373 fields
 * exactly as they sit in the vector bytes (read with the independent reader in ./raw.ts).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Address, NETWORK, OutScript, TEST_NETWORK } from '@scure/btc-signer';
import { bech32m, hex } from '@scure/base';
import { base58checkEncode } from '../../independent/base58check.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { loadVector } from '../../helpers.ts';
import { stringifyMessage, toJsonValue } from '../../../src/lib/json.ts';
import { decodePsbt, scriptPubKeyView, scriptType, sighashName } from '../../../src/lib/psbt/decode.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { rawMaps, type RawRecord } from './raw.ts';

type Case = { description: string; hex: string };
const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const bip373 = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');
const AGGREGATE: string = bip373.aggregate_pubkey;
const PARTICIPANTS: string[] = bip373.participants.map((p: { pubkey: string }) => p.pubkey);

const decodeHex = (h: string, network: 'mainnet' | 'testnet' | 'regtest' = 'testnet') =>
  decodePsbt(parsePsbt(hex.decode(h), { scriptChecks: false }), network, hex.decode(h));
/** A parsed (and perhaps since updated) PSBT's view, its maps read from its serialisation. */
const decodeTx = (tx: ReturnType<typeof parsePsbt>, network: 'testnet' | 'regtest') => decodePsbt(tx, network, serializePsbt(tx));
const json = (value: unknown) => toJsonValue(value) as any;

/** BIP-373 records of one type, as JSON-ready objects in key order. */
function musigRecords(map: RawRecord[], type: number, valueName: string) {
  return map
    .filter((r) => r.type === type)
    .sort((a, b) => (a.keyData < b.keyData ? -1 : 1))
    .map((r) => {
      const entry: Record<string, string> = { participant_pubkey: r.keyData.slice(0, 66), aggregate_pubkey: r.keyData.slice(66, 132), [valueName]: r.value };
      if (r.keyData.length > 132) entry.leaf_hash = r.keyData.slice(132);
      return entry;
    });
}

function participantRecords(map: RawRecord[], type: number) {
  return map
    .filter((r) => r.type === type)
    .map((r) => ({ aggregate_pubkey: r.keyData, participant_pubkeys: r.value.match(/.{66}/g) }));
}

describe('decodePsbt: a narrated example', () => {
  it('shows who has sent what in a MuSig2 key-path spend', () => {
    // "Spend of a Taproot output where the output key is a MuSig2 Aggregate Pubkey / With all partial signatures"
    const c = bip373.valid.cases[2] as Case;
    const view = json(decodeHex(c.hex));
    const input = view.inputs[0];
    expect(input.musig2_participant_pubkeys).toEqual([{ aggregate_pubkey: AGGREGATE, participant_pubkeys: PARTICIPANTS }]);
    expect(input.musig2_pubnonces.map((n: any) => n.participant_pubkey)).toEqual(PARTICIPANTS);
    expect(input.musig2_partial_sigs.map((s: any) => s.participant_pubkey)).toEqual(PARTICIPANTS);
    // Key path: no leaf hash; the aggregate here is the (untweaked) output key itself.
    for (const s of input.musig2_partial_sigs) {
      expect(s.aggregate_pubkey).toBe(AGGREGATE);
      expect(s.leaf_hash).toBeUndefined();
      expect(s.partial_sig).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(input.witness_utxo).toEqual({
      amount_sat: 100000000,
      scriptPubKey: {
        hex: `5120${AGGREGATE.slice(2)}`,
        type: 'witness_v1_taproot',
        address: bech32m.encode('tb', [1, ...bech32m.toWords(hex.decode(AGGREGATE.slice(2)))]),
      },
    });
    expect(view.fee_sat).toBe(1000);
  });
});

describe('BIP-373 valid PSBTs: the MuSig2 fields are exactly the vector bytes', () => {
  for (const c of bip373.valid.cases as Case[]) {
    it(c.description, () => {
      const view = json(decodeHex(c.hex));
      const maps = rawMaps(c.hex);
      const inputs = maps.slice(1, 1 + view.inputs.length);
      const outputs = maps.slice(1 + view.inputs.length);
      let seen = 0;
      view.inputs.forEach((input: any, i: number) => {
        const parts = participantRecords(inputs[i]!, 0x1a);
        const nonces = musigRecords(inputs[i]!, 0x1b, 'pubnonce');
        const sigs = musigRecords(inputs[i]!, 0x1c, 'partial_sig');
        expect(input.musig2_participant_pubkeys ?? []).toEqual(parts);
        expect(input.musig2_pubnonces ?? []).toEqual(nonces);
        expect(input.musig2_partial_sigs ?? []).toEqual(sigs);
        for (const p of parts) expect(p).toEqual({ aggregate_pubkey: AGGREGATE, participant_pubkeys: PARTICIPANTS });
        for (const n of [...nonces, ...sigs]) expect(PARTICIPANTS).toContain(n.participant_pubkey);
        seen += parts.length;
      });
      view.outputs.forEach((output: any, o: number) => {
        const parts = participantRecords(outputs[o]!, 0x08);
        expect(output.musig2_participant_pubkeys ?? []).toEqual(parts);
        seen += parts.length;
      });
      expect(seen).toBeGreaterThan(0); // every BIP-373 case carries participants somewhere
    });
  }

  it('script-path nonces and partial signatures carry the tapleaf hash', () => {
    const view = json(decodeHex((bip373.valid.cases[7] as Case).hex)); // key in a script / all pubnonces
    const leaf = view.inputs[0].taproot_scripts[0];
    expect(leaf.script).toBe(`20${AGGREGATE.slice(2)}ac`);
    expect(leaf.leaf_ver).toBe(0xc0);
    expect(view.inputs[0].musig2_pubnonces).toHaveLength(PARTICIPANTS.length);
    for (const n of view.inputs[0].musig2_pubnonces) expect(n.leaf_hash).toBe(view.inputs[0].taproot_merkle_root);
  });
});

describe('BIP-174 valid PSBTs decode', () => {
  for (const c of bip174.valid.cases as Case[]) {
    it(`${c.description}: deterministic and JSON-serialisable`, () => {
      const first = decodeHex(c.hex);
      const again = decodeTx(parsePsbt(serializePsbt(parsePsbt(hex.decode(c.hex)))), 'testnet');
      expect(stringifyMessage(again)).toBe(stringifyMessage(first));
      const view = json(first);
      expect(view.psbt_version).toBe(0);
      // tx.txid is the unsigned transaction's, as Core shows it.
      const unsigned = hex.decode(rawMaps(c.hex)[0]!.find((r) => r.type === 0)!.value);
      expect(view.tx.txid).toBe(hex.encode(sha256(sha256(unsigned)).reverse()));
      expect(view.inputs).toHaveLength(view.tx.vin.length);
      expect(view.outputs).toHaveLength(view.tx.vout.length);
    });
  }

  it('renders amounts as integer satoshis and scripts with Core type names', () => {
    const view = json(decodeHex((bip174.valid.cases[0] as Case).hex));
    expect(view.tx.vout.map((o: any) => o.amount_sat)).toEqual([99999699, 100000000]);
    expect(view.tx.vout.map((o: any) => o.scriptPubKey.type)).toEqual(['pubkeyhash', 'scripthash']);
    const keyHash = view.tx.vout[0].scriptPubKey.hex.slice(6, 46);
    expect(view.tx.vout[0].scriptPubKey.address).toBe(base58checkEncode(hex.decode(`6f${keyHash}`)));
    expect(view.inputs[0].non_witness_utxo.txid).toBe(view.tx.vin[0].txid);
    expect(view.fee_sat).toBe(view.inputs[0].non_witness_utxo.vout[0].amount_sat - 99999699 - 100000000);
  });

  it('P2SH-P2WSH multisig: redeem and witness scripts, derivations, one partial signature', () => {
    const view = json(decodeHex((bip174.valid.cases[4] as Case).hex));
    const input = view.inputs[0];
    expect(input.redeem_script.type).toBe('witness_v0_scripthash');
    expect(input.witness_script.type).toBe('multisig');
    expect(Object.keys(input.partial_signatures)).toHaveLength(1);
    expect(input.bip32_derivs).toHaveLength(2);
    for (const d of input.bip32_derivs) {
      expect(d.master_fingerprint).toMatch(/^[0-9a-f]{8}$/);
      expect(d.path).toMatch(/^m(\/\d+h?)*$/);
    }
  });

  it('sighash types use Core names', () => {
    const view = json(decodeHex((bip174.valid.cases[2] as Case).hex));
    expect(view.inputs[0].sighash).toBe('ALL');
    expect([0, 1, 2, 3, 0x81, 0x82, 0x83].map(sighashName)).toEqual([
      'DEFAULT', 'ALL', 'NONE', 'SINGLE', 'ALL|ANYONECANPAY', 'NONE|ANYONECANPAY', 'SINGLE|ANYONECANPAY',
    ]);
    expect(sighashName(4)).toBe('0x00000004');
  });

  it('global xpubs as base58 with fingerprint and path', () => {
    const view = json(decodeHex((bip174.valid.cases[7] as Case).hex, 'mainnet'));
    const raw = rawMaps((bip174.valid.cases[7] as Case).hex)[0]!.filter((r) => r.type === 1);
    expect(view.global_xpubs).toHaveLength(raw.length);
    expect(view.global_xpubs[0]).toEqual({
      xpub: 'xpub6CpGH79LXVkeiux2ZPWMpEubBrRfgcGCgy2HiagyN6NW3qdioJaqFYyD1fG6LDfxWEhMXJqcDuU5VneKt5UQYUGPa5Mfxdw2D2NArwX5TBm',
      master_fingerprint: raw[0]!.value.slice(0, 8),
      path: 'm/49h/0h/0h',
    });
  });

  it('unknown key-value pairs keep their raw key (type included) and value, as Core', () => {
    const c = bip174.valid.cases[6] as Case;
    const raw = rawMaps(c.hex)[1]!.find((r) => r.type === 0xf0)!;
    expect(json(decodeHex(c.hex)).inputs[0].unknown).toEqual({ [`f0${raw.keyData}`]: raw.value });
  });
});

describe('proprietary and unrendered fields', () => {
  const identifier = new TextEncoder().encode('offchain');
  const proprietaryKey = new Uint8Array([identifier.length, ...identifier, 0x01, 0xab, 0xcd]);

  it('renders PSBT_IN/OUT_PROPRIETARY as identifier, subtype, key and value, and keeps them', () => {
    const tx = parsePsbt(hex.decode((bip373.valid.cases[0] as Case).hex));
    tx.updateInput(0, { proprietary: [[proprietaryKey, hex.decode('1234')]] });
    tx.updateOutput(0, { proprietary: [[proprietaryKey, hex.decode('5678')]] });
    const again = parsePsbt(serializePsbt(tx));
    const view = json(decodeTx(again, 'regtest'));
    const expected = { identifier: hex.encode(identifier), subtype: 1, key: 'abcd' };
    expect(view.inputs[0].proprietary).toEqual([{ ...expected, value: '1234' }]);
    expect(view.outputs[0].proprietary).toEqual([{ ...expected, value: '5678' }]);
  });

  it('fields Core does not decode either appear under unknown', () => {
    const tx = parsePsbt(hex.decode((bip373.valid.cases[0] as Case).hex));
    const tweak = new Uint8Array(32).fill(7);
    tx.updateInput(0, { p2cKeyTweak: [[hex.decode(PARTICIPANTS[0]!), tweak]] });
    const view = json(decodeTx(tx, 'regtest'));
    expect(view.inputs[0].unknown).toEqual({ [`19${PARTICIPANTS[0]}`]: hex.encode(tweak) });
  });
});

describe('PSBT version 2', () => {
  it('decodes the same transaction and fields from a PSBTv2 re-encoding', () => {
    const c = bip373.valid.cases[4] as Case;
    const v0 = json(decodeHex(c.hex));
    const v2bytes = parsePsbt(hex.decode(c.hex)).toPSBT(2);
    const v2 = json(decodePsbt(parsePsbt(v2bytes), 'testnet', v2bytes));
    expect(v2.psbt_version).toBe(2);
    expect(v2.tx).toEqual(v0.tx);
    expect(v2.inputs).toEqual(v0.inputs);
    expect(v2.fee_sat).toBe(v0.fee_sat);
    expect(typeof v2.tx_modifiable).toBe('number');
  });
});

describe('scriptType follows Core names', () => {
  const cases: [string, string][] = [
    ['76a914000000000000000000000000000000000000000088ac', 'pubkeyhash'],
    ['a914000000000000000000000000000000000000000087', 'scripthash'],
    ['00140000000000000000000000000000000000000000', 'witness_v0_keyhash'],
    [`0020${'00'.repeat(32)}`, 'witness_v0_scripthash'],
    [`5120${AGGREGATE.slice(2)}`, 'witness_v1_taproot'],
    ['51024e73', 'anchor'],
    ['6a0100', 'nulldata'],
    ['6a', 'nulldata'],
    ['5202abcd', 'witness_unknown'],
    [`21${PARTICIPANTS[0]}ac`, 'pubkey'],
    [`5121${PARTICIPANTS[0]}21${PARTICIPANTS[1]}52ae`, 'multisig'],
    ['ac', 'nonstandard'],
    ['0015000000000000000000000000000000000000000000', 'nonstandard'],
    // Core's Solver takes any 32-byte version-1 program as taproot, its key unchecked: x = 0 is not on the curve.
    [`5120${'00'.repeat(32)}`, 'witness_v1_taproot'],
    [`5114${'00'.repeat(20)}`, 'witness_unknown'],
    [`6028${'00'.repeat(40)}`, 'witness_unknown'],
    // Core matches these templates byte for byte: a push that is not the minimal one is not
    // the template (btc-signer's OutScript, which named them before, reads through it).
    [`004c14${'00'.repeat(20)}`, 'nonstandard'],
    [`004d1400${'00'.repeat(20)}`, 'nonstandard'],
    [`76a94c14${'00'.repeat(20)}88ac`, 'nonstandard'],
    [`a94c14${'00'.repeat(20)}87`, 'nonstandard'],
    [`514c20${'00'.repeat(32)}`, 'nonstandard'],
    ['514c024e73', 'nonstandard'],
  ];
  for (const [script, type] of cases) {
    it(`${script.slice(0, 16)}… is ${type}`, () => expect(scriptType(hex.decode(script))).toBe(type));
  }

  it('a witness program of version 1 to 16 has its bech32m address whatever its program (Core: WitnessV1Taproot, PayToAnchor, WitnessUnknown); version 0 only as P2WPKH/P2WSH', () => {
    const bech32mOf = (version: number, program: string) => bech32m.encode('bcrt', [version, ...bech32m.toWords(hex.decode(program))]);
    const address = (script: string) => scriptPubKeyView(hex.decode(script), 'regtest').address;
    expect(address(`5120${'00'.repeat(32)}`)).toBe(bech32mOf(1, '00'.repeat(32)));
    expect(address(`5120${AGGREGATE.slice(2)}`)).toBe(bech32mOf(1, AGGREGATE.slice(2)));
    expect(address('51024e73')).toBe(bech32mOf(1, '4e73'));
    expect(address('5202abcd')).toBe(bech32mOf(2, 'abcd'));
    expect(address(`6028${'11'.repeat(40)}`)).toBe(bech32mOf(16, '11'.repeat(40)));
    expect(address(`0015${'00'.repeat(21)}`)).toBeUndefined();
    expect(address('6a0100')).toBeUndefined();
  });
});

describe('field names are Bitcoin Core decodepsbt\'s', () => {
  // Core's decodepsbt input and output field names (src/rpc/rawtransaction.cpp), written
  // here rather than read from our types; PSBTv2's required_*_locktime are BIP-370's names.
  const CORE_INPUT_FIELDS = [
    'non_witness_utxo', 'witness_utxo', 'partial_signatures', 'sighash', 'redeem_script', 'witness_script', 'bip32_derivs',
    'final_scriptSig', 'final_scriptwitness', 'ripemd160_preimages', 'sha256_preimages', 'hash160_preimages', 'hash256_preimages',
    'taproot_key_path_sig', 'taproot_script_path_sigs', 'taproot_scripts', 'taproot_bip32_derivs', 'taproot_internal_key',
    'taproot_merkle_root', 'musig2_participant_pubkeys', 'musig2_pubnonces', 'musig2_partial_sigs', 'proprietary', 'unknown',
    'required_time_locktime', 'required_height_locktime',
  ];
  const CORE_OUTPUT_FIELDS = [
    'redeem_script', 'witness_script', 'bip32_derivs', 'taproot_internal_key', 'taproot_tree', 'taproot_bip32_derivs',
    'musig2_participant_pubkeys', 'proprietary', 'unknown',
  ];
  const workflow = (bip174.role_workflow.steps as { expected_psbt?: Case }[]).flatMap((s) => (s.expected_psbt ? [s.expected_psbt] : []));
  const all = [...bip174.valid.cases, ...bip174.fails_signer_checks.cases, ...bip373.valid.cases, ...workflow] as Case[];

  it('every input and output field decoded from the BIP-174 and BIP-373 vectors has a Core name, and the common ones all occur', () => {
    const inputFields = new Set<string>();
    const outputFields = new Set<string>();
    for (const c of all) {
      const view = json(decodeHex(c.hex));
      for (const input of view.inputs) Object.keys(input).forEach((k) => inputFields.add(k));
      for (const output of view.outputs) Object.keys(output).forEach((k) => outputFields.add(k));
    }
    expect([...inputFields].filter((k) => !CORE_INPUT_FIELDS.includes(k))).toEqual([]);
    expect([...outputFields].filter((k) => !CORE_OUTPUT_FIELDS.includes(k))).toEqual([]);
    const common = ['non_witness_utxo', 'witness_utxo', 'partial_signatures', 'final_scriptSig', 'final_scriptwitness', 'taproot_key_path_sig', 'musig2_participant_pubkeys', 'musig2_pubnonces', 'musig2_partial_sigs'];
    expect(common.filter((k) => !inputFields.has(k))).toEqual([]);
  });
});

/**
 * scriptType and the addresses it shows, against btc-signer's OutScript and Address — which named
 * and rendered every script before the keyless shapes were read off their bytes (decode.ts
 * scriptType, address.ts scriptAddress): on scripts of every shape, random and at the edges of
 * each template, on every network, the same name and the same address.
 */
describe('scriptType and addresses: the same as btc-signer gives', () => {
  const NETS = ['mainnet', 'testnet', 'signet', 'regtest'] as const;
  const PARAMS = { mainnet: NETWORK, testnet: TEST_NETWORK, signet: TEST_NETWORK, regtest: { ...TEST_NETWORK, bech32: 'bcrt' } };
  /** The former scriptType: OutScript's names, with Core's taproot rule and its witness_unknown. */
  function btcSignerType(script: Uint8Array): string {
    if (script[0] === 0x6a) return scriptType(script); // OP_RETURN: unchanged, read by Script.decode as before
    const isWitness = script.length >= 4 && script.length <= 42 && script[1] === script.length - 2 && (script[0] === 0 || (script[0]! >= 0x51 && script[0]! <= 0x60));
    if (isWitness && script[0] === 0x51 && script.length === 34) return 'witness_v1_taproot';
    let kind = 'unknown';
    try {
      kind = OutScript.decode(script).type;
    } catch {
      // unknown
    }
    const names: Record<string, string> = { pk: 'pubkey', pkh: 'pubkeyhash', sh: 'scripthash', ms: 'multisig', wpkh: 'witness_v0_keyhash', wsh: 'witness_v0_scripthash', tr: 'witness_v1_taproot', p2a: 'anchor' };
    return names[kind] ?? (isWitness && script[0] !== 0 ? 'witness_unknown' : 'nonstandard');
  }
  function btcSignerAddress(script: Uint8Array, network: (typeof NETS)[number]): string | undefined {
    const isWitness = script.length >= 4 && script.length <= 42 && script[1] === script.length - 2 && script[0]! >= 0x51 && script[0]! <= 0x60;
    if (isWitness) return bech32m.encode(PARAMS[network].bech32, [script[0]! - 0x50, ...bech32m.toWords(script.subarray(2))]);
    try {
      return Address(PARAMS[network]).encode(OutScript.decode(script));
    } catch {
      return undefined;
    }
  }
  const KEYS = [...PARTICIPANTS, AGGREGATE].map((k) => hex.decode(k));
  const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
  const script = fc.oneof(
    // witness programs of every version and length, and one byte off their shape
    fc.tuple(fc.constantFrom(0x00, 0x51, 0x52, 0x60, 0x50, 0x61), fc.integer({ min: 1, max: 41 }), fc.integer({ min: -1, max: 1 }))
      .chain(([op, n, off]) => bytes(n, n).map((p) => Uint8Array.from([op, n + off, ...p]))),
    fc.constantFrom(hex.decode('51024e73'), hex.decode('51024e74'), hex.decode('00024e73')),
    fc.tuple(fc.constantFrom(0x00, 0x51), fc.constantFrom(20, 32)).chain(([op, n]) => bytes(n, n).map((p) => Uint8Array.from([op, n, ...p]))),
    bytes(20, 20).map((h) => Uint8Array.from([0xa9, 0x14, ...h, 0x87])),
    bytes(20, 20).map((h) => Uint8Array.from([0x76, 0xa9, 0x14, ...h, 0x88, 0xac])),
    bytes(20, 20).map((h) => Uint8Array.from([0x76, 0xa9, 0x14, ...h, 0x88, 0xad])),
    bytes(21, 21).map((h) => Uint8Array.from([0xa9, 0x14, ...h, 0x87])),
    fc.constantFrom(...KEYS).map((k) => Uint8Array.from([0x21, ...k, 0xac])),
    fc.subarray(KEYS, { minLength: 1 }).map((ks) => Uint8Array.from([0x51, ...ks.flatMap((k) => [0x21, ...k]), 0x50 + ks.length, 0xae])),
    bytes(0, 45),
  );

  it('every shape, every network', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(script, fc.constantFrom(...NETS), (s, network) => {
        const type = scriptType(s);
        seen.add(type);
        expect(type, hex.encode(s)).toBe(btcSignerType(s));
        const view = scriptPubKeyView(s, network);
        const expected = type === 'nonstandard' || type === 'nulldata' ? undefined : btcSignerAddress(s, network);
        expect(view.address, `${hex.encode(s)} on ${network}`).toBe(expected);
      }),
      { numRuns: 4000 },
    );
    // Every name was met, so each template was compared, not only the fallback.
    expect([...seen].sort()).toEqual(['anchor', 'multisig', 'nonstandard', 'pubkey', 'pubkeyhash', 'scripthash', 'witness_unknown', 'witness_v0_keyhash', 'witness_v0_scripthash', 'witness_v1_taproot']);
  });
});
