/** The stream's hand-written fast paths agree with the general ones they replace. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hash160 } from '../../../src/lib/openassets/ids.ts';
import { txBytesFromText } from '../../../src/lib/openassets/decode.ts';

describe('stream fast paths', () => {
  it('hash160 = noble RIPEMD-160(SHA-256)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      expect(Buffer.from(hash160(b)).toString('hex')).toBe(Buffer.from(ripemd160(sha256(b))).toString('hex'));
    }), { numRuns: 500 });
  });
  it('{"tx":"<hex>"} lines read without JSON.parse give the same bytes as the JSON path', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 60 }), (b) => {
      const hex = Buffer.from(b).toString('hex');
      const fast = txBytesFromText(`{"tx":"${hex}"}`);
      const slow = txBytesFromText(`{ "tx": "${hex}" }`);
      expect(Buffer.from(fast).equals(Buffer.from(slow))).toBe(true);
    }), { numRuns: 500 });
    expect(() => txBytesFromText('{"tx":"0g"}')).toThrow(expect.objectContaining({ code: 'E_OA_BAD_TX' }));
    expect(() => txBytesFromText('{"tx":"ab\\u0030"}')).toThrow(expect.objectContaining({ code: 'E_OA_BAD_TX' }));
  });
});

describe('decodedLine = JSON.stringify(decodedMessage)', () => {
  it('over random chains of issuances and transfers, with missing ancestors and bad markers, on both rules', async () => {
    const { buildTx, p2pkh, opReturn, SEED_MARKER } = await import('./build.ts');
    const { Colorer } = await import('../../../src/lib/openassets/coloring.ts');
    const { parseRawTx } = await import('../../../src/lib/tx/raw.ts');
    const { decodedLine, decodedMessage } = await import('../../../src/lib/openassets/decode.ts');
    const markers = [SEED_MARKER, '4f410100023c2800', '4f41010001ff', '4f4101000300000000', '4f410100010a0d22225c757b226121227d'];
    fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat(4), fc.nat(3), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 12 }), fc.constantFrom('spec', 'reference'), fc.constantFrom('mainnet', 'testnet'), async (steps, rule, network) => {
      const txs: { hex: string; txid: string }[] = [];
      const known = new Map<string, Uint8Array>();
      let prev = { txid: 'ab'.repeat(32), vout: 0 };
      for (const [m, n, hide, witness] of steps) {
        const outs = [{ value: 600, script: p2pkh('11'.repeat(20)) }, { value: 0, script: opReturn(markers[m]!) }];
        for (let k = 0; k < n; k++) outs.push({ value: 1000 + k, script: witness ? '0014' + '22'.repeat(20) : p2pkh(String(k).padStart(2, '0').repeat(20)) });
        const t = buildTx([prev], outs);
        txs.push(t);
        if (!hide) known.set(t.txid, Buffer.from(t.hex, 'hex'));
        prev = { txid: t.txid, vout: 0 };
      }
      const colorer = new Colorer({ rule, source: (id) => known.get(id), parse: parseRawTx });
      for (const [i, t] of txs.entries()) {
        const tx = parseRawTx(Buffer.from(t.hex, 'hex'));
        const c = await colorer.color(tx);
        expect(decodedLine(tx, c, network, rule, i + 1)).toBe(JSON.stringify(decodedMessage(tx, c, network, rule, { line: i + 1 })));
        expect(decodedLine(tx, c, network, rule, i + 1, 'hint "x"')).toBe(JSON.stringify({ ...decodedMessage(tx, c, network, rule, { line: i + 1 }), hint_if_missing: 'hint "x"' }));
      }
    }), { numRuns: 200 });
  });
});

describe('the own parser agrees with @scure/btc-signer', () => {
  it('txids, outpoints, values and scripts of legacy and segwit transactions', async () => {
    const { Transaction } = await import('@scure/btc-signer');
    const { parseRawTx } = await import('../../../src/lib/tx/raw.ts');
    const { readFileSync } = await import('node:fs');
    const g = JSON.parse(readFileSync(new URL('../../vectors/counterparty/gettxinfo_vectors.json', import.meta.url), 'utf8'));
    // a segwit transaction written out here: version 2, marker/flag, one input, two outputs, a two-item witness
    const segwit = '02000000' + '0001' + '01' + '11'.repeat(32) + '03000000' + '00' + 'fdffffff' + '02'
      + 'e803000000000000' + '16' + '0014' + '22'.repeat(20) + '0000000000000000' + '08' + '6a064f4101000100'
      + '02' + '47' + '30'.repeat(71) + '21' + '02' + '33'.repeat(32) + '00000000';
    for (const hex of [segwit, ...g.transactions.map((t: any) => t.tx)]) {
      const bytes = Buffer.from(hex, 'hex');
      const ours = parseRawTx(bytes);
      const theirs = Transaction.fromRaw(bytes, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
      expect(ours.txid).toBe(theirs.id);
      expect(ours.outputs.map((o) => [o.value, Buffer.from(o.script).toString('hex')])).toEqual(
        Array.from({ length: theirs.outputsLength }, (_, i) => [theirs.getOutput(i).amount, Buffer.from(theirs.getOutput(i).script!).toString('hex')]));
      expect(ours.inputs.map((i) => `${i.prevTxid}:${i.vout}`)).toEqual(
        Array.from({ length: theirs.inputsLength }, (_, i) => `${Buffer.from(theirs.getInput(i).txid!).toString('hex')}:${theirs.getInput(i).index}`));
    }
  });
});
