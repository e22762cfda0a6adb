/**
 * `package check` through the built CLI: the fixture package (a zero-fee v3 parent with a
 * P2A, a child spending it) checked from a finalized PSBT and from raw hex + --prevout,
 * its ids and sizes compared with test code's reading of the same bytes
 * (test/independent/tx.ts); and the refusal table once per exit class — a rule (exit 4,
 * naming Core's reject string), a missing prevout (2), bytes that are no transaction (3) —
 * each with one stderr line and nothing on stdout. The rules themselves are tested at
 * library level (test/lib/truc/check.test.ts) and against Core (test/regtest/truc.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { parseTx } from '../independent/tx.ts';
import { runAsync } from './process.ts';

const fixture = (name: string) => readFileSync(join(ROOT, 'fixtures/truc', name), 'utf8').trim();
const PARENT = parseTx(fixture('parent.hex'));

/** BIP-174: the global map's first record, PSBT_GLOBAL_UNSIGNED_TX (key 0x00), read by test code. */
function walletUnsignedTx(psbt: Buffer): Uint8Array {
  let at = 5; // magic
  const varint = () => { const b = psbt[at++]!; if (b < 0xfd) return b; const n = b === 0xfd ? psbt.readUInt16LE(at) : psbt.readUInt32LE(at); at += b === 0xfd ? 2 : 4; return n; };
  const keyLen = varint();
  if (keyLen !== 1 || psbt[at] !== 0x00) throw new Error('the PSBT does not open with its unsigned transaction');
  at += keyLen;
  const len = varint();
  return new Uint8Array(psbt.subarray(at, at + len));
}
const CHILD = parseTx(fixture('child.hex'));
const BASE = ['package', 'check', '--child', 'fixtures/truc/child.hex'];

type Run = { status: number; stdout: string; stderr: string };
const refused = (r: Run, code: string, status: number) => {
  expect({ status: r.status, stdout: r.stdout, lines: r.stderr.trimEnd().split('\n').length, code: /^offchain: error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status, stdout: '', lines: 1, code });
  return r.stderr;
};

describe('package check', () => {
  it('accepts the fixture package, from a PSBT or from hex + --prevout, with the ids and sizes test code reads', async () => {
    const [fromPsbt, fromHex, inlinePsbt] = await Promise.all([
      runAsync([...BASE, '--parent', 'fixtures/truc/parent.psbt']),
      runAsync([...BASE, '--parent', fixture('parent.hex'), '--prevout', fixture('parent.prevout')]),
      runAsync([...BASE, '--parent', fixture('parent.psbt')]),
    ]);
    expect(fromPsbt.status, fromPsbt.stderr).toBe(0);
    expect(fromHex.stdout).toBe(fromPsbt.stdout);
    expect(inlinePsbt.stdout).toBe(fromPsbt.stdout);
    const m = JSON.parse(fromPsbt.stdout) as Record<string, any>;
    expect(m.parent).toEqual({ txid: PARENT.txid, wtxid: PARENT.wtxid, version: 3, vsize: PARENT.vsize, sigop_cost: 0, fee_sat: 0, dust_outputs: [1], p2a_outputs: [1] });
    const childFee = 100_000 - Number(CHILD.outputs[0]!.amount); // the fixture coin is 100,000 sat, all of it kept by the parent
    expect(m.child).toEqual({ txid: CHILD.txid, wtxid: CHILD.wtxid, version: 3, vsize: CHILD.vsize, sigop_cost: 0, fee_sat: childFee, dust_outputs: [], p2a_outputs: [] });
    expect(m.package).toEqual({ fee_sat: childFee, vsize: PARENT.vsize + CHILD.vsize, feerate_sat_per_kvb: Math.floor((childFee * 1000) / (PARENT.vsize + CHILD.vsize)) });
    expect(m.spent_parent_outputs).toEqual([1, 0]);
    expect(fromPsbt.stdout).toBe(readFileSync(join(ROOT, 'fixtures/truc/checked.json'), 'utf8'));
  });

  it('refuses: a rule (exit 4, with Core\'s string), a missing prevout (2), no transaction (3)', async () => {
    const [low, noPrevout, garbage, badRate] = await Promise.all([
      runAsync([...BASE, '--parent', 'fixtures/truc/parent.psbt', '--mempool-min-fee', '3']),
      runAsync([...BASE, '--parent', 'fixtures/truc/parent.hex']),
      runAsync([...BASE, '--parent', '0300000001']),
      runAsync([...BASE, '--parent', 'fixtures/truc/parent.psbt', '--min-relay-fee', '0.0001']),
    ]);
    const needed = Math.ceil((3000 * (PARENT.vsize + CHILD.vsize)) / 1000);
    expect(refused(low, 'E_TRUC_FEE_TOO_LOW', 4)).toContain(`(Bitcoin Core: "mempool min fee not met, 500 < ${needed}")`);
    refused(noPrevout, 'E_TRUC_PREVOUT', 2);
    refused(garbage, 'E_TRUC_BAD_TX', 3);
    refused(badRate, 'E_USAGE', 2);
  });
});

