/**
 * A kit for building the requests a dishonest (or buggy) party could send, so the
 * refusal tests exercise the rule they name and nothing else.
 *
 * The honest transactions come from src/lib/credit/transactions.ts; `specOf` turns one
 * into plain data (version, locktime, inputs, outputs), a test changes one field, and
 * `buildSpend` turns it back into a PSBT with the MuSig2 participants set. The tampered
 * transaction is then signed *as the user* with the library (BIP-327 DeterministicSign
 * against the mint's announced nonce), so its user partial signature is valid for the
 * tampered transaction: the mint can only refuse it by the rule under test, never by
 * E_BAD_PARTIAL_SIG.
 *
 * Also here: opening and paying in the in-process world, and a snapshot of a state
 * directory (each file → SHA-256, each state.sqlite → its rows' digest) to show that a
 * refusal wrote nothing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { expect } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import type { KeyPair } from '../../../src/lib/keys/keys.ts';
import { nonceGen } from '../../../src/lib/musig/bip327.ts';
import { musigKey } from '../../../src/lib/musig/keyagg.ts';
import { addPubNonce, musigDeterministicSign, readMusigInput, setMusigParticipants } from '../../../src/lib/musig/psbt-keypath.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { termsFromJson, termsToJson } from '../../../src/lib/credit/codec.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import type { NextNonceJson, ReceiptJson, UserContractRecord } from '../../../src/lib/credit/ports.ts';
import { userSignAgainst } from '../../../src/lib/credit/signing.ts';
import { makeContract, type CreditContract } from '../../../src/lib/credit/terms.ts';
import { buildRefund } from '../../../src/lib/credit/transactions.ts';
import { STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { stateDigest } from '../../state.ts';
import { signAnswer } from '../../../src/lib/credit/answer-signature.ts';
import { signRequest } from '../../../src/lib/credit/request-signature.ts';
import { CHANGE, MINT, REFUND, fundingPsbt, offer, type world } from './world.ts';

export type World = ReturnType<typeof world>;

// ---------------------------------------------------------------------------------------
// Transactions as plain data

export type InputSpec = { txid: string; vout: number; sequence: number; script: Uint8Array; amount: bigint };
export type OutputSpec = { script: Uint8Array; amount: bigint };
export type SpendSpec = {
  version: number;
  lockTime: number;
  inputs: InputSpec[];
  outputs: OutputSpec[];
  /** MuSig2 participants of input 0 (KeyAgg-sorted, checked against the spent script). */
  participants: Uint8Array[];
  /** Write the participant list as given: no sorting, no check against the spent script. */
  rawParticipants?: boolean;
  /** PSBT_IN_SIGHASH_TYPE of input 0; absent means SIGHASH_DEFAULT. */
  sighashType?: number;
};

/** The plain-data form of a transaction built by src/lib/credit/transactions.ts. */
export function specOf(tx: Transaction, participants: Uint8Array[]): SpendSpec {
  const inputs: InputSpec[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    inputs.push({ txid: toHex(input.txid!), vout: input.index!, sequence: input.sequence!, script: input.witnessUtxo!.script, amount: input.witnessUtxo!.amount });
  }
  const outputs: OutputSpec[] = [];
  for (let i = 0; i < tx.outputsLength; i++) outputs.push({ script: tx.getOutput(i).script!, amount: tx.getOutput(i).amount! });
  return { version: tx.version, lockTime: tx.lockTime, inputs, outputs, participants };
}

/** A PSBT from a spec: inputs with witness_utxo, input 0 with its MuSig2 participants. */
export function buildSpend(spec: SpendSpec): Transaction {
  const tx = new Transaction({ version: spec.version, lockTime: spec.lockTime, allowUnknownOutputs: true, allowUnknownVersion: true });
  for (const i of spec.inputs) tx.addInput({ txid: i.txid, index: i.vout, sequence: i.sequence, witnessUtxo: { script: i.script, amount: i.amount } });
  for (const o of spec.outputs) tx.addOutput({ script: o.script, amount: o.amount });
  if (spec.rawParticipants) {
    const key = musigKey(spec.participants, { sort: false });
    // No tapInternalKey: btc-signer would (rightly) refuse one that does not commit to the spent script.
    tx.updateInput(0, { musig2ParticipantPubkeys: [[key.aggregatePubkey, key.participants]] });
  } else {
    setMusigParticipants(tx, 0, spec.participants);
  }
  if (spec.sighashType !== undefined) tx.updateInput(0, { sighashType: spec.sighashType });
  return tx;
}

/** The contract's funding input as a spec (what every honest spend has as input 0). */
export function fundingInputSpec(c: CreditContract): InputSpec {
  return { txid: c.funding.txid, vout: c.funding.vout, sequence: 0xfffffffd, script: c.script, amount: c.capacity };
}

// ---------------------------------------------------------------------------------------
// Signing as the user / the mint

