/**
 * `ptlc` through the built CLI, offline: payer and payee pipe the four pre-signing steps,
 * the payee claims with t (the claim verified by the independent key-path verifier:
 * test-code BIP-341 sighash and BIP-340), the payer reads the same t back; and every
 * attack the protocol must stop is refused with its code, nothing on stdout, no state or
 * secret written: a swapped lock point, a forged partial signature, a replayed step, the
 * wrong key, the wrong secret, a transaction that is not the claim. Bitcoin Core mines
 * claim and refund in test/regtest/ptlc.test.ts.
 *
 * Through processes: the payment's four steps, claim and extract; the 3-hop route's
 * lock-plan, lock-check, lock-secret, claims and extracts; and one refusal of each exit
 * class (E_PTLC_MISMATCH 4, E_NONCE_USED 5, E_USAGE 2). The other refusals, the steps that
 * lead up to them, and the route's per-leg pre-signing (the same four steps the payment
 * runs spawned) run the same built bundle's `main` in this process (in-process.ts; ~10 ms
 * instead of a ~0.15 CPU-s node process), checked the same way.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { run, type Run } from './cli.ts';
import { runInProcess as here } from './in-process.ts';
import { bytesOf, hexOf } from '../independent/tx.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { verifyKeyPathSpend, verifyScriptPathSpend } from '../independent/verify.ts';
import { ptlcContract } from '../independent/descriptor.ts';

const key = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const ENV = { ALICE_KEY: key('alice'), BOB_KEY: key('bob'), CAROL_KEY: '55'.repeat(32) };
const pub = (s: string) => hexOf(publicKeyOf(bytesOf(s)));
const OUTPOINT = `${'c4'.repeat(32)}:0`;
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

const ok = (r: Run) => {
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};
const refused = (r: Run, code: string, status = 4) =>
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status, stdout: '', code });
/** Every file under `dir`, with its bytes: a refusal must leave it identical. */
const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(p, 'hex');
    }
  };
  walk(dir);
  return out;
};

/**
 * One PTLC created and its first step (the payee's) taken, once per file in a template
 * directory; each test works on its own copy (the payee's state with its nonce included:
 * fixture keys, never funds). `s3()` is the presigned message of one more copy, for the
 * tests that need a presigned PTLC but are about what comes after it.
 */
let template: { path: string; created: string; s1: string; s3?: string } | undefined;
afterAll(() => rmSync(template?.path ?? '/nonexistent', { recursive: true, force: true }));

function setup() {
  if (!template) {
    const t = tempDir('offchain-e2e-ptlc-template-');
    const f = (n: string) => join(t.path, n);
    const created = ok(run(['ptlc', 'create', '--payer', pub(ENV.ALICE_KEY), '--payee', pub(ENV.BOB_KEY), '--locktime', '1100', '--secret-out', f('t.hex'), '--amount', '50000']));
    writeFileSync(f('created.json'), created);
    const s1 = ok(run(['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', f('BOB_KEY'), '--in', f('created.json'), '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2'], { env: ENV }));
    template = { path: t.path, created, s1 };
  }
  const { created, s1 } = template;
  const dir = tempDir('offchain-e2e-ptlc-');
  cpSync(template.path, dir.path, { recursive: true });
  const f = (n: string) => join(dir.path, n);
  const as = (who: string, ...extra: string[]) => ['ptlc', 'presign', '--key-env', who, '--state-dir', f(who), '--ptlc', f('created.json'), ...extra];
  const s3 = () => {
    if (template!.s3 === undefined) {
      const { dir: d, as: as2 } = setup();
      template!.s3 = ok(run(as2('BOB_KEY'), { input: ok(run(as2('ALICE_KEY'), { input: s1, env: ENV })), env: ENV }));
      d.cleanup();
    }
    return template!.s3;
  };
  return { dir, f, created, as, s1, s3 };
}

describe('a PTLC payment through pipes', () => {
  it('four steps pre-sign the claim; the payee claims with t; the payer reads the same t from the claim', () => {
    const { dir, f, created, as, s1 } = setup();
    const s2 = ok(run(as('ALICE_KEY'), { input: s1, env: ENV }));
    const s3 = ok(run(as('BOB_KEY'), { input: s2, env: ENV }));
    expect(JSON.parse(ok(run(as('ALICE_KEY'), { input: s3, env: ENV }))).next).toBe('claim');
    writeFileSync(f('presigned.json'), s3);
    const claim = JSON.parse(ok(run(['ptlc', 'claim', '--in', f('presigned.json'), '--secret-file', f('t.hex')]))) as { hex: string };
    const c = JSON.parse(created) as { script_pubkey: string; output_key: string; point: string };
    verifyKeyPathSpend(claim.hex, [{ amount: 50_000n, script: bytesOf(c.script_pubkey) }], bytesOf(c.output_key));
    writeFileSync(f('claim.hex'), claim.hex);
    const out = ok(run(['ptlc', 'extract', '--in', f('presigned.json'), '--ptlc', f('created.json'), '--claim-tx', f('claim.hex'), '--secret-out', f('t2.hex')]));
    expect(out).not.toContain(readFileSync(f('t.hex'), 'utf8').trim());
    expect(readFileSync(f('t2.hex'), 'utf8')).toBe(readFileSync(f('t.hex'), 'utf8'));
    expect(hexOf(publicKeyOf(bytesOf(readFileSync(f('t2.hex'), 'utf8').trim())))).toBe(c.point);
    dir.cleanup();
  });
});

