#!/usr/bin/env -S node --import tsx
/**
 * fixtures/bolt3/: the BOLT 3 Appendix C channel as a `bolt3/commitment-request` (the
 * "all five HTLCs untrimmed (minimum feerate)" commitment), the spec's keys as 0600
 * files, and the commitment signed by both and finalized by the built CLI — the
 * `commitment` --help examples and docs/bolt3.md use them, and the e2e test compares the
 * CLI's result with the spec's transactions. Values are read from the vector file; the
 * spec gives no local revocation nor remote delayed-payment basepoint (neither appears in
 * this commitment): the payment basepoints stand in, as in test/lib/bolt3/appendix-c.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const fx = (p: string) => join(root, 'fixtures', 'bolt3', p);
const C = JSON.parse(readFileSync(join(root, 'test/vectors/bolts/bolt03/commitment-tx-test-vectors.json'), 'utf8'));
const v = C.derivation_internals.values;
const key = (spec: string) => spec.slice(0, 64); // the spec prints 32 bytes and the 01 compressed marker
const save = (name: string, text: string) => (writeFileSync(fx(name), text), text);
for (const [name, hex] of [
  ['local-funding.key', key(C.keys.local_funding_privkey)],
  ['remote-funding.key', key(v.remote_funding_privkey)],
  ['local-htlc.key', key(v.local_payment_basepoint_secret)], // htlc basepoint = payment basepoint in Appendix C
  ['remote-htlc.key', key(v.remote_payment_basepoint_secret)],
  ['remote-revocation.key', key(v.remote_revocation_basepoint_secret)],
  ['local-delayed.key', key(v.local_delayed_payment_basepoint_secret)],
  ['per-commitment-seed.hex', 'ff'.repeat(32)], // BOLT 3 Appendix D's "generate_from_seed FF final node" seed
  ['per-commitment-secret.hex', key(v.x_local_per_commitment_secret)],
] as const) {
  rmSync(fx(name), { force: true });
  writeFileSync(fx(name), hex + '\n', { mode: 0o600 });
}
const t = C.test_vectors[1];
const request = {
  type: 'bolt3/commitment-request',
  version: 1,
  network: 'regtest',
  channel: {
    format: 'legacy',
    funding_txid: C.parameters.funding_tx_id,
    funding_vout: C.parameters.funding_output_index,
    funding_satoshis: C.parameters.funding_amount_satoshi,
    opener: 'local',
    to_self_delay: C.parameters.local_delay,
    dust_limit_satoshis: C.parameters.local_dust_limit_satoshi,
    local: {
      funding_pubkey: C.keys.local_funding_pubkey,
      revocation_basepoint: C.obscuring_factor_inputs.local_payment_basepoint,
      payment_basepoint: C.obscuring_factor_inputs.local_payment_basepoint,
      delayed_payment_basepoint: v.local_delayed_payment_basepoint,
      htlc_basepoint: C.htlc_basepoints.local_htlc_basepoint,
    },
    remote: {
      funding_pubkey: C.keys.remote_funding_pubkey,
      revocation_basepoint: v.remote_revocation_basepoint,
      payment_basepoint: C.obscuring_factor_inputs.remote_payment_basepoint,
      delayed_payment_basepoint: C.obscuring_factor_inputs.remote_payment_basepoint,
      htlc_basepoint: C.htlc_basepoints.remote_htlc_basepoint,
    },
  },
  state: {
    commitment_number: C.parameters.commitment_number,
    per_commitment_point: v.local_per_commitment_point,
    to_local_msat: String(t.to_local_msat),
    to_remote_msat: String(t.to_remote_msat),
    feerate_per_kw: t.local_feerate_per_kw,
    htlcs: (C.htlcs as { htlc_index: number; direction: string; amount_msat: number; expiry: number; payment_preimage: string }[]).slice(0, 5).map((h) => ({
      direction: h.direction === 'local->remote' ? 'offered' : 'received',
      amount_msat: String(h.amount_msat),
      payment_hash: createHash('sha256').update(Buffer.from(h.payment_preimage, 'hex')).digest('hex'),
      cltv_expiry: h.expiry,
      id: h.htlc_index,
    })),
  },
};
save('appendix-c-request.json', JSON.stringify(request, null, 2) + '\n');
const env = { ...process.env, REVOCATION: key(v.remote_revocation_basepoint_secret), LOCAL_FUNDING: key(C.keys.local_funding_privkey), LOCAL_HTLC: key(v.local_payment_basepoint_secret), REMOTE_FUNDING: key(v.remote_funding_privkey), REMOTE_HTLC: key(v.remote_payment_basepoint_secret) };
const cli = (args: string[], input: string) => execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env, stdio: ['pipe', 'pipe', 'inherit'] }).toString();
const local = cli(['commitment', 'sign', '--as', 'local', '--key-env', 'LOCAL_FUNDING', '--htlc-key-env', 'LOCAL_HTLC'], JSON.stringify(request));
const signed = save('appendix-c-signed.json', cli(['commitment', 'sign', '--as', 'remote', '--key-env', 'REMOTE_FUNDING', '--htlc-key-env', 'REMOTE_HTLC'], local));
save('appendix-c-final.json', cli(['commitment', 'finalize'], signed));
save('appendix-c-penalty.json', cli(['commitment', 'penalty', '--key-env', 'REVOCATION', '--secret-file', fx('per-commitment-secret.hex'), '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500'], JSON.stringify(request)));
const specTimeout = C.test_vectors[1].htlc_txs.find((h: { htlc_index: number }) => h.htlc_index === 2).expected_tx_hex as string;
const specTimeoutTxid = (JSON.parse(readFileSync(fx('appendix-c-final.json'), 'utf8')) as { signed_htlc_txs: { txid: string; hex: string }[] }).signed_htlc_txs.find((t) => t.hex === specTimeout)!.txid; // the spec's HTLC #2 timeout
save('appendix-c-sweep.json', execFileSync(process.execPath, [join(root, 'bin/run.js'), 'commitment', 'sweep', '--key-env', 'DELAYED', '--in', fx('appendix-c-request.json'), '--htlc-txid', specTimeoutTxid, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500'], { env: { ...env, DELAYED: key(v.local_delayed_payment_basepoint_secret) }, stdio: ['ignore', 'pipe', 'inherit'] }).toString());
// Per-commitment secrets: the Appendix D seed's commitment 0 and 1; a store receiving them (paths relative to the root, as in the examples).
const rel = (args: string[], input = '') => execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, cwd: root, stdio: ['pipe', 'pipe', 'inherit'] }).toString();
const seedFile = 'fixtures/bolt3/per-commitment-seed.hex';
save('per-commitment-point.json', rel(['commitment', 'point', '--seed-file', seedFile, '--commitment-number', '0']));
const secret0 = save('per-commitment-secret.json', rel(['commitment', 'reveal', '--seed-file', seedFile, '--commitment-number', '0']));
const secret1 = rel(['commitment', 'reveal', '--seed-file', seedFile, '--commitment-number', '1']);
for (const f of ['secret-store-0.json', 'secret-store.json']) rmSync(fx(f), { force: true });
rel(['commitment', 'receive', '--store', 'fixtures/bolt3/secret-store-0.json'], secret0);
rel(['commitment', 'receive', '--store', 'fixtures/bolt3/secret-store.json'], secret0);
save('secret-received.json', rel(['commitment', 'receive', '--store', 'fixtures/bolt3/secret-store.json'], secret1));
console.error('bolt3 fixtures regenerated');
