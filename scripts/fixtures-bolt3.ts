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
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';

const root = join(import.meta.dirname, '..');
const txidOfHex = (hex: string) => Transaction.fromRaw(Buffer.from(hex, 'hex'), { allowUnknownOutputs: true }).id;
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
const env: Record<string, string | undefined> = { ...process.env, REVOCATION_A: key(v.local_payment_basepoint_secret), REVOCATION: key(v.remote_revocation_basepoint_secret), LOCAL_FUNDING: key(C.keys.local_funding_privkey), LOCAL_HTLC: key(v.local_payment_basepoint_secret), REMOTE_FUNDING: key(v.remote_funding_privkey), REMOTE_HTLC: key(v.remote_payment_basepoint_secret) };
const cli = (args: string[], input: string) => execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env, stdio: ['pipe', 'pipe', 'inherit'] }).toString();
const specTimeout = C.test_vectors[1].htlc_txs.find((h: { htlc_index: number }) => h.htlc_index === 2).expected_tx_hex as string;
const specTimeoutTxid = txidOfHex(specTimeout); // the spec's HTLC #2 timeout
save('appendix-c-sweep.json', execFileSync(process.execPath, [join(root, 'bin/run.js'), 'commitment', 'sweep', '--key-env', 'DELAYED', '--in', fx('appendix-c-request.json'), '--htlc-txid', specTimeoutTxid, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500'], { env: { ...env, DELAYED: key(v.local_delayed_payment_basepoint_secret) }, stdio: ['ignore', 'pipe', 'inherit'] }).toString());
const rel = (args: string[], input = '', extraEnv: Record<string, string> = {}) =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, cwd: root, env: { ...env, ...extraEnv }, stdio: ['pipe', 'pipe', 'inherit'] }).toString();
save('per-commitment-point.json', rel(['commitment', 'point', '--seed-file', 'fixtures/bolt3/per-commitment-seed.hex', '--commitment-number', '0']));
for (const f of ['appendix-c-signed.json', 'appendix-c-final.json', 'appendix-c-penalty.json', 'per-commitment-secret.json', 'secret-store-0.json', 'secret-store.json', 'secret-received.json']) rmSync(fx(f), { force: true });

// A channel between Alice (Appendix C's "local", the opener) and Bob ("remote"), through its
// whole BOLT 2 life by the built CLI: points, init, commitment 0, commitment 1 (Appendix C's
// received HTLC #0 settled), revocations, Alice's broadcastable commitment, and Alice's
// penalties on Bob's revoked commitment 0. Each party has its own temporary state directory.
const { channel: alice } = request;
const aliceChannel = { type: 'bolt3/channel', version: 1, network: 'regtest', ...alice, remote_to_self_delay: 144, remote_dust_limit_satoshis: 546 };
const bobChannel = { ...aliceChannel, opener: 'remote', local: alice.remote, remote: alice.local };
save('alice-channel.json', JSON.stringify(aliceChannel, null, 2) + '\n');
save('bob-channel.json', JSON.stringify(bobChannel, null, 2) + '\n');
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
for (const [name, hex] of [['alice.seed', sha('offchain fixture: alice per-commitment seed')], ['bob.seed', sha('offchain fixture: bob per-commitment seed')]] as const) {
  rmSync(fx(name), { force: true });
  writeFileSync(fx(name), hex + '\n', { mode: 0o600 });
}
const channelId = `${alice.funding_txid}:${alice.funding_vout}`;
type AgreedHtlc = { direction: string; amount_msat: string; payment_hash: string; cltv_expiry: number; id?: number };
const aliceState = (n: number, htlcs: AgreedHtlc[], toLocal: bigint, toRemote: bigint) => ({
  type: 'bolt3/channel-state', version: 1, network: 'regtest', channel_id: channelId, commitment_number: n,
  to_local_msat: String(toLocal), to_remote_msat: String(toRemote), feerate_per_kw: 253, htlcs, // BOLT 2's floor (Appendix C's 0 is never relayed)
});
const flip = (s: ReturnType<typeof aliceState>) => ({
  ...s, to_local_msat: s.to_remote_msat, to_remote_msat: s.to_local_msat,
  htlcs: s.htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? 'received' : 'offered' })),
});
const h0 = request.state.htlcs as AgreedHtlc[];
const s0 = aliceState(0, h0, BigInt(request.state.to_local_msat), BigInt(request.state.to_remote_msat));
const settled = h0[0]!; // received by Alice: settled, its amount is hers
const s1 = aliceState(1, h0.slice(1), BigInt(request.state.to_local_msat) + BigInt(settled.amount_msat), BigInt(request.state.to_remote_msat));
for (const [name, s] of [['alice-state-0.json', s0], ['bob-state-0.json', flip(s0)], ['alice-state-1.json', s1], ['bob-state-1.json', flip(s1)]] as const) {
  save(name, JSON.stringify(s, null, 2) + '\n');
}
const dirs = { alice: mkdtempSync(join(tmpdir(), 'offchain-fixture-alice-')), bob: mkdtempSync(join(tmpdir(), 'offchain-fixture-bob-')) };
const seedCopy = (who: 'alice' | 'bob') => {
  const f = join(dirs[who], 'seed');
  writeFileSync(f, readFileSync(fx(`${who}.seed`)), { mode: 0o600 });
  return f;
};
const seeds = { alice: seedCopy('alice'), bob: seedCopy('bob') };
const party = (who: 'alice' | 'bob', args: string[], input = '') =>
  rel(['commitment', ...args, '--state-dir', dirs[who]], input, { FUNDING: who === 'alice' ? env.LOCAL_FUNDING! : env.REMOTE_FUNDING!, HTLC: who === 'alice' ? env.LOCAL_HTLC! : env.REMOTE_HTLC! });
