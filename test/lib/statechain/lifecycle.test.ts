/**
 * A coin's whole life in the library: deposit (backup 1 signed before funding), three
 * transfers among four owners, withdrawal. Each signed transaction is checked by the
 * independent verifier against the P2TR output key test code derives from O + S; after
 * every transfer O + S is still P (test-code point sum), the new owner's backup is the
 * newest and one interval below the previous, and the operator's old share is gone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { parseTx } from '../../independent/tx.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import { chainStub, cleanup, deposit, transfer, fundingTxid } from './harness.ts';

afterAll(cleanup);

const sumPoint = (a: string, b: string) => secp256k1.Point.fromHex(a).add(secp256k1.Point.fromHex(b)).toHex(true);

describe('a statechain coin from deposit to withdrawal', () => {
  it('deposit, three transfers, withdrawal: every signature independently valid, P constant', async () => {
    const chain = chainStub(200);
    const d = await deposit(chain);
    const P = d.opRecord.statement.aggregate;
    const coinOutputKey = taprootOutput(secp256k1.Point.fromHex(P).toBytes(true).subarray(1)).outputKey;
    const fundingOut = parseTx(d.funding).outputs[1]!;
    const prevout = { amount: fundingOut.amount, script: fundingOut.script };
    expect(d.ownerRecord.backups).toHaveLength(1);
    verifyKeyPathSpend(d.ownerRecord.backups[0]!, [prevout], coinOutputKey);
    expect(parseTx(d.ownerRecord.backups[0]!).lockTime).toBe(300);

    // Not transferable before the deposit has its confirmations (a mempool deposit is 0).
    chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: fundingOut.amount, scriptPubKey: fundingOut.script, confirmations: 2 };
    let state = { opRecord: d.opRecord, opCtx: d.opCtx, sender: d.owner, senderRecord: d.ownerRecord };
    const oldShares = [d.opRecord.share_secret];
    for (const [i, name] of ['bob', 'carol', 'dave'].entries()) {
      const t = await transfer(chain, state, name);
      const st = t.opRecord.statement;
      expect(sumPoint(st.owner_share, st.operator_share)).toBe(P);
      expect(st.owner_share).toBe(t.receiverRecord.share);
      expect(t.receiverRecord.backups).toHaveLength(i + 2);
      for (const b of t.receiverRecord.backups) verifyKeyPathSpend(b, [prevout], coinOutputKey);
      expect(parseTx(t.receiverRecord.backups.at(-1)!).lockTime).toBe(300 - 10 * (i + 1));
      expect(oldShares).not.toContain(t.opRecord.share_secret);
      oldShares.push(t.opRecord.share_secret);
      state = { opRecord: t.opRecord, opCtx: d.opCtx, sender: t.receiver, senderRecord: t.receiverRecord };
    }
    const w = await own.withdrawRequest(state.senderRecord, Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]), 2, state.sender);
    const cos = op.cosignWithdrawal(state.opRecord, w.message as never, d.opCtx);
    const fin = await own.withdrawFinish(w.record, cos.message as never, state.sender);
    verifyKeyPathSpend(fin.signed.hex, [prevout], coinOutputKey);
    expect(cos.record.statement.status).toBe('withdrawn');
  });
});
