/**
 * The spends of the funding output alone — the refund, a state, the close — check their input's
 * taproot commitment once, themselves: `setMusigParticipants` holds the witness_utxo's script to
 * the P2TR output of the MuSig2 key it records as tap_internal_key. btc-signer's own recheck of
 * that commitment (pure JS, at every update and serialisation) is left out of them
 * (src/lib/credit/transactions.ts newTx); a rollover, whose wallet inputs are not ours, keeps it.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { equalBytes } from '../../../src/lib/bytes.ts';
import { makeContract, type CreditContract } from '../../../src/lib/credit/terms.ts';
import { buildClose, buildRefund, buildRollover, buildState } from '../../../src/lib/credit/transactions.ts';
import { serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { codeOf } from '../../helpers.ts';
import { MINT, USER } from './world.ts';

const contract = makeContract({
  network: 'regtest', userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n, funding: { txid: 'f0'.repeat(32), vout: 1 },
  expiryHeight: 10_000, refundScript: taprootOutput(USER.xOnly).script, changeScript: taprootOutput(USER.xOnly).script,
  payoutScript: taprootOutput(MINT.xOnly).script, feeRate: 2,
});

const spends: [string, (c: CreditContract) => Transaction][] = [
  ['the refund', (c) => buildRefund(c)],
  ['a state', (c) => buildState(c, 6000n)],
  ['a state with an HTLC', (c) => buildState(c, 6000n, { script: taprootOutput(MINT.xOnly).script, amount: 2000n })],
  ['the close', (c) => buildClose(c, 6000n, 2)],
];

describe('the spends of the funding output alone', () => {
  it.each(spends)('%s: a funding script that is not the MuSig2 key\'s output is refused (E_KEY_MISMATCH), by our own check', (_name, build) => {
    const stranger = { ...contract, script: taprootOutput(MINT.xOnly).script };
    expect(codeOf(() => build(stranger))).toBe('E_KEY_MISMATCH');
  });

  it.each(spends)('%s: its PSBT passes btc-signer\'s own commitment check when read back with the checks on', (_name, build) => {
    const read = Transaction.fromPSBT(serializePsbt(build(contract)));
    const input = read.getInput(0);
    expect(equalBytes(input.tapInternalKey!, contract.key.internalKey)).toBe(true);
    expect(equalBytes(input.witnessUtxo!.script, contract.script)).toBe(true);
  });

  it('leave btc-signer\'s pure-JS recheck out; a rollover (wallet inputs beside the funding) keeps it', () => {
    const optsOf = (tx: Transaction) => (tx as unknown as { opts: { disableScriptCheck?: boolean } }).opts;
    for (const [, build] of spends) expect(optsOf(build(contract)).disableScriptCheck).toBe(true);
    expect(optsOf(buildRollover(contract, 6000n, taprootOutput(USER.xOnly).script, 2).tx).disableScriptCheck).toBeFalsy();
  });
});