describe('package child / package submit, offline, through the built CLI', () => {
  it('package child on the fixture: a package/child whose PSBT spends the anchor and the wallet coin, pays only the wallet, at 5 sat/vB on the largest size', async () => {
    const r = await runAsync(['package', 'child', '--parent', 'fixtures/truc/parent.psbt', '--wallet-psbt', 'fixtures/truc/walletcreatefundedpsbt.answer', '--fee-rate', '5']);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as Record<string, any>;
    expect(m.parent).toMatchObject({ txid: PARENT.txid, fee_sat: 0, vsize: PARENT.vsize });
    expect(m.child.spends_parent_outputs).toEqual([1]);
    // fee ≥ 5 × package vsize, and no more than the rounding.
    expect(m.package.fee_sat).toBe(Math.ceil(5 * m.package.vsize_max));
    expect(m.child.fee_sat).toBe(m.package.fee_sat);
    // Offline, the parent's input amount is the PSBT's word: the message and stderr say so (issue 37 finding 3).
    const [txid, vout, amount] = fixture('parent.prevout').split(':');
    expect(m.parent.inputs_on_trust).toEqual([`${txid}:${vout}`]);
    // And the wallet PSBT's coin: its amount sets the child's change, so its fee (review of issue 37). Read from the
    // fixture's unsigned transaction (test code's reader) and its witness_utxo (key 0x01 of the input map: amount, LE).
    const { psbt } = JSON.parse(fixture('walletcreatefundedpsbt.answer')) as { psbt: string };
    const unsigned = parseTx(walletUnsignedTx(Buffer.from(psbt, 'base64')));
    const coin = `${unsigned.inputs[0]!.txid}:${unsigned.inputs[0]!.vout}`;
    expect(unsigned.inputs).toHaveLength(1);
    expect(m.child.inputs_on_trust).toEqual([coin]);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^offchain: warning: the parent's fee is computed from input amounts taken on trust \\(${txid}:${vout} ${amount} sat\\).*--rpc-url`)),
      expect.stringMatching(new RegExp(`^offchain: warning: the child's change is computed from --wallet-psbt coin amounts taken on trust \\(${coin} \\d+ sat\\).*--rpc-url`)),
    ]);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'fixtures/truc/child-message.json'), 'utf8'));
  });

  it('refusals, one stderr line, nothing on stdout: a v2 parent is not TRUC (4); no --prevout for a raw parent offline (2); --fee-rate above --max-fee-rate (4); a submit without a node (2); a dry-run of a package whose child leaves the anchor (4)', async () => {
    const [v2, noPrevout, guard, offline, dust] = await Promise.all([
      runAsync(['package', 'child', '--parent', `02${fixture('parent.hex').slice(2)}`, '--prevout', fixture('parent.prevout'), '--wallet-psbt', 'fixtures/truc/walletcreatefundedpsbt.answer', '--fee-rate', '5']),
      runAsync(['package', 'child', '--parent', 'fixtures/truc/parent.hex', '--wallet-psbt', 'fixtures/truc/walletcreatefundedpsbt.answer', '--fee-rate', '5']),
      runAsync(['package', 'child', '--parent', 'fixtures/truc/parent.psbt', '--wallet-psbt', 'fixtures/truc/walletcreatefundedpsbt.answer', '--fee-rate', '50', '--max-fee-rate', '20']),
      runAsync(['package', 'submit', '--parent', 'fixtures/truc/parent.psbt', '--child', 'fixtures/truc/child.hex']),
      // The parent's own output 0 spent alone: the 0-sat anchor (output 1) left unspent.
      runAsync(['package', 'submit', '--dry-run', '--parent', 'fixtures/truc/parent.psbt', '--child', `03000000000101${Buffer.from(PARENT.txid, 'hex').reverse().toString('hex')}0000000000fdffffff01${(99_000).toString(16).padStart(16, '0').match(/../g)!.reverse().join('')}22${fixture('parent.prevout').split(':')[3]}01015100000000`]),
    ]);
    refused(v2, 'E_TRUC_VERSION', 4);
    refused(noPrevout, 'E_TRUC_PREVOUT', 2);
    refused(guard, 'E_FEE_TOO_HIGH', 4);
    refused(offline, 'E_CHAIN_OFFLINE', 2);
    expect(refused(dust, 'E_TRUC_EPHEMERAL_UNSPENT', 4)).toContain('missing-ephemeral-spends');
  });

  it('--replaces offline is refused (2): the earlier child\'s fee sets what the wallet pays, and only a node can vouch for its inputs (regtest: a forged witness_utxo is E_TRUC_PREVOUT_CONFLICT)', async () => {
    const r = await runAsync(['package', 'child', '--parent', 'fixtures/truc/parent.psbt', '--wallet-psbt', 'fixtures/truc/walletcreatefundedpsbt.answer', '--fee-rate', '5', '--replaces', 'fixtures/truc/child.hex']);
    expect(refused(r, 'E_CHAIN_OFFLINE', 2)).toContain('--replaces needs a node');
  });
});
