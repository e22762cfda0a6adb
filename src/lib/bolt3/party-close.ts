/**
 * A channel party's side of BOLT 2's mutual close (`shutdown`, `closing_signed`); the
 * transaction itself is ./close.ts. Steps, as in ./party.ts: pure, the record to write and
 * the message to print.
 *
 *   step          | in               | checks                                            | writes                | out
 *   --------------|------------------|---------------------------------------------------|-----------------------|--------------------
 *   proposeClose  | —                | nothing in flight, fee ≤ final commitment's fee   | closing (proposed)    | bolt3/shutdown
 *   replyClose    | bolt3/shutdown   | the same, the peer's script standard              | closing (signed)      | bolt3/closing-signed
 *   finishClose   | closing-signed   | our script, our fee, the txid we build, its sig   | closing txid          | bolt3/closing-tx
 *
 * Invariant: a close pays exactly the balances of a state both hold and both revoked the
 * one before, with no HTLC; our output goes where we said; after a close is proposed or
 * signed no commitment is signed (party.ts `checkNotClosing`).
 */
import type { Static } from '@sinclair/typebox';
import { fromHex, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import { standardScriptType } from '../tx/policy.ts';
import { closingFor, completeClosing, maxClosingFee, signClosing, verifyPeerClosing } from './close.ts';
import { channelIdOf, checkChannelId, checkSeed, ownPoint, type ChannelRecord, type StateTerms } from './party.ts';
import { mismatch } from './party-terms.ts';
import type { ClosingSignedSchema, ShutdownSchema } from './schemas.ts';
import { txid } from './tx.ts';

export type Shutdown = Static<typeof ShutdownSchema>;
export type ClosingSigned = Static<typeof ClosingSignedSchema>;

/** The final state, when nothing is in flight: both hold the same commitment n, n−1 revoked both ways, no HTLC. */
function quietState(rec: ChannelRecord): StateTerms {
  const held = rec.local;
  const last = rec.remote_signed.at(-1);
  const n = held?.state.commitment_number;
  if (!held || !last || last.state.commitment_number !== n) {
    throw new RefusedError('E_CLOSE_PENDING', 'an update is in flight: both parties must hold the same latest commitment before a close');
  }
  if (rec.local_revoked_through !== n! - 1 || rec.remote_revoked_through !== n! - 1) {
    throw new RefusedError('E_CLOSE_PENDING', `commitment ${n! - 1} is not revoked by both parties yet: finish the update first`);
  }
  if (held.state.htlcs.length > 0) throw new RefusedError('E_CLOSE_PENDING', `${held.state.htlcs.length} HTLCs are in flight: settle or fail them first`);
  return held.state;
}

function checkStandard(script: Uint8Array, field: string): void {
  if (standardScriptType(script) === undefined || standardScriptType(script) === 'op_return') {
    throw new RefusedError('E_NONSTANDARD_SCRIPT', `${field} is not a standard output script: the closing transaction would not relay`);
  }
}

/** shutdown: propose closing the final state, paying our output to `ownScript`, with `feeSat` from the opener. */
export function proposeClose(rec: ChannelRecord, ownScript: Uint8Array, feeSat: bigint, seed: Uint8Array): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkSeed(rec, seed);
  const state = quietState(rec);
  checkStandard(ownScript, 'your --to');
  const own = toHex(ownScript);
  const message = { type: 'bolt3/shutdown', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: state.commitment_number, script_pubkey: own, fee_sat: Number(feeSat) };
  if (rec.closing) {
    if (rec.closing.proposed && rec.closing.own_script === own && rec.closing.fee_sat === Number(feeSat) && !rec.closing.txid) return { message };
    throw new StateConflictError('E_CHANNEL_CLOSING', 'a close with another script or fee was already proposed or signed');
  }
  checkClosingFee(rec, state, seed, feeSat);
  return { record: { ...rec, closing: { proposed: true, own_script: own, fee_sat: Number(feeSat) } }, message };
}

function checkClosingFee(rec: ChannelRecord, state: StateTerms, seed: Uint8Array, feeSat: bigint): void {
  const max = maxClosingFee(rec.channel, state, ownPoint(seed, state.commitment_number));
  if (feeSat > max) throw new RefusedError('E_CLOSING_FEE', `a closing fee of ${feeSat} sat is more than the final commitment's ${max} sat (BOLT 2)`);
}

