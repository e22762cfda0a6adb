/**
 * Ecash for credit (docs/ecash.md): the keyset, one payment whose receipt carries blind
 * signatures, the token the user keeps, and that token decoded; the check against a
 * Nutshell mint's saved answers (fixtures/credit/nutshell/: a fresh 0.20.3, then the same
 * mint rotated to index 1) and the rotation followed; a wallet's NUT-09 restore of the payment's
 * outputs and the mint's answer. Nutshell's test seed
 * (TEST_PRIVATE_KEY: keyset 01884a74… on a fresh 0.20.3) and a public test wallet seed:
 * never use either for real money. Run by scripts/fixtures.ts, or alone after `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const fx = (p: string) => join(root, 'fixtures', p);
const dir = mkdtempSync(join(tmpdir(), 'offchain-fixtures-ecash-'));
const key = (name: string) => readFileSync(fx(`keys/${name}.key`), 'utf8').trim();
const env = {
  ...process.env, OFFCHAIN_TEST_SEED: 'fixtures', MINT_KEY: key('mint'), USER_KEY: key('user'),
  ECASH_SEED: 'TEST_PRIVATE_KEY', WALLET_SEED: '5e'.repeat(64),
};
const cli = (args: string[], input = '') =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env, cwd: root, stdio: ['pipe', 'pipe', process.env.FIXTURES_DEBUG ? 'inherit' : 'ignore'] }).toString();
const save = (name: string, text: string) => (writeFileSync(fx(`credit/${name}`), text), text);
const mint = ['--key-env', 'MINT_KEY', '--state-dir', join(dir, 'mint'), '--ecash-seed-env', 'ECASH_SEED'];
const userBase = ['--key-env', 'USER_KEY', '--state-dir', join(dir, 'user')];
const user = [...userBase, '--wallet-seed-env', 'WALLET_SEED'];
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';

const nutshell = ['--ecash-keysets', 'fixtures/credit/nutshell/keysets.json', '--ecash-keys', 'fixtures/credit/nutshell/keys.json'];
save('keyset.json', cli(['credit', 'keyset', '--ecash-seed-env', 'ECASH_SEED']));
save('ecash-check.json', cli(['credit', 'ecash', 'check', '--ecash-seed-env', 'ECASH_SEED', ...nutshell]));
save('ecash-offer.json', cli(['open-credit', '--role', 'mint', '--publish', ...mint, '--payout-address', PAYOUT, '--mint-url', 'http://localhost:3338', ...nutshell]));
const funding = readFileSync(fx('credit/funding.psbt'), 'utf8');
const openReq = cli(['open-credit', '--role', 'user', ...userBase, '--offer', fx('credit/ecash-offer.json'), '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND], funding);
cli(['open-credit', '--role', 'user', ...userBase], cli(['open-credit', '--role', 'mint', ...mint, '--tip-height', '1000'], openReq));
const upd = save('ecash-update-request.json', cli(['sign-update', '--role', 'user', '--amount', '1000', ...user]));
const rec = save('ecash-receipt.json', cli(['sign-update', '--role', 'mint', ...mint, '--tip-height', '1001', '--confirmations', '1'], upd));
rmSync(fx('credit/token.txt'), { force: true });
save('ecash-balance.json', cli(['sign-update', '--role', 'user', ...user, '--token-out', 'fixtures/credit/token.txt'], rec));
save('token.json', cli(['credit', 'token', 'decode', '--keyset', fx('credit/keyset.json'), '--in', fx('credit/token.txt')]));
// NUT-09: the payment's outputs as a wallet restoring from its seed asks for them (amount 0, as cashu-ts sends), and the mint's answer
const restoreRequest = JSON.stringify({
  type: 'credit/restore-request', version: 1, network: 'regtest',
  outputs: (JSON.parse(upd) as { outputs: { id: string; B_: string }[] }).outputs.map((o) => ({ amount: 0, id: o.id, B_: o.B_ })),
}, null, 2) + '\n';
save('restore-request.json', restoreRequest);
save('restore.json', cli(['credit', 'ecash', 'restore', '--state-dir', join(dir, 'mint'), '--ecash-seed-env', 'ECASH_SEED'], restoreRequest));
save('ecash-keysets.json', cli(['credit', 'ecash', 'follow', ...mint, '--ecash-keysets', 'fixtures/credit/nutshell/rotated-keysets.json', '--ecash-keys', 'fixtures/credit/nutshell/rotated-keys.json']));
rmSync(dir, { recursive: true, force: true });
console.error('ecash fixtures regenerated');
