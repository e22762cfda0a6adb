/**
 * Newcomer gaps (issue 28 item 7): decoders take the network from the input where the
 * input names one, and say so when --network disagrees; `htlc decode` reads standard input.
 * Where one test runs a command several times with other flags, the first run is a
 * process and the others the same built bundle in this process (in-process.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { describe, expect, it } from 'vitest';
import { base58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { fixturePath } from './fixtures.ts';

const b58 = base58check(sha256);
// BIP-32 test vector 1, master key (depth 0, empty path): valid as a PSBT_GLOBAL_XPUB with a bare fingerprint.
const XPUB = 'xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8';

/** The fixture PSBT with one PSBT_GLOBAL_XPUB record: the BIP-32 vector's key, its version bytes `version`. */
function psbtWithXpub(version: string): string {
  const raw = Buffer.from(readFileSync(fixturePath('psbt/musig-keypath-unsigned.psbt'), 'utf8').trim(), 'base64');
  const key = Buffer.from(b58.decode(XPUB));
  Buffer.from(version, 'hex').copy(key, 0);
  const record = Buffer.concat([Buffer.from([1 + 78, 0x01]), key, Buffer.from([4]), Buffer.from('3442193e', 'hex')]);
  // After the global unsigned transaction record (key 01 00, a one-byte length here).
  expect([raw[5], raw[6], raw[7]! < 0xfd]).toEqual([1, 0, true]);
  const at = 8 + raw[7]!;
  return Buffer.concat([raw.subarray(0, at), record, raw.subarray(at)]).toString('base64');
}
const MAINNET = psbtWithXpub('0488b21e');
const TESTNET = psbtWithXpub('043587cf');

describe('psbt decode: the network its xpubs name', () => {
  it('an xpub, no --network: mainnet (addresses bc1…), no warning', () => {
    const r = run(['psbt', 'decode'], { input: MAINNET });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.network).toBe('mainnet');
    expect(m.global_xpubs[0].xpub).toBe(XPUB);
    expect(m.tx.vout[0].scriptPubKey.address).toMatch(/^bc1p/);
    expect(r.stderr).toBe('');
  });
  it('an xpub with --network regtest: regtest as asked, and a warning', () => {
    const r = run(['psbt', 'decode', '--network', 'regtest'], { input: MAINNET });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).network).toBe('regtest');
    expect(r.stderr).toBe("offchain: warning: the PSBT's extended public keys are mainnet (xpub) keys, but --network is regtest: addresses are shown for regtest\n");
  });
  it('a tpub with --network mainnet: a warning; with --network signet none', () => {
    const r = run(['psbt', 'decode', '--network', 'mainnet'], { input: TESTNET });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/test-network \(tpub\) keys, but --network is mainnet/);
    const s = run(['psbt', 'decode', '--network', 'signet'], { input: TESTNET });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toBe('');
  });
  it('no xpub: nothing to infer (outputs cannot tell), the default stays', () => {
    const r = run(['psbt', 'decode', '--in', 'fixtures/psbt/musig-keypath-unsigned.psbt']);
    expect(JSON.parse(r.stdout).network).toBe('regtest');
    expect(r.stderr).toBe('');
  });
});

