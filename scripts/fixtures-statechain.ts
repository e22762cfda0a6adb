/**
 * fixtures/statechain/: one coin's every message — Alice deposits with the operator (the
 * test key fixtures/keys/mint.key), transfers to Bob, Bob withdraws — made by the built
 * CLI under the deterministic test seed, offline at tip 200 (docs/statechain.md and the
 * --help examples use them). Also copies of the parties' statechain documents at the
 * points the examples start from (state/…): test keys and shares only, never fund them.
 * Run by `npm run fixtures`, or alone: `npm run build && node --import tsx scripts/fixtures-statechain.ts`.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, NETWORK, OutScript, Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../src/lib/bytes.ts';
import { keyPair } from '../src/lib/keys/keys.ts';

const root = join(import.meta.dirname, '..');
const dir = join(root, 'fixtures', 'statechain');
const fx = (p: string) => join(dir, p);
const key = (name: string) => readFileSync(join(root, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const env = { ...process.env, OFFCHAIN_TEST_SEED: 'fixtures', OPERATOR_KEY: key('mint'), ALICE_KEY: key('alice'), BOB_KEY: key('bob') };
const state = mkdtempSync(join(tmpdir(), 'offchain-fixtures-sc-'));
const CHAIN = ['--tip-height', '200', '--confirmations', '3'];
/** The built CLI run as `who` (its key env name, and its state directory under `root`). */
const cliIn = (stateRoot: string) => (who: string, args: string[], input = '') =>
  execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args, '--key-env', who, '--state-dir', join(stateRoot, who), ...(args[0] === 'statechain-deposit' ? CHAIN.slice(0, 2) : args[1] === 'tower-export' ? [] : CHAIN)], {
    input, env, stdio: ['pipe', 'pipe', process.env.FIXTURES_DEBUG ? 'inherit' : 'ignore'],
  }).toString();
const cli = cliIn(state);
type Cli = typeof cli;
const operatorPub = () => toHex(keyPair(fromHex(key('mint'))).publicKey);
/** Alice deposits a coin (backup 1 before the fixture funding): its id. */
const aliceDeposits = (run: Cli, terms: string[]) => {
  const offer = run('OPERATOR_KEY', ['statechain-deposit', ...terms], run('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', operatorPub()]));
  run('ALICE_KEY', ['statechain-deposit'], run('OPERATOR_KEY', ['statechain-deposit'], run('ALICE_KEY', ['statechain-deposit', '--funding', fx('funding.psbt')], offer)));
  return (JSON.parse(offer) as { coin_id: string }).coin_id;
};
const save = (name: string, text: string) => (writeFileSync(fx(name), text), text);
/**
 * The party's state as it is now (its state.sqlite: documents and nonces, one file once the CLI
 * has closed it), for an example to start from. `_withNonces`: kept for the call sites; the
 * database holds the party's nonces either way (a step that finishes a signature needs its
 * unused secret nonce).
 */
const snapshot = (who: string, name: string, _withNonces = false, from = state) => {
  const to = fx(`state/${name}/regtest`);
  mkdirSync(to, { recursive: true });
  cpSync(join(from, who, 'regtest', 'state.sqlite'), join(to, 'state.sqlite'));
};

