/**
 * Counterparty against counterparty-core's own test fixtures
 * (test/vectors/counterparty/, provenance in test/vectors/README.md): ARC4, the
 * OP_RETURN / multisig / pubkeyhash / P2SH encodings in real fixture transactions, and
 * the API's unpack answers for send, enhanced_send, issuance, broadcast and bet. Then
 * every supported message in every encoding, built by the test-side encoder (itself
 * checked against the composer vectors first).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { arc4 } from '../../../src/lib/counterparty/arc4.ts';
import { findData } from '../../../src/lib/counterparty/decode.ts';
import { assetName, unpackMessage } from '../../../src/lib/counterparty/messages.ts';
import { counterpartyMessage } from '../../../src/lib/counterparty/message.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { parseRawTx } from '../../../src/lib/openassets/tx.ts';
import { p2pkh as p2pkhAddress, TEST_NETWORK } from '@scure/btc-signer';
import { multisigScripts, opReturnScript, p2pkh, p2shDataScriptSig, rc4, serializeTx, PREFIX } from './encode.ts';

const load = (f: string) => JSON.parse(readFileSync(new URL(`../../vectors/counterparty/${f}`, import.meta.url), 'utf8'));
const g = load('gettxinfo_vectors.json');
const u = load('unpack_vectors.json');
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const tx = (h: string) => parseRawTx(bytes(h));
const SENDER = bytes('02e53b79237cacdc221cff4c0fb320223cac3e0fe30a682a22f19a70a3975aa3f8'); // a valid key (p2sh_test.py's)

describe('ARC4 (composer.py encrypt_data)', () => {
  const v = g.arc4[0];
  it('the library', () => expect(hex(arc4(bytes(v.key), enc(v.plaintext_utf8)))).toBe(v.ciphertext));
  it('the test-side encoder', () => expect(hex(rc4(bytes(v.key), enc(v.plaintext_utf8)))).toBe(v.ciphertext));
});

describe('the test-side encoder reproduces the composer vectors', () => {
  it('OP_RETURN', () => {
    const v = g.opreturn_output[0];
    expect(hex(opReturnScript(v.key_txid, enc(v.data_utf8), enc(v.prefix)))).toBe('6a' + (v.op_return_push.length / 2).toString(16) + v.op_return_push);
  });
  it('multisig pairs (the 31 data bytes of every key; sign and nonce bytes are chosen by the composer)', () => {
    const v = g.multisig_outputs[0];
    const scripts = multisigScripts(v.key_txid, enc(v.data_utf8_repeated.text.repeat(v.data_utf8_repeated.times)), SENDER, enc(v.prefix));
    expect(scripts.length).toBe(v.pubkey_pairs.length);
    scripts.forEach((s, i) => {
      expect(hex(s.subarray(3, 34))).toBe(v.pubkey_pairs[i][0].slice(2, 64));
      expect(hex(s.subarray(37, 68))).toBe(v.pubkey_pairs[i][1].slice(2, 64));
    });
  });
});

describe('encodings in counterparty-core\'s vectors', () => {
  it('OP_RETURN (composer): the data comes back', () => {
    const v = g.opreturn_output[0];
    const t = tx(serializeTx([{ txid: v.key_txid, vout: 0 }], [{ value: 0, script: bytes('6a15' + v.op_return_push) }]));
    const r = findData(t, 'testnet', enc(v.prefix));
    expect(r.encodings).toEqual(['opreturn']);
    expect(new TextDecoder().decode(r.data)).toBe(v.data_utf8);
  });
  it('multisig (composer MULTISIG_PAIRS): three 1-of-3 outputs give the 130 bytes back', () => {
    const v = g.multisig_outputs[0];
    const outs = v.pubkey_pairs.map((p: string[]) => ({ value: 1000, script: bytes('5121' + p[0] + '21' + p[1] + '21' + hex(SENDER) + '53ae') }));
    const r = findData(tx(serializeTx([{ txid: v.key_txid, vout: 0 }], outs)), 'testnet', enc(v.prefix));
    expect(r.encodings).toEqual(['multisig']);
    expect(new TextDecoder().decode(r.data)).toBe(v.data_utf8_repeated.text.repeat(v.data_utf8_repeated.times));
  });
  for (const v of g.transactions) {
    it(`${v.name}`, () => {
      const r = findData(tx(v.tx), v.network, enc(v.prefix));
      if (v.expected.error) {
        expect(r.data).toBeUndefined();
        expect(r.reason).toMatch(/no Counterparty data/);
        return;
      }
      expect(hex(r.data!)).toBe(v.expected.data);
      if (v.expected.destination !== undefined) {
        expect(r.destinations.map((d) => d.address)).toEqual([v.expected.destination]);
        expect(r.btcAmount).toBe(v.expected.btc_amount);
      }
    });
  }
  it('P2SH: the OP_RETURN carries the "P2SH" signal, the source is the redeem script\'s key, the broadcast unpacks', () => {
    const v = g.transactions.find((x: any) => x.name.startsWith('P2SH'));
    const t = tx(v.tx);
    const signal = arc4(bytes(t.inputs[0]!.prevTxid), t.outputs[0]!.script.subarray(2));
    expect(new TextDecoder().decode(signal)).toBe('CNTRPRTYP2SH');
    const m = counterpartyMessage(t, 'testnet') as any;
    expect(m.status).toBe('counterparty');
    expect(m.encoding).toEqual(['p2sh']);
    expect(m.source).toBe('mvUKQytkJXRhoV9JiRSJYeDKEXiq9Mm6rz');
    expect(m.message.message_type).toBe('broadcast');
    expect(m.message.message_data.text).toBe('CIP 6 supports using p2sh addresses as the source address but requires an additional input in the data transaction.');
  });
  it('with the wrong prefix nothing is found (the fixture transactions use TESTXXXX)', () => {
    const v = g.transactions[1];
    expect(findData(tx(v.tx), 'testnet').data).toBeUndefined();
  });
});

/** Fields a decoder without the ledger produces (status, mime_type, call fields are the API's). */
const DECODED_FIELDS = ['asset', 'asset_id', 'quantity', 'divisible', 'lock', 'reset', 'subasset_longname', 'description', 'address', 'memo', 'timestamp', 'value', 'fee_fraction_int', 'text', 'bet_type', 'deadline', 'wager_quantity', 'counterwager_quantity', 'target_value', 'leverage', 'expiration'];

