/**
 * BOLT 3's speed changes (d173447: the BIP-143 preimage written once, scripts assembled
 * without a chunk per opcode, transactions into one pre-sized buffer, RIPEMD160 on
 * OpenSSL) must give the bytes they gave before. The references are test code sharing
 * nothing with src/lib/bolt3: the transaction is written and parsed with
 * test/independent/tx.ts's helpers, the BIP-143 digest by ./independent-p2wsh.ts (from the
 * BIP text), scripts by hand from the Script push rules, HASH160 by node:crypto.
 * Sizes cover the CompactSize edges (252/253 outputs and script bytes, 483 HTLCs + 2),
 * every hash type, SIGHASH_SINGLE past the last output, and pushes of 0..255 bytes.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { toHex } from '../../../src/lib/bytes.ts';
import { serializeTx, txid, weight, type Tx } from '../../../src/lib/bolt3/tx.ts';
import { derFromCompact } from '../../../src/lib/bolt3/ecdsa.ts';
import { segwitV0Sighash } from '../../../src/lib/bolt3/sighash.ts';
import { hash160, script, type ScriptPart } from '../../../src/lib/bolt3/script.ts';
import { offeredHtlcScript, receivedHtlcScript } from '../../../src/lib/bolt3/scripts.ts';
import { compactSize, concat, u32le, u64le } from '../../independent/tx.ts';
import { bip143SingleHash, hash160 as refHash160, p2wshOf, parseTx, verifyEcdsa } from './independent-p2wsh.ts';
import { buildCommitment } from '../../../src/lib/bolt3/commitment.ts';
import { buildHtlcTransactions } from '../../../src/lib/bolt3/htlc-tx.ts';
import { signCounterpartyCommitment } from '../../../src/lib/bolt3/sign.ts';
import { ANCHORS, LEGACY } from '../../../src/lib/bolt3/formats.ts';
import { channel, perCommitmentPoint, secrets } from './appendix-c.ts';
import { C } from './appendix-c.ts';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const input = fc.record({
  txid: hex32,
  vout: u32,
  sequence: u32,
  scriptSig: fc.option(bytes(80), { nil: undefined }),
  witness: fc.option(fc.array(bytes(300), { maxLength: 5 }), { nil: undefined }),
});
const output = fc.record({ amount: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), script: bytes(300) });
const outputs = fc.oneof(
  { weight: 4, arbitrary: fc.array(output, { maxLength: 6 }) },
  // 252/253 straddle the 1- to 3-byte CompactSize; 485 = 483 HTLCs (BOLT 2's max_accepted_htlcs) + to_local + to_remote.
  { weight: 1, arbitrary: fc.constantFrom(252, 253, 485).chain((n) => fc.array(fc.record({ amount: fc.bigInt({ min: 0n, max: 1n << 40n }), script: bytes(34) }), { minLength: n, maxLength: n })) },
);
const tx: fc.Arbitrary<Tx> = fc.record({
  version: u32,
  lockTime: u32,
  // One shared txid for several inputs too, and three txids interleaved: the serializer keeps the last two it decoded.
  inputs: fc.oneof(
    fc.array(input, { minLength: 1, maxLength: 4 }),
    fc.tuple(input, fc.array(input, { minLength: 1, maxLength: 3 })).map(([a, rest]) => [a, ...rest.map((r) => ({ ...r, txid: a.txid }))]),
    fc.tuple(fc.array(hex32, { minLength: 3, maxLength: 3 }), fc.array(fc.tuple(input, fc.nat(2)), { minLength: 2, maxLength: 8 })).map(([ids, rest]) => rest.map(([r, k]) => ({ ...r, txid: ids[k]! }))),
  ),
  outputs,
});

/** BIP-144 / legacy serialization, written here. */
function reference(t: Tx, withWitness: boolean): Uint8Array {
  const segwit = withWitness && t.inputs.some((i) => (i.witness ?? []).length > 0);
  const parts: Uint8Array[] = [u32le(t.version)];
  if (segwit) parts.push(Uint8Array.of(0, 1));
  parts.push(compactSize(t.inputs.length));
  for (const i of t.inputs) {
    const sig = i.scriptSig ?? new Uint8Array(0);
    parts.push(Buffer.from(i.txid, 'hex').reverse(), u32le(i.vout), compactSize(sig.length), sig, u32le(i.sequence));
  }
  parts.push(compactSize(t.outputs.length));
  for (const o of t.outputs) parts.push(u64le(o.amount), compactSize(o.script.length), o.script);
  if (segwit) for (const i of t.inputs) {
    const items = i.witness ?? [];
    parts.push(compactSize(items.length));
    for (const item of items) parts.push(compactSize(item.length), item);
  }
  parts.push(u32le(t.lockTime));
  return concat(...parts);
}