describe('a PSBT whose first global record is not the unsigned transaction', () => {
  it('is still recognised as base64 (cHNidP9…: the xpub record, 79 bytes, comes first) and decodes the same', () => {
    const raw = Buffer.from(readFileSync(fixturePath('psbt/musig-keypath-unsigned.psbt'), 'utf8').trim(), 'base64');
    const key = Buffer.from(b58.decode(XPUB));
    const record = Buffer.concat([Buffer.from([1 + 78, 0x01]), key, Buffer.from([4]), Buffer.from('3442193e', 'hex')]);
    const first = Buffer.concat([raw.subarray(0, 5), record, raw.subarray(5)]).toString('base64');
    expect(first.slice(0, 7)).toBe('cHNidP9');
    const a = run(['psbt', 'decode'], { input: first });
    const b = run(['psbt', 'decode'], { input: MAINNET });
    expect(a.status, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
  });
});

describe('htlc decode', () => {
  const script = readFileSync(fixturePath('htlc/seed.script'), 'utf8').trim();
  it('reads the script on standard input, the same answer as --script', () => {
    const a = run(['htlc', 'decode', '--script', script]);
    const b = run(['htlc', 'decode'], { input: script + '\n' });
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });
  it('empty standard input: E_EMPTY_INPUT, exit 3', () => {
    const r = run(['htlc', 'decode'], { input: '' });
    expect(r.stderr).toMatch(/^offchain: error E_EMPTY_INPUT: no script given/);
    expect(r.status).toBe(3);
  });
  it('takes the network from --address; a --network it contradicts is refused', async () => {
    const main = JSON.parse(run(['htlc', 'decode', '--network', 'mainnet', '--script', script]).stdout);
    const r = await runInProcess(['htlc', 'decode', '--script', script, '--address', main.address]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).network).toBe('mainnet');
    const bad = await runInProcess(['htlc', 'decode', '--network', 'regtest', '--script', script, '--address', main.address]);
    expect(bad.stderr).toMatch(/^offchain: error E_NETWORK_MISMATCH: /);
    expect(bad.status).toBe(4);
  });
});

describe('onion-error create reads the onion it received on standard input', () => {
  const args = ['onion-error', 'create', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'incorrect_or_unknown_payment_details', '--field', 'htlc_msat=14000', '--field', 'height=800000'];
  it('the same answer as --onion FILE', () => {
    const a = run([...args, '--onion', 'fixtures/onion/at-hop3.json']);
    const b = run(args, { input: readFileSync(fixturePath('onion/at-hop3.json')) });
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).type).toBe('onion/error');
    expect(b.stdout).toBe(a.stdout);
  });
  it('nothing on standard input: E_EMPTY_INPUT, exit 3', () => {
    const r = run(args, { input: '' });
    expect(r.stderr).toMatch(/^offchain: error E_EMPTY_INPUT: /);
    expect(r.status).toBe(3);
  });
});

describe('key show: a WIF names its network', () => {
  it('a mainnet WIF without --network is shown as mainnet; with --network regtest it is refused (exit 4)', async () => {
    const dir = tempDir('offchain-wif-');
    try {
      const file = join(dir.path, 'k.wif');
      const made = run(['key', 'new', '--format', 'wif', '--network', 'mainnet', '--out', file]);
      expect(made.status, made.stderr).toBe(0);
      const r = await runInProcess(['key', 'show', '--key-file', file]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ type: 'key/public', network: 'mainnet', public_key: JSON.parse(made.stdout).public_key });
      const bad = await runInProcess(['key', 'show', '--key-file', file, '--network', 'regtest']);
      expect(bad.stderr).toMatch(/^offchain: error E_NETWORK_MISMATCH: .* is a mainnet WIF key but the network is regtest\n$/);
      expect(bad.status).toBe(4);
    } finally {
      dir.cleanup();
    }
  });
});

describe('decode-openassets address utilities: the address names its network', () => {
  it('a mainnet address without --network: mainnet; with --network testnet: refused (exit 4)', async () => {
    const a = run(['decode-openassets', '--colored-address', '1HpyyiGaXLq7ZCHk3s9EkVEFoG15oLn2Us']);
    expect(a.status, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ network: 'mainnet', colored_address: 'akTnsDt5uzpioRST76VFRQM8q8sBFnQiwcx' });
    const b = await runInProcess(['decode-openassets', '--bitcoin-address', 'akTnsDt5uzpioRST76VFRQM8q8sBFnQiwcx']);
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ network: 'mainnet', address: '1HpyyiGaXLq7ZCHk3s9EkVEFoG15oLn2Us' });
    const c = await runInProcess(['decode-openassets', '--bitcoin-address', 'akTnsDt5uzpioRST76VFRQM8q8sBFnQiwcx', '--network', 'testnet']);
    expect(c.stderr).toMatch(/^offchain: error E_NETWORK_MISMATCH: /);
    expect(c.status).toBe(4);
  });
});
