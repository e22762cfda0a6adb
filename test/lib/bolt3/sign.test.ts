/**
 * Signing BOLT 3 transactions: commitment_signed from the signer's own side reproduces
 * the spec's remote signatures; every ECDSA backend gives the spec's bytes; our BIP-143
 * digest agrees with @scure/btc-signer's and with the test-code one (which, with
 * OpenSSL, verifies every HTLC transaction we sign, SINGLE|ANYONECANPAY included); DER
 * is strict; and what must be refused is refused by code — a signature that does not
 * verify, a preimage that does not hash to the payment hash, a key that is not the
 * commitment's.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { ExitCode } from '../../../src/lib/errors.ts';
import { counterpartyView } from '../../../src/lib/bolt3/channel.ts';
import { buildCommitment, type CommitmentTransaction } from '../../../src/lib/bolt3/commitment.ts';
import { NOBLE, bolt3Backend, type Bolt3Backend } from '../../../src/lib/bolt3/backend.ts';
import {
  compactFromDer, derFromCompact, libsecp256k1Ecdsa, nativeEcdsa, nobleEcdsa, type NativeSecp256k1Ecdsa,
} from '../../../src/lib/bolt3/ecdsa.ts';
import { libsecp256k1Backend } from '../../../src/lib/musig/engine/backend-libsecp256k1.ts';
import { systemLibsecp256k1 } from '../../setup/backends.ts';
import { nativeBackend, type NativeSecp256k1 } from '../../../src/lib/musig/engine/backend-native.ts';
import { ANCHORS, LEGACY } from '../../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../../src/lib/bolt3/htlc-tx.ts';
import { deriveRevocationPrivkey, pointOf } from '../../../src/lib/bolt3/keys.ts';
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE, segwitV0Sighash } from '../../../src/lib/bolt3/sighash.ts';
import {
  commitmentSighash, finalizeCommitment, finalizeHtlcTransaction, signCommitment, signCounterpartyCommitment, signHtlcTransaction,
} from '../../../src/lib/bolt3/sign.ts';
import { C, F, channel, htlcIndicesFor, perCommitmentPoint, preimages, secrets, state } from './appendix-c.ts';
import { bip143SingleHash, parseTx, verifyEcdsa } from './independent-p2wsh.ts';
import { thrown } from '../../setup/refusal.ts';

const fiveHtlcs = C.test_vectors[1];
const legacy = (): CommitmentTransaction =>
  buildCommitment(channel(LEGACY), state(BigInt(fiveHtlcs.to_local_msat), BigInt(fiveHtlcs.to_remote_msat), fiveHtlcs.local_feerate_per_kw, htlcIndicesFor(fiveHtlcs.name)));
const anchorsCase = F.test_vectors[2];
const anchors = (): CommitmentTransaction =>
  buildCommitment(channel(ANCHORS, BigInt(anchorsCase.DustLimitSatoshis)), state(BigInt(anchorsCase.LocalBalance), BigInt(anchorsCase.RemoteBalance), anchorsCase.FeePerKw, htlcIndicesFor(anchorsCase.Name)));

describe('signing', () => {
  it('example: the remote\'s commitment_signed for local\'s commitment, built from the remote\'s side, is the spec\'s', () => {
    // The remote describes the channel from its own side, then views local's commitment.
    const params = channel(LEGACY);
    const remoteSide = { ...params, opener: 'remote' as const, local: params.remote, remote: params.local };
    const s = state(BigInt(fiveHtlcs.to_remote_msat), BigInt(fiveHtlcs.to_local_msat), fiveHtlcs.local_feerate_per_kw, []);
    const htlcs = state(0n, 0n, 0, htlcIndicesFor(fiveHtlcs.name)).htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? ('received' as const) : ('offered' as const) }));
    const view = counterpartyView(remoteSide, { ...s, htlcs, perCommitmentPoint: pointOf(secrets.remotePaymentBasepoint) }, {
      perCommitmentPoint,
      toSelfDelay: params.toSelfDelay,
      dustLimitSatoshis: params.dustLimitSatoshis,
    });
    const theirs = buildCommitment(view.params, view.state);
    const signed = signCounterpartyCommitment(theirs, buildHtlcTransactions(theirs), secrets.remoteFunding, secrets.remotePaymentBasepoint);
    expect(toHex(signed.signature)).toBe(fiveHtlcs.remote_signature);
    expect(signed.htlcSignatures.map(toHex)).toEqual(fiveHtlcs.htlc_txs.map((t: { remote_htlc_signature: string }) => t.remote_htlc_signature));
  });

  describe('every secp256k1 backend gives the spec\'s bytes (key derivation and ECDSA)', () => {
    const backends: [string, () => Promise<Bolt3Backend | string>][] = [
      ['noble', async () => NOBLE],
      ['native', async () => {
        const mod = (await import('secp256k1/bindings.js' as string)) as { default?: unknown };
        const lib = (mod.default ?? mod) as NativeSecp256k1 & NativeSecp256k1Ecdsa;
        return bolt3Backend(nativeBackend(lib), nativeEcdsa(lib));
      }],
      // The system library may be absent (a visible skip, ../../setup/backends.ts); koffi with it must load.
      ['libsecp256k1', async () => {
        const under = await systemLibsecp256k1();
        if (under.skipped !== undefined) return under.skipped;
        return bolt3Backend(libsecp256k1Backend(under.loaded), libsecp256k1Ecdsa(under.loaded));
      }],
    ];
    for (const [name, load] of backends) {
      it(`${name}: all 16 Appendix C commitments, keys, both signatures, and verification`, async (ctx) => {
        const loaded: Bolt3Backend | string = await load().catch((e: Error) => {
          throw new Error(`${name} is an installed optional dependency here; it failed to load: ${e.message}`);
        });
        if (typeof loaded === 'string') return ctx.skip(`SKIPPED, ${loaded}`);
        const backend = loaded;
        expect(backend.name).toBe(name);
        for (const c of C.test_vectors) {
          const commitment = buildCommitment(
            channel(LEGACY),
            state(BigInt(c.to_local_msat), BigInt(c.to_remote_msat), c.local_feerate_per_kw, htlcIndicesFor(c.name)),
            backend,
          );
          expect(toHex(commitment.keys.revocationPubkey)).toBe(C.keys.local_revocation_pubkey);
          const local = signCommitment(commitment, secrets.localFunding, backend);
          const remote = signCommitment(commitment, secrets.remoteFunding, backend);
          expect(toHex(local)).toBe(c.local_signature);
          expect(toHex(remote)).toBe(c.remote_signature);
          expect(finalizeCommitment(commitment, local, remote, backend).hex).toBe(c.expected_commit_tx_hex);
        }
        expect(deriveRevocationPrivkey(secrets.remoteRevocationBasepoint, secrets.localPerCommitment, backend.ec)).toEqual(
          deriveRevocationPrivkey(secrets.remoteRevocationBasepoint, secrets.localPerCommitment),
        );
      });
    }
  });

  it('native ECDSA through its off-heap digest and signature scratch: each signature is noble\'s (RFC 6979, low S) for random digests and keys, its own array (the next signature does not change it), and a digest that is not 32 bytes is refused', async () => {
    const mod = (await import('secp256k1/bindings.js' as string)) as { default?: unknown };
    const native = nativeEcdsa((mod.default ?? mod) as NativeSecp256k1Ecdsa);
    const scalar = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => k.some((b) => b !== 0) && toHex(k) < 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), scalar, fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest, key, other) => {
        const first = native.signCompact(digest, key);
        const kept = toHex(first);
        const second = native.signCompact(other, key);
        expect(kept).toBe(toHex(nobleEcdsa.signCompact(digest, key)));
        expect(toHex(second)).toBe(toHex(nobleEcdsa.signCompact(other, key)));
        expect(toHex(first)).toBe(kept);
        expect(first.buffer === second.buffer).toBe(false);
      }),
      { numRuns: 100 },
    );
    for (const n of [0, 31, 33]) expect(() => native.signCompact(new Uint8Array(n), new Uint8Array(32).fill(1))).toThrow();
  });

  it('our BIP-143 digest is @scure/btc-signer\'s, for ALL and SINGLE|ANYONECANPAY', () => {
    const h = buildHtlcTransactions(anchors())[0]!;
    const tx = new Transaction({ version: h.tx.version, lockTime: h.tx.lockTime, allowUnknownOutputs: true });
    tx.addInput({ txid: h.tx.inputs[0]!.txid, index: h.tx.inputs[0]!.vout, sequence: h.tx.inputs[0]!.sequence });
    tx.addOutput({ script: h.tx.outputs[0]!.script, amount: h.tx.outputs[0]!.amount });
    for (const type of [SIGHASH_ALL, SIGHASH_SINGLE | SIGHASH_ANYONECANPAY]) {
      const theirs = tx.preimageWitnessV0(0, h.spentWitnessScript, type, h.spentAmountSat);
      expect(toHex(segwitV0Sighash(h.tx, 0, h.spentWitnessScript, h.spentAmountSat, type))).toBe(toHex(theirs));
    }
  });

  it('every HTLC transaction we sign verifies independently (test-code BIP-143, OpenSSL ECDSA), both formats', () => {
    let checked = 0;
    for (const commitment of [legacy(), anchors()]) {
      for (const h of buildHtlcTransactions(commitment)) {
        const local = signHtlcTransaction(h, secrets.localHtlcPrivkey, 'local');
        const remote = signHtlcTransaction(h, secrets.remoteHtlcPrivkey, 'remote');
        const signed = finalizeHtlcTransaction(h, local, remote, h.kind === 'htlc-success' ? preimages[Number(h.htlc.id)] : undefined);
        const parsed = parseTx(signed.hex);
        const [, remoteSig, localSig, , script] = parsed.inputs[0]!.witness;
        const expectedRemoteType = commitment.params.format === ANCHORS ? 0x83 : 0x01;
        expect(remoteSig!.at(-1)).toBe(expectedRemoteType);
        expect(localSig!.at(-1)).toBe(0x01);
        expect(verifyEcdsa(fromHex(C.keys.remote_htlcpubkey), remoteSig!.subarray(0, -1), bip143SingleHash(parsed, 0, script!, h.spentAmountSat, expectedRemoteType))).toBe(true);
        expect(verifyEcdsa(fromHex(C.keys.local_htlcpubkey), localSig!.subarray(0, -1), bip143SingleHash(parsed, 0, script!, h.spentAmountSat, 0x01))).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(10);
  });

  it('DER: round trip, and anything not strict BIP-66 is malformed (E_BAD_DER)', () => {
    const der = fromHex(fiveHtlcs.remote_signature);
    expect(toHex(derFromCompact(compactFromDer(der)))).toBe(fiveHtlcs.remote_signature);
    const highR = fromHex(fiveHtlcs.htlc_txs[0].remote_htlc_signature); // r starts 0xd9: 33-byte INTEGER
    expect(highR.length).toBe(71);
    expect(toHex(derFromCompact(compactFromDer(highR)))).toBe(toHex(highR));
    const padded = Uint8Array.from([0x30, der[1]! + 1, 0x02, der[3]! + 1, 0x00, ...der.subarray(4)]);
    for (const bad of [der.subarray(0, 10), Uint8Array.from([...der, 0]), padded, new Uint8Array(0)]) {
      const e = thrown(() => compactFromDer(bad));
      expect(e.code).toBe('E_BAD_DER'); // malformed; E_BAD_SIGNATURE is a signature that does not verify (refused)
      expect(e.exitCode).toBe(ExitCode.malformed);
    }
    const short = thrown(() => derFromCompact(new Uint8Array(63)));
    expect([short.code, short.exitCode]).toEqual(['E_BAD_DER', ExitCode.malformed]);
  });

  describe('refusals', () => {
    it('a remote commitment signature that does not verify (E_BAD_COMMITMENT_SIGNATURE, names the party)', () => {
      const c = legacy();
      const local = signCommitment(c, secrets.localFunding);
      const wrong = signCommitment(legacy(), secrets.localFunding); // local's, not remote's
      const e = thrown(() => finalizeCommitment(c, local, wrong));
      expect(e.code).toBe('E_BAD_COMMITMENT_SIGNATURE');
      expect(e.exitCode).toBe(ExitCode.refused);
      expect(e.detail).toEqual({ party: 'remote' });
    });

    it('a preimage that is not the payment hash\'s, or none, for HTLC-success (E_PREIMAGE_MISMATCH)', () => {
      const h = buildHtlcTransactions(legacy()).find((t) => t.kind === 'htlc-success')!;
      const local = signHtlcTransaction(h, secrets.localHtlcPrivkey, 'local');
      const remote = signHtlcTransaction(h, secrets.remoteHtlcPrivkey, 'remote');
      const other = preimages[(Number(h.htlc.id) + 1) % preimages.length]!;
      for (const preimage of [other, undefined, preimages[Number(h.htlc.id)]!.subarray(0, 31)]) {
        const e = thrown(() => finalizeHtlcTransaction(h, local, remote, preimage));
        expect(e.code).toBe('E_PREIMAGE_MISMATCH');
        expect(e.exitCode).toBe(ExitCode.refused);
      }
    });

    it('a preimage offered to an HTLC-timeout (E_PREIMAGE_UNEXPECTED) and a swapped HTLC signature (E_BAD_HTLC_SIGNATURE)', () => {
      const h = buildHtlcTransactions(legacy()).find((t) => t.kind === 'htlc-timeout')!;
      const local = signHtlcTransaction(h, secrets.localHtlcPrivkey, 'local');
      const remote = signHtlcTransaction(h, secrets.remoteHtlcPrivkey, 'remote');
      expect(thrown(() => finalizeHtlcTransaction(h, local, remote, preimages[0])).code).toBe('E_PREIMAGE_UNEXPECTED');
      const e = thrown(() => finalizeHtlcTransaction(h, remote, local));
      expect(e.code).toBe('E_BAD_HTLC_SIGNATURE');
      expect(e.detail).toEqual({ party: 'local' });
    });

    it('a key that is not this commitment\'s (E_WRONG_SIGNING_KEY)', () => {
      const c = legacy();
      expect(thrown(() => signCommitment(c, secrets.localPaymentBasepoint)).code).toBe('E_WRONG_SIGNING_KEY');
      const h = buildHtlcTransactions(c)[0]!;
      expect(thrown(() => signHtlcTransaction(h, secrets.localHtlcPrivkey, 'remote')).code).toBe('E_WRONG_SIGNING_KEY');
      expect(thrown(() => signHtlcTransaction(h, secrets.localPaymentBasepoint, 'local')).code).toBe('E_WRONG_SIGNING_KEY');
    });

    it('a key proven once does not vouch for another secret: a wrong funding key or htlc_basepoint secret after a right one, or the right array changed in place (E_WRONG_SIGNING_KEY)', () => {
      const c = legacy();
      const htlcTxs = buildHtlcTransactions(c);
      const funding = Uint8Array.from(secrets.localFunding);
      expect(toHex(signCommitment(c, funding))).toBe(toHex(signCommitment(c, secrets.localFunding)));
      expect(thrown(() => signCommitment(c, secrets.localPaymentBasepoint)).code).toBe('E_WRONG_SIGNING_KEY');
      funding[31]! ^= 1;
      expect(thrown(() => signCommitment(c, funding)).code).toBe('E_WRONG_SIGNING_KEY');
      // The remote signs local's commitment (htlc_basepoint = payment_basepoint in these vectors), then with a wrong htlc_basepoint secret.
      expect(signCounterpartyCommitment(c, htlcTxs, secrets.remoteFunding, secrets.remotePaymentBasepoint).htlcSignatures.map(toHex))
        .toEqual(fiveHtlcs.htlc_txs.map((t: { remote_htlc_signature: string }) => t.remote_htlc_signature));
      expect(thrown(() => signCounterpartyCommitment(c, [], secrets.remoteFunding, secrets.localPaymentBasepoint)).code).toBe('E_WRONG_SIGNING_KEY');
    });

    it('the commitment digest commits to the funding amount: another amount gives another digest', () => {
      const c = legacy();
      const other = { ...c, params: { ...c.params, fundingSatoshis: c.params.fundingSatoshis + 1n } };
      expect(toHex(commitmentSighash(other))).not.toBe(toHex(commitmentSighash(c)));
    });
  });
});
