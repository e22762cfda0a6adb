/** Colu's asset flow against cc-get-assets-outputs' vectors (test/vectors/colu/get_assets_outputs_vectors.json). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { assetsOutputs, type ColuAsset } from '../../../src/lib/colu/flow.ts';

const file = JSON.parse(readFileSync(new URL('../../vectors/colu/get_assets_outputs_vectors.json', import.meta.url), 'utf8'));

const toAsset = (a: any): ColuAsset => ({ assetId: a.assetId ?? null, amount: BigInt(a.amount), issueTxid: a.issueTxid ?? '', divisibility: a.divisibility ?? 0, lockStatus: a.lockStatus, aggregationPolicy: a.aggregationPolicy });
/** The vectors' JSON form: the package's test issues without an asset ID or txid, so those keys are absent there. */
const toJson = (a: ColuAsset, issuance: boolean) =>
  issuance && a.assetId === null ? { amount: Number(a.amount), lockStatus: a.lockStatus, aggregationPolicy: a.aggregationPolicy } : { assetId: a.assetId, amount: Number(a.amount), issueTxid: a.issueTxid, divisibility: a.divisibility, lockStatus: a.lockStatus, aggregationPolicy: a.aggregationPolicy };

describe('Colu asset flow (cc-get-assets-outputs@1.2.1 vectors)', () => {
  it('every vector the package ran passed there', () => expect(file.tests.every((t: any) => t.ok)).toBe(true));
  for (const v of file.vectors) {
    it(v.test, () => {
      const cc = v.input_tx.ccdata[0];
      const payload = { ...cc, amount: cc.amount === undefined ? undefined : BigInt(cc.amount), payments: cc.payments.map((p: any) => ({ ...p, amount: BigInt(p.amount) })) };
      const r = assetsOutputs(v.input_tx.vin.map((i: any) => i.assets.map(toAsset)), v.input_tx.vout.length, payload);
      expect(r.overflow).toBe(v.overflow);
      const issuance = cc.type === 'issuance';
      expect(r.outputs.map((o) => (o === null ? null : o.map((a) => toJson(a, issuance))))).toEqual(v.output_assets);
    });
  }
  it('the input assets are not modified', () => {
    const a: ColuAsset = { assetId: 'A', amount: 5n, issueTxid: 'x', divisibility: 0, lockStatus: false, aggregationPolicy: 'aggregatable' };
    assetsOutputs([[a]], 2, { type: 'transfer', payments: [{ input: 0, amount: 3n, output: 0, skip: false, range: false, percent: false }] });
    expect(a.amount).toBe(5n);
  });
  it('percent payments are reported as unsupported, not guessed', () => {
    const r = assetsOutputs([[]], 2, { type: 'transfer', payments: [{ input: 0, amount: 50n, output: 0, skip: false, range: false, percent: true }] });
    expect(r.unsupported).toMatch(/percent/);
  });
});
