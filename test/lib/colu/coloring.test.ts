/**
 * Colu coloring across a chain built here: a plain funding transaction, an issuance of
 * 10 units (cc-transaction's vector payload 434302050a60: divisibility 3, unlocked,
 * aggregatable, no payments → all to the last output), a transfer paying 3 and 7, and an
 * overflowing transfer. Expected values are written out by hand; the asset ID is
 * computed by test/independent/base58check.ts (test-code base58, node:crypto hashes), not
 * with src/ nor with the @scure/base base58check src/lib/colu/asset-id.ts encodes with.
 */
import { describe, expect, it } from 'vitest';
import { base58checkEncode, hash160 } from '../../independent/base58check.ts';
import { ColuColorer } from '../../../src/lib/colu/coloring.ts';
import { coluMessage } from '../../../src/lib/colu/message.ts';
import { parseRawTx } from '../../../src/lib/tx/raw.ts';
import { p2pkh, serializeTx } from '../counterparty/encode.ts';

const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const opret = (h: string) => bytes('6a' + (h.length / 2).toString(16).padStart(2, '0') + h);
const S_F = p2pkh('11'.repeat(20));
const S_A = p2pkh('22'.repeat(20));
const S_B = p2pkh('33'.repeat(20));
const S_C = p2pkh('44'.repeat(20));
const F = serializeTx([{ txid: 'ab'.repeat(32), vout: 0 }], [{ value: 50_000, script: S_F }]);
const fTx = parseRawTx(bytes(F));
const I = serializeTx([{ txid: fTx.txid, vout: 0 }], [{ value: 0, script: opret('434302050a60') }, { value: 600, script: S_A }]);
const iTx = parseRawTx(bytes(I));
const T = serializeTx([{ txid: iTx.txid, vout: 1 }], [{ value: 600, script: S_B }, { value: 600, script: S_C }, { value: 0, script: opret('4343021500030107') }]);
const OVER = serializeTx([{ txid: iTx.txid, vout: 1 }], [{ value: 600, script: S_B }, { value: 0, script: opret('4343021500140107') }, { value: 600, script: S_C }]);

const ASSET = base58checkEncode(new Uint8Array([0x2e, 0x37, ...hash160(S_F), 0x00, 0x03]));

const colorer = (txs: string[]) => {
  const m = new Map(txs.map((h) => [parseRawTx(bytes(h)).txid, bytes(h)]));
  return new ColuColorer({ source: async (id) => m.get(id), parse: parseRawTx, network: 'mainnet' });
};
const unit = (amount: string) => ({ assetId: ASSET, amount, issueTxid: iTx.txid, divisibility: 3, lockStatus: false, aggregationPolicy: 'aggregatable' });

describe('Colu coloring through ancestors', () => {
  it('the asset ID begins "Ua" (unlocked, aggregatable)', () => expect(ASSET.startsWith('Ua')).toBe(true));
  it('issuance: all 10 units on the last output, the ID from the spent output\'s script', async () => {
    const m = coluMessage(iTx, 'mainnet', await colorer([F]).color(iTx));
    expect(m.flow).toEqual({ status: 'colored', overflow: false });
    expect(m.outputs.map((o) => o.assets)).toEqual([[], [unit('10')]]);
  });
  it('transfer: 3 and 7', async () => {
    const tx = parseRawTx(bytes(T));
    const m = coluMessage(tx, 'mainnet', await colorer([F, I]).color(tx));
    expect(m.outputs.map((o) => o.assets)).toEqual([[unit('3')], [unit('7')], []]);
  });
  it('a payment of 20 out of 10 overflows: everything to the last output', async () => {
    const tx = parseRawTx(bytes(OVER));
    const m = coluMessage(tx, 'mainnet', await colorer([F, I]).color(tx));
    expect(m.flow).toEqual({ status: 'colored', overflow: true });
    expect(m.outputs.map((o) => o.assets)).toEqual([[], [], [unit('10')]]);
  });
  it('missing ancestors are named: the issuance, then the funding transaction behind it', async () => {
    const tx = parseRawTx(bytes(T));
    expect((await colorer([]).color(tx))).toMatchObject({ status: 'undecided', missing: [iTx.txid] });
    expect((await colorer([I]).color(tx))).toMatchObject({ status: 'undecided', missing: [fTx.txid] });
  });
  it('a transaction without a CC payload carries nothing and is not looked behind', async () => {
    expect(await colorer([]).color(fTx)).toMatchObject({ status: 'no-payload' });
  });
});
