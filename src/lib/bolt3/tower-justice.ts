/**
 * A channel party's hand-over to a keyless watchtower, and what the tower makes of it (docs/watch.md
 * "The tower", the channel half): `bolt3/tower-justice`, written by `commitment tower-export` from
 * the party's record and read by `offchain watch --tower`. Per revoked commitment of the peer, an
 * appointment (./appointment.ts) whose plaintext is the commitment's justice ladders (./tower-ladder.ts),
 * UTF-8 JSON compressed with raw DEFLATE (RFC 1951: the rungs of a ladder differ in a few bytes, so
 * a blob is about a sixth of the JSON; a tower inflates at most MAX_PLAINTEXT bytes):
 *
 *     { "v": 1, "to_self_delay": D, "outputs": [ { "rungs": [hex, …], "second_stage": { "rungs": [hex, …] } }, … ] }
 *
 * one entry per revocable output (to_local, each HTLC output), its ladder lowest fee first; and for
 * an HTLC output of a legacy channel, the ladder on the output of the cheater's HTLC transaction
 * (its txid is fixed in advance: the party's signature on it is SIGHASH_ALL, so the cheater can
 * change nothing but the witness). With anchors (and zero-fee commitments) that signature is
 * SIGHASH_SINGLE|ANYONECANPAY: the cheater adds inputs and outputs of his own, the second stage's
 * txid is not known before he broadcasts it, and nothing can be signed for it in advance — those
 * outputs are left to the party's own watcher (they are delayed to_self_delay more).
 *
 * INVARIANTS (test/lib/bolt3/tower-justice.test.ts, property tests):
 * - Nothing secret leaves, nothing readable before the breach: the message holds locators and
 *   blobs only; no channel id, no commitment number, no amount in the clear (appointments are in
 *   locator order, not commitment order). A blob opens only under its commitment's txid.
 * - A tower keeps only justice the party signed for that commitment (`openBreach`, `secondStageRungs`):
 *   every rung has one input — an output of the commitment on chain (or, for a second stage, of the
 *   cheater's HTLC transaction spending that same HTLC output) whose P2WSH script is the rung's
 *   witness script — spent through the revocation branch (to_local: selector 1 and the script's
 *   to_self_delay the blob's; an HTLC: the key whose HASH160 the script checks), with a valid
 *   SIGHASH_ALL signature of that key; one output, the same script on every rung of a ladder; fees
 *   and rates strictly rising. The revocation key is the party's alone (its basepoint secret and the
 *   secret the cheater revealed), so what a rung pays is what the party signed: a tower can publish
 *   it and nothing else. Anything else — a blob of junk, the cheater's own HTLC transaction dressed
 *   as justice, a signature of another key, a ladder out of order — is refused (E_BAD_TOWER_EXPORT).
 * - Several appointments under one locator that verify never lose to the first one read
 *   (`mergeBreaches`; test/lib/watch/tower-channel-round.test.ts): per output the ladder reaching the
 *   highest fee, every output any takes, the to_self_delay a to_local script fixes, every second stage.
 *
 * Not here: which rung a tower sends (src/lib/watch/tower-channel.ts); the chain.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Transaction } from '@scure/btc-signer';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { base64 } from '@scure/base';
import { equalBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { MalformedInputError, OffchainError, RefusedError } from '../errors.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import { openAppointment, sealAppointment } from './appointment.ts';
import { compactFromDer, nobleEcdsa } from './ecdsa.ts';
import type { ChannelRecord } from './party.ts';
import { revokedPeerCommitment } from './party-penalty.ts';
import { penaltyTransaction, revocableOutputs, type PenaltyRequest } from './penalty.ts';
import { JusticeLaddersSchema, TowerJusticeSchema } from './schemas.ts';
import { decodeBolt3Script } from './script-decode.ts';
import { hash160, p2wsh } from './script.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { ladder, type LadderPlan, type Rung } from './tower-ladder.ts';
import { txid as txidOf, weight, type Tx } from './tx.ts';

export type TowerJustice = Static<typeof TowerJusticeSchema>;
export type JusticeLadders = Static<typeof JusticeLaddersSchema>;

/** The justice ladders of one revoked peer commitment (undefined: no output worth taking within the cap). */
export function justiceLadders(rec: ChannelRecord, revokedTxid: string, revocationBasepointSecret: Uint8Array, plan: LadderPlan): JusticeLadders | undefined {
  const revoked = revokedPeerCommitment(rec, revokedTxid);
  try {
    const { c, htlcTxs, secret } = revoked;
    const base = { revoked: c, perCommitmentSecret: secret, revocationBasepointSecret, destinationScript: plan.destinationScript };
    const signer = (req: Pick<PenaltyRequest, 'outputs' | 'secondStage'>) => (feeratePerKw: number) => {
      try {
        return penaltyTransaction({ ...base, ...req, feeratePerKw });
      } catch (e) {
        if (e instanceof OffchainError && e.code === 'E_PENALTY_BELOW_DUST') return undefined;
        throw e;
      }
    };
    // The cheater's HTLC transactions have a txid known in advance only when the party's signature on them covers everything.
    const fixedSecondStage = c.params.format.remoteHtlcSighash === SIGHASH_ALL;
    const outputs = revocableOutputs(c).flatMap((o): JusticeLadders['outputs'] => {
      const rungs = ladder(o.amountSat, signer({ outputs: [o.vout] }), plan);
      if (rungs.length === 0) return [];
      const h = fixedSecondStage ? htlcTxs.find((t) => t.commitmentOutputIndex === o.vout) : undefined;
      const second = h ? ladder(h.tx.outputs[0]!.amount, signer({ outputs: [], secondStage: [{ txid: txidOf(h.tx), vout: 0, amountSat: h.tx.outputs[0]!.amount }] }), plan) : [];
      return [{ rungs: rungs.map((r) => r.hex), ...(second.length > 0 ? { second_stage: { rungs: second.map((r) => r.hex) } } : {}) }];
    });
    return outputs.length > 0 ? { v: 1, to_self_delay: c.params.toSelfDelay, outputs } : undefined;
  } finally {
    revoked.secret.fill(0);
  }
}

