/**
 * Rollover top-ups from a wallet's funded PSBT, used as is (issue 7, item 4): its coins
 * (P2WPKH, P2TR, P2SH-P2WPKH) join the rollover, its change outputs stay, and only what
 * the change does not take back joins the next contract. The mint checks the same from
 * the transaction alone: change returns no more than the wallet brought, and never
 * without wallet inputs. Amounts are checked against sums computed here from the PSBT,
 * not from the code under test; the P2SH-P2WPKH txid against a transaction signed and
 * finalized by btc-signer.
 */
import { describe, it, expect } from 'vitest';
import { Transaction, p2sh, p2wpkh } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-rollover.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { buildRollover, rolloverTxid, topUpFromPsbt } from '../../../src/lib/credit/transactions.ts';
import { refusal } from '../../setup/refusal.ts';
import { USER, world } from './world.ts';
import { signRequest } from '../../../src/lib/credit/request-signature.ts';
import { expectRefused, openContract, pay, psbtOf, type World } from './tamper.ts';

const WALLET = keyPair(fromHex('c7'.repeat(32)));
const P2WPKH = p2wpkh(WALLET.publicKey);
const NESTED = p2sh(p2wpkh(WALLET.publicKey));
const STRANGER = fromHex('0014' + '55'.repeat(20));
const DERIVATION = [[WALLET.publicKey, { fingerprint: 0x01020304, path: [0x80000054, 0x80000001, 0x80000000, 1, 7] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];

/** A wallet PSBT like walletcreatefundedpsbt's: coins, a payment to the contract, change marked by its derivation. */
function walletPsbt(contractScript: Uint8Array, o: { nested?: boolean; changeMarked?: boolean; stranger?: bigint; change?: bigint } = {}): Transaction {
  const tx = new Transaction({ version: 2, allowUnknownOutputs: true });
  tx.addInput({ txid: 'a1'.repeat(32), index: 0, witnessUtxo: { script: P2WPKH.script, amount: 300_000n } });
  if (o.nested) tx.addInput({ txid: 'a2'.repeat(32), index: 1, witnessUtxo: { script: NESTED.script, amount: 200_000n }, redeemScript: NESTED.redeemScript });
  tx.addOutput({ script: contractScript, amount: 100_000n });
  tx.addOutput({ script: P2WPKH.script, amount: o.change ?? 150_000n, ...(o.changeMarked === false ? {} : { bip32Derivation: DERIVATION }) });
  if (o.stranger) tx.addOutput({ script: STRANGER, amount: o.stranger });
  return tx;
}

describe('a wallet PSBT as a top-up', () => {
  it('coins and marked change are taken as is; the top-up is the coins less the change', async () => {
    const w: World = world();
    try {
      const { id, c } = await openContract(w);
      await pay(w, id, 4000n);
      const wallet = walletPsbt(c.script, { nested: true });
      const topUp = topUpFromPsbt(wallet, c.script);
      expect(topUp.inputs.map((i) => i.vout)).toEqual([0, 1]);
      expect(toHex(topUp.inputs[1]!.redeemScript!)).toBe(toHex(NESTED.redeemScript!));
      expect(topUp.change).toHaveLength(1);
      const req = await user.rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2, topUp });
      const tx = psbtOf((req as { rollover_psbt: string }).rollover_psbt);
      // Outputs: the mint's 4000, the next contract, the wallet's change exactly.
      expect(tx.outputsLength).toBe(3);
      expect(tx.getOutput(0)).toMatchObject({ amount: 4000n });
      expect(tx.getOutput(2)).toMatchObject({ script: P2WPKH.script, amount: 150_000n });
      expect(tx.getOutput(2).bip32Derivation).toEqual(DERIVATION); // the wallet recognises its change
      const fee = c.capacity + 500_000n - 4000n - tx.getOutput(1).amount! - 150_000n;
      // vsize here: 3 inputs (57.5 + 68 + 91 vB), 3 outputs, overhead — counted by hand.
      const vsize = Math.ceil(10.5 + 57.5 + 68 + 91 + 43 + 43 + 31);
      expect(fee).toBe(BigInt(vsize * 2));
      const next = termsFromJson((req as { new_contract: never }).new_contract, 'regtest');
      expect(next.capacity).toBe(c.capacity - 4000n + (500_000n - 150_000n) - fee);
      expect(next.funding.txid).toBe(rolloverTxid(tx));
      // The mint accepts it (round 1).
      expect(await mint.proposeRollover(w.mint, req as never)).toMatchObject({ type: 'credit/rollover-refund' });
    } finally {
      w.dir.cleanup();
    }
  });

  it.each([
    ['an output to a stranger', { stranger: 10_000n }, 'E_TOPUP_OUTPUT', 4, /neither the contract nor the wallet's change/],
    ['change without the wallet\'s mark', { changeMarked: false }, 'E_TOPUP_OUTPUT', 4, /no BIP-32 derivation/],
    ['change taking back every coin', { change: 300_000n }, 'E_TOPUP_OUTPUT', 4, /nothing would join the contract/],
  ])('refused: %s (%s)', (_name, o, code, exitCode, message) => {
    const script = fromHex('5120' + '11'.repeat(32));
    const e = refusal(() => topUpFromPsbt(walletPsbt(script, o), script), code, exitCode);
    expect(e.message).toMatch(message);
  });

  it('refused: a P2SH input without its redeem script, a P2PKH input (E_TOPUP_INPUT, exit 4)', () => {
    const script = fromHex('5120' + '11'.repeat(32));
    const bare = new Transaction({ version: 2, allowUnknownOutputs: true });
    bare.addInput({ txid: 'a3'.repeat(32), index: 0, witnessUtxo: { script: NESTED.script, amount: 200_000n } });
    bare.addOutput({ script, amount: 100_000n });
    refusal(() => topUpFromPsbt(bare, script), 'E_TOPUP_INPUT', 4);
    const legacy = new Transaction({ version: 2, allowUnknownInputs: true, allowUnknownOutputs: true });
    legacy.addInput({ txid: 'a4'.repeat(32), index: 0, witnessUtxo: { script: fromHex('76a914' + '66'.repeat(20) + '88ac'), amount: 200_000n } });
    legacy.addOutput({ script, amount: 100_000n });
    refusal(() => topUpFromPsbt(legacy, script), 'E_TOPUP_INPUT', 4);
  });

  it('a P2SH-P2WPKH rollover\'s txid is the one it has once signed (its scriptSig counts)', () => {
    const tx = new Transaction({ version: 2 });
    tx.addInput({ txid: 'a2'.repeat(32), index: 1, witnessUtxo: { script: NESTED.script, amount: 200_000n }, redeemScript: NESTED.redeemScript });
    tx.addOutput({ script: STRANGER, amount: 190_000n });
    const predicted = rolloverTxid(tx);
    expect(predicted).not.toBe(tx.id);
    tx.sign(WALLET.secretKey);
    tx.finalize();
    expect(predicted).toBe(Transaction.fromRaw(tx.extract()).id);
  });
});

describe('the mint\'s rule on change outputs', () => {
  it('change without wallet inputs, or taking more than the wallet brought: E_BAD_OUTPUTS, nothing written', async () => {
    const w: World = world();
    try {
      const { id, c } = await openContract(w);
      await pay(w, id, 4000n);
      const next = (tx: Transaction, vout: number) => ({ capacity_sat: Number(tx.getOutput(vout).amount!), funding: { txid: rolloverTxid(tx), vout } });
      const propose = async (tx: Transaction) => {
        const honest = (await user.rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2 })) as Record<string, any>;
        const terms = { ...honest.new_contract, ...next(tx, 1) };
        const nextC = termsFromJson(terms, 'regtest');
        // Signed by the user as it stands (request-signature.ts): the mint's own rules are what is tested.
        return signRequest({ ...honest, new_contract: terms, new_contract_id: nextC.id, rollover_psbt: Buffer.from(tx.toPSBT()).toString('base64') }, USER);
      };
      // The contract's own funds paid out as "change" (no wallet input).
      const { tx: plain } = buildRollover(c, 4000n, c.script, 2);
      const stolen = new Transaction({ version: 2, allowUnknownOutputs: true });
      stolen.addInput(plain.getInput(0));
      stolen.addOutput(plain.getOutput(0));
      stolen.addOutput({ script: c.script, amount: plain.getOutput(1).amount! - 20_000n });
      stolen.addOutput({ script: STRANGER, amount: 20_000n - 200n });
      const e1 = await propose(stolen);
      await expectRefused(w.dir.path, () => mint.proposeRollover(w.mint, e1 as never), { code: 'E_BAD_OUTPUTS', exitCode: 4, message: /change outputs come with the wallet's inputs/ });
      // With a wallet coin of 10 000 sat, "change" of 30 000 sat.
      const topUp = { inputs: [{ txid: 'a1'.repeat(32), vout: 0, amount: 10_000n, script: P2WPKH.script }], change: [{ script: STRANGER, amount: 30_000n }] };
      const { tx: greedy } = buildRollover(c, 4000n, c.script, 2, topUp);
      const e2 = await propose(greedy);
      await expectRefused(w.dir.path, () => mint.proposeRollover(w.mint, e2 as never), { code: 'E_BAD_OUTPUTS', exitCode: 4, message: /take 30000 sat, more than the 10000 sat the wallet's inputs bring/ });
    } finally {
      w.dir.cleanup();
    }
  });
});