/** closing_signed, from the party that received the shutdown: our output to `ownScript`, our signature. */
export function replyClose(rec: ChannelRecord, m: Shutdown, ownScript: Uint8Array, seed: Uint8Array, fundingSecret: Uint8Array): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkChannelId(rec, m.channel_id);
  checkSeed(rec, seed);
  const state = quietState(rec);
  if (m.commitment_number !== state.commitment_number) mismatch('commitment_number', 'the peer\'s shutdown');
  const peer = fromHex(m.script_pubkey, 'script_pubkey');
  checkStandard(peer, 'the peer\'s script_pubkey');
  checkStandard(ownScript, 'your --to');
  const fee = BigInt(m.fee_sat);
  checkClosingFee(rec, state, seed, fee);
  const own = toHex(ownScript);
  if (rec.closing && (rec.closing.proposed || rec.closing.own_script !== own || rec.closing.peer_script !== m.script_pubkey || rec.closing.fee_sat !== m.fee_sat)) {
    throw new StateConflictError('E_CHANNEL_CLOSING', 'a close with another script or fee was already proposed or signed');
  }
  const tx = closingFor(rec.channel, state, ownScript, peer, fee);
  const message = {
    type: 'bolt3/closing-signed', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: state.commitment_number, fee_sat: m.fee_sat,
    sender_script_pubkey: own, receiver_script_pubkey: m.script_pubkey, txid: txid(tx), signature: toHex(signClosing(rec.channel, tx, fundingSecret)),
  };
  if (rec.closing) return { message };
  return { record: { ...rec, closing: { proposed: false, own_script: own, fee_sat: m.fee_sat, peer_script: m.script_pubkey, txid: txid(tx) } }, message };
}

/** The proposer completes the close: the transaction it would build itself, the peer's signature checked, ours added. */
export function finishClose(rec: ChannelRecord, m: ClosingSigned, seed: Uint8Array, fundingSecret: Uint8Array): { record?: ChannelRecord; message: Record<string, unknown> } {
  checkChannelId(rec, m.channel_id);
  checkSeed(rec, seed);
  const proposed = rec.closing;
  if (!proposed?.proposed) {
    throw new RefusedError('E_NO_SHUTDOWN', 'you proposed no close of this channel (commitment close --start)');
  }
  const state = quietState(rec);
  if (m.commitment_number !== state.commitment_number) mismatch('commitment_number', 'the peer\'s closing_signed');
  if (m.receiver_script_pubkey !== proposed.own_script) mismatch('receiver_script_pubkey', 'the peer\'s closing_signed');
  if (m.fee_sat !== proposed.fee_sat) mismatch('fee_sat', 'the peer\'s closing_signed');
  if (proposed.peer_script !== undefined && proposed.peer_script !== m.sender_script_pubkey) mismatch('sender_script_pubkey', 'the peer\'s closing_signed');
  const peer = fromHex(m.sender_script_pubkey, 'sender_script_pubkey');
  checkStandard(peer, 'the peer\'s sender_script_pubkey');
  const tx = closingFor(rec.channel, state, fromHex(proposed.own_script, 'own script'), peer, BigInt(proposed.fee_sat));
  if (txid(tx) !== m.txid) mismatch('txid', 'the peer\'s closing_signed');
  const peerSignature = fromHex(m.signature, 'signature');
  if (!verifyPeerClosing(rec.channel, tx, peerSignature)) throw new RefusedError('E_BAD_SIGNATURE', `the peer's signature does not verify for the closing transaction ${txid(tx)}`);
  const done = completeClosing(rec.channel, tx, signClosing(rec.channel, tx, fundingSecret), peerSignature);
  const message = { type: 'bolt3/closing-tx', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), txid: done.txid, hex: done.hex, fee_sat: proposed.fee_sat };
  if (proposed.txid === done.txid) return { message };
  return { record: { ...rec, closing: { ...proposed, peer_script: m.sender_script_pubkey, txid: done.txid } }, message };
}