/** The peer's revoked commitments of `rec` from number `from` on: number and txid, oldest first. */
export function revokedCommitments(rec: ChannelRecord, from = 0): { n: number; txid: string }[] {
  return rec.remote_signed
    .filter((s) => s.state.commitment_number <= rec.remote_revoked_through && s.state.commitment_number >= from)
    .map((s) => ({ n: s.state.commitment_number, txid: s.txid }));
}

/** What `commitment tower-export` prints for `rec`, and which revoked commitments had nothing worth taking within the cap. */
export function towerExport(rec: ChannelRecord, network: Network, revocationBasepointSecret: Uint8Array, plan: LadderPlan, from = 0): { message: TowerJustice; empty: number[] } {
  const revoked = revokedCommitments(rec, from);
  if (revoked.length === 0) {
    throw new RefusedError('E_NOTHING_REVOKED', rec.remote_revoked_through < 0
      ? 'the peer has revoked no commitment yet: there is nothing a tower could punish (export again after each revoke_and_ack you receive)'
      : `the peer revoked commitments up to ${rec.remote_revoked_through}, none from --from ${from} on`);
  }
  const appointments: TowerJustice['appointments'] = [];
  const empty: number[] = [];
  for (const { n, txid } of revoked) {
    const ladders = justiceLadders(rec, txid, revocationBasepointSecret, plan);
    if (!ladders) {
      empty.push(n);
      continue;
    }
    const { locator, blob } = sealAppointment(txid, deflateRawSync(utf8(JSON.stringify(ladders)), { level: 9 }));
    appointments.push({ locator, blob: base64.encode(blob) });
  }
  appointments.sort((a, b) => (a.locator < b.locator ? -1 : a.locator > b.locator ? 1 : a.blob < b.blob ? -1 : 1));
  return {
    message: {
      type: 'bolt3/tower-justice', version: 1, network, appointments,
      next: 'drop this file into the tower\'s directory (offchain watch --tower DIR), written elsewhere and renamed in; export again after each revocation (--from N: only commitments from N on) — a tower keeps every file it is given',
    },
    empty,
  };
}