/**
 * The user's partial signature on input 0 against the mint's announced nonce, made by
 * the library. With `sighashType` the library's SIGHASH_DEFAULT-only guard is widened
 * for this one signature (a user that wants to sign something else).
 */
export function signAsUser(tx: Transaction, signer: KeyPair, mintPubkey: Uint8Array, mintNonce: NextNonceJson, sighashType?: number): Transaction {
  if (sighashType === undefined) {
    userSignAgainst(tx, 0, signer, mintPubkey, mintNonce);
    return tx;
  }
  const input = readMusigInput(tx, 0, { allowedSighash: [sighashType] });
  addPubNonce(tx, input, mintPubkey, fromHex(mintNonce.pubnonce));
  musigDeterministicSign(tx, input, signer);
  return tx;
}

/** A valid BIP-327 public nonce the mint never issued (drawn for another key). */
export function foreignPubnonce(signer: KeyPair, seed = 7): string {
  const rand = new Uint8Array(32).fill(seed);
  return toHex(nonceGen(signer.publicKey, signer.secretKey, undefined, undefined, undefined, rand).pubnonce);
}

/** The participant's public nonce and partial signature on input 0 of a PSBT. */
export function musigFieldsOf(tx: Transaction, participant: Uint8Array): { pubnonce: Uint8Array; partialSig: Uint8Array | undefined } {
  const input = readMusigInput(tx, 0, { allowedSighash: [0, 1, 2, 3, 0x81, 0x82, 0x83] });
  const i = input.key.participants.findIndex((p) => toHex(p) === toHex(participant));
  return { pubnonce: input.pubnonces[i]!, partialSig: input.partialSigs[i] };
}

/**
 * The same spend with the same public nonces, but `participant`'s partial signature
 * replaced by `partialSig` (e.g. a valid one with one bit flipped). The BIP-373 fields
 * are copied as they are keyed in `signed`, whatever key the library keys them by.
 */
export function withPartialSig(signed: Transaction, spec: SpendSpec, participant: Uint8Array, partialSig: Uint8Array): Transaction {
  const tx = buildSpend(spec);
  const src = signed.getInput(0);
  const psigs = (src.musig2PartialSig ?? []).map(([k, v]) => [k, toHex(k.participantPubkey) === toHex(participant) ? partialSig : v] as [typeof k, Uint8Array]);
  tx.updateInput(0, { musig2PubNonce: src.musig2PubNonce ?? [], musig2PartialSig: psigs });
  return tx;
}

/** Copy every BIP-373 public nonce and partial signature of input 0 from `from` to `to`, unchecked. */
export function copyMusigFields(from: Transaction, to: Transaction): Transaction {
  const input = from.getInput(0);
  to.updateInput(0, { musig2PubNonce: input.musig2PubNonce ?? [], musig2PartialSig: input.musig2PartialSig ?? [] });
  return to;
}

/** A 32-byte scalar with its last bit flipped: still well-formed, never valid. */
export function flipLastBit(b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  out[out.length - 1]! ^= 1;
  return out;
}

export const psbtBase64 = (tx: Transaction): string => base64.encode(serializePsbt(tx));
export const psbtOf = (b64: string): Transaction => parsePsbt(base64.decode(b64));

// ---------------------------------------------------------------------------------------
// Messages

/**
 * An answer as a dishonest mint would send it: changed, then signed again with the mint's
 * own key (answer-signature.ts), so that what refuses it is the user's rule under test,
 * not E_RECEIPT_FORGED (a relay's change, unsigned, is: test/lib/credit/answer-signature.test.ts).
 */
export function asMint<T>(answer: T, key: KeyPair = MINT): T {
  return signAnswer(answer as Record<string, unknown>, key) as T;
}

export function updateMessage(c: CreditContract, state: number, amount: bigint, cumulative: bigint, tx: Transaction, contractId = c.id) {
  return {
    type: 'credit/update-request' as const, version: 1 as const, network: c.network, contract_id: contractId, state,
    amount_sat: Number(amount), cumulative_sat: Number(cumulative), psbt: psbtBase64(tx),
  };
}

export function closeMessage(c: CreditContract, state: number, cumulative: bigint, feeRate: number, tx: Transaction) {
  return {
    type: 'credit/close-request' as const, version: 1 as const, network: c.network, contract_id: c.id, state,
    cumulative_sat: Number(cumulative), fee_rate: feeRate, psbt: psbtBase64(tx),
  };
}

/** The refund of `c` with `userPubnonce` on it (what an open- or rollover-request carries). */
export function refundWithNonce(spec: SpendSpec, userPubkey: Uint8Array, userPubnonce: Uint8Array): Transaction {
  const tx = buildSpend(spec);
  addPubNonce(tx, readMusigInput(tx, 0, { allowedSighash: [spec.sighashType ?? 0] }), userPubkey, userPubnonce);
  return tx;
}

