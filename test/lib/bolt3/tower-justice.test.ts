/**
 * src/lib/bolt3/tower-justice.ts: what Alice hands a tower for Bob's revoked commitments, and what
 * the tower keeps of it once one is on chain. The invariants: nothing secret or readable leaves
 * (locators and blobs only, in locator order); a blob opens only under its commitment's txid; a
 * tower keeps only Alice's revocation spends of that commitment — anything else, even sealed under
 * the right txid by someone who saw the breach (the key is then public), is refused
 * (E_BAD_TOWER_EXPORT): any byte of any rung changed, a rung of another output, the cheater's own
 * HTLC transaction as a rung, a ladder out of order, junk plaintext.
 */
import fc from 'fast-check';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { sealAppointment } from '../../../src/lib/bolt3/appointment.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { derFromCompact, nobleEcdsa } from '../../../src/lib/bolt3/ecdsa.ts';
import { pointOf } from '../../../src/lib/bolt3/keys.ts';
import { toLocalScript } from '../../../src/lib/bolt3/scripts.ts';
import { SIGHASH_ALL, segwitV0Sighash } from '../../../src/lib/bolt3/sighash.ts';
import { serializeTx, type Tx } from '../../../src/lib/bolt3/tx.ts';
import { justiceLadders, openBreach, readTowerJustice, secondStageLadder, secondStageTxid, towerExport, type JusticeLadders } from '../../../src/lib/bolt3/tower-justice.ts';
import type { LadderPlan } from '../../../src/lib/bolt3/tower-ladder.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { refusal } from '../../setup/refusal.ts';
import { hexOf } from '../../independent/tx.ts';
import { A, CHANNEL_ID, sha } from './two-parties.ts';
import { DEST, breached } from './tower-breach.ts';

const PLAN: LadderPlan = { destinationScript: DEST, minRate: 1000, maxRate: 20_000, maxFeeShare: 0.5, rungs: 4, incrementalRate: 100 };
const b = breached('legacy');
const ladders = justiceLadders(b.record, b.revoked.txid, A.revocation, PLAN)!;
const seal = (l: unknown) => sealAppointment(b.revoked.txid, deflateRawSync(new TextEncoder().encode(JSON.stringify(l)))).blob;
const open = (l: unknown) => openBreach(b.revoked.hex, seal(l), 'test');

describe('the export: nothing readable before the breach', () => {
  it('one appointment per revoked commitment, in locator order; no channel id, txid, amount or key in the clear', () => {
    const { message, empty } = towerExport(b.record, 'regtest', A.revocation, PLAN);
    expect(empty).toEqual([]);
    expect(message.appointments).toHaveLength(2); // commitments 0 and 1 (2 is current)
    const locators = message.appointments.map((a) => a.locator);
    expect(locators).toEqual([...locators].sort());
    expect(locators).toContain(b.revoked.txid.slice(0, 32));
    const text = JSON.stringify(message);
    for (const secretOrPublic of [CHANNEL_ID.slice(0, 64), b.revoked.txid, hexOf(A.revocation), b.current.txid.slice(0, 32), hexOf(DEST)]) expect(text).not.toContain(secretOrPublic);
    expect(Object.keys(message).sort()).toEqual(['appointments', 'network', 'next', 'type', 'version']);
  });

  it('--from N exports only the commitments from N on; none revoked at all is refused (E_NOTHING_REVOKED)', () => {
    expect(towerExport(b.record, 'regtest', A.revocation, PLAN, 1).message.appointments).toHaveLength(1);
    refusal(() => towerExport(b.record, 'regtest', A.revocation, PLAN, 2), 'E_NOTHING_REVOKED', 4);
    refusal(() => towerExport({ ...b.record, remote_revoked_through: -1 }, 'regtest', A.revocation, PLAN), 'E_NOTHING_REVOKED', 4);
  });

  it('another key than the revocation basepoint\'s signs nothing (E_WRONG_SIGNING_KEY)', () => {
    refusal(() => towerExport(b.record, 'regtest', A.htlc, PLAN), 'E_WRONG_SIGNING_KEY', 4);
  });
});

