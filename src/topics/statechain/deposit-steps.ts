/**
 * The deposit's roles as `statechain deposit` runs them (src/lib/statechain/deposit.ts, the
 * owner's steps, and operator.ts hold the protocol; owner.ts its invariants): one row per
 * message a run can read, and `--start`, which reads none — who runs it, what it holds,
 * checks, writes (before its answer leaves), prints — and the step, which the command
 * dispatches on; and --funding read as a wallet PSBT or a raw transaction.
 * Not here: any check or signature of the protocol's own, the flags (../deposit.ts).
 */
import { type Command } from '@oclif/core';
import { MalformedInputError, StateConflictError, UsageError } from '../../lib/errors.ts';
import { flagValue } from '../../lib/cli/flags.ts';
import type { Network } from '../../lib/network.ts';
import type { OwnerRecord, PendingDeposit } from '../../lib/statechain/owner.ts';
import type { Documents as StateStore } from '../../lib/store/sqlite/records.ts';
import { StatechainCommand } from './command.ts';
import { relativeBlocks } from './flags.ts';

/** The flags the steps read (../deposit.ts declares them). */
type DepositFlags = {
  'operator-key'?: string; funding?: string; interval: number; 'initial-lock'?: string; 'min-confirmations'?: number; confirmations?: string; 'deposit-confirmations'?: string;
  'backup-fee': number; margin: number; anchor?: boolean;
};

/** What a message step is given: its network and value, the state store (opened first), and the checked --initial-lock. */
type StepInput = { network: Network; value: Record<string, unknown>; store: StateStore; initialLock: number };

/** One row of the roles' table: the columns say what `run` does, in the order it does it. */
export type DepositStep<I = StepInput> = { by: string; holds: string; checks: string; writes: string; out: string; run: (input: I) => Promise<Record<string, unknown>> };

const lib = {
  deposit: () => import('../../lib/statechain/deposit.ts'),
  schemas: () => import('../../lib/statechain/schemas.ts'),
};

export abstract class DepositRoles<T extends typeof Command> extends StatechainCommand<T> {
  /**
   * Before any step: the retired --confirmations refused (E_FLAG_RENAMED, so an old value is
   * never read as an assertion), --deposit-confirmations warned about, --initial-lock read.
   */
  protected depositFlags(): { initialLock: number } {
    const f = this.flags as DepositFlags;
    if (f.confirmations !== undefined) {
      throw new UsageError(
        'E_FLAG_RENAMED',
        'statechain-deposit --confirmations is retired: the confirmations the operator\'s terms require are now --min-confirmations N; --confirmations, which elsewhere asserts a coin\'s confirmations offline, is read by no deposit step: drop it',
      );
    }
    if (f['deposit-confirmations'] !== undefined) this.term.warn('--deposit-confirmations is deprecated and ignored by statechain-deposit (no deposit step reads the deposit\'s confirmations); elsewhere it is now --confirmations');
    const initialLock = relativeBlocks(f['initial-lock'] ?? '+12960', '--initial-lock', (line) => this.term.warn(line));
    return { initialLock };
  }

