import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { StatechainCommand } from './shared/command.ts';
import { floorFlags, operatorStoreFlags, relativeBlocks, statechainFlags, withoutConfirmations } from './shared/flags.ts';
import { MalformedInputError, StateConflictError, UsageError } from '../../lib/errors.ts';
import { flagValue } from '../../lib/cli/flags.ts';

export default class StatechainDeposit extends StatechainCommand<typeof StatechainDeposit> {
  /** Also `statechain-deposit`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['statechain-deposit'];
  static override summary = 'Create a statechain coin: owner and operator shares, backup 1 signed before the coin is funded.';
  static override description =
    'Five steps, one per run, each reading the previous output: (1) the owner, with --start --operator-key KEY, makes its share and pins the operator; (2) the operator answers ' +
    'with the coin id, its share, proof of possession, address and terms (--interval, --initial-lock +N, --min-confirmations, --backup-fee, --margin); ' +
    '(3) the owner gives --funding FILE, the unsigned funding transaction paying the address (a walletcreatefundedpsbt PSBT as is, or a raw ' +
    'unsigned transaction in hex, its inputs looked up on the node (--rpc-url; offline a raw transaction is refused); its inputs must be native ' +
    'segwit so signing cannot change its txid), checks the terms against its own floor ' +
    '(--min-interval, --max-backup-fee, --max-backup-fee-percent) and asks for backup 1 at tip + initial lock; (4) the operator co-signs it; ' +
    '(5) the owner checks the operator\'s signed statement says exactly what it asked for (amount, outpoint, backup 1, terms), finishes backup 1 ' +
    'and prints statechain/coin. Only then sign and broadcast the funding. ' +
    'Each party\'s --key-file is its authentication key; the shares are generated here and kept in --state-dir (0600).';
  static override examples = [
    {
      description: 'Step 1, the owner asks an operator for a coin',
      command: 'D=$(mktemp -d); ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> statechain-deposit --start --operator-key $(cat fixtures/statechain/operator.pub) --key-env ALICE_KEY --state-dir $D/sc-alice',
    },
    {
      description: 'Step 2, the operator answers the fixture request (offline: the tip height is given)',
      command: 'D=$(mktemp -d); OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> statechain-deposit --key-env OPERATOR_KEY --state-dir $D/sc-operator --tip-height 200 --in fixtures/statechain/deposit-request.json',
    },
    {
      description: 'Step 5, the owner finishes backup 1 (from a copy of the fixture owner\'s state before it)',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/alice-depositing $D/sc-alice && ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> statechain-deposit --key-env ALICE_KEY --state-dir $D/sc-alice --in fixtures/statechain/deposit-cosigned.json',
    },
  ];
  static override flags = {
    // No step of a deposit reads the deposit's confirmations (the coin is funded after step 5): no --confirmations assertion here.
    ...withoutConfirmations(statechainFlags),
    ...operatorStoreFlags,
    ...floorFlags,
    start: Flags.boolean({ description: 'step 1 (owner): make a share and ask for a coin; no input is read' }),
    'operator-key': Flags.string({ description: 'step 1 (owner, required): the operator whose offer you will take, hex; its statements alone are trusted', helpValue: 'PUBKEY' }),
    funding: Flags.string({ description: 'step 3 (owner): the funding paying the coin\'s address, unsigned: a wallet PSBT, or a raw transaction in hex', helpValue: 'FILE' }),
    interval: Flags.integer({ description: 'step 2 (operator): blocks between owners\' backup locktimes', default: 144, min: 2, max: 100_000 }),
    'initial-lock': Flags.string({ description: 'step 2 (operator): +N: backup 1\'s locktime is the owner\'s tip (at step 3) plus N blocks, 1 to 100000 (default +12960); a bare N (the old spelling) means the same, with a warning', helpValue: '+N' }),
    'min-confirmations': Flags.integer({
      description: 'step 2 (operator): the confirmations the deposit needs, written in the terms: the operator refuses to move the coin with fewer (default 3; was --confirmations); an owner sets its own floor at statechain-verify',
      helpValue: 'N',
      min: 1,
      max: 100_000,
    }),
    // The old spellings, kept for a deprecation period (docs/cli.md): --confirmations was the terms' floor above;
    // under the one vocabulary it would assert a coin's confirmations, so an old script's value is refused, never read as the other.
    confirmations: Flags.string({ hidden: true, description: 'retired here: the terms\' confirmations are --min-confirmations (refused, E_FLAG_RENAMED, so an old value is never read as an assertion)', helpValue: 'N' }),
    'deposit-confirmations': Flags.string({ hidden: true, description: 'retired here: no deposit step reads the deposit\'s confirmations (elsewhere: --confirmations); accepted and ignored, with a warning', helpValue: 'N' }),
    'backup-fee': Flags.integer({ description: 'step 2 (operator): fee every backup pays, sat', default: 1000, min: 0, max: 2_100_000_000_000_000 }),
    margin: Flags.integer({ description: 'step 2 (operator): no backup locktime within this many blocks of the tip', default: 36, min: 0, max: 100_000 }),
    anchor: Flags.boolean({ description: 'step 2 (operator): backups pay zero fee (give --backup-fee 0) and carry a keyless pay-to-anchor output, so whoever holds one bumps it at broadcast with package child (a pair\'s parts, a watchtower)' }),
    'max-initial-lock': Flags.integer({ description: 'step 3 (owner): refuse terms whose backup 1 (your refund) is final more than this many blocks after the tip', default: 25_920, min: 1, max: 100_000, helpGroup: 'SAFETY FLOOR' }),
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    if (f.confirmations !== undefined) {
      throw new UsageError(
        'E_FLAG_RENAMED',
        'statechain-deposit --confirmations is retired: the confirmations the operator\'s terms require are now --min-confirmations N; --confirmations, which elsewhere asserts a coin\'s confirmations offline, is read by no deposit step: drop it',
      );
    }
    if (f['deposit-confirmations'] !== undefined) this.term.warn('--deposit-confirmations is deprecated and ignored by statechain-deposit (no deposit step reads the deposit\'s confirmations); elsewhere it is now --confirmations');
    const initialLock = relativeBlocks(f['initial-lock'] ?? '+12960', '--initial-lock', (line) => this.term.warn(line));
    const dep = await import('../../lib/statechain/deposit.ts');
    if (f.start) {
      const network = this.network();
      if (f['operator-key'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --operator-key: the operator whose signed statements you will trust for this coin');
      const { parsePublicKey } = await import('../../lib/keys/keys.ts');
      const operatorKey = flagValue(() => parsePublicKey(f['operator-key']!, '--operator-key'));
      const ctx = await this.ownerContext(network);
      const { pending, message } = dep.startDeposit(ctx, operatorKey);
      await (await this.store(network)).write(`deposit-${pending.share}`, pending);
      return { message };
    }
    const step = await this.readStep('a statechain/deposit-* message (or --start)');
    const network = step.network;
    const schemas = await import('../../lib/statechain/schemas.ts');
    const op = await import('../../lib/statechain/operator.ts');
    const store = await this.store(network);
    switch (step.type) {
      case 'statechain/deposit-request': {
        const req = await this.decode(schemas.DepositRequestSchema, step.value);
        const terms = { interval: f.interval, initial_lock: initialLock, confirmations: f['min-confirmations'] ?? 3, backup_fee_sat: f['backup-fee'], margin: f.margin, ...(f.anchor ? { anchor: true as const } : {}) };
        const { checkTerms, termsFromJson } = await import('../../lib/statechain/coin.ts');
        checkTerms(termsFromJson(terms));
        const out = op.offerDeposit(req, terms, await this.operatorContext(network));
        await this.operatorCreate(network, out.record);
        return { message: out.message };
      }
      case 'statechain/deposit-offer': {
        const offer = await this.decode(schemas.DepositOfferSchema, step.value);
        if (f.funding === undefined) throw new UsageError('E_USAGE', 'step 3 needs --funding FILE: the unsigned transaction that will pay the coin\'s address');
        const fundingBytes = await this.readFlagInput('--funding', f.funding);
        const fundingHex = await this.fundingHex(fundingBytes, network);
        // This step answered before (its answer lost, or a crash before deposit- was removed): the same request.
        const existing = await store.read<import('../../lib/statechain/owner.ts').OwnerRecord>(`coin-${offer.coin_id}`);
        const again = dep.depositRequestedBefore(existing, offer, fundingHex);
        if (again !== undefined) {
          await store.remove(`deposit-${offer.statement.owner_share}`);
          return { message: again };
        }
        const pending = await store.read<import('../../lib/statechain/owner.ts').PendingDeposit>(`deposit-${offer.statement.owner_share}`);
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
        const out = await dep.depositBackup(pending, offer, fundingHex, tip.height, this.floor(), ctx);
        await store.write(`coin-${offer.coin_id}`, out.record);
        await store.remove(`deposit-${pending.share}`);
        return { message: out.message };
      }
      case 'statechain/deposit-backup': {
        const req = await this.decode(schemas.DepositBackupSchema, step.value);
        return {
          message: await this.operatorStep(network, req.coin_id, async (r) => op.cosignDepositBackup(r, req, await this.operatorContext(network))),
        };
      }
      case 'statechain/deposit-cosigned': {
        const cos = await this.decode(schemas.DepositCosignedSchema, step.value);
        const ctx = await this.ownerContext(network);
        const { coinView } = await import('../../lib/statechain/transfer.ts');
        const record = await this.ownerStep(network, cos.coin_id, async (r) => {
          const next = await dep.depositFinish(r, cos, ctx);
          return { record: next, message: next };
        });
        return { message: { ...coinView(record), next: `backup 1 is signed (locktime ${record.statement.backups[0]!.locktime}): now sign and broadcast the funding transaction ${record.statement.outpoint!.split(':')[0]}` } };
      }
      default:
        throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-deposit reads statechain/deposit-request, -offer, -backup or -cosigned, not ${step.type}`);
    }
  }

  /**
   * --funding: a wallet PSBT (base64, hex or binary; inputs checked native segwit from their
   * witness_utxo) or a raw unsigned transaction in hex (inputs looked up on the node; offline,
   * refused with how to give it).
   */
  private async fundingHex(bytes: Uint8Array, network: import('../../lib/network.ts').Network): Promise<string> {
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