/** A `bolt3/tower-justice` as a tower reads it: the schema, and each blob decoded from base64. */
export function readTowerJustice(value: unknown, what: string): { message: TowerJustice; blobs: Map<string, Uint8Array[]> } {
  const message = decodeMessage(TowerJusticeSchema, value);
  const blobs = new Map<string, Uint8Array[]>();
  for (const a of message.appointments) {
    let blob: Uint8Array;
    try {
      blob = base64.decode(a.blob);
    } catch (e) {
      throw new MalformedInputError('E_BAD_TOWER_EXPORT', `${what}: the blob of locator ${a.locator} is not base64 (${(e as Error).message})`);
    }
    const list = blobs.get(a.locator);
    if (list) list.push(blob);
    else blobs.set(a.locator, [blob]);
  }
  return { message, blobs };
}

/** A ladder a tower keeps: the outpoint it takes, its rungs (verified), lowest fee first. */
export type VerifiedLadder = { outpoint: string; value_sat: number; rungs: Rung[] };

/**
 * A breach a tower keeps: the revoked commitment, its delay, and per output its ladder and (unverified until the
 * cheater's HTLC transaction is seen) its second stage's — `others`: the second stages other appointments under the
 * same locator gave for that output (mergeBreaches), tried in turn when the first does not verify.
 */
export type Breach = {
  commitment: string;
  to_self_delay: number;
  outputs: { ladder: VerifiedLadder; second_stage?: { rungs: string[]; others?: string[][] } }[];
};

const bad = (what: string, why: string) => new MalformedInputError('E_BAD_TOWER_EXPORT', `${what}: ${why}`);