  /** Step 1, `--start`: the first row of the roles' table, the one that reads no message. */
  protected readonly depositStart: DepositStep<{ network: Network }> = {
    by: 'owner', holds: 'nothing', checks: '--operator-key', writes: 'deposit-<O>: its new share, the operator pinned', out: 'deposit-request',
    run: async ({ network }) => {
      const f = this.flags as DepositFlags;
      const dep = await lib.deposit();
      if (f['operator-key'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --operator-key: the operator whose signed statements you will trust for this coin');
      const { parsePublicKey } = await import('../../lib/keys/keys.ts');
      const operatorKey = flagValue(() => parsePublicKey(f['operator-key']!, '--operator-key'));
      const ctx = await this.ownerContext(network);
      const { pending, message } = dep.startDeposit(ctx, operatorKey);
      await (await this.store(network)).write(`deposit-${pending.share}`, pending);
      return message;
    },
  };

  /** The roles' steps by the message they read, in the order a deposit runs them. */
  protected readonly depositSteps: Record<string, DepositStep> = {
    'statechain/deposit-request': {
      by: 'operator', holds: 'nothing for this coin', checks: 'the owner\'s signature, the terms (--interval, --initial-lock, --min-confirmations, --backup-fee, --margin)', writes: 'op-<id>, its share sealed', out: 'deposit-offer (coin id, share, proof, address, terms)',
      run: async ({ network, value, initialLock }) => {
        const f = this.flags as DepositFlags;
        const { offeredTerms } = await import('./operator-steps.ts');
        const terms = () => offeredTerms({ interval: f.interval, initialLock, minConfirmations: f['min-confirmations'], backupFee: f['backup-fee'], margin: f.margin, anchor: f.anchor });
        return this.operatorAnswer(network, 'statechain/deposit-request', value, terms);
      },
    },
    'statechain/deposit-offer': {
      by: 'owner', holds: 'deposit-<O>', checks: 'the pinned operator, its statement and proof, the terms against our floor, --funding unmalleable', writes: 'coin-<id> depositing, our nonce issued; deposit-<O> removed', out: 'deposit-backup (backup 1 at tip + initial lock)',
      run: async ({ network, value, store }) => {
        const f = this.flags as DepositFlags;
        const dep = await lib.deposit();
        const offer = await this.decode((await lib.schemas()).DepositOfferSchema, value);
        if (f.funding === undefined) throw new UsageError('E_USAGE', 'step 3 needs --funding FILE: the unsigned transaction that will pay the coin\'s address');
        const fundingBytes = await this.readFlagInput('--funding', f.funding);
        const fundingHex = await this.fundingHex(fundingBytes, network);
        // This step answered before (its answer lost, or a crash before deposit- was removed): the same request.
        const existing = await store.read<OwnerRecord>(`coin-${offer.coin_id}`);
        const again = dep.depositRequestedBefore(existing, offer, fundingHex);
        if (again !== undefined) {
          await store.remove(`deposit-${offer.statement.owner_share}`);
          return again;
        }
        const pending = await store.read<PendingDeposit>(`deposit-${offer.statement.owner_share}`);
        if (pending === undefined) throw new StateConflictError('E_UNKNOWN_COIN', 'no deposit request of ours matches this offer (wrong --state-dir?)');
        if (f['operator-key'] !== undefined) {
          // The operator was pinned at step 1; a key given again must be the same one (a deposit begun before the pin takes it here).
          const { toHex } = await import('../../lib/bytes.ts');
          const { parsePublicKey } = await import('../../lib/keys/keys.ts');
          const given = toHex(flagValue(() => parsePublicKey(f['operator-key']!, '--operator-key')));
          if (pending.operator_auth !== undefined && pending.operator_auth !== given) throw new UsageError('E_USAGE', `--operator-key differs from the operator named at step 1 (${pending.operator_auth})`);
          pending.operator_auth = given;
        }
        const ctx = await this.ownerContext(network);
        const tip = await (await this.coinChain(network)).tip();
        if (existing !== undefined) throw new StateConflictError('E_COIN_EXISTS', `coin ${offer.coin_id} is already in this state directory`);
        const out = await dep.depositBackup(pending, offer, fundingHex, tip.height, await this.floor(), ctx);
        await store.write(`coin-${offer.coin_id}`, out.record);
        await store.remove(`deposit-${pending.share}`);
        return out.message;
      },
    },
    'statechain/deposit-backup': {
      by: 'operator', holds: 'op-<id>', checks: 'the owner\'s signature and proof, backup 1 on the funding', writes: 'op-<id> active, backup 1 counted', out: 'deposit-cosigned',
      run: async ({ network, value }) => this.operatorAnswer(network, 'statechain/deposit-backup', value),
    },
    'statechain/deposit-cosigned': {
      by: 'owner', holds: 'coin-<id> depositing', checks: 'the statement says exactly what we asked for, the operator\'s partial signature', writes: 'coin-<id> active, backup 1 signed', out: 'statechain/coin (then fund the coin)',
      run: async ({ network, value }) => {
        const dep = await lib.deposit();
        const cos = await this.decode((await lib.schemas()).DepositCosignedSchema, value);
        const ctx = await this.ownerContext(network);
        const { coinView } = await import('../../lib/statechain/transfer.ts');
        const record = await this.ownerStep(network, cos.coin_id, async (r) => {
          const next = await dep.depositFinish(r, cos, ctx);
          return { record: next, message: next };
        });
        return { ...coinView(record), next: `backup 1 is signed (locktime ${record.statement.backups[0]!.locktime}): now sign and broadcast the funding transaction ${record.statement.outpoint!.split(':')[0]}` };
      },
    },
  };

  /** The row for this message, or E_WRONG_MESSAGE naming what the command reads. */
  protected depositStep(type: string): DepositStep {
    const step = Object.hasOwn(this.depositSteps, type) ? this.depositSteps[type] : undefined;
    if (step === undefined) throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-deposit reads statechain/deposit-request, -offer, -backup or -cosigned, not ${type}`);
    return step;
  }

  /**
   * --funding: a wallet PSBT (base64, hex or binary; inputs checked native segwit from their
   * witness_utxo) or a raw unsigned transaction in hex (inputs looked up on the node; offline,
   * refused with how to give it).
   */
  private async fundingHex(bytes: Uint8Array, network: Network): Promise<string> {
    const { detectFormat } = await import('../../lib/cli/input.ts');
    const fund = await import('../../lib/statechain/funding.ts');
    const text = new TextDecoder().decode(bytes).trim();
    if (/^([0-9a-fA-F]{2})+$/.test(text) && !text.toLowerCase().startsWith('70736274ff')) {
      const hex = text.toLowerCase();
      const chain = await this.chain(network);
      if (chain.kind !== 'rpc') return fund.fundingFromRaw(hex, undefined);
      return fund.fundingFromRaw(hex, await Promise.all(fund.fundingInputs(hex).map((i) => chain.utxo(i.txid, i.vout))));
    }
    const doc = detectFormat(bytes);
    if (doc.format !== 'psbt') throw new UsageError('E_USAGE', '--funding must hold an unsigned transaction in hex or a PSBT');
    const { parsePsbt } = await import('../../lib/psbt/parse.ts');
    return fund.fundingFromPsbt(parsePsbt(doc.psbt));
  }
}
