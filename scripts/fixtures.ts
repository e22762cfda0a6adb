/**
 * Regenerates fixtures/ (sample keys, PSBTs and messages used by --help examples, the
 * docs and snapshot tests) by running the built CLI under the deterministic test seed.
 * Run `npm run build && npm run fixtures`; commit the result. The keys are public test
 * keys (0x11…, 0x22…): never fund them on mainnet.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { keyPair } from '../src/lib/keys/keys.ts';
import { musigKey } from '../src/lib/musig/keyagg.ts';
import { fromHex, toHex } from '../src/lib/bytes.ts';

const root = join(import.meta.dirname, '..');
const fx = (p: string) => join(root, 'fixtures', p);
const state = mkdtempSync(join(tmpdir(), 'offchain-fixtures-'));
mkdirSync(fx('keys'), { recursive: true });
mkdirSync(fx('psbt'), { recursive: true });
mkdirSync(fx('messages'), { recursive: true });

const ALICE = '11'.repeat(32);
const BOB = '22'.repeat(32);
writeFileSync(fx('keys/alice.key'), ALICE + '\n', { mode: 0o600 });
writeFileSync(fx('keys/bob.key'), BOB + '\n', { mode: 0o600 });
const a = keyPair(fromHex(ALICE));
const b = keyPair(fromHex(BOB));

// Creator + updater: spend 100 000 sat from the MuSig2 key's P2TR output.
const key = musigKey([a.publicKey, b.publicKey]);
const tx = new Transaction({ version: 2 });
tx.addInput({ txid: 'e0'.repeat(32), index: 1, witnessUtxo: { script: key.output.script, amount: 100_000n }, sequence: 0xfffffffd });
tx.addOutput({ script: fromHex('5120' + 'ab'.repeat(32)), amount: 99_000n });
const unsigned = base64.encode(tx.toPSBT());
writeFileSync(fx('psbt/musig-keypath-unsigned.psbt'), unsigned + '\n');

const env = { ...process.env, OFFCHAIN_TEST_SEED: 'fixtures', ALICE_KEY: ALICE, BOB_KEY: BOB };
const cli = (args: string[], input: string) =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env, stdio: ['pipe', 'pipe', 'ignore'] }).toString();
const as = (who: 'alice' | 'bob') => ['--key-env', `${who.toUpperCase()}_KEY`, '--state-dir', join(state, who)];

const init = cli(['musig', 'init', '--participant', toHex(a.publicKey), '--participant', toHex(b.publicKey)], unsigned);
writeFileSync(fx('psbt/musig-keypath-init.json'), init);
const aliceNonce = cli(['musig', 'nonce', ...as('alice')], init);
const nonces = cli(['musig', 'nonce', ...as('bob')], aliceNonce);
writeFileSync(fx('psbt/musig-keypath-nonces.json'), nonces);
const aliceSigned = cli(['musig', 'sign', ...as('alice')], nonces);
const signed = cli(['musig', 'sign', ...as('bob'), '--psbt'], aliceSigned);
writeFileSync(fx('psbt/musig-keypath-signed.psbt'), signed);
const final = cli(['psbt', 'finalize', '--psbt'], signed);
writeFileSync(fx('psbt/musig-keypath-final.psbt'), final);
writeFileSync(fx('messages/key-public.json'), cli(['key', 'show', '--key-env', 'ALICE_KEY'], ''));
writeFileSync(fx('messages/psbt-decoded.json'), cli(['psbt', 'decode'], nonces));
writeFileSync(fx('messages/psbt-analysis.json'), cli(['psbt', 'analyze'], nonces));
writeFileSync(fx('messages/psbt-extracted.json'), cli(['psbt', 'extract'], final));
rmSync(state, { recursive: true, force: true });
console.error('fixtures regenerated');

// ——— Credit contract: one whole lifecycle, every message saved (docs, schemas test). ———
const credit = mkdtempSync(join(tmpdir(), 'offchain-fixtures-credit-'));
const MINT = readKey('mint');
const USER = readKey('user');
function readKey(name: string): string {
  return execFileSync('cat', [fx(`keys/${name}.key`)]).toString().trim();
}
const cenv = { ...process.env, OFFCHAIN_TEST_SEED: 'fixtures', MINT_KEY: MINT, USER_KEY: USER };
const DEBUG = process.env.FIXTURES_DEBUG ? 'inherit' : 'ignore';
const ccli = (args: string[], input = '') =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], { input, env: cenv, stdio: ['pipe', 'pipe', DEBUG] }).toString();
const mintArgs = ['--key-env', 'MINT_KEY', '--state-dir', join(credit, 'mint')];
const userArgs = ['--key-env', 'USER_KEY', '--state-dir', join(credit, 'user')];
const save = (name: string, text: string) => (writeFileSync(fx(`credit/${name}.json`), text), text);
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
const offerMsg = save('offer', ccli(['open-credit', '--role', 'mint', '--publish', ...mintArgs, '--payout-address', PAYOUT]));
save('address', ccli(['open-credit', '--role', 'user', ...userArgs], offerMsg));
const funding = execFileSync('cat', [fx('credit/funding.psbt')]).toString();
const openReq = save('open-request', ccli(['open-credit', '--role', 'user', ...userArgs, '--offer', fx('credit/offer.json'), '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND], funding));
const openAcc = save('open-accept', ccli(['open-credit', '--role', 'mint', ...mintArgs, '--tip-height', '1000'], openReq));
save('opened', ccli(['open-credit', '--role', 'user', ...userArgs], openAcc));
const mintChain = ['--tip-height', '1001', '--confirmations', '1'];
const upd = save('update-request', ccli(['sign-update', '--role', 'user', '--amount', '1000', ...userArgs]));
const rec = save('receipt', ccli(['sign-update', '--role', 'mint', ...mintArgs, ...mintChain], upd));
save('balance', ccli(['sign-update', '--role', 'user', ...userArgs], rec));
const rolloverReq = save('rollover-request', ccli(['rollover', '--role', 'user', ...userArgs, '--expiry', '+4320', '--tip-height', '1002']));
const rolloverRefund = save('rollover-refund', ccli(['rollover', '--role', 'mint', ...mintArgs, '--tip-height', '1002'], rolloverReq));
const rolloverSign = save('rollover-sign', ccli(['rollover', '--role', 'user', ...userArgs], rolloverRefund));
const rolloverAcc = save('rollover-accept', ccli(['rollover', '--role', 'mint', ...mintArgs, '--tip-height', '1002'], rolloverSign));
save('rolled-over', ccli(['rollover', '--role', 'user', ...userArgs], rolloverAcc));
const upd2 = ccli(['sign-update', '--role', 'user', '--amount', '25000', ...userArgs]);
ccli(['sign-update', '--role', 'user', ...userArgs], ccli(['sign-update', '--role', 'mint', ...mintArgs, '--tip-height', '1003', '--confirmations', '1'], upd2));
// The cooperative close of the same contract, from a copy of both parties' state made before
// the mint's exit below (an exiting contract is frozen: E_CONTRACT_FROZEN), so the exit and
// the listing after it are those of the lifecycle above.
const closing = join(credit, 'closing');
cpSync(join(credit, 'mint'), join(closing, 'mint'), { recursive: true, filter: (src) => !src.endsWith('.lock') });
cpSync(join(credit, 'user'), join(closing, 'user'), { recursive: true, filter: (src) => !src.endsWith('.lock') });
const closeArgs = (who: 'MINT_KEY' | 'USER_KEY') => ['--key-env', who, '--state-dir', join(closing, who === 'MINT_KEY' ? 'mint' : 'user')];
const closeReq = save('close-request', ccli(['close-credit', '--role', 'user', '--start', ...closeArgs('USER_KEY')]));
save('closed', ccli(['close-credit', '--role', 'mint', ...closeArgs('MINT_KEY')], closeReq));
save('exit', ccli(['exit-credit', '--fee-rate', '10', '--contract', JSON.parse(rolloverAcc).new_contract_id, ...mintArgs]));
save('refund', ccli(['refund-credit', '--any-time', '--tip-height', '1003', ...userArgs]));
save('contracts', ccli(['credit', 'list', ...mintArgs, '--tip-height', '1003']));
// Recovery (docs/credit.md "Recovering from a refusal"), in state directories of their own so
// the lifecycle above is unchanged: a payment that never reached the mint, abandoned; an
// open the mint never answered, abandoned by the user alone.
const recovery = (name: string, who: 'MINT_KEY' | 'USER_KEY') => ['--key-env', who, '--state-dir', join(credit, 'recovery', name)];
const [mintR, userR, userO] = [recovery('mint', 'MINT_KEY'), recovery('user', 'USER_KEY'), recovery('user-open', 'USER_KEY')];
ccli(['open-credit', '--role', 'mint', '--publish', ...mintR, '--payout-address', PAYOUT]);
const openR = ['--offer', fx('credit/offer.json'), '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND];
ccli(['open-credit', '--role', 'user', ...userR], ccli(['open-credit', '--role', 'mint', ...mintR, '--tip-height', '1000'], ccli(['open-credit', '--role', 'user', ...userR, ...openR], funding)));
ccli(['sign-update', '--role', 'user', '--amount', '1000', ...userR]); // never reaches the mint
const abandonMsg = save('abandon', ccli(['credit', 'abandon', '--role', 'user', '--start', ...userR]));
save('abandoned', ccli(['credit', 'abandon', '--role', 'mint', ...mintR], abandonMsg));
ccli(['open-credit', '--role', 'user', ...userO, ...openR], funding);
save('open-abandoned', ccli(['credit', 'abandon', '--role', 'user', '--start', ...userO]));
rmSync(credit, { recursive: true, force: true });
console.error('credit fixtures regenerated');

// ——— Ecash for credit: keyset, a payment with blind signatures, its token. ———
await import('./fixtures-ecash.ts');

// ——— HTLCs: one of each kind and their spends. ———
await import('./fixtures-htlc.ts');

// ——— PTLCs: one payment's every message. ———
await import('./fixtures-ptlc.ts');

// ——— BOLT 3: the Appendix C commitment, signed by both through the CLI. ———
await import('./fixtures-bolt3.ts');

// ——— Statechains: one coin's deposit, transfer and withdrawal. ———
await import('./fixtures-statechain.ts');
