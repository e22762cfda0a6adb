/**
 * How `package check` reads a transaction (src/lib/truc/input.ts): raw hex as is; a
 * finalized PSBT in any encoding gives the same raw transaction (compared with
 * fixtures/truc/parent.hex) and its witness_utxo as prevouts; an unsigned PSBT, or text
 * that is neither, is refused with its code; `--prevout` text is parsed or refused.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { ROOT } from '../../helpers.ts';
import { packageTxFrom, parsePrevout } from '../../../src/lib/truc/input.ts';
import { refusalAsync, refusal } from '../../setup/refusal.ts';
import { ANYONE, P2A } from './build.ts';

const text = (name: string) => readFileSync(join(ROOT, 'fixtures/truc', name), 'utf8').trim();
const enc = (s: string) => new TextEncoder().encode(s);
const PARENT_HEX = text('parent.hex');
const PSBT_B64 = text('parent.psbt');

describe('packageTxFrom', () => {
  it('raw hex is the transaction, with no prevouts', async () => {
    const t = await packageTxFrom(enc(`${PARENT_HEX}\n`), '--parent');
    expect({ hex: Buffer.from(t.raw).toString('hex'), prevouts: t.prevouts, from: t.from }).toEqual({ hex: PARENT_HEX, prevouts: [], from: 'hex' });
  });
  it.each([
    ['base64', () => enc(PSBT_B64)],
    ['hex', () => enc(Buffer.from(base64.decode(PSBT_B64)).toString('hex'))],
    ['binary', () => base64.decode(PSBT_B64)],
  ])('a finalized PSBT in %s gives the same transaction and its witness_utxo', async (_name, bytes) => {
    const t = await packageTxFrom(bytes(), '--parent');
    expect(Buffer.from(t.raw).toString('hex')).toBe(PARENT_HEX);
    expect(t.prevouts).toEqual([{ txid: '5f'.repeat(32), vout: 0, amount: 100_000n, script: ANYONE }]);
  });
  it('an unsigned PSBT is refused (E_TRUC_NOT_FINAL, exit 2)', async () => {
    const tx = new Transaction({ version: 3, allowUnknownOutputs: true });
    tx.addInput({ txid: '5f'.repeat(32), index: 0, witnessUtxo: { script: ANYONE, amount: 100_000n } });
    tx.addOutput({ script: P2A, amount: 0n });
    await refusalAsync(packageTxFrom(enc(base64.encode(tx.toPSBT())), '--child'), 'E_TRUC_NOT_FINAL', 2);
  });
  it('text that is neither hex nor a PSBT is malformed (E_TRUC_BAD_TX, exit 3)', async () => {
    await refusalAsync(packageTxFrom(enc('not a transaction'), '--child'), 'E_TRUC_BAD_TX', 3);
  });
});

describe('parsePrevout', () => {
  it('reads TXID:VOUT:AMOUNT:SCRIPT', () => {
    expect(parsePrevout(text('parent.prevout'))).toEqual({ txid: '5f'.repeat(32), vout: 0, amount: 100_000n, script: ANYONE });
  });
  it.each(['5f:0:1:51', `${'5f'.repeat(32)}:0:1`, `${'5f'.repeat(32)}:4294967296:1:51`, `${'5f'.repeat(32)}:0:2100000000000001:51`, `${'5f'.repeat(32)}:0:1:5`])('refuses %s (E_USAGE, exit 2)', (s) => {
    refusal(() => parsePrevout(s), 'E_USAGE', 2);
  });
});

describe('a PSBT whose P2A input Core left without final fields (walletprocesspsbt answers complete: true so)', () => {
  const child = (otherFinal: boolean) => {
    const t = new Transaction({ version: 3, allowUnknownOutputs: true, allowUnknownInputs: true });
    t.addOutput({ script: ANYONE, amount: 4_000n });
    t.addInput({ txid: 'ab'.repeat(32), index: 1, sequence: 0xfffffffd, witnessUtxo: { script: P2A, amount: 0n } });
    t.addInput({ txid: 'cd'.repeat(32), index: 0, sequence: 0xfffffffd, witnessUtxo: { script: ANYONE, amount: 5_000n }, ...(otherFinal ? { finalScriptWitness: [Uint8Array.of(0x51)] } : {}) });
    return enc(base64.encode(t.toPSBT()));
  };
  it('is final: the anchor input with an empty witness, the other with its own; prevouts from witness_utxo', async () => {
    const t = await packageTxFrom(child(true), '--child');
    // Independent reading of the bytes: version 3, segwit marker, anchor input's witness is 0 items, the other's one item (51).
    const hex = Buffer.from(t.raw).toString('hex');
    expect(hex.startsWith('03000000' + '0001' + '02')).toBe(true);
    expect(hex.endsWith('00' + '0101' + '51' + '00000000')).toBe(true);
    expect(t.prevouts.map((p) => p.amount)).toEqual([0n, 5_000n]);
  });
  it('any other input without final fields is E_TRUC_NOT_FINAL (exit 2)', async () => {
    await refusalAsync(packageTxFrom(child(false), '--child'), 'E_TRUC_NOT_FINAL', 2);
  });
});

describe('packageTxFromDocument: our messages and bitcoin-cli\'s answers', async () => {
  const { packageTxFromDocument } = await import('../../../src/lib/truc/input.ts');
  const doc = (v: unknown) => enc(JSON.stringify(v));
  const hexOf = async (v: unknown, role: 'parent' | 'child') => Buffer.from((await packageTxFromDocument(doc(v), 'x', role)).raw).toString('hex');
  it('reads the parent of exit-credit\'s exit, a statechain/spend, a package/child, and any {"hex"}', async () => {
    expect(await hexOf({ state_tx: { hex: PARENT_HEX }, child: { psbt: 'x' } }, 'parent')).toBe(PARENT_HEX);
    expect(await hexOf({ type: 'statechain/spend', hex: PARENT_HEX }, 'parent')).toBe(PARENT_HEX);
    expect(await hexOf({ type: 'package/child', parent: { hex: PARENT_HEX }, psbt: PSBT_B64 }, 'parent')).toBe(PARENT_HEX);
    expect(await hexOf({ hex: PARENT_HEX }, 'parent')).toBe(PARENT_HEX);
  });
  it('reads walletprocesspsbt\'s answer by its "psbt" (which carries the prevouts)', async () => {
    const t = await packageTxFromDocument(doc({ psbt: PSBT_B64, complete: true, hex: '00' }), 'x', 'child');
    expect(Buffer.from(t.raw).toString('hex')).toBe(PARENT_HEX);
    expect(t.prevouts).toHaveLength(1);
  });
  it('refuses JSON carrying no transaction, and bad JSON (E_TRUC_BAD_TX, exit 3)', async () => {
    await refusalAsync(packageTxFromDocument(doc({ type: 'statechain/spend' }), 'x', 'parent'), 'E_TRUC_BAD_TX', 3);
    await refusalAsync(packageTxFromDocument(enc('{ nope'), 'x', 'parent'), 'E_TRUC_BAD_TX', 3);
  });
});