describe('the tower: only the party\'s justice for that commitment', () => {
  it('the blob opens against the revoked commitment as broadcast: every ladder verified, fees as Bob\'s outputs make them', () => {
    const { message } = towerExport(b.record, 'regtest', A.revocation, PLAN);
    const { blobs } = readTowerJustice(JSON.parse(JSON.stringify(message)), 'test');
    const breach = openBreach(b.revoked.hex, blobs.get(b.revoked.txid.slice(0, 32))![0]!, 'test')!;
    expect(breach.commitment).toBe(b.revoked.txid);
    expect(breach.to_self_delay).toBe(30);
    expect(breach.outputs.map((o) => o.ladder.outpoint.split(':')[1]).sort()).toEqual(['0', '1', '2']);
    for (const o of breach.outputs) {
      const value = b.commitment.outputs[Number(o.ladder.outpoint.split(':')[1])]!.amount;
      expect(o.ladder.value_sat).toBe(Number(value));
      expect(o.ladder.rungs).toHaveLength(4);
      // Second stages: legacy HTLCs only, verified against Bob's HTLC transaction once it is seen.
      const vout = Number(o.ladder.outpoint.split(':')[1]);
      const htlc = b.htlcTxs.get(vout);
      expect(Boolean(o.second_stage)).toBe(htlc !== undefined);
      if (o.second_stage && htlc) {
        expect(secondStageTxid(o.second_stage.rungs, 'test')).toBe(htlc.txid);
        const l = secondStageLadder(breach, o.ladder, o.second_stage.rungs, b.htlcHex.get(vout)!, 'test');
        expect(l.outpoint).toBe(`${htlc.txid}:0`);
        // Bob's other HTLC transaction is not this output's: refused.
        const other = [...b.htlcHex].find(([v]) => v !== vout)![1];
        refusal(() => secondStageLadder(breach, o.ladder, o.second_stage!.rungs, other, 'test'), 'E_BAD_TOWER_EXPORT', 3);
      }
    }
  });

  it('a wrong txid (Bob\'s current commitment) does not open the blob', () => {
    expect(openBreach(b.current.hex, seal(ladders), 'test')).toBeUndefined();
  });

  it('any byte of any rung changed is refused (property)', () => {
    const rungs = ladders.outputs.flatMap((o, i) => o.rungs.map((_, k) => ({ i, k })));
    fc.assert(fc.property(fc.constantFrom(...rungs), fc.nat(), fc.integer({ min: 1, max: 255 }), ({ i, k }, at, flip) => {
      const l: JusticeLadders = structuredClone(ladders);
      const bytes = Buffer.from(l.outputs[i]!.rungs[k]!, 'hex');
      bytes[at % bytes.length]! ^= flip;
      l.outputs[i]!.rungs[k] = bytes.toString('hex');
      refusal(() => open(l), 'E_BAD_TOWER_EXPORT', 3);
    }), { numRuns: 120 });
  });

  it('a ladder out of order, a rung of another output, an output twice, another to_self_delay: refused', () => {
    const swap: JusticeLadders = structuredClone(ladders);
    swap.outputs[0]!.rungs.reverse();
    refusal(() => open(swap), 'E_BAD_TOWER_EXPORT', 3);
    const mixed: JusticeLadders = structuredClone(ladders);
    mixed.outputs[0]!.rungs[1] = ladders.outputs[1]!.rungs[1]!;
    refusal(() => open(mixed), 'E_BAD_TOWER_EXPORT', 3);
    refusal(() => open({ ...ladders, outputs: [ladders.outputs[0], ladders.outputs[0]] }), 'E_BAD_TOWER_EXPORT', 3);
    refusal(() => open({ ...ladders, to_self_delay: 31 }), 'E_BAD_TOWER_EXPORT', 3);
  });

  it('the cheater\'s own HTLC transaction dressed as a rung (it spends the HTLC output, not through the revocation key): refused', () => {
    for (const [vout, hex] of b.htlcHex) {
      const i = ladders.outputs.findIndex((o) => o.rungs[0]!.includes(Buffer.from(b.commitment.txid, 'hex').reverse().toString('hex') + Buffer.from([vout, 0, 0, 0]).toString('hex')));
      expect(i).toBeGreaterThanOrEqual(0);
      const l: JusticeLadders = structuredClone(ladders);
      l.outputs[i]!.rungs = [hex];
      expect(refusal(() => open(l), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/revocation|witness/);
    }
  });

  it('a rung that is not the revocation branch, or signed by another key for a script of its own: refused', () => {
    // Bob re-signs each of Alice's rungs with his own key: for to_local, the ELSE (delayed) branch; for an HTLC, his key
    // in the place of the revocation key; and for to_local again, a look-alike script whose revocation key is his.
    const bob = sha(new TextEncoder().encode('bob attacker'));
    const bobPub = pointOf(bob);
    /** The rung with another witness: `witness(sig)`, sig Bob's over `script` (or, `script` undefined, Alice's own, kept). */
    const resign = (hex: string, witness: (sig: Uint8Array) => Uint8Array[], script: Uint8Array | undefined, amount: bigint) => {
      const t = Transaction.fromRaw(fromHex(hex), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
      const i = t.getInput(0);
      const tx: Tx = { version: t.version, lockTime: t.lockTime, inputs: [{ txid: toHex(i.txid!), vout: i.index!, sequence: i.sequence! }], outputs: [{ amount: t.getOutput(0).amount!, script: t.getOutput(0).script! }] };
      const sig = script ? Uint8Array.from([...derFromCompact(nobleEcdsa.signCompact(segwitV0Sighash(tx, 0, script, amount, SIGHASH_ALL), bob)), SIGHASH_ALL]) : i.finalScriptWitness![0]!;
      return toHex(serializeTx({ ...tx, inputs: [{ ...tx.inputs[0]!, witness: witness(sig) }] }));
    };
    for (const [i, o] of ladders.outputs.entries()) {
      const t = Transaction.fromRaw(fromHex(o.rungs[0]!), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
      const [, selector, script] = t.getInput(0).finalScriptWitness! as [Uint8Array, Uint8Array, Uint8Array];
      const amount = b.commitment.outputs[t.getInput(0).index!]!.amount;
      const cases = selector.length === 1
        ? [
          resign(o.rungs[0]!, (sig) => [sig, new Uint8Array(0), script], undefined, amount), // Alice's signature, the delayed branch
          resign(o.rungs[0]!, (sig) => [sig, Uint8Array.of(2), script], undefined, amount), // a non-minimal IF
          resign(o.rungs[0]!, (sig) => [sig, new Uint8Array(0), script], script, amount), // the delayed branch, Bob's signature
          resign(o.rungs[0]!, (sig) => [sig, Uint8Array.of(1), toLocalScript(bobPub, 30, bobPub)], toLocalScript(bobPub, 30, bobPub), amount), // his own script
        ]
        : [resign(o.rungs[0]!, (sig) => [sig, bobPub, script], script, amount)]; // his key where the revocation key goes
      for (const hex of cases) {
        const l: JusticeLadders = structuredClone(ladders);
        l.outputs[i]!.rungs = [hex];
        refusal(() => open(l), 'E_BAD_TOWER_EXPORT', 3);
      }
    }
  });

  it('junk sealed under the right txid (anyone can once the breach is public) is refused, never another error (property)', () => {
    const junk = fc.oneof(
      fc.jsonValue(),
      fc.record({ v: fc.constant(1), to_self_delay: fc.integer({ min: 1, max: 65535 }), outputs: fc.array(fc.record({ rungs: fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }).map(hexOf), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 3 }) }),
    );
    fc.assert(fc.property(junk, (value) => {
      let error: unknown;
      try {
        open(value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OffchainError);
      expect((error as OffchainError).code).toBe('E_BAD_TOWER_EXPORT');
    }), { numRuns: 200 });
    // Not deflated at all, or a deflate bomb: refused too.
    refusal(() => openBreach(b.revoked.hex, sealAppointment(b.revoked.txid, new TextEncoder().encode(JSON.stringify(ladders))).blob, 'test'), 'E_BAD_TOWER_EXPORT', 3);
    const bomb = sealAppointment(b.revoked.txid, deflateRawSync(new Uint8Array(64 * 1024 * 1024).fill(0x20))).blob;
    expect(refusal(() => openBreach(b.revoked.hex, bomb, 'test'), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/larger than 8388608/);
  });

  it('a message whose blob is not base64, or not this schema, is refused on reading', () => {
    refusal(() => readTowerJustice({ type: 'bolt3/tower-justice', version: 1, network: 'regtest', appointments: [{ locator: '00'.repeat(16), blob: 'A'.repeat(41) }], next: '' }, 'test'), 'E_BAD_TOWER_EXPORT', 3);
    expect(() => readTowerJustice({ type: 'bolt3/tower-justice', version: 1, network: 'regtest', appointments: [{ locator: 'zz', blob: base64.encode(new Uint8Array(40)) }], next: '' }, 'test')).toThrow(OffchainError);
  });
});
