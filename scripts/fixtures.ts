#!/usr/bin/env -S node --import tsx
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
import { mkdtempSync, rmSync } from 'node:fs';
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