// Everything here is made again, but for what no script makes: store-migrated.json (a real migration's output, paths generalised).
const KEPT = ['store-migrated.json'];
for (const f of existsSync(dir) ? readdirSync(dir).filter((f) => !KEPT.includes(f)) : []) rmSync(fx(f), { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
writeFileSync(fx('operator.pub'), toHex(keyPair(fromHex(key('mint'))).publicKey) + '\n');

const TERMS = ['--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '6'];
/** A pair takes only anchored coins by default (no --allow-unanchored): the pair's coins below are anchored. */
const ANCHORED_TERMS = ['--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--anchor', '--backup-fee', '0', '--margin', '6'];
const request = save('deposit-request.json', cli('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', operatorPub()]));
const offer = save('deposit-offer.json', cli('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request));
const address = (JSON.parse(offer) as { statement: { address: string } }).statement.address;
const funding = new Transaction({ version: 2, allowUnknownOutputs: true });
funding.addInput({ txid: '5c'.repeat(32), index: 0 });
funding.addOutput({ script: OutScript.encode(Address({ ...NETWORK, bech32: 'bcrt' }).decode(address)), amount: 100_000n });
save('funding.hex', toHex(funding.unsignedTx) + '\n');
// What the owner gives --funding offline: the wallet's PSBT, each input with its witness_utxo (a P2WPKH output), so it can be checked.
funding.updateInput(0, { witnessUtxo: { script: Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(0x5c)]), amount: 150_000n } }, true);
save('funding.psbt', Buffer.from(funding.toPSBT()).toString('base64') + '\n');
const backupReq = save('deposit-backup.json', cli('ALICE_KEY', ['statechain-deposit', '--funding', fx('funding.psbt')], offer));
const cosigned = save('deposit-cosigned.json', cli('OPERATOR_KEY', ['statechain-deposit'], backupReq));
snapshot('ALICE_KEY', 'alice-depositing', true);
const coin = save('coin.json', cli('ALICE_KEY', ['statechain-deposit'], cosigned));
const coinId = (JSON.parse(coin) as { coin_id: string }).coin_id;
writeFileSync(fx('coin-id'), coinId + '\n');

const transferReq = save('transfer-request.json', cli('BOB_KEY', ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', toHex(keyPair(fromHex(key('mint'))).publicKey)]));
const sign = save('transfer-sign.json', cli('ALICE_KEY', ['statechain-transfer'], transferReq));
const tcos = save('transfer-cosigned.json', cli('OPERATOR_KEY', ['statechain-transfer'], sign));
const pkg = save('transfer-package.json', cli('ALICE_KEY', ['statechain-transfer'], tcos));
snapshot('BOB_KEY', 'bob-receiving');
save('verified.json', cli('BOB_KEY', ['statechain-verify'], pkg));
const accept = save('transfer-accept.json', cli('BOB_KEY', ['statechain-transfer'], pkg));
const done = save('transfer-done.json', cli('OPERATOR_KEY', ['statechain-transfer'], accept));
save('coin-bob.json', cli('BOB_KEY', ['statechain-transfer'], done));
snapshot('BOB_KEY', 'bob');
// Bob's coins as statechain list shows them (read-only, no key; offline at tip 285: his backup is final in 5 blocks).
save('coins.json', execFileSync(process.execPath, [join(root, 'bin/run.js'), 'statechain', 'list', '--state-dir', join(state, 'BOB_KEY'), '--tip-height', '285'], { env }).toString());
snapshot('OPERATOR_KEY', 'operator');
const wreq = save('withdraw-request.json', cli('BOB_KEY', ['statechain-withdraw', '--coin', coinId, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2']));
const wcos = save('withdraw-cosigned.json', cli('OPERATOR_KEY', ['statechain-withdraw'], wreq));
save('withdrawal.json', cli('BOB_KEY', ['statechain-withdraw'], wcos));
rmSync(state, { recursive: true, force: true });

// A second coin, received by a pair (Alice+Bob, the two parties of a channel on it), in a
// state directory of its own so the fixtures above stay as they are.
const joint = mkdtempSync(join(tmpdir(), 'offchain-fixtures-sc-joint-'));
const jcli = cliIn(joint);
const jStart = ['statechain-transfer', '--start', '--coin', aliceDeposits(jcli, ANCHORED_TERMS), '--operator-key', operatorPub()];
const part = save('joint-part.json', jcli('BOB_KEY', [...jStart, '--joint-part']));
writeFileSync(join(joint, 'part.json'), part);
const jReq = save('joint-transfer-request.json', jcli('ALICE_KEY', [...jStart, '--joint-with', join(joint, 'part.json')]));
const jPkg = jcli('ALICE_KEY', ['statechain-transfer'], jcli('OPERATOR_KEY', ['statechain-transfer'], jcli('ALICE_KEY', ['statechain-transfer'], jReq)));
const handoff = save('joint-handoff.json', jcli('ALICE_KEY', ['statechain-transfer'], jPkg));
const t2 = save('joint-t2.json', jcli('BOB_KEY', ['statechain-transfer'], handoff));
const jDone = jcli('OPERATOR_KEY', ['statechain-transfer'], jcli('ALICE_KEY', ['statechain-transfer'], t2));
save('coin-joint-bob.json', jcli('BOB_KEY', ['statechain-transfer'], jDone));
jcli('ALICE_KEY', ['statechain-transfer'], jDone);
// The virtual close: the pair hands the coin to Bob alone, signing three-party.
const closeReq = jcli('BOB_KEY', jStart);
const jNonce = save('joint-nonce.json', jcli('BOB_KEY', ['statechain-transfer'], closeReq));
const jSign = save('joint-sign.json', jcli('ALICE_KEY', ['statechain-transfer'], jcli('OPERATOR_KEY', ['statechain-transfer'], jcli('ALICE_KEY', ['statechain-transfer'], jNonce))));
const closeDone = jcli('OPERATOR_KEY', ['statechain-transfer'], jcli('BOB_KEY', ['statechain-transfer'], jcli('BOB_KEY', ['statechain-transfer'], jSign)));
const closed = save('coin-bob-closed.json', jcli('BOB_KEY', ['statechain-transfer'], closeDone));
// Bob alone now holds an anchored coin (backup 3, the pair's before it): what he hands a watchtower.
snapshot('BOB_KEY', 'bob-anchored', false, joint);
save('tower-backup.json', jcli('BOB_KEY', ['statechain', 'tower-export', '--coin', (JSON.parse(closed) as { coin_id: string }).coin_id]));
// The same pair withdrawing a third coin cooperatively (a fresh state directory again).
const pairW = mkdtempSync(join(tmpdir(), 'offchain-fixtures-sc-pair-w-'));
const wcli = cliIn(pairW);
const wCoinId = aliceDeposits(wcli, ANCHORED_TERMS);
const wStart = ['statechain-transfer', '--start', '--coin', wCoinId, '--operator-key', operatorPub()];
writeFileSync(join(pairW, 'part.json'), wcli('BOB_KEY', [...wStart, '--joint-part']));
let wm = wcli('ALICE_KEY', [...wStart, '--joint-with', join(pairW, 'part.json')]);
for (const who of ['ALICE_KEY', 'OPERATOR_KEY', 'ALICE_KEY', 'ALICE_KEY', 'BOB_KEY', 'ALICE_KEY', 'OPERATOR_KEY']) wm = wcli(who, ['statechain-transfer'], wm);
wcli('ALICE_KEY', ['statechain-transfer'], wm);
wcli('BOB_KEY', ['statechain-transfer'], wm);
const wTo = ['--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2'];
const wNonce = save('joint-withdraw-nonce.json', wcli('BOB_KEY', ['statechain-withdraw', '--coin', wCoinId, ...wTo]));
const wSign = save('joint-withdraw-sign.json', wcli('ALICE_KEY', ['statechain-withdraw'], wcli('OPERATOR_KEY', ['statechain-withdraw'], wcli('ALICE_KEY', ['statechain-withdraw', ...wTo], wNonce))));
save('joint-withdrawal.json', wcli('BOB_KEY', ['statechain-withdraw'], wSign));
rmSync(pairW, { recursive: true, force: true });
rmSync(joint, { recursive: true, force: true });
console.error('statechain fixtures regenerated');
