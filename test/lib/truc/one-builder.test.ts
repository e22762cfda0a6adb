/**
 * Issue 24, "every exit through the one package code": the statechain single owner's
 * backup child is built by src/lib/truc/child.ts (`own`), as the credit exit's is (its
 * bytes are pinned by test/e2e/credit-snapshots.test.ts). What is checked here, with sizes
 * measured by the independent parser (test/independent/tx.ts), never by the code under test:
 * - the child spends the backup's output (and its anchor, when anchored) and pays `to` alone;
 * - the package pays exactly ⌈rate × (backup vsize + child vsize)⌉ — the child as signed is
 *   its largest size (one 64-byte Schnorr signature; an anchor's empty witness), so the
 *   estimate is exact; the old anchored estimate was a vB short — or, when the backup alone
 *   pays the rate, the child pays the relay floor on its own size;
 * - the fee guard applies (before issue 24 the statechain child had none).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import { DEFAULT_FEE_LIMITS } from '../../../src/lib/tx/fee-guard.ts';
import { parseTx } from '../../independent/tx.ts';
import { refusal } from '../../setup/refusal.ts';
import { TERMS, chainStub, cleanup, depositRequested } from '../statechain/harness.ts';

afterAll(cleanup);

const TO = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);

async function ownerRecord(terms: Record<string, unknown>) {
  const chain = chainStub(200);
  const { owner, opCtx, start, offer, funding } = await depositRequested(chain, 100_000n, terms as typeof TERMS);
  const backup = await dep.depositBackup(start.pending, offer.message as never, funding, chain.height, DEFAULT_FLOOR, owner);
  const cosigned = await op.cosignDepositBackup(offer.record, backup.message as never, opCtx);
  return dep.depositFinish(backup.record, cosigned.message as never, owner);
}

describe('the statechain owner\'s backup child comes from the one CPFP builder', () => {
  for (const [name, terms] of [['old terms (400 sat backup fee)', TERMS], ['anchored terms (zero fee, P2A)', { ...TERMS, backup_fee_sat: 0, anchor: true }]] as const) {
    it(`${name}: spends its output${'anchor' in terms ? ' and anchor' : ''}, pays --to alone, the package exactly at the rate on independently measured sizes`, async () => {
      const record = await ownerRecord(terms);
      for (const rate of [1, 5, 7.3, 40]) {
        const out = own.backupWithChild(record, { destination: TO, feeRate: rate, feeLimits: DEFAULT_FEE_LIMITS }, new Uint8Array(32));
        const backup = parseTx(out.hex);
        const child = parseTx(out.childHex!);
        expect(child.inputs.map((i) => [i.txid, i.vout])).toEqual('anchor' in terms ? [[backup.txid, 0], [backup.txid, 1]] : [[backup.txid, 0]]);
        expect(child.outputs).toHaveLength(1);
        expect(Buffer.from(child.outputs[0]!.script).toString('hex')).toBe(Buffer.from(TO).toString('hex'));
        const backupFee = BigInt(terms.backup_fee_sat);
        const childFee = backup.outputs[0]!.amount - child.outputs[0]!.amount;
        expect(childFee).toBe(out.childFeeSat);
        // The rate on the package; when the backup alone already pays it, the child pays the relay floor
        // (0.1 sat/vB, Core 30) on its own size: the node then takes the backup alone and judges the child alone.
        const atRate = BigInt(Math.ceil(rate * (backup.vsize + child.vsize)));
        const floor = backupFee + BigInt(Math.ceil(0.1 * child.vsize));
        expect(backupFee + childFee).toBe(atRate > floor ? atRate : floor);
      }
    });
  }

  it('the fee guard: a child fee above --max-fee-share of the backup output, or a rate above --max-fee-rate, is E_FEE_TOO_HIGH (exit 4)', async () => {
    const record = await ownerRecord(TERMS);
    // ~210 vB at 300 sat/vB: over 60,000 sat of the 99,600 sat output.
    refusal(() => own.backupWithChild(record, { destination: TO, feeRate: 300, feeLimits: DEFAULT_FEE_LIMITS }, new Uint8Array(32)), 'E_FEE_TOO_HIGH', 4);
    refusal(() => own.backupWithChild(record, { destination: TO, feeRate: 11, feeLimits: { maxFeeRate: 10, maxFeeShare: 0.5 } }, new Uint8Array(32)), 'E_FEE_TOO_HIGH', 4);
    expect(own.backupWithChild(record, { destination: TO, feeRate: 300, feeLimits: { maxFeeRate: 10_000, maxFeeShare: 0.9 } }, new Uint8Array(32)).childFeeSat).toBeGreaterThan(50_000n);
  });
});