function parseTx(hex: string, what: string): Transaction {
  try {
    return Transaction.fromRaw(fromHex(hex, what), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  } catch (e) {
    throw bad(what, `not a transaction (${(e as Error).message})`);
  }
}

/** The parts of a scure transaction BIP-143 signs, as ./tx.ts has them. */
function asTx(t: Transaction): Tx {
  return {
    version: t.version, lockTime: t.lockTime,
    inputs: Array.from({ length: t.inputsLength }, (_, i) => t.getInput(i)).map((x) => ({ txid: toHex(x.txid!), vout: x.index!, sequence: x.sequence!, witness: x.finalScriptWitness ?? [] })),
    outputs: Array.from({ length: t.outputsLength }, (_, i) => t.getOutput(i)).map((o) => ({ amount: o.amount!, script: o.script! })),
  };
}

/**
 * `hexes` checked as a ladder spending `prevout` through the revocation key: one input, one output
 * (the same on every rung), the revocation branch of the output's own script, a valid SIGHASH_ALL
 * signature, fees and rates strictly rising.
 */
export function verifyLadder(hexes: readonly string[], prevout: { txid: string; vout: number; script: Uint8Array; amount: bigint }, toSelfDelay: number, what: string): VerifiedLadder {
  const outpoint = `${prevout.txid}:${prevout.vout}`;
  const rungs: Rung[] = [];
  let pays: Uint8Array | undefined;
  for (const [k, hex] of hexes.entries()) {
    const at = `${what}, rung ${k}`;
    const t = parseTx(hex, at);
    if (t.inputsLength !== 1 || t.outputsLength !== 1) throw bad(at, 'a justice rung has one input and one output');
    const tx = asTx(t);
    const input = tx.inputs[0]!;
    if (`${input.txid}:${input.vout}` !== outpoint) throw bad(at, `it spends ${input.txid}:${input.vout}, not ${outpoint}`);
    const w = input.witness!;
    if (w.length !== 3) throw bad(at, 'its witness is not a revocation spend (signature, selector or key, witness script)');
    const [signature, selector, witnessScript] = w as [Uint8Array, Uint8Array, Uint8Array];
    if (!equalBytes(p2wsh(witnessScript), prevout.script)) throw bad(at, `its witness script is not the one of ${outpoint}`);
    const s = decodeBolt3Script(witnessScript);
    let key: Uint8Array;
    if (s?.kind === 'to_local') {
      if (!equalBytes(selector, Uint8Array.of(1))) throw bad(at, 'it does not take the revocation branch of to_local (selector 1)');
      if (s.toSelfDelay !== toSelfDelay) throw bad(at, `the script's to_self_delay is ${s.toSelfDelay}, not the blob's ${toSelfDelay}`);
      key = s.revocationPubkey;
    } else if (s?.kind === 'offered_htlc' || s?.kind === 'received_htlc') {
      if (selector.length !== 33 || !equalBytes(hash160(selector), s.revocationPubkeyHash)) throw bad(at, 'it does not take the revocation branch of the HTLC (the key whose HASH160 the script checks)');
      key = selector;
    } else {
      throw bad(at, 'its script is no revocable BOLT 3 output (to_local, an HTLC)');
    }
    if (signature.length < 9 || signature[signature.length - 1] !== SIGHASH_ALL) throw bad(at, 'its signature is not SIGHASH_ALL');
    let compact: Uint8Array;
    try {
      compact = compactFromDer(signature.subarray(0, signature.length - 1));
    } catch {
      throw bad(at, 'its signature is not strict DER');
    }
    const digest = segwitV0Sighash({ ...tx, inputs: [{ ...input, witness: [] }] }, 0, witnessScript, prevout.amount, SIGHASH_ALL);
    if (!nobleEcdsa.verifyCompact(compact, digest, key)) throw bad(at, 'its signature is not the revocation key\'s');
    const out = tx.outputs[0]!;
    if (pays === undefined) pays = out.script;
    else if (!equalBytes(pays, out.script)) throw bad(at, 'it pays another script than the rungs below');
    const fee = prevout.amount - out.amount;
    const vsize = Math.ceil(weight(tx) / 4);
    const last = rungs.at(-1);
    if (fee <= 0n) throw bad(at, 'it pays no fee');
    if (last && (fee <= BigInt(last.fee) || Number(fee) / vsize <= last.fee / last.vsize)) throw bad(at, 'the ladder\'s fees and rates do not rise');
    rungs.push({ txid: t.id, hex, fee: Number(fee), vsize });
  }
  if (rungs.length === 0) throw bad(what, 'an empty ladder');
  return { outpoint, value_sat: Number(prevout.amount), rungs };
}

/** The most a blob inflates to (967 outputs × 2 ladders × 64 rungs of ~500 bytes would be more: no commitment has that many worth a ladder). */
export const MAX_PLAINTEXT = 8 * 1024 * 1024;

/** The blob's plaintext, inflated (at most MAX_PLAINTEXT bytes) and checked against its schema (junk: E_BAD_TOWER_EXPORT). */
function laddersOf(plaintext: Uint8Array, what: string): JusticeLadders {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(inflateRawSync(plaintext, { maxOutputLength: MAX_PLAINTEXT })));
  } catch (e) {
    throw bad(what, `its plaintext is not deflated JSON (${(e as Error).message})`);
  }
  if (!Value.Check(JusticeLaddersSchema, value)) {
    const first = Value.Errors(JusticeLaddersSchema, value).First();
    throw bad(what, `its plaintext is not justice ladders (${first?.path || '/'}: ${first?.message ?? 'invalid'})`);
  }
  return value;
}

/**
 * A blob matched by its locator, opened against the revoked commitment the tower saw on chain
 * (`commitmentHex`, as the node gave it): undefined when it does not open under that txid (not
 * this commitment's: another's locator, or junk); else every ladder verified (verifyLadder) —
 * E_BAD_TOWER_EXPORT for anything that is not the party's justice for that commitment.
 */
export function openBreach(commitmentHex: string, blob: Uint8Array, what: string): Breach | undefined {
  const commitment = parseTx(commitmentHex, 'the commitment');
  const plaintext = openAppointment(commitment.id, blob);
  if (plaintext === undefined) return undefined;
  const l = laddersOf(plaintext, what);
  const seen = new Set<number>();
  const outputs = l.outputs.map((o, i): Breach['outputs'][number] => {
    const input = parseTx(o.rungs[0]!, `${what}, output ${i}`).getInput(0);
    const vout = input.index ?? -1;
    const spent = vout >= 0 && vout < commitment.outputsLength ? commitment.getOutput(vout) : undefined;
    if (!spent || seen.has(vout)) throw bad(`${what}, output ${i}`, `it does not spend an output of ${commitment.id} of its own`);
    seen.add(vout);
    const ladder = verifyLadder(o.rungs, { txid: commitment.id, vout, script: spent.script!, amount: spent.amount! }, l.to_self_delay, `${what}, output ${i}`);
    return { ladder, ...(o.second_stage ? { second_stage: { rungs: o.second_stage.rungs } } : {}) };
  });
  return { commitment: commitment.id, to_self_delay: l.to_self_delay, outputs };
}

