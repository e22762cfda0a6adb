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
import { createECDH } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, loadVector, tempDir } from '../helpers.ts';
import { pipeline, run, type Run } from './cli.ts';
import { runAsync } from './process.ts';
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

  it('a channel funded by a statechain backup: --funding-locktime refuses HTLCs that could expire before the channel is on chain', () => {
    // Appendix C: HTLC expiries 500–504, to_self_delay 144. A funding final at 357 leaves the
    // commitment's outputs spendable from 501 on: the HTLC expiring at 500 (and 501) could
    // time out first. At 355 the earliest is 499, below every expiry.
    const request = fixture('appendix-c-request.json');
    const early = run([...sign('local'), '--funding-locktime', '357'], { input: request, env: ENV });
    refused(early, 'E_CHANNEL_TIMELOCK');
    expect(early.stderr).toContain('HTLC expiry 500');
    const ok = run([...sign('local'), '--funding-locktime', '355'], { input: request, env: ENV });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(run(sign('local'), { input: request, env: ENV }).stdout);
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

describe('commitment point / reveal / receive', () => {
  const D = loadVector('bolts/bolt03/per-commitment-secret-test-vectors.json');
  const seed = join(ROOT, 'fixtures/bolt3/per-commitment-seed.hex');
  const MAX = 2 ** 48 - 1;
  const secretMessage = (index: number, secret: string) =>
    JSON.stringify({ type: 'bolt3/per-commitment-secret', version: 1, network: 'regtest', commitment_number: MAX - index, index, per_commitment_secret: secret });

  it('reveals Appendix D\'s "generate_from_seed FF final node" secret for commitment 0; point is that secret times G (node:crypto)', () => {
    const v = D.generation_tests.vectors.find((x: { name: string }) => x.name === 'generate_from_seed FF final node');
    expect(readFileSync(seed, 'utf8').trim()).toBe(v.seed);
    const reveal = run(['commitment', 'reveal', '--seed-file', seed, '--commitment-number', '0']);
    expect(reveal.status, reveal.stderr).toBe(0);
    expect(JSON.parse(reveal.stdout)).toMatchObject({ type: 'bolt3/per-commitment-secret', index: v.index, per_commitment_secret: v.output });
    const point = run(['commitment', 'point', '--seed-file', seed, '--commitment-number', '0']);
    expect(point.status, point.stderr).toBe(0);
    const ecdh = createECDH('secp256k1');
    ecdh.setPrivateKey(Buffer.from(v.output, 'hex'));
    expect(JSON.parse(point.stdout).per_commitment_point).toBe(ecdh.getPublicKey('hex', 'compressed'));
    expect(point.stdout).not.toContain(v.output);
  });

  it('stores Appendix D\'s correct sequence; each incorrect sequence is refused at its bad secret with the store unchanged', async () => {
    const dir = tempDir('offchain-e2e-secrets-');
    for (const [n, t] of (D.storage_tests.tests as { name: string; steps: { index: number; secret: string; expected: string }[] }[]).entries()) {
      const store = join(dir.path, `store-${n}.json`);
      for (const step of t.steps) {
        const before = existsSync(store) ? readFileSync(store, 'utf8') : undefined;
        // Asynchronously: 40-odd processes in one test must not block the test worker (test/setup/breathe.ts).
        const r = await runAsync(['commitment', 'receive', '--store', store], { input: secretMessage(step.index, step.secret) });
        if (step.expected === 'OK') {
          expect(r.status, `${t.name} ${step.index}: ${r.stderr}`).toBe(0);
          expect(r.stdout).not.toContain(step.secret);
        } else {
          refused(r, 'E_BAD_PER_COMMITMENT_SECRET');
          expect(existsSync(store) ? readFileSync(store, 'utf8') : undefined, `${t.name}: store unchanged`).toBe(before);
        }
      }
      expect(statSync(store).mode & 0o777).toBe(0o600);
    }
    // Out of order (the same secret again): refused, store unchanged.
    const store = join(dir.path, 'store-0.json');
    const before = readFileSync(store, 'utf8');
    const first = D.storage_tests.tests[0].steps[0];
    refused(await runAsync(['commitment', 'receive', '--store', store], { input: secretMessage(first.index, first.secret) }), 'E_PER_COMMITMENT_SECRET_ORDER');
    expect(readFileSync(store, 'utf8')).toBe(before);
    dir.cleanup();
  });

  it('a seed file that cannot be read: usage error (exit 2), nothing printed', () => {
    const r = run(['commitment', 'reveal', '--seed-file', join(ROOT, 'fixtures/bolt3/no-such-seed.hex'), '--commitment-number', '1']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toContain('E_USAGE');
  });
});
