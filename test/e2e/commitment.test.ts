/**
 * The `commitment` commands as two parties run them, each with its own state directory,
 * messages piped from one to the other in BOLT 2's order: points, init, commitment 0,
 * commitment 1 (Appendix C's received HTLC #0 settled), the revocations, and Alice's
 * broadcastable commitment — whose two funding signatures test code verifies (BIP-143,
 * OpenSSL's ECDSA). Then the peer as an attacker: changed terms, a fake revocation, a
 * revocation asked for too early — each refused with its code and exit 4, nothing on
 * stdout, not a byte of either state directory changed. Protocol cases live in
 * test/lib/bolt3/party.test.ts; this file runs the CLI once per step kind.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, chmodSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, fileSnapshot } from '../helpers.ts';
import { pipeline, run, type Run } from './cli.ts';
import { bip143SingleHash, parseTx, verifyEcdsa } from '../lib/bolt3/independent-p2wsh.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';

const fx = (name: string) => join(ROOT, 'fixtures/bolt3', name);
const key = (name: string) => readFileSync(fx(name), 'utf8').trim();
const ENV = { A_FUNDING: key('local-funding.key'), A_HTLC: key('local-htlc.key'), B_FUNDING: key('remote-funding.key'), B_HTLC: key('remote-htlc.key') };
const CHANNEL_ID = '8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0';

const dirs = { alice: tempDir('offchain-e2e-alice-'), bob: tempDir('offchain-e2e-bob-') };
afterAll(() => Object.values(dirs).forEach((d) => d.cleanup()));
const seed = (who: 'alice' | 'bob') => {
  const f = join(dirs[who].path, 'seed.hex');
  copyFileSync(fx(`${who}.seed`), f);
  chmodSync(f, 0o600); // git checks fixtures out 0644
  return f;
};
const seeds = { alice: seed('alice'), bob: seed('bob') };
/** One party's step: its own state directory, and its keys for the steps that sign. */
const as = (who: 'alice' | 'bob', verb: string, ...args: string[]) => {
  const k = who === 'alice' ? 'A' : 'B';
  const keys = verb === 'sign' || verb === 'finalize' ? ['--key-env', `${k}_FUNDING`, '--htlc-key-env', `${k}_HTLC`] : [];
  return { args: ['commitment', verb, ...args, '--state-dir', join(dirs[who].path, 'state'), ...keys], env: ENV };
};
const state = (who: 'alice' | 'bob', n: number) => ['--state', fx(`${who}-state-${n}.json`)];
const ok = (r: Run) => {
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};
const refused = (r: Run, code: string) =>
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status: 4, stdout: '', code });

const snapshot = fileSnapshot;

