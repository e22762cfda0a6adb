/**
 * exit-credit --child: the wallet-signed CPFP child is checked before the package goes
 * anywhere (it must spend the exit state's payout, be finalized, carry its spent outputs,
 * and be a TRUC child of a TRUC state); the package fee rate is what state and child pay
 * together. Bitcoin Core mines a real one in test/regtest/credit.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { toHex } from '../../../src/lib/bytes.ts';
import { withWalletChild } from '../../../src/lib/credit/exit-child.ts';
import { CORE_POLICY } from '../../../src/lib/truc/check.ts';
import { refusal } from '../../setup/refusal.ts';

const P2TR = (b: number) => Uint8Array.from([0x51, 0x20, ...new Uint8Array(32).fill(b)]);
const PAYOUT = P2TR(1);
/** The state's input: what the package checker needs for the state's fee (150 sat). */
const FUNDING = [{ txid: toHex(new Uint8Array(32).fill(7).reverse()), vout: 0, amount: 100_150n, script: P2TR(8) }];

function exitMessage() {
  const state = new Transaction({ version: 3, allowUnknownOutputs: true });
  state.addOutput({ script: P2TR(2), amount: 60_000n });
  state.addOutput({ script: PAYOUT, amount: 40_000n });
  state.addInput({ txid: new Uint8Array(32).fill(7), index: 0, witnessUtxo: { script: P2TR(8), amount: 100_150n }, finalScriptWitness: [new Uint8Array(64)] });
  const child = new Transaction({ version: 3 });
  child.addInput({ txid: state.id, index: 1, witnessUtxo: { script: PAYOUT, amount: 40_000n } });
  child.addOutput({ script: PAYOUT, amount: 39_000n });
  const hex = toHex(state.extract());
  return {
    state,
    message: {
      state_tx: { txid: state.id, hex, vsize: state.vsize, fee_sat: 150 },
      child: { txid: child.id, complete: false, psbt: base64.encode(child.toPSBT()), package_fee_rate: 5 },
    },
  };
}

/** A child as a wallet would return it: finalized (a 64-byte key-path signature), maybe with a fee input. */
function walletChild(state: Transaction, opts: { version?: number; index?: number; sign?: boolean; utxo?: boolean; outputs?: number; feeInput?: boolean; amount?: bigint } = {}) {
  const tx = new Transaction({ version: opts.version ?? 3, allowUnknownOutputs: true });
  for (let i = 0; i < (opts.outputs ?? 1); i++) tx.addOutput({ script: P2TR(5), amount: opts.amount ?? 1_000n });
  tx.addInput({ txid: state.id, index: opts.index ?? 1, ...(opts.utxo === false ? {} : { witnessUtxo: { script: PAYOUT, amount: 40_000n } }) });
  if (opts.feeInput) tx.addInput({ txid: new Uint8Array(32).fill(3), index: 2, witnessUtxo: { script: P2TR(4), amount: 10_000n } });
  if (opts.sign !== false) for (let i = 0; i < tx.inputsLength; i++) tx.updateInput(i, { finalScriptWitness: [new Uint8Array(64).fill(9)] }, true);
  return tx;
}

describe('a wallet-signed exit child', () => {
  it('is taken when it spends the payout, finalized, with a fee input: the package fee rate counts both transactions', () => {
    const { state, message } = exitMessage();
    const child = walletChild(state, { feeInput: true, amount: 45_000n });
    const out = withWalletChild(message, child.toPSBT(), FUNDING);
    const raw = Transaction.fromRaw(Buffer.from((out.child as { hex?: string }).hex!, 'hex'), { allowUnknownOutputs: true });
    expect(out.child).toMatchObject({ complete: true, txid: raw.id });
    // Child fee: 40 000 + 10 000 in, 45 000 out = 5 000 sat; with the state's 150, over both vsizes.
    expect(out.child.package_fee_rate).toBe(Number(((150 + 5_000) / (state.vsize + raw.vsize)).toFixed(2)));
    expect(out.state_tx).toEqual(message.state_tx);
  });

  it('the fee guard (issue 24, as on the child exit-credit builds): a wallet child paying 49,000 of the 50,000 sat it spends is E_FEE_TOO_HIGH unless --max-fee-share allows it', () => {
    const { state, message } = exitMessage();
    const greedy = walletChild(state, { feeInput: true }).toPSBT(); // 1,000 sat out of 50,000 in
    refusal(() => withWalletChild(message, greedy, FUNDING), 'E_FEE_TOO_HIGH', 4);
    expect(withWalletChild(message, greedy, FUNDING, CORE_POLICY, { maxFeeRate: 10_000, maxFeeShare: 1 }).child.complete).toBe(true);
  });

  it('is refused when it spends another output, is not finalized, lacks a spent output, or breaks TRUC', () => {
    const { state, message } = exitMessage();
    refusal(() => withWalletChild(message, walletChild(state, { index: 0 }).toPSBT(), FUNDING), 'E_EXIT_CHILD_MISMATCH', 4);
    refusal(() => withWalletChild(message, walletChild(state, { sign: false }).toPSBT(), FUNDING), 'E_EXIT_CHILD_UNSIGNED', 4);
    refusal(() => withWalletChild(message, walletChild(state, { utxo: false }).toPSBT(), FUNDING), 'E_EXIT_CHILD_UTXO', 4);
    // TRUC through the one package checker (issue 24): its codes and Core's strings.
    expect(refusal(() => withWalletChild(message, walletChild(state, { version: 2 }).toPSBT(), FUNDING), 'E_TRUC_INHERITANCE', 4).message).toContain('TRUC-violation, non-version=3 tx');
    // 25 more P2TR outputs of 43 vB each: well over 1000 vB.
    expect(refusal(() => withWalletChild(message, walletChild(state, { outputs: 25 }).toPSBT(), FUNDING), 'E_TRUC_CHILD_TOO_BIG', 4).message).toContain('is too big');
    // A child paying nothing: the package (the state's 150 sat) below a node's 1 sat/vB floor, as Core would say.
    const free = walletChild(state, { amount: 40_000n });
    expect(refusal(() => withWalletChild(message, free.toPSBT(), FUNDING, { ...CORE_POLICY, minRelayFeeRate: 1_000 }), 'E_TRUC_FEE_TOO_LOW', 4).message).toContain('min relay fee not met');
    refusal(() => withWalletChild(message, Uint8Array.of(1, 2, 3), FUNDING), 'E_MALFORMED_PSBT', 3);
  });
});
