/**
 * Sweeping the holder's delayed outputs after to_self_delay: the spec's own Appendix C
 * commitment and HTLC-timeout transaction are the prevouts, the spec's
 * local_delayed_privkey is what our derivation must give, and each input is verified
 * independently (test-code BIP-143, OpenSSL ECDSA) against the spec's
 * local_delayedpubkey, with the OP_ELSE (delayed) branch selected and nSequence equal
 * to the delay, so the spend is not valid before it.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { ExitCode, RefusedError } from '../../../src/lib/errors.ts';
import { buildCommitment } from '../../../src/lib/bolt3/commitment.ts';
import { LEGACY } from '../../../src/lib/bolt3/formats.ts';
import { derivePrivkey } from '../../../src/lib/bolt3/keys.ts';
import { p2wpkh } from '../../../src/lib/bolt3/script.ts';
import { sweepDelayedOutputs, toLocalOutput } from '../../../src/lib/bolt3/sweep.ts';
import { C, channel, htlcIndicesFor, perCommitmentPoint, secrets, specPrivkey, state } from './appendix-c.ts';
import { SIGHASH_ALL, bip143SingleHash, p2wshOf, parseTx, verifyEcdsa } from './independent-p2wsh.ts';

const spec = C.test_vectors[1];
const commitment = () => buildCommitment(channel(LEGACY), state(BigInt(spec.to_local_msat), BigInt(spec.to_remote_msat), spec.local_feerate_per_kw, htlcIndicesFor(spec.name)));
const destination = p2wpkh(fromHex(C.obscuring_factor_inputs.local_payment_basepoint));
const toLocalScript = spec.untrimmed_outputs.find((o: { type: string }) => o.type === 'to_local').witness_script;

describe('delayed sweep', () => {
  it('example: local sweeps its to_local and an HTLC-timeout output after 144 blocks', () => {
    // The spec lists local_delayed_privkey; ours comes from the basepoint secret and point.
    expect(derivePrivkey(secrets.localDelayedPaymentBasepoint, perCommitmentPoint)).toEqual(specPrivkey(C.derivation_internals.values.local_delayed_privkey));
    const c = commitment();
    const timeout = parseTx(spec.htlc_txs.find((t: { tx_type: string }) => t.tx_type === 'htlc-timeout').expected_tx_hex);
    const sweep = sweepDelayedOutputs({
      commitment: c,
      outputs: [toLocalOutput(c)!, { txid: timeout.txid, vout: 0, amountSat: timeout.outputs[0]!.amount }],
      delayedPaymentBasepointSecret: secrets.localDelayedPaymentBasepoint,
      destinationScript: destination,
      feeratePerKw: 253,
    });
    const parsed = parseTx(sweep.hex);
    const prevouts = [parseTx(spec.expected_commit_tx_hex), timeout];
    parsed.inputs.forEach((input, i) => {
      const prev = prevouts.find((t) => t.txid === input.txid)!.outputs[input.vout]!;
      const [sig, selector, script] = input.witness;
      expect(toHex(script!)).toBe(toLocalScript);
      expect(toHex(prev.script)).toBe(toHex(p2wshOf(script!)));
      expect(selector).toHaveLength(0); // empty: OP_ELSE, the delayed branch
      expect(input.sequence).toBe(144); // BIP-68: 144 blocks after the prevout confirmed
      const digest = bip143SingleHash(parsed, i, script!, prev.amount, SIGHASH_ALL);
      expect(verifyEcdsa(fromHex(C.keys.local_delayedpubkey), sig!.subarray(0, -1), digest)).toBe(true);
    });
    expect(parsed.version).toBe(2);
    expect(parsed.outputs[0]!.amount).toBe(6_988_000n + timeout.outputs[0]!.amount - sweep.feeSat);
    expect(parsed.weight).toBeLessThanOrEqual(sweep.weight);
  });

  it('refuses a secret that is not the holder\'s delayed payment basepoint (E_WRONG_SIGNING_KEY, exit 4)', () => {
    const c = commitment();
    try {
      sweepDelayedOutputs({ commitment: c, outputs: [toLocalOutput(c)!], delayedPaymentBasepointSecret: secrets.localPaymentBasepoint, destinationScript: destination, feeratePerKw: 253 });
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(RefusedError);
      expect((e as RefusedError).code).toBe('E_WRONG_SIGNING_KEY');
      expect((e as RefusedError).exitCode).toBe(ExitCode.refused);
    }
  });
});
