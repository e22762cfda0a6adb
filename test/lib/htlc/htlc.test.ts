/**
 * The HTLC library's invariants as properties: the decoders read back exactly what was
 * built and nothing else (random bytes, one-byte edits), a created message is trusted for
 * nothing (any edited field is refused), only the right key and a matching 32-byte
 * preimage claim, a refund always carries the timeout as nLockTime with a non-final
 * sequence, and the BOLT 3 second stage accepts only its own transaction and signatures.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { htlcOutput, timeoutOf, type HtlcSpec } from '../../../src/lib/htlc/htlc.ts';
import { createHtlc } from '../../../src/lib/htlc/create.ts';
import { createdMessage, htlcFromMessage } from '../../../src/lib/htlc/messages.ts';
import { decodeSeedHtlcScript, decodeTaprootHtlcLeaf } from '../../../src/lib/htlc/scripts.ts';
import { decodeHtlcScripts } from '../../../src/lib/htlc/decode.ts';
import { buildSpend } from '../../../src/lib/htlc/spend.ts';
import { secondStageTransaction, signSecondStage } from '../../../src/lib/htlc/second-stage.ts';
import { refusal } from '../../setup/refusal.ts';
import { descsumCheck, taprootHtlcContract } from '../../independent/descriptor.ts';
import { hexOf } from '../../independent/tx.ts';

const secret = (b: number) => new Uint8Array(32).fill(b);
const ALICE = keyPair(secret(0x11));
const BOB = keyPair(secret(0x22));
const CAROL = keyPair(secret(0x55));
const REVOCATION = keyPair(secret(0x33));
const DELAYED = keyPair(secret(0x44));
const PREIMAGE = sha256(Uint8Array.of(1, 2, 3));
const HASH = sha256(PREIMAGE);
const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);
const OUTPOINT = { txid: 'c3'.repeat(32), vout: 0 };

const locktimes = fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 17, max: 499_999_999 }), fc.integer({ min: 500_000_000, max: 0xffff_ffff }));
const kinds = (locktime: number, hash: Uint8Array, sizeCheck: boolean, anchors: boolean): HtlcSpec[] => [
  { kind: 'seed', paymentHash: hash, recipient: BOB.publicKey, payer: ALICE.publicKey, locktime, sizeCheck },
  { kind: 'taproot', paymentHash: hash, recipient: BOB.publicKey, payer: ALICE.publicKey, locktime },
  ...(['offered', 'received'] as const).map((kind): HtlcSpec => ({
    kind, paymentHash: hash, revocationPubkey: REVOCATION.publicKey, localHtlcPubkey: ALICE.publicKey, remoteHtlcPubkey: BOB.publicKey,
    cltvExpiry: locktime, anchors, secondStage: { toSelfDelay: 144, localDelayedPubkey: DELAYED.publicKey, feeratePerKw: 253 },
  })),
];

describe('decoders read back exactly what was built, and nothing else', () => {
  it('seed scripts and taproot leaves round-trip their parameters for any locktime and hash', () => {
    fc.assert(
      fc.property(locktimes, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (locktime, hash, sizeCheck) => {
        const [seed, taproot] = kinds(locktime, hash, sizeCheck, false).slice(0, 2).map(htlcOutput);
        expect(decodeSeedHtlcScript(seed!.witnessScript!)).toEqual({
          paymentHashRipemd160: ripemd160(hash), recipient: BOB.publicKey, payer: ALICE.publicKey, locktime, sizeCheck,
        });
        expect(decodeTaprootHtlcLeaf(taproot!.taproot!.claimLeaf)).toEqual({ leaf: 'claim', recipient: BOB.xOnly, paymentHash: hash });
        expect(decodeTaprootHtlcLeaf(taproot!.taproot!.refundLeaf)).toEqual({ leaf: 'refund', payer: ALICE.xOnly, locktime });
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes and one-byte edits of a real script are never taken for an HTLC they are not', () => {
    const real = kinds(1100, HASH, true, false).map(htlcOutput);
    const scripts = [real[0]!.witnessScript!, real[1]!.taproot!.claimLeaf, real[1]!.taproot!.refundLeaf, real[2]!.witnessScript!, real[3]!.witnessScript!];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(decodeSeedHtlcScript(bytes)).toBeUndefined();
        expect(decodeTaprootHtlcLeaf(bytes)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(4), fc.nat(), fc.integer({ min: 1, max: 255 }), (which, at, xor) => {
        const s = scripts[which]!.slice();
        const i = at % s.length;
        s[i]! ^= xor;
        // The edited script is either refused or decoded to parameters that rebuild it exactly.
        let decoded: Record<string, unknown> | undefined;
        try {
          decoded = decodeHtlcScripts([s], 'regtest');
        } catch (e) {
          expect((e as { code?: string }).code).toBe('E_NOT_HTLC');
          return;
        }
        const seed = decodeSeedHtlcScript(s);
        const leaf = decodeTaprootHtlcLeaf(s);
        expect(seed !== undefined || leaf !== undefined || decoded.kind === 'offered' || decoded.kind === 'received').toBe(true);
        if (seed) {
          const rebuilt = htlcOutput({ kind: 'seed', paymentHash: new Uint8Array(32), recipient: seed.recipient, payer: seed.payer, locktime: seed.locktime, sizeCheck: seed.sizeCheck }).witnessScript!;
          rebuilt.set(seed.paymentHashRipemd160, seed.sizeCheck ? 7 : 3);
          expect(toHex(rebuilt)).toBe(toHex(s));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('a created message is trusted for nothing', () => {
  it('any one edited field is refused, and the untouched message decodes to the same output', () => {
    const messages = kinds(1100, HASH, true, true).map((spec) => JSON.parse(JSON.stringify(createdMessage(htlcOutput(spec), 'regtest', 50_000n), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Record<string, unknown>);
    for (const m of messages) expect(toHex(htlcFromMessage(m).htlc.scriptPubKey)).toBe(m.script_pubkey);
    fc.assert(
      fc.property(fc.nat(3), fc.nat(), fc.nat(), (which, f, c) => {
        const m = structuredClone(messages[which]!);
        const fields = Object.keys(m).filter((k) => !['type', 'version', 'network'].includes(k));
        const field = fields[f % fields.length]!;
        const v = m[field];
        if (typeof v === 'string') {
          const i = c % v.length;
          const ch = v[i] === '0' ? '1' : v[i] === 'a' ? 'b' : '0';
          m[field] = v.slice(0, i) + ch + v.slice(i + 1);
        } else if (typeof v === 'number') m[field] = v + 1;
        else if (typeof v === 'boolean') m[field] = !v;
        else m[field] = { ...(v as object), tampered: true };
        const e = (() => {
          try {
            htlcFromMessage(m);
            return undefined;
          } catch (err) {
            return err as { code: string };
          }
        })();
        // Parameters the output script does not commit to make a different, valid description of
        // the same output: the amount note, the second-stage terms, an offered HTLC's cltv_expiry
        // (only its HTLC-timeout nLockTime). That is why the second signer must use its own copy
        // (htlc claim/refund --htlc), tested in test/e2e/htlc.test.ts.
        const free = ['amount_sat', 'to_self_delay', 'feerate_per_kw', 'local_delayed_pubkey', ...(m.kind === 'offered' ? ['locktime'] : [])];
        if (free.includes(field) && e === undefined) return;
        expect(e?.code, `${field} edited`).toMatch(/^E_(HTLC_MISMATCH|MALFORMED_MESSAGE|BAD_PUBKEY|BAD_HEX|BAD_LENGTH|BAD_LOCKTIME|WRONG_MESSAGE|BAD_NETWORK|NETWORK)/);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('the taproot HTLC as test code derives it (test/independent/descriptor.ts)', () => {
  const scalar = fc.bigInt({ min: 1n, max: 2n ** 255n }).map((n) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex')));
  it('descriptor (BIP-380 checksum, musig() of the sorted keys, both miniscript leaves), output script and control blocks equal the independent derivation', () => {
    fc.assert(
      fc.property(scalar, scalar, fc.uint8Array({ minLength: 32, maxLength: 32 }), locktimes, (a, b, hash, locktime) => {
        fc.pre(hexOf(a) !== hexOf(b));
        const [payer, recipient] = [keyPair(a).publicKey, keyPair(b).publicKey];
        const out = htlcOutput({ kind: 'taproot', paymentHash: hash, payer, recipient, locktime });
        const d = taprootHtlcContract({ payer, recipient, paymentHash: hash, locktime });
        expect(descsumCheck(out.descriptor!)).toBe(true);
        expect(out.descriptor).toBe(d.descriptor);
        expect(hexOf(out.scriptPubKey)).toBe(hexOf(d.output.script));
        expect(hexOf(out.taproot!.internalKey)).toBe(hexOf(d.internalKey));
        expect([hexOf(out.taproot!.claimLeaf), hexOf(out.taproot!.refundLeaf)]).toEqual([hexOf(d.leaves.claim!.script), hexOf(d.leaves.refund!.script)]);
        expect([hexOf(out.taproot!.claimControlBlock), hexOf(out.taproot!.refundControlBlock)]).toEqual([hexOf(d.leaves.claim!.controlBlock), hexOf(d.leaves.refund!.controlBlock)]);
        // Payer and recipient swapped is another contract, and another descriptor.
        expect(taprootHtlcContract({ payer: recipient, recipient: payer, paymentHash: hash, locktime }).descriptor).not.toBe(out.descriptor);
      }),
      { numRuns: 20 },
    );
  });

  it('the descriptor is computed when read, not when the output is built (a channel state needs the script only), and the same each time', () => {
    const out = htlcOutput({ kind: 'taproot', paymentHash: HASH, payer: ALICE.publicKey, recipient: BOB.publicKey, locktime: 1100 });
    expect(typeof Object.getOwnPropertyDescriptor(out, 'descriptor')?.get).toBe('function');
    const d = taprootHtlcContract({ payer: ALICE.publicKey, recipient: BOB.publicKey, paymentHash: HASH, locktime: 1100 }).descriptor;
    expect([out.descriptor, out.descriptor, { ...out }.descriptor]).toEqual([d, d, d]);
  });
});

describe('BOLT 3: cltv_expiry is a block height', () => {
  it('an offered or received HTLC refuses cltv_expiry ≥ 500,000,000 (a time) wherever it is made: built, created, or read from htlc/created', () => {
    for (const anchors of [false, true]) {
      for (const spec of kinds(499_999_999, HASH, true, anchors).slice(2)) {
        const ok = htlcOutput(spec);
        for (const cltv of [500_000_000, 1_700_000_000, 0xffff_ffff]) {
          refusal(() => htlcOutput({ ...spec, cltvExpiry: cltv } as HtlcSpec), 'E_CLTV_NOT_HEIGHT', 4);
          const options = {
            kind: spec.kind, paymentHash: toHex(HASH), locktime: cltv, revocationPubkey: toHex(REVOCATION.publicKey), localHtlcPubkey: toHex(ALICE.publicKey),
            remoteHtlcPubkey: toHex(BOB.publicKey), anchors, toSelfDelay: 144, localDelayedPubkey: toHex(DELAYED.publicKey), feeratePerKw: 253,
          };
          refusal(() => createHtlc(options, 'regtest'), 'E_CLTV_NOT_HEIGHT', 4);
          // A message whose locktime was changed to a time (an offered HTLC's script does not commit to it).
          const m = JSON.parse(JSON.stringify(createdMessage(ok, 'regtest'))) as Record<string, unknown>;
          refusal(() => htlcFromMessage({ ...m, locktime: cltv }), 'E_CLTV_NOT_HEIGHT', 4);
        }
      }
    }
    // The seed and taproot kinds take either (their payer's path is any absolute lock).
    for (const spec of kinds(1_700_000_000, HASH, true, false).slice(0, 2)) expect(timeoutOf(htlcOutput(spec).spec)).toBe(1_700_000_000);
  });
});

describe('who may spend, with what', () => {
  const [seed, taproot, offered, received] = kinds(1100, HASH, true, false).map(htlcOutput);
  const req = { outpoint: OUTPOINT, amountSat: 50_000n, destination: DEST, feeRate: 2 };

  it('only the recipient claims, only with the 32-byte preimage of the payment hash; only the payer refunds', () => {
    for (const htlc of [seed!, taproot!]) {
      refusal(() => buildSpend({ ...req, htlc, path: 'claim', signer: ALICE, preimage: PREIMAGE }), 'E_KEY_MISMATCH', 4);
      refusal(() => buildSpend({ ...req, htlc, path: 'claim', signer: CAROL, preimage: PREIMAGE }), 'E_KEY_MISMATCH', 4);
      refusal(() => buildSpend({ ...req, htlc, path: 'claim', signer: BOB }), 'E_PREIMAGE_REQUIRED', 4);
      refusal(() => buildSpend({ ...req, htlc, path: 'claim', signer: BOB, preimage: HASH }), 'E_PREIMAGE_MISMATCH', 4);
      refusal(() => buildSpend({ ...req, htlc, path: 'refund', signer: BOB }), 'E_KEY_MISMATCH', 4);
      refusal(() => buildSpend({ ...req, htlc, path: 'revoke', signer: REVOCATION }), 'E_NO_REVOCATION_PATH', 4);
      const refund = buildSpend({ ...req, htlc, path: 'refund', signer: ALICE });
      expect({ lockTime: refund.tx.lockTime, sequence: refund.tx.getInput(0).sequence }).toEqual({ lockTime: 1100, sequence: 0xfffffffd });
    }
    refusal(() => buildSpend({ ...req, htlc: offered!, path: 'refund', signer: ALICE }), 'E_SECOND_STAGE', 4);
    refusal(() => buildSpend({ ...req, htlc: received!, path: 'claim', signer: ALICE, preimage: PREIMAGE }), 'E_SECOND_STAGE', 4);
    refusal(() => buildSpend({ ...req, htlc: offered!, path: 'revoke', signer: ALICE }), 'E_KEY_MISMATCH', 4);
  });

  it('the second stage: a third key, a PSBT of another transaction, a forged signature are refused; two HTLC keys complete it', () => {
    const base = { htlc: received!, outpoint: OUTPOINT, amountSat: 50_000n };
    refusal(() => signSecondStage({ ...base, signer: CAROL }), 'E_KEY_MISMATCH', 4);
    const half = signSecondStage({ ...base, signer: ALICE });
    expect(half.missing).toEqual(['remote_htlc', 'preimage']);
    const other = signSecondStage({ ...base, outpoint: { ...OUTPOINT, vout: 1 }, signer: ALICE });
    refusal(() => signSecondStage({ ...base, signer: BOB, preimage: PREIMAGE, psbt: other.tx }), 'E_PSBT_MISMATCH', 4);
    const [pk, sig] = half.tx.getInput(0).partialSig![0]!;
    const bad = sig.slice();
    bad[10]! ^= 1;
    const forged = secondStageTransaction(received!, OUTPOINT, 50_000n).tx;
    forged.updateInput(0, { partialSig: [[pk, bad]] }, true);
    refusal(() => signSecondStage({ ...base, signer: BOB, preimage: PREIMAGE, psbt: forged }), 'E_BAD_SIGNATURE', 4);
    const done = signSecondStage({ ...base, signer: BOB, preimage: PREIMAGE, psbt: half.tx });
    expect(done.complete).toBe(true);
    refusal(() => signSecondStage({ ...base, htlc: seed!, signer: BOB }), 'E_NO_SECOND_STAGE', 4);
    const anchored = htlcOutput(kinds(1100, HASH, true, true)[3]!);
    refusal(() => signSecondStage({ ...base, htlc: anchored, signer: ALICE }), 'E_ANCHORS_FEE_INPUT', 4);
  });
});