describe('what a PTLC party refuses', async () => {
  it('a payee that swaps the lock point for one it knows the log of: the payer refuses and writes nothing', async () => {
    const { dir, f, as, s1 } = setup();
    // The payee's own PTLC with another point (a secret it holds), carried in the message.
    const other = JSON.parse(ok(await here(['ptlc', 'create', '--payer', pub(ENV.ALICE_KEY), '--payee', pub(ENV.BOB_KEY), '--locktime', '1100', '--secret-out', f('other.hex'), '--amount', '50000'])));
    const m = JSON.parse(s1) as { ptlc: unknown };
    m.ptlc = other;
    const before = snapshot(f('ALICE_KEY'));
    refused(run(as('ALICE_KEY'), { input: JSON.stringify(m), env: ENV }), 'E_PTLC_MISMATCH'); // spawned: exit 4's sample
    refused(await here(['ptlc', 'presign', '--key-env', 'ALICE_KEY', '--state-dir', f('ALICE_KEY')], { input: s1, env: ENV }), 'E_USAGE', 2);
    expect(snapshot(f('ALICE_KEY'))).toEqual(before);
    dir.cleanup();
  });

  it('a forged payer partial signature is refused naming the payer, before the payee consumes its nonce; a replayed step 3 is E_NONCE_USED', async () => {
    const { dir, as, s1, f } = setup();
    const s2 = JSON.parse(ok(await here(as('ALICE_KEY'), { input: s1, env: ENV }))) as { payer_partial_sig: string };
    const forged = { ...s2, payer_partial_sig: s2.payer_partial_sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    const before = snapshot(f('BOB_KEY'));
    const r = await here(as('BOB_KEY'), { input: JSON.stringify(forged), env: ENV });
    refused(r, 'E_BAD_PARTIAL_SIG');
    expect(r.stderr).toContain('payer');
    expect(snapshot(f('BOB_KEY'))).toEqual(before);
    const s3 = JSON.parse(ok(await here(as('BOB_KEY'), { input: JSON.stringify(s2), env: ENV }))) as { pre_signature: string; payee_partial_sig: string };
    refused(run(as('BOB_KEY'), { input: JSON.stringify(s2), env: ENV }), 'E_NONCE_USED', 5); // spawned: exit 5's sample
    // Step 4: the payer refuses a pre-signature that is not the aggregate for T, and a forged payee partial signature.
    const flip = (h: string) => h.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    refused(await here(as('ALICE_KEY'), { input: JSON.stringify({ ...s3, pre_signature: flip(s3.pre_signature) }), env: ENV }), 'E_BAD_PRESIGNATURE');
    const forgedPayee = await here(as('ALICE_KEY'), { input: JSON.stringify({ ...s3, payee_partial_sig: flip(s3.payee_partial_sig) }), env: ENV });
    refused(forgedPayee, 'E_BAD_PARTIAL_SIG');
    expect(forgedPayee.stderr).toContain('payee');
    dir.cleanup();
  });

  it('the wrong key at a step, the wrong secret at the claim, a transaction that is not the claim', async () => {
    const { dir, f, as, s1, s3 } = setup();
    refused(await here(as('CAROL_KEY'), { input: s1, env: ENV }), 'E_KEY_MISMATCH');
    refused(await here(as('BOB_KEY'), { input: s1, env: ENV }), 'E_KEY_MISMATCH'); // step 2 is the payer's
    writeFileSync(f('presigned.json'), s3());
    writeFileSync(f('wrong.hex'), '11'.repeat(32), { mode: 0o600 });
    refused(await here(['ptlc', 'claim', '--in', f('presigned.json'), '--secret-file', f('wrong.hex')]), 'E_WRONG_SECRET');
    // The refund is a valid transaction of this PTLC, but not the claim: no t in it.
    const refund = JSON.parse(ok(await here(['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--in', f('created.json'), '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2', '--tip-height', '1100'], { env: ENV }))) as { hex: string };
    // The refund verified offline: the refund leaf of the contract test code derives from the terms, signed by the payer at L.
    const d = ptlcContract({ payer: bytesOf(pub(ENV.ALICE_KEY)), payee: bytesOf(pub(ENV.BOB_KEY)), locktime: 1100 });
    expect((JSON.parse(readFileSync(f('created.json'), 'utf8')) as { descriptor: string }).descriptor).toBe(d.descriptor);
    verifyScriptPathSpend(refund.hex, [{ amount: 50_000n, script: d.output.script }], 0, {
      outputKey: d.output.outputKey, internalKey: d.internalKey, leafScript: d.leaves.refund!.script, signingKey: bytesOf(pub(ENV.ALICE_KEY)).subarray(1), after: 1100,
    });
    writeFileSync(f('refund.hex'), refund.hex);
    refused(await here(['ptlc', 'extract', '--in', f('presigned.json'), '--ptlc', f('created.json'), '--claim-tx', f('refund.hex'), '--secret-out', f('t3.hex')]), 'E_NOT_THE_CLAIM');
    expect(existsSync(f('t3.hex'))).toBe(false);
    refused(await here(['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--in', f('created.json'), '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2', '--tip-height', '1099'], { env: ENV }), 'E_NOT_FINAL');
    refused(await here(['ptlc', 'refund', '--key-env', 'BOB_KEY', '--in', f('created.json'), '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2', '--tip-height', '1100'], { env: ENV }), 'E_KEY_MISMATCH');
    dir.cleanup();
  });
});

describe('numbers and secret files are checked before anything is built or consumed (issue 21)', async () => {
  it('--amount ≥ 2^53 on presign (no nonce drawn or stored) and create: exit 2; a secret or lock file others can read: E_SECRET_FILE_PERMISSIONS', async () => {
    const { dir, f, s3: presigned } = setup();
    const huge = '9007199254740993'; // 2^53 + 1
    const before = snapshot(dir.path);
    refused(run(['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', f('BOB_KEY'), '--in', f('created.json'), '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', '--amount', huge], { env: ENV }), 'E_USAGE', 2); // spawned: exit 2's sample
    refused(await here(['ptlc', 'create', '--payer', pub(ENV.ALICE_KEY), '--payee', pub(ENV.BOB_KEY), '--locktime', '1100', '--secret-out', f('t9.hex'), '--amount', huge]), 'E_USAGE', 2);
    expect(snapshot(dir.path)).toEqual(before);
    // The claim's secret, readable by others: refused before it is used.
    writeFileSync(f('presigned.json'), presigned());
    writeFileSync(f('loose.hex'), readFileSync(f('t.hex')), { mode: 0o644 });
    refused(await here(['ptlc', 'claim', '--in', f('presigned.json'), '--secret-file', f('loose.hex')]), 'E_SECRET_FILE_PERMISSIONS');
    writeFileSync(f('loose-lock.json'), readFileSync(join(ROOT, 'fixtures/ptlc/lock-1.json')), { mode: 0o644 });
    refused(await here(['ptlc', 'lock-check', '--lock', f('loose-lock.json')]), 'E_SECRET_FILE_PERMISSIONS');
    dir.cleanup();
  });
});

describe('a 3-hop PTLC payment with decorrelated locks', () => {
  it('sender → hop 1 → hop 2 → payee: every PTLC has its own point, each claim hands the previous hop its secret, only the sender learns z', async () => {
    const dir = tempDir('offchain-e2e-ptlc-route-');
    const f = (n: string) => join(dir.path, n);
    const keys = { S: ENV.ALICE_KEY, H1: ENV.BOB_KEY, H2: ENV.CAROL_KEY, P: '66'.repeat(32) };
    const env = { S: keys.S, H1: keys.H1, H2: keys.H2, P: keys.P };
    // The payee's payment point Z = z·G: z is a fresh scalar in a 0600 file, like a key.
    const Z = (JSON.parse(ok(run(['key', 'new', '--out', f('z.hex')]))) as { public_key: string }).public_key;
    mkdirSync(f('locks'), { mode: 0o700 });
    const plan = JSON.parse(ok(run(['ptlc', 'lock-plan', '--payment-point', Z, '--hops', '2', '--out-dir', f('locks')]))) as { locks: { role: string; L: string; R: string }[] };
    expect(plan.locks.map((l) => l.role)).toEqual(['sender', 'hop', 'hop', 'payee']);
    const lock = (i: number) => f(`locks/lock-${i}.json`);
    for (const i of [1, 2]) ok(run(['ptlc', 'lock-check', '--lock', lock(i)]));
    const points = [plan.locks[0]!.R, plan.locks[1]!.R, plan.locks[2]!.R];
    expect(new Set([Z, ...points]).size).toBe(4); // decorrelated: no two PTLCs share a point, none is Z
    expect(plan.locks[3]!.R).toBe(points[2]);

    // Three PTLCs, each pre-signed by its two parties in four steps.
    const legs = [['S', 'H1'], ['H1', 'H2'], ['H2', 'P']] as const;
    // (in this process: the payment above runs these four steps spawned)
    for (const [i, [payer, payee]] of legs.entries()) {
      const created = ok(await here(['ptlc', 'create', '--payer', pub(keys[payer]), '--payee', pub(keys[payee]), '--point', points[i]!, '--locktime', String(1200 - 10 * i), '--amount', String(50_000 - 100 * i)]));
      writeFileSync(f(`ptlc-${i}.json`), created);
      const as = (who: string) => ['ptlc', 'presign', '--key-env', who, '--state-dir', f(`state-${who}`), '--ptlc', f(`ptlc-${i}.json`)];
      const s1 = ok(await here(['ptlc', 'presign', '--key-env', payee, '--state-dir', f(`state-${payee}`), '--in', f(`ptlc-${i}.json`), '--outpoint', `${String(i + 1).repeat(64)}:0`, '--to', TO, '--fee-rate', '2'], { env }));
      const s3 = ok(await here(as(payee), { input: ok(await here(as(payer), { input: s1, env })), env }));
      ok(await here(as(payer), { input: s3, env }));
      writeFileSync(f(`presigned-${i}.json`), s3);
    }

    // Right to left: the payee claims with z + Σy; each hop extracts and completes its incoming claim.
    ok(run(['ptlc', 'lock-secret', '--lock', lock(3), '--from', 'l', '--secret-file', f('z.hex'), '--secret-out', f('t2.hex')]));
    let secret = f('t2.hex');
    for (let i = 2; i >= 0; i--) {
      const claim = JSON.parse(ok(run(['ptlc', 'claim', '--in', f(`presigned-${i}.json`), '--secret-file', secret]))) as { hex: string };
      const c = JSON.parse(readFileSync(f(`ptlc-${i}.json`), 'utf8')) as { script_pubkey: string; output_key: string };
      verifyKeyPathSpend(claim.hex, [{ amount: BigInt(50_000 - 100 * i), script: bytesOf(c.script_pubkey) }], bytesOf(c.output_key));
      writeFileSync(f(`claim-${i}.hex`), claim.hex);
      ok(run(['ptlc', 'extract', '--in', f(`presigned-${i}.json`), '--ptlc', f(`ptlc-${i}.json`), '--claim-tx', f(`claim-${i}.hex`), '--secret-out', f(`r${i}.hex`)]));
      expect(readFileSync(f(`r${i}.hex`), 'utf8')).toBe(readFileSync(secret, 'utf8'));
      // lock i belongs to the payer of leg i: from its outgoing r to its incoming l.
      ok(run(['ptlc', 'lock-secret', '--lock', lock(i), '--from', 'r', '--secret-file', f(`r${i}.hex`), '--secret-out', f(`l${i}.hex`)]));
      secret = f(`l${i}.hex`);
    }
    // The sender's "incoming" secret is z itself: the proof of payment.
    expect(readFileSync(f('l0.hex'), 'utf8')).toBe(readFileSync(f('z.hex'), 'utf8'));
    // A hop given a lock record that does not add up locks nothing.
    const bad = JSON.parse(readFileSync(lock(1), 'utf8')) as Record<string, string>;
    bad.R = plan.locks[2]!.R;
    writeFileSync(f('bad-lock.json'), JSON.stringify(bad), { mode: 0o600 });
    refused(await here(['ptlc', 'lock-check', '--lock', f('bad-lock.json')]), 'E_BAD_HOP_LOCK');
    dir.cleanup();
  });
});

describe('lock-plan from a route/plan', () => {
  it('gives the route\'s hops and payee their locks in order, with their node ids', async () => {
    const dir = tempDir('offchain-e2e-ptlc-route-plan-');
    const plan = JSON.parse(readFileSync(join(ROOT, 'fixtures/route/seed-plan.json'), 'utf8')) as { hops: { node_id: string }[] };
    const out = JSON.parse(ok(run(['ptlc', 'lock-plan', '--payment-point', pub('77'.repeat(32)), '--route', join(ROOT, 'fixtures/route/seed-plan.json'), '--out-dir', dir.path]))) as {
      locks: { role: string; node_id?: string }[];
    };
    expect(out.locks.map((l) => l.role)).toEqual(['sender', 'hop', 'hop', 'hop', 'payee']);
    expect(out.locks.map((l) => l.node_id)).toEqual([undefined, ...plan.hops.map((h) => h.node_id)]);
    refused(await here(['ptlc', 'lock-plan', '--payment-point', pub('77'.repeat(32)), '--out-dir', dir.path]), 'E_USAGE', 2);
    dir.cleanup();
  });
});