describe('unpack (counterparty-core API v2 unpack vectors, block 784320)', () => {
  for (const v of u.vectors) {
    it(`${v.message_type} ${v.datahex.slice(0, 24)}…`, () => {
      const m = unpackMessage(bytes(v.datahex));
      expect(m.message_type).toBe(v.message_type);
      expect(m.message_type_id).toBe(v.message_type_id);
      if (v.message_data === null) return;
      const want = Object.fromEntries(Object.entries(v.message_data).filter(([k]) => DECODED_FIELDS.includes(k)));
      expect(m.message_data).toEqual(want);
    });
  }
  it('asset names: BTC, XCP, base 26, numeric', () => {
    expect([assetName(0n), assetName(1n), assetName(697326324582n), assetName(95428957336791984n)]).toEqual(['BTC', 'XCP', 'DIVISIBLE', 'A95428957336791984']);
  });
  it('truncated or over-long fixed-size payloads are malformed (E_XCP_MALFORMED)', () => {
    for (const h of ['000000000000000000000001', '0000000000000000000000010000000005f5e10000', '0000001400000000', '0000001e52bb3300', '00000028000152bb33']) {
      expect(() => unpackMessage(bytes(h))).toThrow(expect.objectContaining({ code: 'E_XCP_MALFORMED' }));
    }
  });
});

