/**
 * BOLT 3 scripts: script numbers and pushes as the spec's byte-exact scripts need them,
 * and `decodeBolt3Script` reading back every witness script of the vectors (Appendix C
 * lists them; the anchors and zero-fee ones are the last witness item of the spec's
 * signed HTLC transactions) — and naming nothing that is not exactly a BOLT 3 script.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { decodeBolt3Script } from '../../../src/lib/bolt3/script-decode.ts';
import fc from 'fast-check';
import { putScriptNumber, scriptNumber, scriptNumberLength } from '../../../src/lib/bolt3/script.ts';
import { anchorScript, fundingScript, offeredHtlcScript, receivedHtlcScript, toLocalScript, toRemoteAnchorsScript } from '../../../src/lib/bolt3/scripts.ts';
import { loadVector } from '../../helpers.ts';
import { parseTx } from '../../independent/tx.ts';
import { C, F, htlc } from './appendix-c.ts';

const ripemd160 = (b: Uint8Array) => new Uint8Array(createHash('ripemd160').update(b).digest());
const hash160 = (b: Uint8Array) => ripemd160(new Uint8Array(createHash('sha256').update(b).digest()));
const keys = {
  revocationPubkey: fromHex(C.keys.local_revocation_pubkey),
  localHtlcPubkey: fromHex(C.keys.local_htlcpubkey),
  remoteHtlcPubkey: fromHex(C.keys.remote_htlcpubkey),
};

describe('script numbers', () => {
  it('are minimal: OP_0, OP_1..OP_16, then sign-magnitude little-endian pushes', () => {
    expect(toHex(scriptNumber(0))).toBe('00');
    expect(toHex(scriptNumber(1))).toBe('51');
    expect(toHex(scriptNumber(16))).toBe('60');
    expect(toHex(scriptNumber(32))).toBe('0120');
    expect(toHex(scriptNumber(127))).toBe('017f');
    expect(toHex(scriptNumber(128))).toBe('028000');
    expect(toHex(scriptNumber(144))).toBe('029000'); // Appendix C's to_self_delay
    expect(toHex(scriptNumber(500))).toBe('02f401'); // HTLC #0's cltv_expiry
    expect(toHex(scriptNumber(920150))).toBe('03560a0e'); // a zero-fee vector's cltv_expiry
    expect(toHex(scriptNumber(-1))).toBe('0181');
  });

  it('scriptNumber, and putScriptNumber written at any offset between other bytes, equal the sign-magnitude rule written here for any safe integer, the byte edges included', () => {
    const reference = (n: number): string => {
      if (n === 0) return '00';
      if (n >= 1 && n <= 16) return (0x50 + n).toString(16);
      const b: number[] = [];
      for (let v = Math.abs(n); v > 0; v = Math.floor(v / 256)) b.push(v % 256);
      if (b[b.length - 1]! >= 0x80) b.push(n < 0 ? 0x80 : 0);
      else if (n < 0) b[b.length - 1] = b[b.length - 1]! + 0x80;
      return Buffer.from([b.length, ...b]).toString('hex');
    };
    const edges = [0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffff, 0x800000, 0x7fffffff, 0x80000000, 2 ** 40, 2 ** 47, Number.MAX_SAFE_INTEGER];
    const n = fc.oneof(fc.integer({ min: -17, max: 17 }), fc.maxSafeInteger(), fc.constantFrom(...edges, ...edges.map((e) => -e)));
    fc.assert(
      fc.property(n, fc.nat(5), (x, at) => {
        expect(toHex(scriptNumber(x))).toBe(reference(x));
        expect(scriptNumberLength(x)).toBe(reference(x).length / 2);
        const out = new Uint8Array(at + scriptNumberLength(x) + 3).fill(0xee);
        expect(putScriptNumber(out, at, x)).toBe(at + scriptNumberLength(x));
        expect(toHex(out)).toBe('ee'.repeat(at) + reference(x) + 'eeeeee');
      }),
      { numRuns: 400 },
    );
    expect(() => scriptNumber(1.5)).toThrow(RangeError);
  });
});

describe('decodeBolt3Script', () => {
  it('example: the Appendix C to_local script gives back its keys and delay', () => {
    const spec = C.test_vectors[1].untrimmed_outputs.find((o: { type: string }) => o.type === 'to_local').witness_script;
    const decoded = decodeBolt3Script(fromHex(spec));
    expect(decoded).toEqual({
      kind: 'to_local',
      revocationPubkey: fromHex(C.keys.local_revocation_pubkey),
      toSelfDelay: 144,
      localDelayedPubkey: fromHex(C.keys.local_delayedpubkey),
    });
    expect(toHex(toLocalScript(keys.revocationPubkey, 144, fromHex(C.keys.local_delayedpubkey)))).toBe(spec);
  });

  it('the funding script', () => {
    const d = decodeBolt3Script(fromHex(C.keys.funding_witness_script));
    expect(d).toEqual({ kind: 'funding', pubkeys: [fromHex(C.keys.local_funding_pubkey), fromHex(C.keys.remote_funding_pubkey)] });
    expect(toHex(fundingScript(fromHex(C.keys.remote_funding_pubkey), fromHex(C.keys.local_funding_pubkey)))).toBe(C.keys.funding_witness_script);
  });

  const appendixC = new Map<string, { type: string; htlc_index?: number }>();
  for (const t of C.test_vectors) for (const o of t.untrimmed_outputs) if (o.witness_script) appendixC.set(o.witness_script, o);
  for (const [script, o] of appendixC) {
    it(`Appendix C ${o.type}${o.htlc_index === undefined ? '' : ` #${o.htlc_index}`}: decoded and rebuilt byte for byte`, () => {
      const d = decodeBolt3Script(fromHex(script))!;
      expect(d.kind).toBe(o.type);
      if (d.kind === 'offered_htlc' || d.kind === 'received_htlc') {
        const h = htlc(o.htlc_index!);
        expect(d.revocationPubkeyHash).toEqual(hash160(keys.revocationPubkey));
        expect(d.paymentHashRipemd160).toEqual(ripemd160(h.paymentHash));
        expect(d.localHtlcPubkey).toEqual(keys.localHtlcPubkey);
        expect(d.remoteHtlcPubkey).toEqual(keys.remoteHtlcPubkey);
        expect(d.csv).toBe(0);
        const rebuilt = d.kind === 'offered_htlc' ? offeredHtlcScript(keys, h.paymentHash) : receivedHtlcScript(keys, h.paymentHash, d.cltvExpiry);
        if (d.kind === 'received_htlc') expect(d.cltvExpiry).toBe(h.cltvExpiry);
        expect(toHex(rebuilt)).toBe(script);
      }
    });
  }

  it('anchors: every HTLC script of Appendix F has the 1-block CSV, and rebuilds with csv = 1', () => {
    let n = 0;
    for (const t of F.test_vectors) {
      for (const d of t.HtlcDescs) {
        const script = parseTx(d.ResolutionTxHex).inputs[0]!.witness.at(-1)!;
        const decoded = decodeBolt3Script(script)!;
        expect(decoded.kind === 'offered_htlc' || decoded.kind === 'received_htlc').toBe(true);
        if (decoded.kind !== 'offered_htlc' && decoded.kind !== 'received_htlc') continue;
        expect(decoded.csv).toBe(1);
        const h = [0, 1, 2, 3, 4, 5, 6].map(htlc).find((x) => toHex(ripemd160(x.paymentHash)) === toHex(decoded.paymentHashRipemd160) && x.direction === (decoded.kind === 'offered_htlc' ? 'offered' : 'received'))!;
        const rebuilt = decoded.kind === 'offered_htlc' ? offeredHtlcScript(keys, h.paymentHash, 1) : receivedHtlcScript(keys, h.paymentHash, decoded.cltvExpiry, 1);
        expect(toHex(rebuilt)).toBe(toHex(script));
        n++;
      }
    }
    expect(n).toBe(15);
  });

  it('zero-fee: HTLC scripts without CSV', () => {
    const Z = loadVector('bolts/bolt03/zero-fee-commitments-test.json');
    const scripts = Z.tests.flatMap((t: { signed_htlc_success_txs?: string[]; signed_htlc_timeout_txs?: string[] }) => [
      ...(t.signed_htlc_success_txs ?? []),
      ...(t.signed_htlc_timeout_txs ?? []),
    ]).map((hex: string) => parseTx(hex).inputs[0]!.witness.at(-1)!);
    expect(scripts).toHaveLength(16);
    for (const s of scripts) {
      const d = decodeBolt3Script(s)!;
      expect(['offered_htlc', 'received_htlc']).toContain(d.kind);
      expect((d as { csv: number }).csv).toBe(0);
    }
  });

  it('the anchor and anchors to_remote scripts', () => {
    const key = fromHex(C.keys.local_funding_pubkey);
    expect(decodeBolt3Script(anchorScript(key))).toEqual({ kind: 'anchor', fundingPubkey: key });
    expect(decodeBolt3Script(toRemoteAnchorsScript(key))).toEqual({ kind: 'to_remote_anchors', remotePubkey: key });
  });

  it('names nothing that is not exactly a BOLT 3 script', () => {
    const toLocal = toLocalScript(keys.revocationPubkey, 144, keys.localHtlcPubkey);
    const changed = Uint8Array.from(toLocal);
    changed[changed.length - 1] = 0xad; // OP_CHECKSIGVERIFY instead of OP_CHECKSIG
    expect(decodeBolt3Script(changed)).toBeUndefined();
    // The same key pushed with OP_PUSHDATA1 is not minimal: BOLT 3 never writes it.
    const nonMinimal = Uint8Array.from([0x63, 0x4c, 33, ...keys.revocationPubkey, ...toLocal.subarray(35)]);
    expect(decodeBolt3Script(nonMinimal)).toBeUndefined();
    // A delay written as a non-minimal number.
    const paddedDelay = Uint8Array.from([...toLocal.subarray(0, 36), 0x03, 0x90, 0x00, 0x00, ...toLocal.subarray(39)]);
    expect(decodeBolt3Script(paddedDelay)).toBeUndefined();
    expect(decodeBolt3Script(toLocal.subarray(0, 20))).toBeUndefined();
    expect(decodeBolt3Script(new Uint8Array(0))).toBeUndefined();
  });
});
