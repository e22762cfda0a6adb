/** Colu asset IDs against cc-assetid-encoder's vectors (test/vectors/colu/asset_id_vectors.json). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Address, NETWORK, TEST_NETWORK, OutScript } from '@scure/btc-signer';
import { fromHex } from '../../../src/lib/bytes.ts';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';

const hash160 = (b: Uint8Array) => ripemd160(sha256(b));
import { coluRedeemForm, lockedAssetId, pushesOf, pushesOfAsm, scriptFromScriptSig, unlockedAssetId } from '../../../src/lib/colu/asset-id.ts';

const file = JSON.parse(readFileSync(new URL('../../vectors/colu/asset_id_vectors.json', import.meta.url), 'utf8'));

describe('Colu asset IDs (asset_id_vectors.json)', () => {
  it('holds the count it says', () => expect(file.vectors.length).toBe(file.tests.length));
  for (const [i, v] of (file.vectors as any[]).entries()) {
    it(`#${i} ${v.test}`, () => {
      const cc = v.input_tx.ccdata[0];
      const policy = cc.aggregationPolicy ?? 'aggregatable';
      const vin = v.input_tx.vin[0];
      let id: string;
      if (cc.lockStatus) id = lockedAssetId(vin.txid, vin.vout, policy, cc.divisibility);
      else {
        let script: Uint8Array;
        if (vin.previousOutput?.hex) script = fromHex(vin.previousOutput.hex);
        else if (vin.address) {
          const net = /^[mn2]/.test(vin.address) ? TEST_NETWORK : NETWORK;
          script = OutScript.encode(Address(net).decode(vin.address));
        } else if (vin.scriptSig?.hex) script = scriptFromScriptSig(pushesOf(fromHex(vin.scriptSig.hex)));
        else script = scriptFromScriptSig(pushesOfAsm(vin.scriptSig.asm));
        id = unlockedAssetId(script, policy, cc.divisibility);
      }
      expect(id).toBe(v.asset_id);
    });
  }
});

describe('Colu P2SH scriptSig rebuilding', () => {
  const v = file.vectors.find((x: any) => x.input_tx.vin[0].scriptSig?.hex?.startsWith('00') && x.input_tx.vin[0].scriptSig?.asm);
  const sig = v.input_tx.vin[0].scriptSig;
  it('asm and hex give the same pushes', () => {
    expect(pushesOfAsm(sig.asm).map((p) => Buffer.from(p).toString('hex'))).toEqual(pushesOf(fromHex(sig.hex)).map((p) => Buffer.from(p).toString('hex')));
  });
  it('the redeem script loses its push opcodes (written out by hand)', () => {
    const redeem = fromHex(sig.asm.split(' ').at(-1));
    const hand = '52' + Buffer.from(redeem.subarray(2, 35)).toString('hex') + Buffer.from(redeem.subarray(36, 69)).toString('hex') + '52ae';
    expect(Buffer.from(coluRedeemForm(redeem)).toString('hex')).toBe(hand);
  });
  it('the real P2SH output of the redeem script would give another ID (so the quirk matters)', () => {
    const redeem = fromHex(sig.asm.split(' ').at(-1));
    const real = OutScript.encode({ type: 'sh', hash: hash160(redeem) });
    expect(unlockedAssetId(real, 'aggregatable', 3)).not.toBe(v.asset_id);
  });
  it('an asm token that is not a push is malformed', () => {
    expect(() => pushesOfAsm('OP_DUP 00')).toThrow(expect.objectContaining({ code: 'E_COLU_MALFORMED' }));
  });
});
