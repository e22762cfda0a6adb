/**
 * `commitment sign` and `commitment finalize` through the built CLI on BOLT 3's Appendix C
 * channel ("all five HTLCs untrimmed (minimum feerate)"): the holder signs, the remote
 * signs, the commitment is finalized — and the result is the spec's commitment
 * transaction byte for byte, with the spec's two funding signatures, and every HTLC
 * transaction (the timeouts, and the successes given their preimages) the spec's. Then
 * the refusals: a key that is not the party's, a forged signature (naming whose), a
 * commitment finalized before both signed — each exit 4, nothing on stdout.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, loadVector, tempDir } from '../helpers.ts';
import { pipeline, run, type Run } from './cli.ts';
import { bytesOf } from '../independent/tx.ts';
import { bip143SingleHash, parseTx, verifyEcdsa } from '../lib/bolt3/independent-p2wsh.ts';

const C = loadVector('bolts/bolt03/commitment-tx-test-vectors.json');
const SPEC = C.test_vectors[1];
const fixture = (name: string) => readFileSync(join(ROOT, 'fixtures/bolt3', name), 'utf8');
const ENV = {
  LOCAL_FUNDING: fixture('local-funding.key').trim(), LOCAL_HTLC: fixture('local-htlc.key').trim(),
  REMOTE_FUNDING: fixture('remote-funding.key').trim(), REMOTE_HTLC: fixture('remote-htlc.key').trim(),
};
const sign = (as: 'local' | 'remote') => ['commitment', 'sign', '--as', as, '--key-env', `${as.toUpperCase()}_FUNDING`, '--htlc-key-env', `${as.toUpperCase()}_HTLC`];
const refused = (r: Run, code: string) =>
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status: 4, stdout: '', code });

describe('commitment sign | commitment sign | commitment finalize', () => {
  it('reproduces the spec\'s commitment, signatures and HTLC transactions byte for byte', async () => {
    const dir = tempDir('offchain-e2e-commitment-');
    const preimages = (C.htlcs as { payment_preimage: string }[]).slice(0, 5).map((h, i) => {
      const f = join(dir.path, `preimage-${i}.hex`);
      writeFileSync(f, h.payment_preimage);
      return ['--preimage-file', f];
    });
    const runs = await pipeline(
      [{ args: sign('local'), env: ENV }, { args: sign('remote'), env: ENV }, { args: ['commitment', 'finalize', ...preimages.flat()] }],
      fixture('appendix-c-request.json'),
    );
    const final = runs.at(-1)!;
    expect(final.status, runs.map((r) => r.stderr).join('\n')).toBe(0);
    const m = JSON.parse(final.stdout) as { hex: string; signatures: { local: { commitment: string }; remote: { commitment: string } }; signed_htlc_txs: { hex: string }[] };
    expect(m.hex).toBe(SPEC.expected_commit_tx_hex);
    expect(m.signatures.local.commitment).toBe(SPEC.local_signature);
    expect(m.signatures.remote.commitment).toBe(SPEC.remote_signature);
    expect(m.signed_htlc_txs.map((t) => t.hex).sort()).toEqual((SPEC.htlc_txs as { expected_tx_hex: string }[]).map((t) => t.expected_tx_hex).sort());
    dir.cleanup();
  });

  it('refuses the wrong key, a forged signature (naming whose), and finalizing before both signed', () => {
    const request = fixture('appendix-c-request.json');
    refused(run(['commitment', 'sign', '--as', 'local', '--key-env', 'REMOTE_FUNDING', '--htlc-key-env', 'LOCAL_HTLC'], { input: request, env: ENV }), 'E_KEY_MISMATCH');
    refused(run(['commitment', 'sign', '--as', 'remote', '--key-env', 'REMOTE_FUNDING', '--htlc-key-env', 'LOCAL_HTLC'], { input: request, env: ENV }), 'E_KEY_MISMATCH');
    const local = run(sign('local'), { input: request, env: ENV }).stdout;
    refused(run(['commitment', 'finalize'], { input: local }), 'E_NOT_SIGNED');
    const forged = JSON.parse(local) as { signatures: { local: { commitment: string } } };
    forged.signatures.local.commitment = SPEC.remote_signature; // a valid signature, of the other key
    const r = run(sign('remote'), { input: JSON.stringify(forged), env: ENV });
    refused(r, 'E_BAD_SIGNATURE');
    expect(r.stderr).toContain('local');
    const signed = JSON.parse(fixture('appendix-c-signed.json')) as { signatures: { remote: { htlcs: string[] } } };
    signed.signatures.remote.htlcs[0] = SPEC.htlc_txs[1].remote_htlc_signature;
    refused(run(['commitment', 'finalize'], { input: JSON.stringify(signed) }), 'E_BAD_HTLC_SIGNATURE');
  });
});

describe('commitment penalty', () => {
  it('takes every output of the revoked Appendix C commitment but to_remote; each signature verifies independently for the spec\'s revocationpubkey', () => {
    const args = ['commitment', 'penalty', '--key-env', 'REVOCATION', '--in', join(ROOT, 'fixtures/bolt3/appendix-c-request.json'), '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500'];
    const env = { REVOCATION: fixture('remote-revocation.key').trim(), WRONG: '11'.repeat(32) };
    const r = run([...args, '--secret-file', join(ROOT, 'fixtures/bolt3/per-commitment-secret.hex')], { env });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as { hex: string; inputs: { kind: string }[] };
    expect(m.inputs.map((i) => i.kind).sort()).toEqual(['offered_htlc', 'offered_htlc', 'received_htlc', 'received_htlc', 'received_htlc', 'to_local']);
    const spent = parseTx(SPEC.expected_commit_tx_hex);
    const penalty = parseTx(m.hex);
    const revocationPubkey = bytesOf(C.keys.local_revocation_pubkey);
    penalty.inputs.forEach((input, i) => {
      expect(input.txid).toBe(spent.txid);
      const [sig, , witnessScript] = input.witness;
      const digest = bip143SingleHash(penalty, i, witnessScript!, spent.outputs[input.vout]!.amount, 0x01);
      expect(verifyEcdsa(revocationPubkey, sig!.subarray(0, -1), digest), `input ${i}`).toBe(true);
    });
    // A secret that is not this commitment's, a key that is not the revocation basepoint's: refused, nothing printed.
    const dir = tempDir('offchain-e2e-penalty-');
    writeFileSync(join(dir.path, 'wrong.hex'), '22'.repeat(32));
    const wrongSecret = run([...args, '--secret-file', join(dir.path, 'wrong.hex')], { env });
    refused(wrongSecret, 'E_BAD_PER_COMMITMENT_SECRET');
    const wrongKey = run([...args.map((a) => (a === 'REVOCATION' ? 'WRONG' : a)), '--secret-file', join(ROOT, 'fixtures/bolt3/per-commitment-secret.hex')], { env });
    refused(wrongKey, 'E_WRONG_SIGNING_KEY');
    dir.cleanup();
  });
});

describe('commitment sweep', () => {
  const args = ['commitment', 'sweep', '--in', join(ROOT, 'fixtures/bolt3/appendix-c-request.json'), '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500'];
  const env = { DELAYED: fixture('local-delayed.key').trim(), WRONG: '11'.repeat(32) };
  // The spec's HTLC-timeout transaction of HTLC #2 (output 0 pays the to_local script of this commitment).
  const specTimeout = parseTx(SPEC.htlc_txs.find((h: { tx_type?: string; htlc_index: number }) => h.htlc_index === 2).expected_tx_hex);

  it('spends the spec commitment\'s to_local and the spec HTLC-timeout\'s output, CSV to_self_delay; each signature verifies independently for the spec\'s local_delayedpubkey', () => {
    const r = run([...args, '--key-env', 'DELAYED', '--htlc-txid', specTimeout.txid], { env });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as { type: string; hex: string; inputs: { kind: string; txid: string; vout: number }[] };
    expect(m.type).toBe('bolt3/sweep');
    const spec = parseTx(SPEC.expected_commit_tx_hex);
    expect(m.inputs.map((i) => [i.kind, i.txid, i.vout])).toEqual([['to_local', spec.txid, 6], ['htlc-timeout', specTimeout.txid, 0]]);
    const sweep = parseTx(m.hex);
    const spent = [spec.outputs[6]!, specTimeout.outputs[0]!];
    const delayed = bytesOf(C.keys.local_delayedpubkey);
    sweep.inputs.forEach((input, i) => {
      expect(input.sequence, 'nSequence = to_self_delay').toBe(C.parameters.local_delay);
      const [sig, branch, witnessScript] = input.witness;
      expect(branch!.length, 'the delayed (OP_ELSE) branch').toBe(0);
      const digest = bip143SingleHash(sweep, i, witnessScript!, spent[i]!.amount, 0x01);
      expect(verifyEcdsa(delayed, sig!.subarray(0, -1), digest), `input ${i}`).toBe(true);
    });
    expect(r.stdout).toBe(fixture('appendix-c-sweep.json'));
  });

  it('refuses a key that is not the delayed_payment_basepoint\'s, an HTLC tx not of this commitment, nothing to sweep: exit 4, nothing printed', () => {
    refused(run([...args, '--key-env', 'WRONG'], { env }), 'E_WRONG_SIGNING_KEY');
    refused(run([...args, '--key-env', 'DELAYED', '--htlc-txid', '00'.repeat(32)], { env }), 'E_UNKNOWN_HTLC_TX');
    refused(run([...args, '--key-env', 'DELAYED', '--no-to-local'], { env }), 'E_SWEEP_NOTHING_TO_TAKE');
    refused(run([...args.map((a) => (a === '2500' ? '2000000' : a)), '--key-env', 'DELAYED', '--no-to-local', '--htlc-txid', specTimeout.txid], { env }), 'E_SWEEP_BELOW_DUST');
  });
});
