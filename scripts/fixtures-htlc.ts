/**
 * fixtures/htlc/: one HTLC of each kind and their spends, made by the built CLI under the
 * deterministic test seed (the --help examples and docs/htlc.md use them). Run by
 * `npm run fixtures`, or alone: `npm run build && node --import tsx scripts/fixtures-htlc.ts`.
 * The keys are the public test keys of fixtures/keys and 0x33… (revocation), 0x44…
 * (delayed): never fund them outside regtest.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../src/lib/bytes.ts';
import { keyPair } from '../src/lib/keys/keys.ts';
import { fromHex } from '../src/lib/bytes.ts';

const root = join(import.meta.dirname, '..');
const fx = (p: string) => join(root, 'fixtures', 'htlc', p);
const key = (name: string) => readFileSync(join(root, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const REVOCATION = '33'.repeat(32);
const DELAYED = '44'.repeat(32);
const env = { ...process.env, OFFCHAIN_TEST_SEED: 'fixtures', ALICE_KEY: key('alice'), BOB_KEY: key('bob'), REVOCATION_KEY: REVOCATION };
const cli = (args: string[], input = '') =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env, stdio: ['pipe', 'pipe', process.env.FIXTURES_DEBUG ? 'inherit' : 'ignore'] }).toString();
const pub = (secret: string) => toHex(keyPair(fromHex(secret)).publicKey);
const save = (name: string, text: string) => (writeFileSync(fx(name), text), text);

const preimage = sha256(utf8('offchain fixture preimage'));
save('preimage.hex', toHex(preimage) + '\n');
chmodSync(fx('preimage.hex'), 0o600);
save('payment-hash.hex', toHex(sha256(preimage)) + '\n');
writeFileSync(fx('revocation.key'), REVOCATION + '\n', { mode: 0o600 });

const hash = ['--payment-hash', toHex(sha256(preimage)), '--amount', '50000'];
const parties = ['--payer', pub(key('alice')), '--recipient', pub(key('bob'))];
const seed = save('seed.json', cli(['htlc', 'create', '--kind', 'seed', ...parties, '--locktime', '1100', ...hash]));
save('seed.script', JSON.parse(seed).witness_script + '\n');
save('seed-decoded.json', cli(['htlc', 'decode', '--script', JSON.parse(seed).witness_script, '--address', JSON.parse(seed).address]));
const taproot = save('taproot.json', cli(['htlc', 'create', '--kind', 'taproot', ...parties, '--locktime', '1100', ...hash]));
const bolt3 = ['--revocation-pubkey', pub(REVOCATION), '--local-htlc-pubkey', pub(key('alice')), '--remote-htlc-pubkey', pub(key('bob')),
  '--to-self-delay', '144', '--local-delayed-pubkey', pub(DELAYED), '--feerate-per-kw', '2500', ...hash];
const offered = save('offered.json', cli(['htlc', 'create', '--kind', 'offered', '--locktime', '1100', ...bolt3]));
save('received.json', cli(['htlc', 'create', '--kind', 'received', '--locktime', '1100', ...bolt3]));

const OUTPOINT = `${'5f'.repeat(32)}:0`;
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const spend = (command: string, keyEnv: string, input: string, ...extra: string[]) =>
  cli(['htlc', command, '--key-env', keyEnv, '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', ...extra], input);
save('seed-claim.json', spend('claim', 'BOB_KEY', seed, '--preimage-file', fx('preimage.hex')));
save('seed-refund.json', spend('refund', 'ALICE_KEY', seed, '--tip-height', '1100'));
save('taproot-claim.json', spend('claim', 'BOB_KEY', taproot, '--preimage-file', fx('preimage.hex')));
save('offered-timeout-half.json', spend('refund', 'BOB_KEY', offered));
save('offered-punish.json', spend('punish', 'REVOCATION_KEY', offered));
// The payer keeps the funded seed HTLC for its watcher (in a state directory thrown away here).
const payerDir = mkdtempSync(join(tmpdir(), 'offchain-fixtures-htlc-'));
save('watched.json', cli(['htlc', 'watch-add', '--key-env', 'ALICE_KEY', '--outpoint', OUTPOINT, '--to', TO, '--state-dir', payerDir], seed));
rmSync(payerDir, { recursive: true, force: true });
save('taproot-cooperate.json', cli(['htlc', 'cooperate', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2'], taproot));
console.error('htlc fixtures regenerated');
