/**
 * Every refusal rule of the credit contract (BRIEF §3.1 "Mint-side rules", "User-side
 * rules"; §5 "every refusal rule has a test that shows the refusal, the exit code, and
 * that no state was written"), at library level in the in-process world.
 *
 * Each case feeds one party a well-formed message that breaks exactly one rule — built
 * with ./tamper.ts, so the user's partial signature is valid for the tampered
 * transaction and only the rule under test can refuse it — and checks: the error's
 * code, exit code (4 refused, 5 state conflict) and a message naming what is wrong;
 * that no file under either party's state directory (records and nonce stores) was
 * created, changed or removed; and, where the rule fires before the mint takes its
 * nonce, that the nonce for that state is still unused.
 *
 * A refusal writes nothing, so cases share one opened contract per group; the groups
 * that need to move a contract on (close, rollover, crash) have their own world.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { scriptAddress } from '../../../src/lib/address.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { musigKey } from '../../../src/lib/musig/keyagg.ts';
import { readMusigInput, verifyPartialSigs } from '../../../src/lib/musig/psbt-keypath.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { RefusedError, StateConflictError } from '../../../src/lib/errors.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { buildExit } from '../../../src/lib/credit/exit.ts';
import { applyClosed, closeRequest } from '../../../src/lib/credit/user-close.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyRolloverAccept, rolloverRequest, rolloverSign } from '../../../src/lib/credit/user-rollover.ts';
import { applyReceipt, resendRequest, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { termsFromJson, type CreditTermsJson } from '../../../src/lib/credit/codec.ts';
import type { MintContext, MintContractRecord, NextNonceJson, ReceiptJson } from '../../../src/lib/credit/ports.ts';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { stateDigest } from '../../state.ts';
import { mintCosignRefund } from '../../../src/lib/credit/signing.ts';
import type { CreditContract } from '../../../src/lib/credit/terms.ts';
import { buildClose, buildRefund, buildRollover, buildState } from '../../../src/lib/credit/transactions.ts';
import { CHANGE, MINT, MINT_SEALER, PAYOUT, REFUND, USER, fundingPsbt, offer, world } from './world.ts';
import { IndependentCheckError, verifyKeyPathSpend } from '../../independent/verify.ts';
import { signRequest } from '../../../src/lib/credit/request-signature.ts';
import { musigTaprootOutput, p2trScript } from '../../independent/keys.ts';
import {
  asMint, buildSpend, closeMessage, copyMusigFields, expectRefused, flipLastBit, foreignPubnonce, fundingInputSpec, musigFieldsOf, openContract, pay,
  psbtBase64, psbtOf, refundWithNonce, rolloverMessage, signAsUser, snapshot, specOf, updateMessage, userRecord, withPartialSig,
  type Expected, type Opened, type SpendSpec, type World,
} from './tamper.ts';

/** A third party: another user, another mint, a stranger's address. */
const OTHER = keyPair(fromHex('e6'.repeat(32)));
const OTHER_ADDRESS = scriptAddress(taprootOutput(OTHER.xOnly).script, 'regtest')!;
const OTHER_SCRIPT = taprootOutput(OTHER.xOnly).script;
const P2PKH = fromHex('76a914' + '77'.repeat(20) + '88ac');
const P2SH = fromHex('a914' + '78'.repeat(20) + '87');
const P2WPKH = fromHex('0014' + '79'.repeat(20));
const OP_RETURN = fromHex('6a0401020304');
const UNKNOWN_ID = 'ab'.repeat(32);

const SIGHASH_ALL = 0x01;
const SIGHASH_NONE = 0x02;
const SIGHASH_SINGLE_ANYONECANPAY = 0x83;

const PARTICIPANTS = [USER.publicKey, MINT.publicKey];
const nonceStatus = (w: World, n: NextNonceJson | Uint8Array) => w.mint.nonces.status(n instanceof Uint8Array ? n : fromHex(n.pubnonce));

/** Refused with nothing written, and the mint's nonce (if given) still unused. */
async function refused(w: World, step: () => Promise<unknown>, e: Expected, unusedNonce?: NextNonceJson) {
  const err = await expectRefused(w.dir.path, step, e);
  expect(err).toBeInstanceOf(e.exitCode === 4 ? RefusedError : StateConflictError);
  if (unusedNonce) expect(await nonceStatus(w, unusedNonce)).toBe('unused');
  return err;
}

const mintRefuses = (w: World, req: unknown, e: Expected, unusedNonce?: NextNonceJson) => refused(w, () => mint.acceptUpdate(w.mint, req as never), e, unusedNonce);

/** The honest state paying the mint `cumulative`, as plain data to tamper with. */
const stateSpec = (c: CreditContract, cumulative: bigint): SpendSpec => specOf(buildState(c, cumulative), PARTICIPANTS);

/** Outputs paying the mint `mint` and the user's change `change`, in that order. */
function outputs(c: CreditContract, mintAmount: bigint, change: bigint) {
  return [
    { script: c.payoutScript, amount: mintAmount },
    { script: c.changeScript, amount: change },
  ];
}

// =======================================================================================
describe('the tamper kit', () => {
  const w = world();
  afterAll(() => w.dir.cleanup());

  it('rebuilds the honest state byte for byte, and a request signed through it is accepted', async () => {
    const A = await openContract(w);
    const nonce = (await userRecord(w, A.id)).mint_nonce!;
    const honest = buildState(A.c, 1000n);
    const rebuilt = buildSpend(stateSpec(A.c, 1000n));
    expect(toHex(rebuilt.toPSBT())).toBe(toHex(honest.toPSBT()));
    const tx = signAsUser(rebuilt, USER, MINT.publicKey, nonce);
    const viaLibrary = await updateRequest(w.user, A.id, 1000n);
    expect(updateMessage(A.c, 1, 1000n, 1000n, tx)).toEqual(viaLibrary);
    const receipt = await mint.acceptUpdate(w.mint, viaLibrary as never);
    expect(receipt.cumulative_sat).toBe(1000);
    expect(await nonceStatus(w, nonce)).toBe('consumed');
  });

  it('makes a user partial signature that verifies for the tampered transaction', async () => {
    const A = await openContract(w, { input: 'f1' });
    const nonce = (await userRecord(w, A.id)).mint_nonce!;
    const tx = signAsUser(buildSpend({ ...stateSpec(A.c, 1000n), lockTime: 77 }), USER, MINT.publicKey, nonce);
    expect(tx.lockTime).toBe(77);
    expect(() => verifyPartialSigs(readMusigInput(tx, 0))).not.toThrow();
    // ...whereas one flipped bit is blamed on the user.
    const bad = withPartialSig(tx, { ...stateSpec(A.c, 1000n), lockTime: 77 }, USER.publicKey, flipLastBit(musigFieldsOf(tx, USER.publicKey).partialSig!));
    expect(() => verifyPartialSigs(readMusigInput(bad, 0))).toThrow(expect.objectContaining({ code: 'E_BAD_PARTIAL_SIG', exitCode: 4 }));
  });
});