const keyArgs = ['--key-env', 'FUNDING', '--htlc-key-env', 'HTLC'];
save('alice-points.json', rel(['commitment', 'points', '--channel', 'fixtures/bolt3/alice-channel.json', '--seed-file', seeds.alice]));
save('bob-points.json', rel(['commitment', 'points', '--channel', 'fixtures/bolt3/bob-channel.json', '--seed-file', seeds.bob]));
const opened = party('alice', ['init', '--channel', 'fixtures/bolt3/alice-channel.json', '--seed-file', seeds.alice, '--in', 'fixtures/bolt3/bob-points.json']);
save('alice-opened.json', opened.replace(JSON.stringify(dirs.alice).slice(1, -1), 'alice-state'));
party('bob', ['init', '--channel', 'fixtures/bolt3/bob-channel.json', '--seed-file', seeds.bob, '--in', 'fixtures/bolt3/alice-points.json']);
const a0 = save('alice-signed-0.json', party('alice', ['sign', '--state', 'fixtures/bolt3/alice-state-0.json', ...keyArgs]));
save('bob-held-0.json', party('bob', ['receive-sigs', '--state', 'fixtures/bolt3/bob-state-0.json', '--seed-file', seeds.bob], a0));
const b0 = save('bob-signed-0.json', party('bob', ['sign', '--state', 'fixtures/bolt3/bob-state-0.json', ...keyArgs]));
party('alice', ['receive-sigs', '--state', 'fixtures/bolt3/alice-state-0.json', '--seed-file', seeds.alice], b0);
const a1 = save('alice-signed-1.json', party('alice', ['sign', '--state', 'fixtures/bolt3/alice-state-1.json', ...keyArgs]));
const bobRevokes0 = save('bob-revocation-0.json', party('bob', ['receive-sigs', '--state', 'fixtures/bolt3/bob-state-1.json', '--seed-file', seeds.bob], a1));
save('alice-revocation-received.json', party('alice', ['receive-revocation'], bobRevokes0));
const b1 = party('bob', ['sign', '--state', 'fixtures/bolt3/bob-state-1.json', ...keyArgs]);
const aliceRevokes0 = party('alice', ['receive-sigs', '--state', 'fixtures/bolt3/alice-state-1.json', '--seed-file', seeds.alice], b1);
party('bob', ['receive-revocation'], aliceRevokes0);
// Were Bob to broadcast his commitment 1 now, Alice takes back the HTLCs she offered him once they expire.
save('alice-claims.json', party('alice', ['claim', '--channel-id', channelId, '--txid', (JSON.parse(a1) as { commitment_txid: string }).commitment_txid, '--htlc-key-env', 'HTLC', '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500']));
// finalize is a unilateral close (the record then refuses further updates): run on a copy of Alice's directory.
const aliceCopy = mkdtempSync(join(tmpdir(), 'offchain-fixture-alice-copy-'));
cpSync(dirs.alice, aliceCopy, { recursive: true });
save('alice-holder-1.json', rel(['commitment', 'finalize', '--channel-id', channelId, '--seed-file', seeds.alice, '--state-dir', aliceCopy, ...keyArgs], '', { FUNDING: env.LOCAL_FUNDING!, HTLC: env.LOCAL_HTLC! }));
rmSync(aliceCopy, { recursive: true, force: true });
// Commitment 2, at 2500 sat/kw: every HTLC left resolved (Alice's offered ones failed back to her, Bob's settled to her): nothing in flight.
const s2 = { ...aliceState(2, [], BigInt(request.state.to_local_msat) + h0.reduce((a, h) => a + BigInt(h.amount_msat), 0n), BigInt(request.state.to_remote_msat)), feerate_per_kw: 2500 };
save('alice-state-2.json', JSON.stringify(s2, null, 2) + '\n');
save('bob-state-2.json', JSON.stringify(flip(s2), null, 2) + '\n');
const a2 = party('alice', ['sign', '--state', 'fixtures/bolt3/alice-state-2.json', ...keyArgs]);
party('alice', ['receive-revocation'], party('bob', ['receive-sigs', '--state', 'fixtures/bolt3/bob-state-2.json', '--seed-file', seeds.bob], a2));
const b2 = party('bob', ['sign', '--state', 'fixtures/bolt3/bob-state-2.json', ...keyArgs]);
party('bob', ['receive-revocation'], party('alice', ['receive-sigs', '--state', 'fixtures/bolt3/alice-state-2.json', '--seed-file', seeds.alice], b2));
// Both parties' state directories at commitment 2, for the close examples (copied into a mktemp directory there).
for (const who of ['alice', 'bob'] as const) {
  const target = fx(`${who}-state-dir`);
  rmSync(target, { recursive: true, force: true });
  cpSync(join(dirs[who], 'regtest'), join(target, 'regtest'), { recursive: true, filter: (src) => !src.includes('.lock') });
}
// Alice's channels as commitment list shows them (read-only, no key; offline at tip 500).
save('alice-channels.json', rel(['commitment', 'list', '--state-dir', dirs.alice, '--tip-height', '500']));
const shutdown = save('alice-shutdown.json', party('alice', ['close', '--start', '--channel-id', channelId, '--seed-file', seeds.alice, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-sat', '1500', ...keyArgs.slice(0, 2)]));
const closingSigned = save('bob-closing-signed.json', party('bob', ['close', '--seed-file', seeds.bob, '--to', 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j', ...keyArgs.slice(0, 2)], shutdown));
save('alice-closing-tx.json', party('alice', ['close', '--seed-file', seeds.alice, ...keyArgs.slice(0, 2)], closingSigned));
const bobsRevoked = (JSON.parse(a0) as { commitment_txid: string }).commitment_txid;
save('alice-penalties.json', party('alice', ['penalty', '--channel-id', channelId, '--txid', bobsRevoked, '--key-env', 'REVOCATION_A', '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500'], '', ));
// What Alice hands a keyless tower for Bob's revoked commitments 0 and 1 (commitment tower-export).
save('alice-tower-justice.json', party('alice', ['tower-export', '--channel-id', channelId, '--key-env', 'REVOCATION_A', '--sweep-to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--max-fee-rate', '50', '--max-fee-share', '0.2', '--rungs', '4'], ''));
for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
console.error('bolt3 fixtures regenerated');