/** Whether a verified ladder takes a to_local output (its witness script's kind): the one whose to_self_delay the script fixes. */
function takesToLocal(l: VerifiedLadder): boolean {
  const w = parseTx(l.rungs[0]!.hex, 'a verified rung').getInput(0).finalScriptWitness;
  return w !== undefined && w.length === 3 && decodeBolt3Script(w[2]!)?.kind === 'to_local';
}

/**
 * Several appointments under one locator that all opened and verified against the same commitment
 * (`breaches`, in file order), as one breach. Anyone who knows the commitment's txid — the cheater —
 * can open the party's blob and seal a part of it again (a ladder cut to its lowest rung, an output
 * left out, another to_self_delay where no to_local output checks it, a second stage of junk, which
 * is verified only once the HTLC transaction is mined): every rung he keeps still verifies. So no
 * appointment wins by coming first: per output, the ladder reaching the highest fee (then the one
 * with more rungs); every output any of them takes; the to_self_delay a to_local ladder's script
 * fixes, else the shortest given; every second stage given for an output, kept to be tried in turn.
 */
export function mergeBreaches(breaches: readonly Breach[]): Breach {
  const first = breaches[0]!;
  const best = new Map<string, Breach['outputs'][number]>();
  const seconds = new Map<string, string[][]>();
  const reach = (l: VerifiedLadder) => [l.rungs.at(-1)!.fee, l.rungs.length] as const;
  for (const b of breaches) {
    for (const o of b.outputs) {
      const key = o.ladder.outpoint;
      const held = best.get(key);
      const [fee, n] = reach(o.ladder);
      if (!held || fee > reach(held.ladder)[0] || (fee === reach(held.ladder)[0] && n > reach(held.ladder)[1])) best.set(key, { ladder: o.ladder });
      const list = seconds.get(key) ?? [];
      for (const r of [o.second_stage?.rungs, ...(o.second_stage?.others ?? [])]) if (r && !list.some((x) => x.join() === r.join())) list.push(r);
      seconds.set(key, list);
    }
  }
  const checked = breaches.filter((b) => b.outputs.some((o) => takesToLocal(o.ladder))).map((b) => b.to_self_delay);
  const outputs = [...best].map(([key, o]) => {
    const [rungs, ...others] = seconds.get(key)!;
    return { ...o, ...(rungs ? { second_stage: { rungs, ...(others.length > 0 ? { others } : {}) } } : {}) };
  });
  return { commitment: first.commitment, to_self_delay: Math.min(...(checked.length > 0 ? checked : breaches.map((b) => b.to_self_delay))), outputs };
}

/** The txid a second-stage ladder waits for (its rungs' input): the cheater's HTLC transaction. */
export function secondStageTxid(rungs: readonly string[], what: string): string {
  const input = parseTx(rungs[0]!, what).getInput(0);
  return toHex(input.txid!);
}

/**
 * A second stage's ladder verified once the cheater's HTLC transaction (`htlcHex`) is seen: the
 * ladder on its output 0 through the revocation branch (verifyLadder). Its txid is the one every
 * rung spends (checked there), so it is the HTLC transaction the party built the ladder on, which
 * spends `parent`'s output: nothing else has that txid.
 */
export function secondStageLadder(breach: Pick<Breach, 'to_self_delay'>, parent: VerifiedLadder, rungs: readonly string[], htlcHex: string, what: string): VerifiedLadder {
  const h = parseTx(htlcHex, 'the HTLC transaction');
  if (h.outputsLength < 1) throw bad(what, `${h.id} has no output: it is not the HTLC transaction of ${parent.outpoint}`);
  const out = h.getOutput(0);
  return verifyLadder(rungs, { txid: h.id, vout: 0, script: out.script!, amount: out.amount! }, breach.to_self_delay, what);
}