/**
 * A rollover-request (round 1) for an arbitrary rollover transaction: the next contract
 * is the one the transaction's last output funds, with the same keys and addresses; its
 * refund carries a fresh (in-memory) user nonce; the rollover itself is NOT signed yet
 * (the user signs it in round 2, after its new refund verifies); the request is, by `signer`,
 * for the state of `mintNonce` (request-signature.ts).
 */
export function rolloverMessage(
  c: CreditContract,
  state: number,
  cumulative: bigint,
  feeRate: number,
  spec: SpendSpec,
  signer: KeyPair,
  mintPubkey: Uint8Array,
  mintNonce: NextNonceJson,
  expiryHeight: number,
) {
  const tx = buildSpend(spec);
  const vout = spec.outputs.length - 1;
  const next = makeContract({ ...c, capacity: spec.outputs[vout]!.amount, funding: { txid: tx.id, vout }, expiryHeight });
  void mintPubkey;
  const refund = refundWithNonce(specOf(buildRefund(next), [next.userPubkey, next.mintPubkey]), signer.publicKey, fromHex(foreignPubnonce(signer, 9)));
  return {
    message: signRequest({
      type: 'credit/rollover-request' as const, version: 1 as const, network: c.network, contract_id: c.id, state, cumulative_sat: Number(cumulative),
      fee_rate: feeRate, new_contract_id: next.id, new_contract: termsToJson(next), rollover_psbt: psbtBase64(tx), refund_psbt: psbtBase64(refund),
      mint_pubnonce: mintNonce.pubnonce,
    }, signer),
    next,
    tx,
  };
}

// ---------------------------------------------------------------------------------------
// The in-process world: open, pay, look

export type Opened = { id: string; c: CreditContract; request: Record<string, unknown>; accept: Record<string, unknown> };

/** Open a contract (refund first), and confirm its funding on the test chain. */
export async function openContract(
  w: World,
  o: { capacity?: bigint; feeRate?: number; expiryHeight?: number; confirmations?: number; input?: string } = {},
): Promise<Opened> {
  const request = await openRequest(w.user, {
    offer: offer(), fundingPsbt: fundingPsbt(o.capacity ?? 100_000n, o.input), expiryHeight: o.expiryHeight ?? w.chain.height + 4320,
    refundAddress: REFUND, changeAddress: CHANGE, feeRate: o.feeRate ?? 2,
  });
  const accept = await mint.acceptOpen(w.mint, request as never);
  await openFinish(w.user, accept as never);
  const c = termsFromJson((request as { contract: never }).contract, 'regtest');
  w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, o.confirmations ?? 3);
  return { id: c.id, c, request, accept };
}

/** One honest payment, receipt applied. */
export async function pay(w: World, id: string, amount: bigint): Promise<ReceiptJson> {
  const req = await updateRequest(w.user, id, amount);
  const receipt = await mint.acceptUpdate(w.mint, req as never);
  await applyReceipt(w.user, receipt as never);
  return receipt;
}

export async function userRecord(w: World, id: string): Promise<UserContractRecord> {
  const r = await w.userBook.get(id);
  if (!r) throw new Error(`no user record ${id}`);
  return r;
}

// ---------------------------------------------------------------------------------------
// "Nothing was written"

/**
 * Every file under `dir` (recursively) → SHA-256 of its content, but a state database
 * (`state.sqlite`) → the digest of its rows as this process sees them (test/state.ts
 * stateDigest: a live mint store's uncommitted batch included); its `-wal` and `-shm`
 * files are how SQLite keeps those rows, not more state.
 */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === STATE_DB_FILE) out[`rows:${relative(dir, p)}`] = stateDigest(d)!;
      else if (!name.startsWith(`${STATE_DB_FILE}-`)) out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** `code` may list alternatives where a known fix will change which rule fires first. */
export type Expected = { code: string | string[]; exitCode: 3 | 4 | 5; message: RegExp; culprit?: Uint8Array };

/**
 * Run `step` and check it is refused with `code`/`exitCode` and a message matching
 * `message`, and that no file under `dir` was created, changed or removed.
 */
export async function expectRefused(dir: string, step: () => Promise<unknown>, e: Expected): Promise<OffchainError> {
  const before = snapshot(dir);
  expect(Object.keys(before).length).toBeGreaterThan(0);
  const err = await step().then(
    (v) => new Error(`expected ${e.code}, but the step succeeded with ${JSON.stringify(v)}`),
    (x: unknown) => x,
  );
  if (!(err instanceof OffchainError)) throw err;
  const codes = Array.isArray(e.code) ? e.code : [e.code];
  expect(codes, `${err.code}: ${err.message}`).toContain(err.code);
  expect(err.exitCode, err.message).toBe(e.exitCode);
  expect(err.message).toMatch(e.message);
  expect(err.message).not.toMatch(/\n/);
  if (e.culprit) {
    expect(err.detail?.participant).toBe(toHex(e.culprit));
    expect(err.message).toContain(toHex(e.culprit));
  }
  expect(snapshot(dir)).toEqual(before);
  return err;
}