// =======================================================================================
describe('open: the mint co-signs only the exact refund of the terms, for terms it offers', () => {
  const w = world();
  let A: Opened;
  let B: Opened;
  afterAll(() => w.dir.cleanup());
  beforeAll(async () => {
    A = await openContract(w);
    await pay(w, A.id, 1000n);
    B = await openContract(w, { input: 'f1' });
  });

  type Funding = { inputs?: { script?: Uint8Array; finalScriptSig?: Uint8Array }[]; pays?: Uint8Array; capacity?: bigint; seed?: number };

  /** An unsigned funding PSBT paying `pays` (default: the contract address of USER+MINT) at output 0. */
  function funding(o: Funding = {}): Uint8Array {
    const tx = new Transaction({ version: 2 });
    (o.inputs ?? [{ script: P2WPKH }]).forEach((i, n) =>
      tx.addInput({
        txid: (o.seed ?? 0xf2).toString(16).padStart(2, '0').repeat(31) + n.toString(16).padStart(2, '0'),
        index: 0,
        ...(i.script ? { witnessUtxo: { script: i.script, amount: 200_000n } } : {}),
        ...(i.finalScriptSig ? { finalScriptSig: i.finalScriptSig } : {}),
      }),
    );
    tx.addOutput({ script: o.pays ?? musigKey(PARTICIPANTS).output.script, amount: o.capacity ?? 100_000n });
    tx.addOutput({ script: P2WPKH, amount: 90_000n });
    return tx.toPSBT();
  }

  type Forge = {
    funding?: Uint8Array;
    /** Terms the refund is built for and the message carries. */
    terms?: Partial<CreditTermsJson>;
    /** Changes to the terms in the message only (the refund stays that of the honest terms). */
    wireTerms?: Partial<CreditTermsJson>;
    refund?: (s: SpendSpec) => SpendSpec;
    contractId?: string;
    fundingInMessage?: Uint8Array;
  };

  /** An open-request as a user library without the user-side checks would send it. */
  function forgeOpen(o: Forge = {}) {
    const fundingBytes = o.funding ?? funding();
    const tx = psbtOf(Buffer.from(fundingBytes).toString('base64'));
    const terms: CreditTermsJson = {
      user_pubkey: toHex(USER.publicKey), mint_pubkey: toHex(MINT.publicKey), capacity_sat: Number(tx.getOutput(0).amount), funding: { txid: tx.id, vout: 0 },
      expiry_height: w.chain.height + 4320, refund_address: REFUND, change_address: CHANGE, payout_address: PAYOUT, fee_rate: 2, ...o.terms,
    };
    const c = termsFromJson(terms, 'regtest');
    const spec = (o.refund ?? ((s) => s))(specOf(buildRefund(c), [c.userPubkey, c.mintPubkey]));
    const refund = refundWithNonce(spec, USER.publicKey, fromHex(foreignPubnonce(USER)));
    const contract = { ...terms, ...o.wireTerms };
    let id = c.id;
    try {
      id = termsFromJson(contract, 'regtest').id;
    } catch {
      // Terms the mint cannot even read: any id will do, the terms are refused first.
    }
    return {
      type: 'credit/open-request', version: 1, network: 'regtest', contract_id: o.contractId ?? id, contract,
      funding_psbt: Buffer.from(o.fundingInMessage ?? fundingBytes).toString('base64'), refund_psbt: psbtBase64(refund),
    };
  }

  const openRefused = (req: unknown, e: Expected) => refused(w, () => mint.acceptOpen(w.mint, req as never), e);

  it('an honest forged open is accepted (so each case below differs from it by one rule only)', async () => {
    const snap = snapshot(w.dir.path);
    const probe = world();
    try {
      const accept = await mint.acceptOpen(probe.mint, forgeOpen() as never);
      expect(accept.type).toBe('credit/open-accept');
    } finally {
      probe.dir.cleanup();
    }
    expect(snapshot(w.dir.path)).toEqual(snap);
  });

  const expiry = 1000 + 4320;
  const refundCases: [string, (s: SpendSpec) => SpendSpec, Expected][] = [
    ['nLockTime one block early', (s) => ({ ...s, lockTime: expiry - 1 }), { code: 'E_REFUND_LOCKTIME', exitCode: 4, message: /nLockTime is 5319, not the agreed expiry height 5320/ }],
    ['nLockTime one block late', (s) => ({ ...s, lockTime: expiry + 1 }), { code: 'E_REFUND_LOCKTIME', exitCode: 4, message: /nLockTime is 5321, not the agreed expiry height 5320/ }],
    ['nLockTime 0 (spendable at once)', (s) => ({ ...s, lockTime: 0 }), { code: 'E_REFUND_LOCKTIME', exitCode: 4, message: /nLockTime is 0, not the agreed expiry height/ }],
    ['a second input', (s) => ({ ...s, inputs: [...s.inputs, { txid: 'cd'.repeat(32), vout: 0, sequence: 0xfffffffd, script: P2WPKH, amount: 5000n }] }), { code: 'E_BAD_INPUTS', exitCode: 4, message: /must spend only the funding outpoint, it has 2 inputs/ }],
    ['another outpoint', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, vout: 1 }] }), { code: 'E_BAD_INPUTS', exitCode: 4, message: /input 0 is not the funding outpoint/ }],
    ['1 sat less to the user', (s) => ({ ...s, outputs: [{ ...s.outputs[0]!, amount: s.outputs[0]!.amount - 1n }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /one output paying the user's refund address 99778 sat/ }],
    ['1 sat more to the user (fee under the rate)', (s) => ({ ...s, outputs: [{ ...s.outputs[0]!, amount: s.outputs[0]!.amount + 1n }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /99778 sat/ }],
    ['paying another address', (s) => ({ ...s, outputs: [{ script: OTHER_SCRIPT, amount: s.outputs[0]!.amount }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /refund address/ }],
    ['a second output', (s) => ({ ...s, outputs: [{ ...s.outputs[0]!, amount: s.outputs[0]!.amount - 1000n }, { script: OTHER_SCRIPT, amount: 1000n }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /one output/ }],
    ['final nSequence (nLockTime not enforced)', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, sequence: 0xffffffff }] }), { code: 'E_BAD_SEQUENCE', exitCode: 4, message: /0xfffffffd so its nLockTime is enforced/ }],
    ['a relative lock', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, sequence: 144 }] }), { code: 'E_BAD_SEQUENCE', exitCode: 4, message: /nSequence 0x90 is not 0xfffffffd or 0xffffffff/ }],
    ['version 1', (s) => ({ ...s, version: 1 }), { code: 'E_REFUND_MISMATCH', exitCode: 4, message: /version 1, expected 2/ }],
    ['SIGHASH_ALL', (s) => ({ ...s, sighashType: SIGHASH_ALL }), { code: 'E_SIGHASH_NOT_ALLOWED', exitCode: 4, message: /sighash type 0x1; only SIGHASH_DEFAULT/ }],
    ['SIGHASH_NONE', (s) => ({ ...s, sighashType: SIGHASH_NONE }), { code: 'E_SIGHASH_NOT_ALLOWED', exitCode: 4, message: /sighash type 0x2/ }],
    ['SIGHASH_SINGLE|ANYONECANPAY', (s) => ({ ...s, sighashType: SIGHASH_SINGLE_ANYONECANPAY }), { code: 'E_SIGHASH_NOT_ALLOWED', exitCode: 4, message: /sighash type 0x83/ }],
  ];
  it.each(refundCases)('refund: %s', async (_name, mutate, e) => {
    await openRefused(forgeOpen({ refund: mutate }), e);
  });

  const termsCases: [string, () => unknown, Expected][] = [
    ['another mint key', () => forgeOpen({ funding: funding({ pays: musigKey([USER.publicKey, OTHER.publicKey]).output.script }), terms: { mint_pubkey: toHex(OTHER.publicKey) } }), { code: 'E_WRONG_CONTRACT', exitCode: 4, message: new RegExp(`mint key ${toHex(OTHER.publicKey)}, not this mint's key`) }],
    ['another payout address', () => forgeOpen({ terms: { payout_address: OTHER_ADDRESS } }), { code: 'E_WRONG_PAYOUT', exitCode: 4, message: /not its payout address/ }],
    ['a fee rate under the floor', () => forgeOpen({ terms: { fee_rate: 0.5 } }), { code: 'E_FEE_TOO_LOW', exitCode: 4, message: /fee rate 0.5 sat\/vB is under the mint's floor of 1 sat\/vB/ }],
    ['expiry under the window', () => forgeOpen({ terms: { expiry_height: 1000 + 287 } }), { code: 'E_BAD_EXPIRY', exitCode: 4, message: /expiry 1287 is 287 blocks from the tip 1000; this mint opens contracts of 288–10000 blocks/ }],
    ['expiry over the window', () => forgeOpen({ terms: { expiry_height: 1000 + 10_001 } }), { code: 'E_BAD_EXPIRY', exitCode: 4, message: /10001 blocks from the tip/ }],
    ['expiry at the tip', () => forgeOpen({ terms: { expiry_height: 1000 } }), { code: 'E_BAD_EXPIRY', exitCode: 4, message: /0 blocks from the tip/ }],
    ['expiry in the past', () => forgeOpen({ terms: { expiry_height: 900 } }), { code: 'E_BAD_EXPIRY', exitCode: 4, message: /-100 blocks from the tip/ }],
    ['a contract_id that is not the hash of the terms', () => forgeOpen({ contractId: UNKNOWN_ID }), { code: 'E_CONTRACT_ID_MISMATCH', exitCode: 4, message: new RegExp(`contract_id ${UNKNOWN_ID} does not match the terms`) }],
    ['a non-standard (pay-to-anchor) change address', () => forgeOpen({ wireTerms: { change_address: scriptAddress(fromHex('51024e73'), 'regtest')! } }), { code: 'E_NONSTANDARD_SCRIPT', exitCode: 4, message: /change_address bcrt1pfeesnyr2tx is not a standard spendable output type/ }],
    ['the mint\'s own key as the user\'s', () => forgeOpen({ wireTerms: { user_pubkey: toHex(MINT.publicKey) } }), { code: 'E_SAME_KEY', exitCode: 4, message: /different keys/ }],
    ['a funding input that is P2PKH', () => forgeOpen({ funding: funding({ inputs: [{ script: P2WPKH }, { script: P2PKH }] }) }), { code: 'E_NOT_SEGWIT', exitCode: 4, message: /funding input 1 is not native segwit/ }],
    ['a funding input that is P2SH-wrapped segwit', () => forgeOpen({ funding: funding({ inputs: [{ script: P2SH }] }) }), { code: 'E_NOT_SEGWIT', exitCode: 4, message: /funding input 0 is not native segwit .*orphans the refund/ }],
    ['a funding input without witness_utxo', () => forgeOpen({ funding: funding({ inputs: [{}] }) }), { code: 'E_NOT_SEGWIT', exitCode: 4, message: /funding input 0 is not native segwit \(with its witness_utxo\)/ }],
    ['a funding PSBT that is not the terms\' funding tx', () => forgeOpen({ fundingInMessage: funding({ seed: 0xf3 }) }), { code: 'E_FUNDING_MISMATCH', exitCode: 4, message: /funding PSBT's txid [0-9a-f]{64} is not the contract's funding txid/ }],
    ['a capacity the funding does not pay', () => forgeOpen({ wireTerms: { capacity_sat: 100_001 } }), { code: 'E_FUNDING_MISMATCH', exitCode: 4, message: /funding output 0 must pay the contract address exactly 100001 sat/ }],
    ['a funding vout that is the wallet\'s change', () => forgeOpen({ wireTerms: { funding: { txid: psbtOf(Buffer.from(funding()).toString('base64')).id, vout: 1 } } }), { code: 'E_FUNDING_MISMATCH', exitCode: 4, message: /funding output 1 must pay the contract address/ }],
    ['a funding output paying another key set', () => forgeOpen({ funding: funding({ pays: OTHER_SCRIPT }) }), { code: 'E_FUNDING_MISMATCH', exitCode: 4, message: /funding output 0 must pay the contract address/ }],
  ];
  it.each(termsCases)('terms and funding: %s', async (_name, make, e) => {
    await openRefused(make(), e);
  });

  it('an open-request for a contract that is already open (and paid into): E_CONTRACT_EXISTS, exit 5', async () => {
    await openRefused(A.request, { code: 'E_CONTRACT_EXISTS', exitCode: 5, message: new RegExp(`contract ${A.id} is already open at this mint`) });
  });

  it('while a retried open-request (nothing paid yet) gets the same accept, and nothing is written', async () => {
    const snap = snapshot(w.dir.path);
    expect(await mint.acceptOpen(w.mint, B.request as never)).toEqual(B.accept);
    expect(snapshot(w.dir.path)).toEqual(snap);
  });

  it('exit-credit on a contract with no payment yet: E_NO_PAYOUT, exit 4 (nothing for the mint to claim, as with a state paying it nothing)', async () => {
    const record = (await w.mint.records.get(B.id))!;
    expect(record.latest).toBeUndefined();
    await refused(w, async () => buildExit(record, MINT, { feeRate: 2, auxRand: new Uint8Array(32) }), { code: 'E_NO_PAYOUT', exitCode: 4, message: /has no signed state yet: there is nothing for the mint to claim until the user's first payment is co-signed/ });
  });
});

// =======================================================================================
describe('updates: the mint co-signs only a minable next state that pays it exactly', () => {
  const w = world();
  let A: Opened;
  let B: Opened;
  let state1: Record<string, unknown>;
  let receipt1: ReceiptJson;
  /** The mint's nonce for A's state 2 (A has state 1 = 5000 sat) and B's state 1. */
  let nonceA: NextNonceJson;
  let nonceB: NextNonceJson;
  afterAll(() => w.dir.cleanup());
  beforeAll(async () => {
    A = await openContract(w);
    B = await openContract(w, { input: 'f1' });
    state1 = await updateRequest(w.user, A.id, 5000n);
    receipt1 = await mint.acceptUpdate(w.mint, state1 as never);
    await applyReceipt(w.user, receipt1 as never);
    nonceA = (await userRecord(w, A.id)).mint_nonce!;
    nonceB = (await userRecord(w, B.id)).mint_nonce!;
    expect(nonceA.state).toBe(2);
  });

  /** A's state 2 from `spec` (default: the honest one paying 6000), signed by the user. */
  function request(o: { spec?: SpendSpec; cumulative?: bigint; amount?: bigint; state?: number; nonce?: NextNonceJson; sighash?: number; signer?: typeof USER; contractId?: string } = {}) {
    const cumulative = o.cumulative ?? 6000n;
    const tx = signAsUser(buildSpend(o.spec ?? stateSpec(A.c, cumulative)), o.signer ?? USER, MINT.publicKey, o.nonce ?? nonceA, o.sighash);
    return updateMessage(A.c, o.state ?? 2, o.amount ?? cumulative - 5000n, cumulative, tx, o.contractId);
  }
  const tampered = (mutate: (s: SpendSpec) => SpendSpec) => request({ spec: mutate(stateSpec(A.c, 6000n)) });
  const honest6000 = () => stateSpec(A.c, 6000n);
  const change6000 = () => honest6000().outputs[1]!.amount;

  it('the honest next state would be accepted (so each case below differs from it by one rule only)', async () => {
    const probe = world();
    try {
      const P = await openContract(probe);
      await openContract(probe, { input: 'f1' });
      await pay(probe, P.id, 5000n);
      expect(P.id).toBe(A.id);
      const receipt = await mint.acceptUpdate(probe.mint, request({ nonce: (await userRecord(probe, P.id)).mint_nonce! }) as never);
      expect(receipt.cumulative_sat).toBe(6000);
    } finally {
      probe.dir.cleanup();
    }
  });

  const amountCases: [string, bigint, bigint, Expected][] = [
    ['the same cumulative amount', 5000n, 0n, { code: 'E_AMOUNT_NOT_INCREASING', exitCode: 4, message: /cumulative 5000 sat does not exceed the previous 5000 sat/ }],
    ['a lower cumulative amount', 4000n, 1n, { code: 'E_AMOUNT_NOT_INCREASING', exitCode: 4, message: /cumulative 4000 sat does not exceed the previous 5000 sat/ }],
    ['credit claimed above what the state pays', 6000n, 1500n, { code: 'E_AMOUNT_MISMATCH', exitCode: 4, message: /amount_sat 1500 is not cumulative minus previous \(1000\)/ }],
    ['credit claimed below what the state pays', 6000n, 500n, { code: 'E_AMOUNT_MISMATCH', exitCode: 4, message: /amount_sat 500 is not cumulative minus previous \(1000\)/ }],
  ];
  it.each(amountCases)('amounts: %s', async (_name, cumulative, amount, e) => {
    await mintRefuses(w, request({ cumulative, amount }), e, nonceA);
  });

  const txCases: [string, (s: SpendSpec) => SpendSpec, Expected][] = [
    // Minable now: nLockTime 0, no relative lock, a standard version.
    ['nLockTime 1', (s) => ({ ...s, lockTime: 1 }), { code: 'E_LOCKTIME', exitCode: 4, message: /nLockTime 1; it must be 0/ }],
    ['nLockTime = expiry', (s) => ({ ...s, lockTime: A.c.expiryHeight }), { code: 'E_LOCKTIME', exitCode: 4, message: /nLockTime 5320; it must be 0/ }],
    ['a time-based nLockTime', (s) => ({ ...s, lockTime: 500_000_001 }), { code: 'E_LOCKTIME', exitCode: 4, message: /nLockTime 500000001/ }],
    ['nSequence 0xfffffffe', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, sequence: 0xfffffffe }] }), { code: 'E_BAD_SEQUENCE', exitCode: 4, message: /nSequence 0xfffffffe is not 0xfffffffd or 0xffffffff/ }],
    ['nSequence 0 (BIP-68: 0 blocks)', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, sequence: 0 }] }), { code: 'E_BAD_SEQUENCE', exitCode: 4, message: /nSequence 0x0 is not/ }],
    ['a 144-block relative lock', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, sequence: 144 }] }), { code: 'E_BAD_SEQUENCE', exitCode: 4, message: /nSequence 0x90 .*relative lock would let the refund win/ }],
    ['a time-based relative lock', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, sequence: 0x00400001 }] }), { code: 'E_BAD_SEQUENCE', exitCode: 4, message: /nSequence 0x400001/ }],
    // TRUC only: a v2 state would leave the mint unable to CPFP its exit (its child is v3).
    ['version 2', (s) => ({ ...s, version: 2 }), { code: 'E_BAD_VERSION', exitCode: 4, message: /version 2; states must be TRUC \(version 3\)/ }],
    ['version 1', (s) => ({ ...s, version: 1 }), { code: 'E_BAD_VERSION', exitCode: 4, message: /version 1; states must be TRUC/ }],
    ['version 4', (s) => ({ ...s, version: 4 }), { code: 'E_BAD_VERSION', exitCode: 4, message: /version 4; states must be TRUC/ }],
    // The funding outpoint, only.
    ['a second input', (s) => ({ ...s, inputs: [...s.inputs, { txid: 'cd'.repeat(32), vout: 0, sequence: 0xfffffffd, script: P2WPKH, amount: 5000n }] }), { code: 'E_BAD_INPUTS', exitCode: 4, message: /must spend only the funding outpoint, it has 2 inputs/ }],
    ['another vout of the funding tx', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, vout: 1 }] }), { code: 'E_BAD_INPUTS', exitCode: 4, message: /input 0 is not the funding outpoint [0-9a-f]{64}:0/ }],
    ['another contract\'s funding outpoint', (s) => ({ ...s, inputs: [{ ...s.inputs[0]!, txid: B.c.funding.txid }] }), { code: 'E_BAD_INPUTS', exitCode: 4, message: /is not the funding outpoint/ }],
    // The mint's payout, exactly.
    ['1 sat less to the mint', (s) => ({ ...s, outputs: outputs(A.c, 5999n, change6000()) }), { code: 'E_BAD_PAYOUT', exitCode: 4, message: /pays the mint 5999 sat, not the cumulative 6000 sat/ }],
    ['1 sat more to the mint', (s) => ({ ...s, outputs: outputs(A.c, 6001n, change6000() - 1n) }), { code: 'E_BAD_PAYOUT', exitCode: 4, message: /pays the mint 6001 sat, not the cumulative 6000 sat/ }],
    ['no output to the mint', (s) => ({ ...s, outputs: [{ script: A.c.changeScript, amount: change6000() + 6000n }] }), { code: 'E_BAD_PAYOUT', exitCode: 4, message: /exactly one output to the mint's payout address, it has 0/ }],
    ['the mint paid in two outputs', (s) => ({ ...s, outputs: [{ script: A.c.payoutScript, amount: 3000n }, { script: A.c.payoutScript, amount: 3000n }, s.outputs[1]!] }), { code: 'E_BAD_PAYOUT', exitCode: 4, message: /it has 2/ }],
    ['the mint paid to another address', (s) => ({ ...s, outputs: [{ script: OTHER_SCRIPT, amount: 6000n }, s.outputs[1]!] }), { code: 'E_BAD_PAYOUT', exitCode: 4, message: /it has 0/ }],
    // Mint payout and user change, nothing else.
    ['an output to a stranger', (s) => ({ ...s, outputs: [s.outputs[0]!, { ...s.outputs[1]!, amount: s.outputs[1]!.amount - 1000n }, { script: OTHER_SCRIPT, amount: 1000n }] }), { code: 'E_BAD_OUTPUTS', exitCode: 4, message: /may only pay the mint and the user's change address/ }],
    ['the change split in two', (s) => ({ ...s, outputs: [s.outputs[0]!, { ...s.outputs[1]!, amount: 40_000n }, { ...s.outputs[1]!, amount: s.outputs[1]!.amount - 40_000n }] }), { code: 'E_BAD_OUTPUTS', exitCode: 4, message: /may only pay the mint and the user's change address/ }],
    // A non-standard output can only be an extra output (payout and change scripts are checked standard in the terms): refused as such.
    ['an OP_RETURN output', (s) => ({ ...s, outputs: [...s.outputs, { script: OP_RETURN, amount: 0n }] }), { code: 'E_BAD_OUTPUTS', exitCode: 4, message: /may only pay the mint and the user's change address/ }],
    ['a bare-script (non-standard) output', (s) => ({ ...s, outputs: [s.outputs[0]!, { ...s.outputs[1]!, amount: s.outputs[1]!.amount - 1000n }, { script: fromHex('51'), amount: 1000n }] }), { code: 'E_BAD_OUTPUTS', exitCode: 4, message: /may only pay the mint/ }],
    // Nothing under dust, fee above the floor.
    ['user change under dust (293 sat < 294)', (s) => ({ ...s, outputs: outputs(A.c, 6000n, 293n) }), { code: 'E_DUST', exitCode: 4, message: /output 1 pays 293 sat, under the 294 sat dust threshold/ }],
    ['a fee rate under the floor (100 sat for 143 vB)', (s) => ({ ...s, outputs: outputs(A.c, 6000n, 100_000n - 6000n - 100n) }), { code: 'E_FEE_TOO_LOW', exitCode: 4, message: /pays 0\.70 sat\/vB, under the mint's floor of 1 sat\/vB/ }],
    ['no fee at all', (s) => ({ ...s, outputs: outputs(A.c, 6000n, 100_000n - 6000n) }), { code: 'E_FEE_TOO_LOW', exitCode: 4, message: /pays 0\.00 sat\/vB/ }],
    ['outputs worth more than the funding', (s) => ({ ...s, outputs: outputs(A.c, 6000n, 100_000n) }), { code: 'E_OVERSPEND', exitCode: 4, message: /pays out more than it spends/ }],
  ];
  it.each(txCases)('state: %s', async (_name, mutate, e) => {
    await mintRefuses(w, tampered(mutate), e, nonceA);
  });

  it('state: the mint payout under dust (first payment of 329 sat < 330)', async () => {
    const spec = { ...specOf(buildState(B.c, 1000n), PARTICIPANTS) };
    spec.outputs = [{ script: B.c.payoutScript, amount: 329n }, { script: B.c.changeScript, amount: 100_000n - 329n - 400n }];
    const tx = signAsUser(buildSpend(spec), USER, MINT.publicKey, nonceB);
    await mintRefuses(w, updateMessage(B.c, 1, 329n, 329n, tx), { code: 'E_DUST', exitCode: 4, message: /output 0 pays 329 sat, under the 330 sat dust threshold/ }, nonceB);
  });

  const sighashCases: [string, number][] = [['SIGHASH_ALL', SIGHASH_ALL], ['SIGHASH_NONE', SIGHASH_NONE], ['SIGHASH_SINGLE|ANYONECANPAY', SIGHASH_SINGLE_ANYONECANPAY]];
  it.each(sighashCases)('state: signed with %s', async (_name, type) => {
    const req = request({ spec: { ...honest6000(), sighashType: type }, sighash: type });
    await mintRefuses(w, req, { code: 'E_SIGHASH_NOT_ALLOWED', exitCode: 4, message: new RegExp(`sighash type 0x${type.toString(16)}; only SIGHASH_DEFAULT is signed`) }, nonceA);
  });

  it('a contract id the mint does not know: E_UNKNOWN_CONTRACT', async () => {
    await mintRefuses(w, request({ contractId: UNKNOWN_ID }), { code: 'E_UNKNOWN_CONTRACT', exitCode: 4, message: new RegExp(`this mint has no contract ${UNKNOWN_ID}`) }, nonceA);
  });

  it('A\'s state relabelled as B\'s next state: it does not spend B\'s funding', async () => {
    const tx = signAsUser(buildSpend(stateSpec(A.c, 1000n)), USER, MINT.publicKey, nonceB);
    await mintRefuses(w, updateMessage(B.c, 1, 1000n, 1000n, tx), { code: 'E_BAD_INPUTS', exitCode: 4, message: new RegExp(`is not the funding outpoint ${B.c.funding.txid}`) }, nonceB);
  });

  it('a state signed by another user key, for that key set\'s output: E_WRONG_CONTRACT', async () => {
    const keys = [OTHER.publicKey, MINT.publicKey];
    const spec = { ...honest6000(), participants: keys, inputs: [{ ...fundingInputSpec(A.c), script: musigKey(keys).output.script }] };
    const req = request({ spec, signer: OTHER });
    // E_BAD_INPUTS: the funding input's witness_utxo is checked too.
    await mintRefuses(w, req, { code: ['E_WRONG_CONTRACT', 'E_BAD_INPUTS'], exitCode: 4, message: /not signed for this contract's keys|witness_utxo|funding output/ }, nonceA);
  });

  it('a PSBT naming another key set as the participants for the contract\'s own output: E_KEY_MISMATCH', async () => {
    const signed = psbtOf(request().psbt);
    const spec = { ...honest6000(), participants: [OTHER.publicKey, MINT.publicKey], rawParticipants: true };
    const tx = copyMusigFields(signed, buildSpend(spec));
    await mintRefuses(w, updateMessage(A.c, 2, 1000n, 6000n, tx), { code: 'E_KEY_MISMATCH', exitCode: 4, message: /not the P2TR output of the MuSig2 key/ }, nonceA);
  });

  it('a bad user partial signature: E_BAD_PARTIAL_SIG, blaming the user\'s key', async () => {
    const good = psbtOf(request().psbt);
    const tx = withPartialSig(good, honest6000(), USER.publicKey, flipLastBit(musigFieldsOf(good, USER.publicKey).partialSig!));
    await mintRefuses(w, updateMessage(A.c, 2, 1000n, 6000n, tx), { code: 'E_BAD_PARTIAL_SIG', exitCode: 4, message: /partial signature of [0-9a-f]{66} does not verify/, culprit: USER.publicKey }, nonceA);
  });

  it('the user\'s partial signature of another state: E_BAD_PARTIAL_SIG, blaming the user\'s key', async () => {
    const other = psbtOf(request({ cumulative: 7000n }).psbt);
    const tx = copyMusigFields(other, buildSpend(honest6000()));
    await mintRefuses(w, updateMessage(A.c, 2, 1000n, 6000n, tx), { code: 'E_BAD_PARTIAL_SIG', exitCode: 4, message: /does not verify/, culprit: USER.publicKey }, nonceA);
  });

  it('a mint nonce this mint never issued: E_NONCE_UNKNOWN, exit 5', async () => {
    const forged = { state: 2, pubnonce: foreignPubnonce(OTHER) };
    await mintRefuses(w, request({ nonce: forged }), { code: 'E_NONCE_UNKNOWN', exitCode: 5, message: /was never issued by this store/ }, nonceA);
  });

  it('the mint nonce of another contract: E_NONCE_MISBOUND, exit 4, and that nonce stays unused', async () => {
    // Its words name neither contract's state (issue 72): the request's own alone.
    await mintRefuses(w, request({ nonce: nonceB }), { code: 'E_NONCE_MISBOUND', exitCode: 4, message: /^the mint nonce this request is signed against was not issued for the state the request names \(a request is for the state of its nonce\): nothing was written$/ }, nonceA);
    expect(await nonceStatus(w, nonceB)).toBe('unused');
  });

  it('the (spent) mint nonce of the previous state: E_NONCE_USED, exit 5, and it is never signed with again', async () => {
    const spent = (A.accept as { next_nonce: NextNonceJson }).next_nonce;
    expect(await nonceStatus(w, spent)).toBe('consumed');
    await mintRefuses(w, request({ nonce: spent }), { code: 'E_NONCE_USED', exitCode: 5, message: /has already been used/ }, nonceA);
  });

  // A request is for the state of the nonce it is signed against (mint.ts INVARIANTS): its
  // `state` moved is refused before the contract's state is read, in words naming none.
  it('the next state\'s request claiming a settled state number: E_NONCE_MISBOUND, exit 4', async () => {
    const tx = signAsUser(buildSpend(stateSpec(A.c, 4000n)), USER, MINT.publicKey, nonceA);
    await mintRefuses(w, updateMessage(A.c, 1, 4000n, 4000n, tx), { code: 'E_NONCE_MISBOUND', exitCode: 4, message: /^the mint nonce this request is signed against was not issued for the state the request names/ }, nonceA);
  });

  it('the settled state\'s request with another amount claimed: E_NONCE_USED, exit 5', async () => {
    await mintRefuses(w, { ...state1, amount_sat: 6000, cumulative_sat: 6000 }, { code: 'E_NONCE_USED', exitCode: 5, message: /has already been used/ }, nonceA);
  });

  it('a state number ahead of the next one: E_NONCE_MISBOUND, exit 4', async () => {
    await mintRefuses(w, request({ state: 3 }), { code: 'E_NONCE_MISBOUND', exitCode: 4, message: /^the mint nonce this request is signed against was not issued for the state the request names/ }, nonceA);
  });

  it('while the identical request retried gets the stored receipt (exit 0) and writes nothing', async () => {
    const snap = snapshot(w.dir.path);
    expect(await mint.acceptUpdate(w.mint, state1 as never)).toEqual(receipt1);
    expect(snapshot(w.dir.path)).toEqual(snap);
    expect(await nonceStatus(w, nonceA)).toBe('unused');
  });

  describe('chain facts: funding confirmed, expiry not near', () => {
    async function withChain(change: () => void, run: () => Promise<unknown>) {
      const height = w.chain.height;
      const utxos = new Map(w.chain.utxos);
      change();
      try {
        await run();
      } finally {
        w.chain.height = height;
        w.chain.utxos = utxos;
      }
    }
    const expiry = 1000 + 4320;
    const heights: [string, number][] = [['144 blocks before expiry (the margin)', expiry - 144], ['1 block before expiry', expiry - 1], ['at expiry', expiry], ['after expiry', expiry + 10]];
    it.each(heights)('tip %s: E_TOO_CLOSE_TO_EXPIRY', async (_name, height) => {
      await withChain(
        () => (w.chain.height = height),
        () => mintRefuses(w, request(), { code: 'E_TOO_CLOSE_TO_EXPIRY', exitCode: 4, message: new RegExp(`expires at 5320, ${expiry - height} blocks from the tip ${height}: within the 144-block safety margin`) }, nonceA),
      );
    });

    it('funding with 0 confirmations (the mint waits for 1): E_FUNDING_UNCONFIRMED', async () => {
      await withChain(
        () => w.chain.confirm(A.c.funding.txid, 0, A.c.capacity, A.c.script, 0),
        () => mintRefuses(w, request(), { code: 'E_FUNDING_UNCONFIRMED', exitCode: 4, message: /the funding has 0 confirmations; the mint waits for 1/ }, nonceA),
      );
    });

    it('funding not on chain (never broadcast, or spent): E_FUNDING_MISSING', async () => {
      await withChain(
        () => w.chain.utxos.delete(`${A.c.funding.txid}:0`),
        () => mintRefuses(w, request(), { code: 'E_FUNDING_MISSING', exitCode: 4, message: new RegExp(`funding output ${A.c.funding.txid}:0 is not an unspent output on chain`) }, nonceA),
      );
    });

    it('a funding output on chain that does not pay the contract its capacity: E_FUNDING_MISMATCH', async () => {
      await withChain(
        () => w.chain.confirm(A.c.funding.txid, 0, A.c.capacity - 1n, A.c.script, 6),
        () => mintRefuses(w, request(), { code: 'E_FUNDING_MISMATCH', exitCode: 4, message: /does not pay the contract its capacity/ }, nonceA),
      );
    });
  });
});

describe('chain facts: the boundary of the safety margin', () => {
  it('145 blocks before expiry a payment is still accepted', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      w.chain.height = A.c.expiryHeight - 145;
      expect((await pay(w, A.id, 1000n)).cumulative_sat).toBe(1000);
    } finally {
      w.dir.cleanup();
    }
  });
});

// =======================================================================================
describe('nonces: single use across a crash', () => {
  it('a nonce consumed by a step that crashed before storing its state: E_NONCE_USED, exit 5, for any request', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      await pay(w, A.id, 5000n);
      const nonce = (await userRecord(w, A.id)).mint_nonce!;
      const req = await updateRequest(w.user, A.id, 1000n);
      // The crash: the mint consumed its nonce and signed, then died before its record was written.
      const crashing: MintContext = {
        ...w.mint,
        records: {
          get: (id) => w.mintBook.get(id), list: () => w.mintBook.list(), unfundedOpens: (h, n) => w.mintBook.unfundedOpens(h, n), remove: (id) => w.mintBook.remove(id),
          put: async () => Promise.reject(new Error('simulated crash')),
        },
      };
      await expect(mint.acceptUpdate(crashing, req as never)).rejects.toThrow('simulated crash');
      expect(await nonceStatus(w, nonce)).toBe('consumed');
      const e: Expected = { code: 'E_NONCE_USED', exitCode: 5, message: /has already been used/ };
      await refused(w, () => mint.acceptUpdate(w.mint, req as never), e);
      const other = signAsUser(buildSpend(stateSpec(A.c, 7000n)), USER, MINT.publicKey, nonce);
      await refused(w, () => mint.acceptUpdate(w.mint, updateMessage(A.c, 2, 2000n, 7000n, other) as never), e);
    } finally {
      w.dir.cleanup();
    }
  });
});

// =======================================================================================
describe('nonces on a committed mint store (what the CLI runs on)', () => {
  /**
   * The CLI's mint keeps contracts and nonces in one database (state.sqlite, one
   * SqliteMintStore): a step's effects are staged in its batch and committed together, so
   * a refused step must stage nothing — and where the nonce check fires, the nonce stays
   * unused.
   */
  const w = world();
  let store: SqliteMintStore<MintContractRecord>;
  let ctx: MintContext;
  let A: CreditContract;
  let nonceA: NextNonceJson;
  let nonceB: NextNonceJson;
  let spent: NextNonceJson;
  afterAll(() => w.dir.cleanup());
  beforeAll(async () => {
    store = new SqliteMintStore<MintContractRecord>(StateDb.open(join(w.dir.path, 'mint-store'), { create: true })!, { sealer: MINT_SEALER });
    ctx = { ...w.mint, records: store, nonces: store };
    const open = async (input: string) => {
      const req = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n, input), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      const accept = await mint.acceptOpen(ctx, req as never);
      await store.commit();
      await openFinish(w.user, accept as never);
      const c = termsFromJson(req.contract as CreditTermsJson, 'regtest');
      w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
      return { c, first: (accept as { next_nonce: NextNonceJson }).next_nonce };
    };
    const a = await open('f0');
    const b = await open('f1');
    A = a.c;
    spent = a.first;
    const receipt = await mint.acceptUpdate(ctx, (await updateRequest(w.user, A.id, 5000n)) as never);
    await store.commit();
    await applyReceipt(w.user, receipt as never);
    nonceA = (await userRecord(w, A.id)).mint_nonce!;
    nonceB = b.first;
  });

  /** Refused as the CLI's mint runs a request (one step of its batch); then its next COMMIT makes nothing of it durable. */
  async function storeRefuses(nonce: NextNonceJson, mutate: (s: SpendSpec) => SpendSpec, e: Expected) {
    const tx = signAsUser(buildSpend(mutate(stateSpec(A, 6000n))), USER, MINT.publicKey, nonce);
    const committed = stateDigest(join(w.dir.path, 'mint-store'));
    await expectRefused(w.dir.path, () => store.step(() => mint.acceptUpdate(ctx, updateMessage(A, 2, 1000n, 6000n, tx) as never)), e);
    await store.commit();
    expect(store.dirty).toBe(false);
    expect(stateDigest(join(w.dir.path, 'mint-store'))).toBe(committed);
    expect(await store.status(fromHex(nonceA.pubnonce))).toBe('unused');
  }

  it('a rule refusal (E_LOCKTIME) stages nothing', async () => {
    await storeRefuses(nonceA, (s) => ({ ...s, lockTime: 1 }), { code: 'E_LOCKTIME', exitCode: 4, message: /nLockTime 1/ });
  });

  it('the mint nonce already spent on state 1, for state 2: E_NONCE_USED, exit 5', async () => {
    expect(await store.status(fromHex(spent.pubnonce))).toBe('consumed');
    await storeRefuses(spent, (s) => s, { code: 'E_NONCE_USED', exitCode: 5, message: /has already been used/ });
  });

  it('a nonce this mint never issued: E_NONCE_UNKNOWN, exit 5', async () => {
    await storeRefuses({ state: 2, pubnonce: foreignPubnonce(OTHER) }, (s) => s, { code: 'E_NONCE_UNKNOWN', exitCode: 5, message: /was never issued by this store/ });
  });

  it('the nonce of another contract: E_NONCE_MISBOUND, exit 4, and that nonce stays unused', async () => {
    await storeRefuses(nonceB, (s) => s, { code: 'E_NONCE_MISBOUND', exitCode: 4, message: /^the mint nonce this request is signed against was not issued for the state the request names/ });
    expect(await store.status(fromHex(nonceB.pubnonce))).toBe('unused');
  });

  it('after which the honest next state is accepted with the nonce that stayed unused', async () => {
    const tx = signAsUser(buildSpend(stateSpec(A, 6000n)), USER, MINT.publicKey, nonceA);
    expect((await mint.acceptUpdate(ctx, updateMessage(A, 2, 1000n, 6000n, tx) as never)).cumulative_sat).toBe(6000);
    await store.commit();
    expect(await store.status(fromHex(nonceA.pubnonce))).toBe('consumed');
  });
});

// =======================================================================================
describe('close and rollover: the mint is paid at least its latest amount; then the contract is frozen', () => {
  const w = world();
  let A: Opened;
  let B: Opened;
  let nonce: NextNonceJson;
  afterAll(() => w.dir.cleanup());
  beforeAll(async () => {
    A = await openContract(w);
    B = await openContract(w, { input: 'f1' });
    await pay(w, A.id, 5000n);
    nonce = (await userRecord(w, A.id)).mint_nonce!;
  });
  const closeRefused = (req: unknown, e: Expected) => refused(w, () => mint.acceptClose(w.mint, req as never), e, nonce);
  const rolloverRefused = (req: unknown, e: Expected) => refused(w, () => mint.proposeRollover(w.mint, req as never), e, nonce);
  const signedClose = (spec: SpendSpec, sighash?: number) => signAsUser(buildSpend(spec), USER, MINT.publicKey, nonce, sighash);
  const rollover = (spec: SpendSpec, cumulative: bigint) => rolloverMessage(A.c, 2, cumulative, 2, spec, USER, MINT.publicKey, nonce, w.chain.height + 4320).message;

  it('close paying the mint less than its latest cumulative amount: E_UNDERPAYS_MINT', async () => {
    const tx = signedClose(specOf(buildClose(A.c, 4000n, 2), PARTICIPANTS));
    await closeRefused(closeMessage(A.c, 2, 4000n, 2, tx), { code: 'E_UNDERPAYS_MINT', exitCode: 4, message: /the close pays the mint 4000 sat, less than its latest cumulative amount 5000 sat/ });
  });

  it('close leaving the mint out while it is owed: E_BAD_PAYOUT', async () => {
    const tx = signedClose(specOf(buildClose(A.c, 0n, 2), PARTICIPANTS));
    await closeRefused(closeMessage(A.c, 2, 0n, 2, tx), { code: 'E_BAD_PAYOUT', exitCode: 4, message: /exactly one output to the mint's payout address, it has 0/ });
  });

  it('close signed with SIGHASH_ALL: E_SIGHASH_NOT_ALLOWED', async () => {
    const tx = signedClose({ ...specOf(buildClose(A.c, 5000n, 2), PARTICIPANTS), sighashType: SIGHASH_ALL }, SIGHASH_ALL);
    await closeRefused(closeMessage(A.c, 2, 5000n, 2, tx), { code: 'E_SIGHASH_NOT_ALLOWED', exitCode: 4, message: /only SIGHASH_DEFAULT/ });
  });

  it('close with an nLockTime: E_LOCKTIME', async () => {
    const tx = signedClose({ ...specOf(buildClose(A.c, 5000n, 2), PARTICIPANTS), lockTime: 5000 });
    await closeRefused(closeMessage(A.c, 2, 5000n, 2, tx), { code: 'E_LOCKTIME', exitCode: 4, message: /the close has nLockTime 5000/ });
  });

  it('rollover paying the mint less than its latest cumulative amount: E_UNDERPAYS_MINT', async () => {
    const { tx } = buildRollover(A.c, 4000n, A.c.script, 2);
    await rolloverRefused(rollover(specOf(tx, PARTICIPANTS), 4000n), { code: 'E_UNDERPAYS_MINT', exitCode: 4, message: /the rollover pays the mint 4000 sat, less than its latest cumulative amount 5000 sat/ });
  });

  const extraInputs: [string, Uint8Array][] = [['P2PKH', P2PKH], ['P2SH', P2SH]];
  it.each(extraInputs)('rollover with a non-segwit (%s) extra input: E_NOT_SEGWIT', async (_name, script) => {
    const { tx } = buildRollover(A.c, 5000n, A.c.script, 2);
    const spec = specOf(tx, PARTICIPANTS);
    spec.inputs.push({ txid: 'ee'.repeat(32), vout: 0, sequence: 0xfffffffd, script, amount: 50_000n });
    spec.outputs[1]!.amount += 50_000n - 300n;
    await rolloverRefused(rollover(spec, 5000n), { code: 'E_NOT_SEGWIT', exitCode: 4, message: /the rollover input 1 is not a P2TR, P2WPKH or P2SH-P2WPKH input/ });
  });

  it('rollover signed with SIGHASH_ALL: E_SIGHASH_NOT_ALLOWED', async () => {
    const { tx } = buildRollover(A.c, 5000n, A.c.script, 2);
    const spec = { ...specOf(tx, PARTICIPANTS), sighashType: SIGHASH_ALL };
    const built = buildSpend(spec);
    const next = { ...rollover(specOf(tx, PARTICIPANTS), 5000n) };
    await rolloverRefused(signRequest({ ...next, rollover_psbt: psbtBase64(built) }, USER), { code: 'E_SIGHASH_NOT_ALLOWED', exitCode: 4, message: /only SIGHASH_DEFAULT/ });
  });

  it('rollover into a new contract with another user key: E_WRONG_CONTRACT', async () => {
    const { tx } = buildRollover(A.c, 5000n, A.c.script, 2);
    const req = rollover(specOf(tx, PARTICIPANTS), 5000n);
    const contract = { ...req.new_contract, user_pubkey: toHex(OTHER.publicKey) };
    await rolloverRefused(signRequest({ ...req, new_contract: contract, new_contract_id: termsFromJson(contract, 'regtest').id }, USER), { code: 'E_WRONG_CONTRACT', exitCode: 4, message: /same user key/ });
  });

  it('rollover into a contract that already exists at the mint: E_CONTRACT_EXISTS, exit 5', async () => {
    const req = rollover(specOf(buildRollover(A.c, 5000n, A.c.script, 2).tx, PARTICIPANTS), 5000n);
    await rolloverRefused(signRequest({ ...req, new_contract: B.request.contract, new_contract_id: B.id }, USER), { code: 'E_CONTRACT_EXISTS', exitCode: 5, message: new RegExp(`contract ${B.id} already exists at this mint`) });
  });

  const frozenAfter: ['close' | 'rollover'][] = [['close'], ['rollover']];
  // The settled state's nonce is spent: every request signed against it is refused as such, in
  // words that say nothing of the settlement (issue 72); the user's own library refuses first.
  it.each(frozenAfter)('after a %s, updates, closes and rollovers are refused: E_NONCE_USED at the mint, E_CONTRACT_FROZEN at the user', async (kind) => {
    const v = world();
    try {
      const P = await openContract(v);
      await pay(v, P.id, 5000n);
      const n = (await userRecord(v, P.id)).mint_nonce!;
      if (kind === 'close') {
        await applyClosed(v.user, (await mint.acceptClose(v.mint, (await closeRequest(v.user, P.id, 2)) as never)) as never);
      } else {
        const req = await rolloverRequest(v.user, P.id, { expiryHeight: v.chain.height + 4320, feeRate: 2 });
        const sign = await rolloverSign(v.user, (await mint.proposeRollover(v.mint, req as never)) as never);
        await applyRolloverAccept(v.user, (await mint.acceptRollover(v.mint, sign as never)) as never);
      }
      expect(await v.mint.nonces.status(fromHex(n.pubnonce))).toBe('consumed');
      const message = /^the mint nonce this request is signed against has already been used \(the mint signed another request with it, or it was abandoned\)/;
      const spent = { code: 'E_NONCE_USED', exitCode: 5 as const, message };
      const update = updateMessage(P.c, 2, 1000n, 6000n, signAsUser(buildSpend(stateSpec(P.c, 6000n)), USER, MINT.publicKey, n));
      await refused(v, () => mint.acceptUpdate(v.mint, update as never), spent);
      const close = closeMessage(P.c, 2, 5000n, 2, signAsUser(buildSpend(specOf(buildClose(P.c, 5000n, 2), PARTICIPANTS)), USER, MINT.publicKey, n));
      const roll = rolloverMessage(P.c, 2, 5000n, 2, specOf(buildRollover(P.c, 5000n, P.c.script, 2).tx, PARTICIPANTS), USER, MINT.publicKey, n, v.chain.height + 4320).message;
      if (kind === 'rollover') await refused(v, () => mint.acceptClose(v.mint, close as never), spent);
      else await refused(v, () => mint.proposeRollover(v.mint, roll as never), spent);
      // A state number past the settlement: the same.
      const later = updateMessage(P.c, 3, 1000n, 6000n, signAsUser(buildSpend(stateSpec(P.c, 6000n)), USER, MINT.publicKey, n));
      await refused(v, () => mint.acceptUpdate(v.mint, later as never), spent);
      // The user's own library will not sign for a settled contract either.
      const status = kind === 'close' ? 'closed' : 'rolled-over';
      await refused(v, () => updateRequest(v.user, P.id, 1000n), { code: 'E_CONTRACT_FROZEN', exitCode: 4, message: new RegExp(`contract ${P.id} is ${status}`) });
    } finally {
      v.dir.cleanup();
    }
  });
});

// =======================================================================================
describe('user side: the user signs only what it asked for and checks every answer', () => {
  describe('opening: the refund the mint returns', () => {
    const w = world();
    let request: Record<string, unknown>;
    let accept: Record<string, unknown>;
    let c: CreditContract;
    let userNonce: Uint8Array;
    afterAll(() => w.dir.cleanup());
    beforeAll(async () => {
      request = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      accept = await mint.acceptOpen(w.mint, request as never);
      c = termsFromJson(request.contract as CreditTermsJson, 'regtest');
      userNonce = musigFieldsOf(psbtOf(request.refund_psbt as string), USER.publicKey).pubnonce;
    });

    /** The open-accept with a refund the mint built from `mutate`d data and co-signed. */
    function acceptWith(mutate: (s: SpendSpec) => SpendSpec) {
      const refund = refundWithNonce(mutate(specOf(buildRefund(c), PARTICIPANTS)), USER.publicKey, userNonce);
      mintCosignRefund(refund, MINT, USER.publicKey);
      return asMint({ ...accept, refund_psbt: psbtBase64(refund) });
    }
    async function userRefuses(message: unknown, e: Expected) {
      await refused(w, () => openFinish(w.user, message as never), e);
      // The user's single-use refund nonce was not spent on it.
      expect(await w.user.nonces.status(userNonce)).toBe('unused');
    }

    const cases: [string, (s: SpendSpec) => SpendSpec, Expected][] = [
      ['nLockTime before the expiry', (s) => ({ ...s, lockTime: 5000 }), { code: 'E_REFUND_LOCKTIME', exitCode: 4, message: /nLockTime is 5000, not the agreed expiry height 5320/ }],
      ['nLockTime after the expiry', (s) => ({ ...s, lockTime: 6000 }), { code: 'E_REFUND_LOCKTIME', exitCode: 4, message: /nLockTime is 6000/ }],
      ['less to the user', (s) => ({ ...s, outputs: [{ ...s.outputs[0]!, amount: s.outputs[0]!.amount - 10_000n }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /one output paying the user's refund address 99778 sat/ }],
      ['to another address', (s) => ({ ...s, outputs: [{ script: OTHER_SCRIPT, amount: s.outputs[0]!.amount }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /refund address/ }],
      ['an extra output for the mint', (s) => ({ ...s, outputs: [{ ...s.outputs[0]!, amount: s.outputs[0]!.amount - 5000n }, { script: c.payoutScript, amount: 5000n }] }), { code: 'E_REFUND_OUTPUTS', exitCode: 4, message: /one output/ }],
    ];
    it.each(cases)('a refund with %s', async (_name, mutate, e) => {
      await userRefuses(acceptWith(mutate), e);
    });

    it('a bad mint partial signature on the refund: E_BAD_PARTIAL_SIG, blaming the mint\'s key', async () => {
      const good = psbtOf(accept.refund_psbt as string);
      const bad = withPartialSig(good, specOf(buildRefund(c), PARTICIPANTS), MINT.publicKey, flipLastBit(musigFieldsOf(good, MINT.publicKey).partialSig!));
      await userRefuses(asMint({ ...accept, refund_psbt: psbtBase64(bad) }), { code: 'E_BAD_PARTIAL_SIG', exitCode: 4, message: /does not verify/, culprit: MINT.publicKey });
    });

    it('an open-accept for another contract: E_UNKNOWN_CONTRACT', async () => {
      await userRefuses({ ...accept, contract_id: UNKNOWN_ID }, { code: 'E_UNKNOWN_CONTRACT', exitCode: 4, message: new RegExp(`no contract ${UNKNOWN_ID} in this state directory`) });
    });

    it('an open-accept whose first nonce is not for state 1: E_RECEIPT_MISMATCH', async () => {
      const next = accept.next_nonce as NextNonceJson;
      await userRefuses(asMint({ ...accept, next_nonce: { ...next, state: 2 } }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /first nonce must be for state 1, not 2/ });
    });

    it('an open-accept for an open that no longer waits (its record closed, no refund kept): E_STALE_STATE, exit 5', async () => {
      const waiting = (await w.user.records.get(accept.contract_id as string))!;
      await w.user.records.put({ ...waiting, status: 'closed' });
      try {
        await userRefuses(accept, { code: 'E_STALE_STATE', exitCode: 5, message: /is closed, not opening: this open-accept answers an open that no longer waits for it/ });
      } finally {
        await w.user.records.put(waiting);
      }
    });

    it('after which the honest accept completes the refund', async () => {
      const opened = await openFinish(w.user, accept as never);
      const key = musigTaprootOutput(PARTICIPANTS).outputKey;
      const spent = verifyKeyPathSpend((opened.refund as { hex: string }).hex, [{ amount: c.capacity, script: p2trScript(key), txid: c.funding.txid, vout: c.funding.vout }], key);
      expect(spent.lockTime).toBe(c.expiryHeight);
    });
  });

  describe('payments: receipts, pending requests', () => {
    const w = world();
    let A: Opened;
    let B: Opened;
    let req: Record<string, unknown>;
    let receipt: ReceiptJson;
    afterAll(() => w.dir.cleanup());
    beforeAll(async () => {
      A = await openContract(w);
      B = await openContract(w, { input: 'f1' });
      await pay(w, A.id, 5000n);
      req = await updateRequest(w.user, A.id, 1000n);
      receipt = await mint.acceptUpdate(w.mint, req as never);
    });

    it('by construction the update pays the mint exactly the user\'s own previous amount plus the amount asked', () => {
      const tx = psbtOf(req.psbt as string);
      expect(tx.getOutput(0)).toMatchObject({ script: A.c.payoutScript, amount: 5000n + 1000n });
      expect(tx.getOutput(1).script).toEqual(A.c.changeScript);
      expect(req).toMatchObject({ state: 2, amount_sat: 1000, cumulative_sat: 6000 });
    });

    it('a second update while one awaits its receipt: E_PENDING, exit 5 (the same one is resent unchanged)', async () => {
      const snap = snapshot(w.dir.path);
      expect(await updateRequest(w.user, A.id, 1000n)).toEqual(req);
      expect(snapshot(w.dir.path)).toEqual(snap);
      const e: Expected = { code: 'E_PENDING', exitCode: 5, message: /state 2 \(update\) is still waiting for the mint's answer/ };
      await refused(w, () => updateRequest(w.user, A.id, 2000n), e);
      await refused(w, () => closeRequest(w.user, A.id, 2), e);
      await refused(w, () => rolloverRequest(w.user, A.id, { expiryHeight: 6000, feeRate: 2 }), e);
    });

    it('sign-update --resend: the pending request exactly as recorded, nothing written; E_PENDING names that command', async () => {
      const snap = snapshot(w.dir.path);
      expect(await resendRequest(w.user, A.id)).toEqual(req);
      expect(snapshot(w.dir.path)).toEqual(snap);
      await refused(w, () => updateRequest(w.user, A.id, 2000n), { code: 'E_PENDING', exitCode: 5, message: new RegExp(`: resend it as recorded: offchain sign-update --role user --resend --contract ${A.id} \\(with --peer URL for a mint service\\), or feed its answer`) });
    });

    const receiptCases: [string, () => unknown, Expected][] = [
      ['for a contract this user does not have', () => ({ ...receipt, contract_id: UNKNOWN_ID }), { code: 'E_UNKNOWN_CONTRACT', exitCode: 4, message: /no contract abab/ }],
      ['for another of the user\'s contracts', () => ({ ...receipt, contract_id: B.id }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /no update for state 2 is waiting for a receipt/ }],
      ['for another state', () => ({ ...receipt, state: 3 }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /no update for state 3 is waiting/ }],
      ['for a higher cumulative amount', () => ({ ...receipt, cumulative_sat: 7000, amount_sat: 2000 }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /cumulative 7000.* is not for the state this user signed/ }],
      ['for a lower cumulative amount', () => ({ ...receipt, cumulative_sat: 5500, amount_sat: 500 }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /cumulative 5500/ }],
      ['for another transaction', () => ({ ...receipt, txid: 'cd'.repeat(32) }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /txid cdcd.* is not for the state this user signed/ }],
      ['whose next nonce is not for the next state', () => ({ ...receipt, next_nonce: { ...receipt.next_nonce, state: 2 } }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /next nonce is for state 2, not 3/ }],
    ];
    it.each(receiptCases)('a receipt %s', async (_name, make, e) => {
      await refused(w, () => applyReceipt(w.user, asMint(make()) as never), e);
    });

    it('after which the honest receipt is taken', async () => {
      const balance = await applyReceipt(w.user, receipt as never);
      expect(balance).toMatchObject({ state: 2, cumulative_sat: 6000 });
      // Nothing pending any more: --resend signs nothing new.
      await refused(w, () => resendRequest(w.user, A.id), { code: 'E_NOTHING_PENDING', exitCode: 5, message: /has no payment waiting for the mint's answer: nothing to resend/ });
    });

    it('a closed message for another contract, another tx, or with a bad signature', async () => {
      const close = await closeRequest(w.user, A.id, 2);
      // A close pending is no payment: --resend names the command that resends it.
      await refused(w, () => resendRequest(w.user, A.id), { code: 'E_PENDING', exitCode: 5, message: new RegExp(`state 3 of contract ${A.id} is a close, not a payment: resend it as recorded: offchain close-credit --role user --start --contract ${A.id} at the same fee rate`) });
      const closed = await mint.acceptClose(w.mint, close as never);
      const latest = (await w.mintBook.get(A.id))!.latest!;
      await refused(w, () => applyClosed(w.user, { ...closed, contract_id: UNKNOWN_ID } as never), { code: 'E_UNKNOWN_CONTRACT', exitCode: 4, message: /no contract abab/ });
      await refused(w, () => applyClosed(w.user, asMint({ ...closed, hex: latest.hex }) as never), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: new RegExp(`signed transaction ${latest.txid} is not the one this user signed`) });
      const sig = Transaction.fromRaw(fromHex(closed.hex as string)).getInput(0).finalScriptWitness![0]!;
      const forged = (closed.hex as string).replace(toHex(sig), toHex(flipLastBit(sig)));
      await refused(w, () => applyClosed(w.user, asMint({ ...closed, hex: forged }) as never), { code: 'E_BAD_SIGNATURE', exitCode: 4, message: /signature does not verify/ });
      await applyClosed(w.user, closed as never);
    });

    it('a rollover-accept naming another new contract: E_RECEIPT_MISMATCH', async () => {
      const roll = await rolloverRequest(w.user, B.id, { expiryHeight: w.chain.height + 4320, feeRate: 2 });
      const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, roll as never)) as never);
      const accepted = await mint.acceptRollover(w.mint, sign as never);
      await refused(w, () => applyRolloverAccept(w.user, asMint({ ...accepted, new_contract_id: UNKNOWN_ID }) as never), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: new RegExp(`no rollover of contract ${B.id} to ${UNKNOWN_ID} is waiting`) });
    });
  });
});

// =======================================================================================
describe('found by these tests, fixed: what a PSBT claims about the spent output must be checked', () => {
  /**
   * The first three share one cause: BIP-341 signatures commit to every spent output's
   * script and amount, which a PSBT carries in witness_utxo; checking only the outpoint
   * would let a signature be made for a prevout the chain does not have (valid in the
   * PSBT, invalid on chain). Each test asserts the refusal.
   */
  /** The contract's output key, derived in test code from the two public keys. */
  const OUTPUT_KEY = musigTaprootOutput(PARTICIPANTS).outputKey;
  /** Does input 0's signature verify for the real funding output? (the test suite's independent verifier) */
  function validOnChain(hex: string, c: CreditContract): boolean {
    try {
      verifyKeyPathSpend(hex, [{ amount: c.capacity, script: p2trScript(OUTPUT_KEY) }], OUTPUT_KEY);
      return true;
    } catch (e) {
      if (e instanceof IndependentCheckError) return false;
      throw e;
    }
  }

  async function expectRefusedOrShowCost(w: World, step: () => Promise<unknown>, storedHex: () => Promise<string>, c: CreditContract, what: string) {
    const before = snapshot(w.dir.path);
    const outcome = await step().then((v) => ({ accepted: v }), (e: unknown) => ({ error: e }));
    if ('accepted' in outcome) expect(validOnChain(await storedHex(), c), what).toBe(true);
    else expect(outcome.error).toMatchObject({ code: 'E_BAD_INPUTS', exitCode: 4 });
    expect(snapshot(w.dir.path)).toEqual(before);
  }

  async function paidContract() {
    const w = world();
    const A = await openContract(w);
    await pay(w, A.id, 5000n);
    return { w, A, nonce: (await userRecord(w, A.id)).mint_nonce! };
  }
  const latestHex = (w: World, id: string) => async () => (await w.mintBook.get(id))!.latest!.hex;

  it('the mint refuses a state whose witness_utxo overstates the funding amount (it could never be mined)', async () => {
    const { w, A, nonce } = await paidContract();
    try {
      const spec = stateSpec(A.c, 6000n);
      spec.inputs[0]!.amount += 50_000n;
      const tx = signAsUser(buildSpend(spec), USER, MINT.publicKey, nonce);
      const req = updateMessage(A.c, 2, 1000n, 6000n, tx);
      await expectRefusedOrShowCost(w, () => mint.acceptUpdate(w.mint, req as never), latestHex(w, A.id), A.c, 'the mint credited 1000 sat for a state it can never get mined');
    } finally {
      w.dir.cleanup();
    }
  });

  it('the mint refuses a state whose MuSig2 participants are listed unsorted (another aggregate key, another script)', async () => {
    const { w, A, nonce } = await paidContract();
    try {
      const keys = [...musigKey(PARTICIPANTS).participants].reverse();
      const spec = { ...stateSpec(A.c, 6000n), participants: keys, rawParticipants: true, inputs: [{ ...fundingInputSpec(A.c), script: musigKey(keys, { sort: false }).output.script }] };
      const tx = signAsUser(buildSpend(spec), USER, MINT.publicKey, nonce);
      const req = updateMessage(A.c, 2, 1000n, 6000n, tx);
      await expectRefusedOrShowCost(w, () => mint.acceptUpdate(w.mint, req as never), latestHex(w, A.id), A.c, 'the mint credited 1000 sat for a state signed under another aggregate key');
    } finally {
      w.dir.cleanup();
    }
  });

  it('the user refuses a refund whose witness_utxo the mint changed (it would be invalid on chain)', async () => {
    const w = world();
    try {
      const request = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      const accept = await mint.acceptOpen(w.mint, request as never);
      const c = termsFromJson(request.contract as CreditTermsJson, 'regtest');
      const spec = specOf(buildRefund(c), PARTICIPANTS);
      spec.inputs[0]!.amount += 1n;
      const refund = refundWithNonce(spec, USER.publicKey, musigFieldsOf(psbtOf(request.refund_psbt as string), USER.publicKey).pubnonce);
      mintCosignRefund(refund, MINT, USER.publicKey);
      const tampered = asMint({ ...accept, refund_psbt: psbtBase64(refund) });
      const refundHex = async () => (await userRecord(w, c.id)).refund!.hex;
      await expectRefusedOrShowCost(w, () => openFinish(w.user, tampered as never), refundHex, c, 'the user was told to fund: its refund can never be mined');
    } finally {
      w.dir.cleanup();
    }
  });

  it('once closed, the user refuses a credit/closed message for another transaction', async () => {
    const { w, A } = await paidContract();
    try {
      const closed = await mint.acceptClose(w.mint, (await closeRequest(w.user, A.id, 2)) as never);
      await applyClosed(w.user, closed as never);
      const latest = (await w.mintBook.get(A.id))!.latest!;
      // The mint's latest update state, sold to the user as "the close to broadcast".
      const forged = asMint({ ...closed, txid: latest.txid, hex: latest.hex, cumulative_sat: latest.cumulative_sat });
      await refused(w, () => applyClosed(w.user, forged as never), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /not the one this user signed/ });
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('the record\'s terms are the ones its contract id commits to', () => {
  it('terms rewritten in the mint\'s database under the same id: E_STATE_CORRUPT, nothing signed or written', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      await pay(w, A.id, 5000n); // the mint has derived (and keeps) these terms
      const record = (await w.mintBook.get(A.id))!;
      // A writer of the database moves expiry a year out: the mint would go on co-signing near the real expiry.
      await w.mintBook.put({ ...record, contract: { ...record.contract, expiry_height: record.contract.expiry_height + 52_560 } });
      await w.mintBook.commit();
      const req = await updateRequest(w.user, A.id, 1000n);
      const e = await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, req as never), { code: 'E_STATE_CORRUPT', exitCode: 3, message: new RegExp(`record of contract ${A.id} holds terms that hash to (?!${A.id})[0-9a-f]{64}`) });
      expect(e.message).toMatch(/check who writes the mint's database/);
      // The same terms written back with their keys in another order: the same contract, served again.
      await w.mintBook.put({ ...record, contract: Object.fromEntries(Object.entries(record.contract).reverse()) as typeof record.contract });
      await w.mintBook.commit();
      const receipt = await mint.acceptUpdate(w.mint, req as never);
      expect(receipt).toMatchObject({ contract_id: A.id, state: req.state, cumulative_sat: 6000 });
    } finally {
      w.dir.cleanup();
    }
  });

  it('an expiry moved by 2^32 (the id commits to it as 4 bytes): refused, not signed under an expiry 4,294,967,296 blocks out', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      await pay(w, A.id, 5000n);
      const record = (await w.mintBook.get(A.id))!;
      // Before the fix these terms hashed to the same id: the mint went on co-signing past the real expiry, and a watcher never read the contract.
      await w.mintBook.put({ ...record, contract: { ...record.contract, expiry_height: record.contract.expiry_height + 2 ** 32 } });
      await w.mintBook.commit();
      const req = await updateRequest(w.user, A.id, 1000n);
      await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, req as never), { code: 'E_STATE_CORRUPT', exitCode: 3, message: new RegExp(`record of contract ${A.id} holds terms that are not a contract's: expiry_height ${record.contract.expiry_height + 2 ** 32} is not a block height`) });
    } finally {
      w.dir.cleanup();
    }
  });
});