describe('two parties through BOLT 2\'s commitment exchange, by pipes', () => {
  it('open, commitment 0 and 1 with revocations: each holds a broadcastable commitment signed by the other, and nothing of its own went out', async () => {
    const points = {
      alice: ok(run(['commitment', 'points', '--channel', fx('alice-channel.json'), '--seed-file', seeds.alice])),
      bob: ok(run(['commitment', 'points', '--channel', fx('bob-channel.json'), '--seed-file', seeds.bob])),
    };
    expect(points.alice).toEqual(JSON.parse(readFileSync(fx('alice-points.json'), 'utf8')));
    const opened = {
      alice: ok(run(as('alice', 'init', '--channel', fx('alice-channel.json'), '--seed-file', seeds.alice).args, { input: JSON.stringify(points.bob), env: ENV })),
      bob: ok(run(as('bob', 'init', '--channel', fx('bob-channel.json'), '--seed-file', seeds.bob).args, { input: JSON.stringify(points.alice), env: ENV })),
    };
    // Each channel is kept in its party's network database, which the answer names.
    for (const who of ['alice', 'bob'] as const) {
      expect(opened[who]).toMatchObject({ type: 'bolt3/channel-opened', channel_id: CHANNEL_ID, state_dir: join(dirs[who].path, 'state', 'regtest', 'state.sqlite') });
      expect(readdirSync(join(dirs[who].path, 'state', 'regtest'))).toEqual(['state.sqlite']);
    }

    for (const n of [0, 1]) {
      // Alice signs Bob's commitment n; Bob keeps it and revokes n−1; Alice keeps the revocation.
      const [aliceSigns, bobReceives, aliceRevocation] = await pipeline(
        [as('alice', 'sign', ...state('alice', n)), as('bob', 'receive-sigs', ...state('bob', n), '--seed-file', seeds.bob), ...(n > 0 ? [as('alice', 'receive-revocation')] : [])],
        '',
      );
      expect([aliceSigns!.status, bobReceives!.status], bobReceives!.stderr + aliceSigns!.stderr).toEqual([0, 0]);
      const last = ok(n > 0 ? aliceRevocation! : bobReceives!);
      expect(last).toMatchObject(n === 0 ? { type: 'bolt3/commitment-held', commitment_number: 0 } : { type: 'bolt3/revocation-received', commitment_number: n - 1 });
      // Then the other way.
      const back = await pipeline(
        [as('bob', 'sign', ...state('bob', n)), as('alice', 'receive-sigs', ...state('alice', n), '--seed-file', seeds.alice), ...(n > 0 ? [as('bob', 'receive-revocation')] : [])],
        '',
      );
      expect(back.map((r) => r.status), back.map((r) => r.stderr).join('')).toEqual(back.map(() => 0));
    }

    const holder = ok(run(as('alice', 'finalize', '--channel-id', CHANNEL_ID, '--seed-file', seeds.alice).args, { env: ENV })) as { hex: string; txid: string; commitment_number: number };
    expect(holder.commitment_number).toBe(1);
    const tx = parseTx(holder.hex);
    const [, s1, s2, script] = tx.inputs[0]!.witness;
    const digest = bip143SingleHash(tx, 0, script!, 10_000_000n, 0x01);
    const signs = (k: string) => [s1, s2].some((s) => verifyEcdsa(publicKeyOf(Buffer.from(k, 'hex')), s!.subarray(0, -1), digest));
    expect([signs(ENV.A_FUNDING), signs(ENV.B_FUNDING)]).toEqual([true, true]);
    // Completed for broadcast, Alice's commitment 1 is never revoked: the channel signs nothing more.
    const closing = run(as('alice', 'sign', ...state('alice', 1)).args, { env: ENV });
    expect({ status: closing.status, stdout: closing.stdout, code: /error (E_[A-Z0-9_]+):/.exec(closing.stderr)?.[1] }, closing.stderr).toEqual({ status: 5, stdout: '', code: 'E_CHANNEL_CLOSING' }); // a state conflict
  }, 240_000); // ~25 CLI steps: 23–31 s alone, past 60 s with two suites at once

  it('the peer as an attacker: changed terms, a fake revocation, an early revocation — refused, exit 4, nothing written', async () => {
    const before = { alice: snapshot(join(dirs.alice.path, 'state')), bob: snapshot(join(dirs.bob.path, 'state')) };
    expect(Object.keys(before.alice).length).toBeGreaterThan(0);
    // Alice's commitment_signed for Bob's commitment 0 — with an offered HTLC's cltv_expiry lowered to 1 (the txid does not change).
    const signed = JSON.parse(readFileSync(fx('alice-signed-0.json'), 'utf8'));
    signed.state.htlcs.find((h: { direction: string }) => h.direction === 'offered').cltv_expiry = 1;
    refused(run(as('bob', 'receive-sigs', ...state('bob', 0), '--seed-file', seeds.bob).args, { input: JSON.stringify(signed), env: ENV }), 'E_TERMS_MISMATCH');
    // Random bytes as the revocation of Bob's commitment 0 (already revoked: another secret) and of his latest, 1.
    const revocation = (n: number) => ({
      type: 'bolt3/revoke-and-ack', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: n, per_commitment_secret: '42'.repeat(32),
      next_per_commitment_point: JSON.parse(readFileSync(fx('bob-points.json'), 'utf8')).first_per_commitment_point,
    });
    refused(run(as('alice', 'receive-revocation').args, { input: JSON.stringify(revocation(0)), env: ENV }), 'E_BAD_PER_COMMITMENT_SECRET');
    refused(run(as('alice', 'receive-revocation').args, { input: JSON.stringify(revocation(1)), env: ENV }), 'E_PREMATURE_REVOCATION');
    // Bob's revocation reprinted is accepted again (a replay): same answer, nothing written.
    const bobRevoke = ok(run(as('bob', 'revoke', '--channel-id', CHANNEL_ID, '--seed-file', seeds.bob).args, { env: ENV }));
    expect(ok(run(as('alice', 'receive-revocation').args, { input: JSON.stringify(bobRevoke), env: ENV }))).toMatchObject({ commitment_number: 0 });
    expect({ alice: snapshot(join(dirs.alice.path, 'state')), bob: snapshot(join(dirs.bob.path, 'state')) }).toEqual(before);
  });
});
