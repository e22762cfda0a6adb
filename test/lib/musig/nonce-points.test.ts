/**
 * A signer meets its own public nonce again when it aggregates (a mint, one state after it
 * issued it): the engine keeps the two points NonceGen computed, by the pubnonce's bytes, and
 * does not decompress them again (nonces.ts, NonceAggCache.nonceGen). What that may change:
 * nothing but the work — the aggregate is checked here against one computed with points
 * decoded and added by test/independent/secp256k1.ts, and against an engine that never
 * generated the nonce; a pubnonce the engine did not generate is decoded (and refused, with
 * its signer blamed, when it is not two points) as before.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createEngine } from '../../../src/lib/musig/engine/engine.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import type { Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { Bip327Error } from '../../../src/lib/musig/engine/errors.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { decodeCompressed, encodeCompressed, pointAdd, publicKeyOf } from '../../independent/secp256k1.ts';

/** noble, counting its decompressions. */
function counting(): { ec: Secp256k1Backend<unknown>; decoded: () => number } {
  let n = 0;
  const ec = { ...nobleBackend, pointFromBytes: (b: Uint8Array) => (n++, nobleBackend.pointFromBytes(b)) } as Secp256k1Backend<unknown>;
  return { ec, decoded: () => n };
}

/** The aggregate of 66-byte pubnonces, computed apart: each half decoded and added independently. */
function independentAgg(pubnonces: Uint8Array[]): string {
  const half = (h: 0 | 1) => pubnonces.map((n) => decodeCompressed(n.subarray(33 * h, 33 * h + 33))).reduce((a, b) => pointAdd(a, b));
  return toHex(new Uint8Array([...encodeCompressed(half(0)), ...encodeCompressed(half(1))]));
}

describe("the engine's own nonces are not decoded again", () => {
  it('aggregating a pubnonce it generated decodes only the other signer\'s, with the same aggregate', () => {
    for (let i = 0; i < 20; i++) {
      const { ec, decoded } = counting();
      const engine = createEngine(ec);
      const sk = randomBytes(32);
      const mine = engine.nonceGen(publicKeyOf(sk), sk, undefined, undefined, undefined, randomBytes(32)).pubnonce;
      const theirSk = randomBytes(32);
      const theirs = createEngine(nobleBackend).nonceGen(publicKeyOf(theirSk), theirSk, undefined, undefined, undefined, randomBytes(32)).pubnonce;
      const before = decoded();
      const agg = engine.nonceAgg(i % 2 ? [mine, theirs] : [theirs, mine]);
      expect(decoded() - before).toBe(2); // their two halves only
      expect(toHex(agg)).toBe(independentAgg([theirs, mine]));
      // An engine that never saw the nonce decodes all four halves and agrees.
      const other = counting();
      expect(toHex(createEngine(other.ec).nonceAgg(i % 2 ? [mine, theirs] : [theirs, mine]))).toBe(toHex(agg));
      expect(other.decoded()).toBe(4);
    }
  });

  it('a pubnonce it did not generate is decoded, and one that is not two points is blamed on its signer', () => {
    const { ec, decoded } = counting();
    const engine = createEngine(ec);
    const sk = randomBytes(32);
    const mine = engine.nonceGen(publicKeyOf(sk), sk, undefined, undefined, undefined, randomBytes(32)).pubnonce;
    // Its first half kept, its second replaced by an x with no point: not the nonce generated here.
    const forged = Uint8Array.from(mine);
    forged.set([0x02, ...new Uint8Array(31), 5], 33);
    expect(nobleBackend.pointFromBytes(forged.subarray(33))).toBeUndefined();
    const before = decoded();
    let caught: unknown;
    try {
      engine.nonceAgg([mine, forged]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(Bip327Error);
    expect((caught as Bip327Error).signer).toBe(1);
    expect(decoded() - before).toBeGreaterThanOrEqual(1);
  });
});