describe('every supported message in every encoding (test-side encoder → decoder)', () => {
  const KEY_TXID = 'e43c357b78baf473fd21cbc1481ac450746b60cf1d2702ce3a73a8811811e3eb';
  const pick = (type: string) => u.vectors.filter((v: any) => v.message_type === type && v.message_data);
  const cases = ['send', 'enhanced_send', 'issuance', 'broadcast'].map((t) => pick(t).at(-1)); // issuance: the subasset one
  const dest = { value: 5430, script: p2pkh('4838d8b3588c4c7ba7c1d06f866e9b3739c63037') };
  const change = { value: 99_000, script: p2pkh('8d6ae8a3b381663118b4e1eff4cfc7d0954dd6ec') };
  const build = (encoding: string, data: Uint8Array): string => {
    if (encoding === 'opreturn') return serializeTx([{ txid: KEY_TXID, vout: 0 }], [dest, { value: 0, script: opReturnScript(KEY_TXID, data) }, change]);
    if (encoding === 'multisig') return serializeTx([{ txid: KEY_TXID, vout: 0 }], [dest, ...multisigScripts(KEY_TXID, data, SENDER).map((script) => ({ value: 1000, script })), change]);
    // P2SH: the data in two inputs' redeem scripts (first chunk 40 bytes), "P2SH" in the OP_RETURN
    const ins = [data.subarray(0, 40), data.subarray(40)].filter((c) => c.length > 0).map((c, i) => ({ txid: KEY_TXID, vout: i, scriptSig: p2shDataScriptSig(c, SENDER, i) }));
    return serializeTx(ins, [dest, { value: 0, script: opReturnScript(KEY_TXID, enc('P2SH')) }]);
  };
  for (const encoding of ['opreturn', 'multisig', 'p2sh']) {
    for (const v of cases) {
      it(`${v.message_type} as ${encoding}`, () => {
        const m = counterpartyMessage(tx(build(encoding, bytes(v.datahex))), 'testnet') as any;
        expect(m.status).toBe('counterparty');
        expect(m.encoding).toEqual([encoding]);
        expect(m.data).toBe(v.datahex);
        expect(m.destinations.map((d: any) => d.address)).toEqual(['mn6q3dS2EnDUx3bmyWc6D4szJNVGtaR7zc']);
        expect(m.btc_amount).toBe(5430);
        const want = Object.fromEntries(Object.entries(v.message_data).filter(([k]) => DECODED_FIELDS.includes(k)));
        expect(m.message).toEqual({ message_type: v.message_type, message_type_id: v.message_type_id, message_data: want });
        if (encoding === 'p2sh') expect(m.source).toBe(p2pkhAddress(SENDER, TEST_NETWORK).address); // the redeem script's key, as a testnet P2PKH address (btc-signer)
      });
    }
  }
  it('a plain payment is not a Counterparty transaction (exit-0 answer with the reason)', () => {
    const m = counterpartyMessage(tx(serializeTx([{ txid: KEY_TXID, vout: 0 }], [dest, change])), 'testnet') as any;
    expect(m.status).toBe('not-counterparty');
    expect(m.reason).toMatch(/no Counterparty data/);
  });
  it('an OP_RETURN that does not decrypt to the prefix says so', () => {
    const m = counterpartyMessage(tx(serializeTx([{ txid: KEY_TXID, vout: 0 }], [{ value: 0, script: opReturnScript('00'.repeat(32), enc('x')) }])), 'testnet') as any;
    expect(m.status).toBe('not-counterparty');
    expect(m.reason).toMatch(/CNTRPRTY prefix/);
  });
  it('a malformed payload behind a valid prefix is decoded data with message_error', () => {
    const m = counterpartyMessage(tx(serializeTx([{ txid: KEY_TXID, vout: 0 }], [{ value: 0, script: opReturnScript(KEY_TXID, bytes('0000000000')) }])), 'testnet') as any;
    expect(m.status).toBe('counterparty');
    expect(m.message).toBeNull();
    expect(m.message_error).toMatch(/truncated/);
  });
  void PREFIX;
});

describe('fuzzing: never a crash, only answers or MalformedInputError', () => {
  const onlyMalformed = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(MalformedInputError);
    }
  };
  it('message payloads', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => onlyMalformed(() => unpackMessage(b))), { numRuns: 3000 });
  });
  it('transactions whose outputs are random scripts: an answer every time', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }), fc.uint8Array({ maxLength: 200 }), (scripts, sig) => {
      const t = tx(serializeTx([{ txid: '11'.repeat(32), vout: 0, scriptSig: sig }], scripts.map((script) => ({ value: 1, script }))));
      const m = counterpartyMessage(t, 'testnet') as any;
      expect(['counterparty', 'not-counterparty']).toContain(m.status);
    }), { numRuns: 2000 });
  });
});