const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/** A non-negative Script number as Script pushes it: OP_0, OP_1..OP_16, else a minimal little-endian push with a sign byte when needed. */
function refNum(n: number): Uint8Array {
  if (n === 0) return Uint8Array.of(0);
  if (n <= 16) return Uint8Array.of(0x50 + n);
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.push(v & 0xff);
  if (b[b.length - 1]! & 0x80) b.push(0);
  return Uint8Array.of(b.length, ...b);
}

describe('BOLT 3 bytes: the one-buffer serializers, the written-once BIP-143 preimage and the script assembler against references in test code', () => {
  it('serializeTx (both forms), txid and weight equal the reference and the independent parser', () => {
    fc.assert(
      fc.property(tx, (t) => {
        const full = serializeTx(t);
        const stripped = serializeTx(t, false);
        expect(toHex(full)).toBe(toHex(reference(t, true)));
        expect(toHex(stripped)).toBe(toHex(reference(t, false)));
        const parsed = parseTx(full);
        expect(txid(t)).toBe(parsed.txid);
        expect(weight(t)).toBe(parsed.weight);
      }),
      { numRuns: 60 },
    );
  });

  it('segwitV0Sighash equals BIP-143 from the BIP text for every hash type, any input, witness scripts across the 253-byte CompactSize edge', () => {
    const hashType = fc.constantFrom(0x01, 0x02, 0x03, 0x81, 0x82, 0x83);
    fc.assert(
      fc.property(tx, fc.nat(), fc.uint8Array({ maxLength: 600 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), hashType, (t, at, ws, amount, ht) => {
        const index = at % t.inputs.length;
        const parsed = parseTx(serializeTx(t, false));
        expect(toHex(segwitV0Sighash(t, index, ws, amount, ht))).toBe(toHex(sha(bip143SingleHash(parsed, index, ws, amount, ht))));
      }),
      { numRuns: 150 },
    );
  });

  it('SIGHASH_SINGLE on an input past the last output commits to 32 zero bytes (BIP-143), as before', () => {
    const t: Tx = { version: 2, lockTime: 0, inputs: [0, 1].map((vout) => ({ txid: '11'.repeat(32), vout, sequence: 0 })), outputs: [{ amount: 1n, script: Uint8Array.of(0x51) }] };
    const parsed = parseTx(serializeTx(t, false));
    for (const ht of [0x03, 0x83]) expect(toHex(segwitV0Sighash(t, 1, Uint8Array.of(0x51), 5n, ht))).toBe(toHex(sha(bip143SingleHash(parsed, 1, Uint8Array.of(0x51), 5n, ht))));
  });

  it('script() writes opcodes, minimal pushes of 0..255 bytes and small numbers as Script does; hash160 is RIPEMD160(SHA256)', () => {
    const part: fc.Arbitrary<ScriptPart> = fc.oneof(
      fc.integer({ min: 0x4f, max: 0xff }),
      fc.uint8Array({ maxLength: 255 }),
      // the push encodings' edges: OP_0-length, 20/32/33-byte keys and hashes, 75 | 76 (OP_PUSHDATA1), 255
      fc.constantFrom(0, 1, 20, 32, 33, 74, 75, 76, 77, 254, 255).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })), fc.integer({ min: 0, max: 0x7fffffff }).map((num) => ({ num })));
    const refPush = (d: Uint8Array): Uint8Array => concat(d.length <= 75 ? Uint8Array.of(d.length) : Uint8Array.of(0x4c, d.length), d);
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
        const want = concat(...parts.map((p) => (typeof p === 'number' ? Uint8Array.of(p) : p instanceof Uint8Array ? refPush(p) : refNum(p.num))));
        expect(toHex(script(...parts))).toBe(toHex(want));
        expect(toHex(hash160(want))).toBe(toHex(refHash160(want)));
      }),
      { numRuns: 150 },
    );
  });

  it('offered and received HTLC scripts, assembled once per kind, CSV and key lengths and filled per HTLC, equal BOLT 3\'s text written out byte by byte — for many HTLCs of one keys object, keys objects (and key lengths) interleaved, a payment hash changed in place and a key replaced in place', () => {
    // The BOLT 3 templates by hand: opcodes as bytes, every push a length byte, cltv_expiry a minimal script number.
    const ripemd = (b: Uint8Array) => new Uint8Array(createHash('ripemd160').update(b).digest());
    type K = { revocationPubkey: Uint8Array; localHtlcPubkey: Uint8Array; remoteHtlcPubkey: Uint8Array };
    const csvPart = (csv: number) => (csv > 0 ? concat(refNum(csv), Uint8Array.of(0xb2, 0x75)) : new Uint8Array(0));
    // A key pushed as Script pushes it (33 bytes in BOLT 3; other lengths too, OP_PUSHDATA1 past 75).
    const push = (d: Uint8Array) => concat(d.length <= 75 ? Uint8Array.of(d.length) : Uint8Array.of(0x4c, d.length), d);
    const offered = (k: K, ph: Uint8Array, csv: number) => concat(
      Uint8Array.of(0x76, 0xa9, 20), refHash160(k.revocationPubkey), Uint8Array.of(0x87, 0x63, 0xac, 0x67), push(k.remoteHtlcPubkey),
      Uint8Array.of(0x7c, 0x82, 0x01, 0x20, 0x87, 0x64, 0x75, 0x52, 0x7c), push(k.localHtlcPubkey), Uint8Array.of(0x52, 0xae, 0x67, 0xa9, 20), ripemd(ph),
      Uint8Array.of(0x88, 0xac, 0x68), csvPart(csv), Uint8Array.of(0x68),
    );
    const received = (k: K, ph: Uint8Array, cltv: number, csv: number) => concat(
      Uint8Array.of(0x76, 0xa9, 20), refHash160(k.revocationPubkey), Uint8Array.of(0x87, 0x63, 0xac, 0x67), push(k.remoteHtlcPubkey),
      Uint8Array.of(0x7c, 0x82, 0x01, 0x20, 0x87, 0x63, 0xa9, 20), ripemd(ph), Uint8Array.of(0x88, 0x52, 0x7c), push(k.localHtlcPubkey),
      Uint8Array.of(0x52, 0xae, 0x67, 0x75), refNum(cltv), Uint8Array.of(0xb1, 0x75, 0xac, 0x68), csvPart(csv), Uint8Array.of(0x68),
    );
    // Mostly 33-byte keys; now and then another length (0, a 20-byte hash, 65 uncompressed, the 75 | 76 push edge, 255),
    // which assembles a template of its own: the offsets of its open places move with the keys' lengths.
    const key = fc.oneof(
      { weight: 6, arbitrary: fc.uint8Array({ minLength: 33, maxLength: 33 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, 20, 65, 75, 76, 255).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })) },
    );
    const keysArb = fc.record({ revocationPubkey: key, localHtlcPubkey: key, remoteHtlcPubkey: key });
    // cltv_expiry across the script number's length edges (OP_N, 1..4 bytes, a sign byte) up to BOLT 2's 500,000,000.
    const cltv = fc.oneof(fc.integer({ min: 0, max: 499_999_999 }), fc.constantFrom(0, 1, 16, 17, 127, 128, 255, 256, 32767, 32768, 8_388_607, 8_388_608, 499_999_999));
    const htlc = fc.record({ offered: fc.boolean(), paymentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }), cltv, csv: fc.constantFrom(0, 1, 16, 17) });
    fc.assert(
      fc.property(fc.array(keysArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(2), htlc), { minLength: 1, maxLength: 12 }), fc.nat(2), key, (keyObjects, htlcs, replaced, newKey) => {
        const check = () => {
          for (const [which, h] of htlcs) {
            const k = keyObjects[which % keyObjects.length]!;
            const got = h.offered ? offeredHtlcScript(k, h.paymentHash, h.csv) : receivedHtlcScript(k, h.paymentHash, h.cltv, h.csv);
            const want = h.offered ? offered(k, h.paymentHash, h.csv) : received(k, h.paymentHash, h.cltv, h.csv);
            expect(toHex(got)).toBe(toHex(want));
          }
        };
        check();
        // A payment hash changed in place (its RIPEMD160 is kept by the array): the scripts follow the new bytes.
        const changed = htlcs[0]![1].paymentHash;
        changed[replaced * 7] = changed[replaced * 7]! ^ 0x5a;
        check();
        // One of the keys replaced in the same keys object: the scripts follow the new key.
        const k = keyObjects[0]!;
        if (replaced === 0) k.revocationPubkey = newKey;
        else if (replaced === 1) k.localHtlcPubkey = newKey;
        else k.remoteHtlcPubkey = newKey;
        check();
      }),
      { numRuns: 150 },
    );
  });

  it('derFromCompact is strict DER (BIP-66) as written here from the rules, for any 64 bytes: leading zero bytes dropped, a 0x00 before a set top bit, one byte kept of a zero', () => {
    const derInt = (b: Uint8Array): Uint8Array => {
      let i = 0;
      while (i < 31 && b[i] === 0) i++;
      const body = b[i]! & 0x80 ? concat(Uint8Array.of(0), b.subarray(i)) : b.subarray(i);
      return concat(Uint8Array.of(0x02, body.length), body);
    };
    const ref = (c: Uint8Array): Uint8Array => {
      const body = concat(derInt(c.subarray(0, 32)), derInt(c.subarray(32)));
      return concat(Uint8Array.of(0x30, body.length), body);
    };
    // Halves with 0..32 leading zero bytes and a top bit set or clear after them.
    const half = fc.tuple(fc.integer({ min: 0, max: 32 }), fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([zeros, high, b]) => {
      const out = Uint8Array.from(b);
      out.fill(0, 0, zeros);
      if (zeros < 32) out[zeros] = high ? out[zeros]! | 0x80 : (out[zeros]! & 0x7f) || 1;
      return out;
    });
    const compact = fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.tuple(half, half).map(([r, s]) => concat(r, s)));
    fc.assert(
      fc.property(compact, (c) => {
        expect(toHex(derFromCompact(c))).toBe(toHex(ref(c)));
      }),
      { numRuns: 400 },
    );
    for (const c of [new Uint8Array(64), new Uint8Array(64).fill(0xff), concat(new Uint8Array(31), Uint8Array.of(1), new Uint8Array(32).fill(0x80))]) {
      expect(toHex(derFromCompact(c))).toBe(toHex(ref(c)));
    }
  });

  it('a commitment of a channel whose funding key is changed in place: its anchors and the funding script its signature commits to follow the new key (the scripts kept by key array compare its bytes)', () => {
    const params = channel(ANCHORS);
    const hs = [{ direction: 'offered' as const, amountMsat: 5_000_000n, paymentHash: sha(Uint8Array.of(1)), cltvExpiry: 600 }];
    const toRemoteMsat = 1_000_000_000n;
    const toLocalMsat = params.fundingSatoshis * 1000n - toRemoteMsat - 5_000_000n;
    const check = () => {
      const c = buildCommitment(params, { commitmentNumber: 1, perCommitmentPoint, toLocalMsat, toRemoteMsat, feeratePerKw: 253, htlcs: hs });
      const anchorOf = (k: Uint8Array) => p2wshOf(concat(Uint8Array.of(33), k, Uint8Array.of(0xac, 0x73, 0x64, 0x60, 0xb2, 0x68)));
      const anchors = c.outputs.filter((o) => o.kind === 'to_local_anchor' || o.kind === 'to_remote_anchor').map((o) => toHex(o.script)).sort();
      expect(anchors).toEqual([anchorOf(params.local.fundingPubkey), anchorOf(params.remote.fundingPubkey)].map(toHex).sort());
      const [a, b] = [params.local.fundingPubkey, params.remote.fundingPubkey].sort((x, y) => Buffer.compare(x, y));
      const funding = concat(Uint8Array.of(0x52, 33), a!, Uint8Array.of(33), b!, Uint8Array.of(0x52, 0xae));
      const signed = signCounterpartyCommitment(c, buildHtlcTransactions(c), secrets.remoteFunding, secrets.remotePaymentBasepoint);
      expect(verifyEcdsa(params.remote.fundingPubkey, signed.signature, bip143SingleHash(parseTx(serializeTx(c.tx)), 0, funding, params.fundingSatoshis, 0x01))).toBe(true);
    };
    check();
    params.local.fundingPubkey.set(params.local.delayedPaymentBasepoint); // another point, written over the same array
    check();
  });

  it('to_local and the second stage (one output made per commitment keys object) follow a key replaced in that object and another to_self_delay', () => {
    // BOLT 3 to_local by hand: OP_IF <revocationpubkey> OP_ELSE <to_self_delay> OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG.
    const toLocal = (rev: Uint8Array, delay: number, delayed: Uint8Array) =>
      concat(Uint8Array.of(0x63, 33), rev, Uint8Array.of(0x67), refNum(delay), Uint8Array.of(0xb2, 0x75, 33), delayed, Uint8Array.of(0x68, 0xac));
    const key = fc.uint8Array({ minLength: 33, maxLength: 33 });
    fc.assert(
      fc.property(key, key, key, fc.constantFrom(0, 1, 16, 17, 144, 2016, 65535), fc.constantFrom(1, 144, 65535), fc.boolean(), (rev, delayed, other, d1, d2, which) => {
        const keys = { perCommitmentPoint: rev, revocationPubkey: rev, localDelayedPubkey: delayed, localHtlcPubkey: rev, remoteHtlcPubkey: rev, remotePubkey: rev };
        const check = (d: number) => {
          for (const format of [LEGACY, ANCHORS]) {
            for (const o of [format.toLocal(keys, d), format.secondStage(keys, d)]) {
              const want = toLocal(keys.revocationPubkey, d, keys.localDelayedPubkey);
              expect(toHex(o.witnessScript!)).toBe(toHex(want));
              expect(toHex(o.script)).toBe(toHex(p2wshOf(want)));
            }
          }
        };
        check(d1);
        check(d2);
        if (which) keys.revocationPubkey = other;
        else keys.localDelayedPubkey = other;
        check(d2);
      }),
      { numRuns: 60 },
    );
  });

  it('a returned transaction or script is not overwritten by the next call (no shared scratch buffer)', () => {
    const t = fc.sample(tx, { numRuns: 2, seed: 7 });
    const first = serializeTx(t[0]!);
    const copy = toHex(first);
    const firstScript = script(0x76, new Uint8Array(20).fill(1), 0x88);
    serializeTx(t[1]!);
    segwitV0Sighash(t[1]!, 0, firstScript, 1n, 1);
    script(0x00, new Uint8Array(20).fill(2));
    expect(toHex(first)).toBe(copy);
    expect(toHex(firstScript)).toBe('7614' + '01'.repeat(20) + '88');
  });
  it('DER signatures and HTLC scripts (views of ranges of one shared ArrayBuffer) keep their own bytes: 600 of each made in a row, then each written over, none changes another', () => {
    const compacts = Array.from({ length: 600 }, (_, i) => sha(Uint8Array.of(i & 0xff, i >> 8, 1)).subarray(0, 32)).map((r, i) => concat(r, sha(Uint8Array.of(i & 0xff, i >> 8, 2))));
    const keys = { revocationPubkey: new Uint8Array(33).fill(2), localHtlcPubkey: new Uint8Array(33).fill(3), remoteHtlcPubkey: new Uint8Array(33).fill(4) };
    const made: Uint8Array[] = [];
    compacts.forEach((c, i) => {
      made.push(derFromCompact(c));
      made.push(i % 2 ? offeredHtlcScript(keys, c.subarray(0, 32), 1) : receivedHtlcScript(keys, c.subarray(0, 32), 500_000 + i, 0));
    });
    const want = made.map(toHex);
    made.forEach((m, i) => {
      expect(toHex(m)).toBe(want[i]);
      m.fill(0xff);
    });
    made.forEach((m, i) => expect(toHex(m)).toBe('ff'.repeat(want[i]!.length / 2)));
  });
  it('whole commitments with 0, 1..20 and 483 HTLCs (BOLT 2 max_accepted_htlcs), legacy and anchors: every P2WSH output is its witness script\'s hash and every signature verifies by OpenSSL over the BIP-143 digest written in the test', () => {
    const htlcs = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ({
      direction: (i + seed) % 2 ? ('offered' as const) : ('received' as const),
      amountMsat: BigInt(600_000 + ((i * 7919 + seed * 104729) % 4_000_000)),
      paymentHash: sha(Uint8Array.of(i & 0xff, i >> 8, seed)),
      cltvExpiry: 500 + ((i * 31 + seed) % 300),
    }));
    const cases = fc.sample(fc.tuple(fc.constantFrom(LEGACY, ANCHORS), fc.integer({ min: 0, max: 20 }), fc.nat(1000)), { numRuns: 4, seed: 11 });
    cases.push([LEGACY, 0, 1], [ANCHORS, 483, 2]);
    for (const [format, n, seed] of cases) {
      const params = channel(format);
      const hs = htlcs(n, seed);
      const toRemoteMsat = 1_000_000_000n;
      const toLocalMsat = params.fundingSatoshis * 1000n - toRemoteMsat - hs.reduce((a, h) => a + h.amountMsat, 0n);
      const c = buildCommitment(params, { commitmentNumber: C.parameters.commitment_number, perCommitmentPoint, toLocalMsat, toRemoteMsat, feeratePerKw: 253, htlcs: hs });
      const htlcTxs = buildHtlcTransactions(c);
      const parsed = parseTx(serializeTx(c.tx));
      expect(parsed.txid).toBe(c.txid);
      expect(parsed.outputs.length).toBe(c.outputs.length);
      for (const o of c.outputs) if (o.witnessScript) expect(toHex(parsed.outputs[o.index]!.script)).toBe(toHex(p2wshOf(o.witnessScript)));
      // Each HTLC script holds RIPEMD160(payment_hash) (BOLT 3), here by node:crypto's own RIPEMD160.
      for (const o of c.outputs) if (o.htlc) expect(toHex(o.witnessScript!)).toContain('14' + createHash('ripemd160').update(o.htlc.paymentHash).digest('hex'));
      const [a, b] = [params.local.fundingPubkey, params.remote.fundingPubkey].sort((x, y) => Buffer.compare(x, y));
      const funding = concat(Uint8Array.of(0x52, 33), a!, Uint8Array.of(33), b!, Uint8Array.of(0x52, 0xae));
      const signed = signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, secrets.remotePaymentBasepoint);
      expect(verifyEcdsa(params.remote.fundingPubkey, signed.signature, bip143SingleHash(parsed, 0, funding, params.fundingSatoshis, 0x01))).toBe(true);
      expect(signed.htlcSignatures.length).toBe(htlcTxs.length);
      htlcTxs.forEach((h, i) => {
        const ph = parseTx(serializeTx(h.tx));
        expect(ph.inputs[0]!.txid).toBe(c.txid);
        expect(verifyEcdsa(c.keys.remoteHtlcPubkey, signed.htlcSignatures[i]!, bip143SingleHash(ph, 0, h.spentWitnessScript, h.spentAmountSat, h.remoteSighashType))).toBe(true);
      });
      if (n === 483) expect(htlcTxs.length).toBeGreaterThan(400);
    }
  });
});
