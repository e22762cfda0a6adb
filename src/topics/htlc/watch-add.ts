/**
 * `htlc watch-add` and `ptlc watch-add`: the payer, once it funded the output, keeps its
 * description in the state directory (records kind `htlc-payer`, by funding outpoint) so that
 * `offchain watch` over that directory refunds it once the locktime is final (docs/watch.md).
 * The payer's step, not `create`'s: the description is often made by the recipient (who draws
 * the preimage or t), and only the payer knows the funding outpoint, which the watcher then asks
 * about with one gettxout a block instead of scanning the UTXO set. The watcher's
 * --key-file/--key-env is the payer's key, as is this command's (below). A rerun with the same terms prints the same answer;
 * other terms for a registered outpoint are refused (E_STATE_CONFLICT).
 *
 * It takes the payer's key (--key-file/--key-env, never argv): one that is not the contract's
 * payer is refused here (E_WRONG_KEY), and the record is signed with it (BIP-340 over its terms:
 * outpoint, amount, `to`, the created message — payer.ts signPayerRecord). A watcher signs a
 * refund only for a record its own key signed: whoever edits the database does not choose where
 * the refund goes (a record that fails: `hold`, E_STATE_CORRUPT, nothing signed).
 */
import type { Command } from '@oclif/core';
import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { chainFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError, RefusedError, StateConflictError } from '../../lib/errors.ts';
import { HtlcCommand, outpointFlags, parseOutpoint } from './command.ts';
import type { PayerRecord } from './payer.ts';

export const watchAddFlags = {
  ...inputFlags,
  ...keyFlags,
  ...outpointFlags,
  to: Flags.string({ description: 'the address the refund pays (the payer\'s)', helpValue: 'ADDRESS', required: true }),
  ...stateFlags,
  ...chainFlags,
};

/** The record kind a payer's outputs are kept under (src/lib/store/sqlite/records.ts). */
export const PAYER_RECORDS = 'htlc-payer';

/** The first locktime that is a unix time, not a height (BIP-65, Core's LOCKTIME_THRESHOLD). */
const LOCKTIME_THRESHOLD = 500_000_000;

export abstract class WatchAddSteps<T extends typeof Command> extends HtlcCommand<T> {
  protected async watchAdd(kind: 'htlc' | 'ptlc'): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', `expected a ${kind}/created message`);
    const { payerContract, payerTerms, signPayerRecord, wrongPayerKey } = await import('./payer.ts');
    const c = await payerContract(kind, doc.value);
    const network = this.network(c.network);
    const terms = payerTerms(c);
    // A watcher keeps heights: a time lock's finality follows median-time-past, which its rounds do not track.
    if (terms.locktime >= LOCKTIME_THRESHOLD) {
      throw new RefusedError('E_CLTV_NOT_HEIGHT', `the ${kind.toUpperCase()}'s locktime ${terms.locktime} is a unix time: a watcher keeps block-height locktimes only; run ${kind} refund once it is final`);
    }
    const f = this.flags as { outpoint: string; to: string };
    const outpoint = parseOutpoint(f.outpoint);
    await this.destination(network); // --to of this network
    const amount = await this.outputAmount(network, outpoint, terms.scriptPubKey, terms.address, c.amountSat);
    const contract = `${outpoint.txid}:${outpoint.vout}`;
    const terms0: PayerRecord = { contract, kind, outpoint, amount_sat: Number(amount), to: f.to, created: doc.value as Record<string, unknown> };
    // The payer's key: checked against the contract's payer here, not first when the refund is due; it signs the record.
    const key = await this.keyPair(network);
    const wrong = wrongPayerKey(terms0, terms.payer, key.publicKey);
    if (wrong) throw new RefusedError('E_WRONG_KEY', wrong.replace(/^E_WRONG_KEY: /, ''));
    const record: PayerRecord = { ...terms0, sig: await signPayerRecord(terms0, key) };
    const { Records } = await import('../../lib/store/sqlite/records.ts');
    const { sameJson } = await import('../../lib/json.ts');
    const db = (await this.state(network, { create: true }))!;
    const records = new Records<PayerRecord>(db, PAYER_RECORDS);
    await db.step(() => {
      const had = records.get(contract);
      if (had !== undefined && !sameJson(had, record)) {
        throw new StateConflictError('E_STATE_CONFLICT', `${contract} is already kept in ${this.stateDir(network)} with other terms (a ${had.kind.toUpperCase()} refunding to ${had.to})`);
      }
      if (had === undefined) records.put(contract, record);
    });
    return {
      message: {
        type: `${kind}/watched`, version: 1, network, contract, outpoint, amount_sat: record.amount_sat,
        address: terms.address, locktime: terms.locktime, refund_from_height: terms.locktime, to: f.to,
      },
    };
  }
}
