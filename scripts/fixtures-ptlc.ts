/**
 * fixtures/ptlc/: one PTLC from Alice (payer) to Bob (payee) and every message of its
 * life, made by the built CLI under the deterministic test seed (the --help examples and
 * docs/ptlc.md use them). Run by `npm run fixtures`, or alone:
 * `npm run build && node --import tsx scripts/fixtures-ptlc.ts`. Test keys only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, toHex } from '../src/lib/bytes.ts';
import { keyPair } from '../src/lib/keys/keys.ts';

const root = join(import.meta.dirname, '..');
const fx = (p: string) => join(root, 'fixtures', 'ptlc', p);
const key = (name: string) => readFileSync(join(root, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const env = { ...process.env, OFFCHAIN_TEST_SEED: 'fixtures', ALICE_KEY: key('alice'), BOB_KEY: key('bob') };
const cli = (args: string[], input = '') =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env, stdio: ['pipe', 'pipe', process.env.FIXTURES_DEBUG ? 'inherit' : 'ignore'] }).toString();
const save = (name: string, text: string) => (writeFileSync(fx(name), text), text);
const pub = (name: string) => toHex(keyPair(fromHex(key(name))).publicKey);
const state = mkdtempSync(join(tmpdir(), 'offchain-fixtures-ptlc-'));

// Public keys of the test keys, for examples that need them on the command line.
for (const who of ['alice', 'bob']) writeFileSync(join(root, 'fixtures', 'keys', `${who}.pub`), pub(who) + '\n');
rmSync(fx('secret.hex'), { force: true });
const created = save('created.json', cli(['ptlc', 'create', '--payer', pub('alice'), '--payee', pub('bob'), '--locktime', '1100', '--secret-out', fx('secret.hex'), '--amount', '50000']));
const OUTPOINT = `${'5f'.repeat(32)}:0`;
const as = (who: string) => ['ptlc', 'presign', '--key-env', who, '--state-dir', join(state, who), '--ptlc', fx('created.json')];
const s1 = save('presign-1.json', cli(['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', join(state, 'BOB_KEY'), '--outpoint', OUTPOINT, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2'], created));
const s2 = save('presign-2.json', cli(as('ALICE_KEY'), s1));
const s3 = save('presigned.json', cli(as('BOB_KEY'), s2));
const claim = save('claim.json', cli(['ptlc', 'claim', '--secret-file', fx('secret.hex')], s3));
save('claim.hex', JSON.parse(claim).hex + '\n');
rmSync(join(state, 't'), { force: true });
save('extracted.json', cli(['ptlc', 'extract', '--ptlc', fx('created.json'), '--claim-tx', fx('claim.hex'), '--secret-out', join(state, 't')], s3).replace(join(state, 't'), 'alice.t'));
save('refund.json', cli(['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--outpoint', OUTPOINT, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2', '--tip-height', '1100'], created));
// The payer keeps the funded PTLC for its watcher.
save('watched.json', cli(['ptlc', 'watch-add', '--key-env', 'ALICE_KEY', '--outpoint', OUTPOINT, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--state-dir', join(state, 'payer')], created));
// Decorrelated locks for a payment through one hop: the payee's z and Z, every lock record.
for (const f of ['payment-secret.hex', 'lock-0.json', 'lock-1.json', 'lock-2.json']) rmSync(fx(f), { force: true });
const z = JSON.parse(cli(['key', 'new', '--out', fx('payment-secret.hex')])) as { public_key: string };
save('payment-point.hex', z.public_key + '\n');
save('locks.json', cli(['ptlc', 'lock-plan', '--payment-point', z.public_key, '--hops', '1', '--out-dir', join(root, 'fixtures', 'ptlc')]).replaceAll(join(root, 'fixtures', 'ptlc') + '/', 'fixtures/ptlc/'));
save('lock-secret.json', cli(['ptlc', 'lock-secret', '--lock', fx('lock-2.json'), '--from', 'l', '--secret-file', fx('payment-secret.hex'), '--secret-out', join(state, 'r')]).replace(join(state, 'r'), 'payee-r.hex'));
rmSync(state, { recursive: true, force: true });
console.error('ptlc fixtures regenerated');
