import type { CommandResult } from '../../lib/cli/base-command.ts';
import { StatechainCommand } from '../../topics/statechain/command.ts';
import { floorFlags, statechainFlags } from '../../topics/statechain/flags.ts';
import { StateConflictError } from '../../lib/errors.ts';

export default class StatechainVerify extends StatechainCommand<typeof StatechainVerify> {
  static override summary = 'Check a transfer package as its receiver would, without accepting it or writing anything.';
  static override description =
    'Opens the statechain/transfer-package sealed to your key (the receiver\'s, from statechain-transfer --start) and checks: the operator\'s ' +
    'signed statement; the deposit\'s bytes against its txid, its P2TR output and amount, unspent with the terms\' confirmations (mempool-only is ' +
    'unconfirmed); P = O₁ + S₁ and t₁·G = O₁ + X₁; the sender\'s binding signature; as many backups as the operator signed, each matching one ' +
    'record, numbered contiguously, byte-identical to the template with a valid key-path signature, locktimes one interval apart; the newest ' +
    'pays your share and is above tip + margin; the terms are above your own floor (--min-confirmations, --min-margin, --min-interval, ' +
    '--max-backup-fee, --max-backup-fee-percent; a pair\'s first part also refuses terms without an anchor, E_BACKUP_UNBUMPABLE, unless --allow-unanchored). Prints how many transfers remain, the backup fee and what your backup pays you back. Each failure has its own code (exit 4).';
  static override examples = [
    {
      description: 'Bob checks the fixture package offline (tip 200, the deposit asserted 3 confirmations; with a node, pass --rpc-url instead)',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/bob-receiving $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-verify --key-env BOB_KEY --state-dir $D/sc-bob --tip-height 200 --confirmations 3 --in fixtures/statechain/transfer-package.json',
    },
  ];
  static override flags = { ...statechainFlags, ...floorFlags };

  protected async execute(): Promise<CommandResult> {
    const step = await this.readStep('a statechain/transfer-package');
    const network = step.network;
    const { TransferPackageSchema } = await import('../../lib/statechain/schemas.ts');
    const tr = await import('../../lib/statechain/transfer.ts');
    const pkg = await this.decode(TransferPackageSchema, step.value);
    const pending = await (await this.store(network)).read<import('../../lib/statechain/transfer.ts').PendingReceive | import('../../lib/statechain/joint.ts').JointPending>(`receive-${pkg.coin_id}`);
    if (pending === undefined) throw new StateConflictError('E_NOT_RECEIVING', `we asked for no coin ${pkg.coin_id} (statechain-transfer --start first, same --state-dir)`);
    const auth = await this.keyPair(network);
    // A pair's first part (A) checks the package as its accepting step does (both parts bound, the pair's floor).
    const floor = await this.floor();
    let inner: import('../../lib/statechain/schemas.ts').PackageInner;
    let verify: (facts: import('../../lib/statechain/verify.ts').ChainFacts) => import('../../lib/statechain/verify.ts').Verified;
    if ('parts' in pending) {
      const joint = await import('../../lib/statechain/joint.ts');
      const opened = joint.openJointPackage(pkg, pending, auth.secretKey);
      inner = opened;
      verify = (facts) => joint.jointVerify(pkg, pending, opened, facts, floor);
    } else {
      inner = tr.openPackage(pkg, pending, auth.secretKey);
      verify = (facts) => tr.verifyPackage(pkg, pending, auth.secretKey, facts, floor);
    }
    const facts = await this.chainFacts(network, inner.statement);
    const v = verify(facts);
    const message: Record<string, unknown> = {
      type: 'statechain/verified', version: 1, network, coin_id: pkg.coin_id, transfer_id: pkg.transfer_id, outpoint: v.outpoint, amount_sat: v.amountSat,
      confirmations: v.confirmations, backups: v.backups, latest_locktime: v.latestLocktime, tip_height: facts.tipHeight, transfers_remaining: v.transfersRemaining,
      backup_fee_sat: v.backupFeeSat, backup_value_sat: v.backupValueSat, ...(v.anchor ? { anchor: true } : {}),
    };
    // A second deposit to the coin's address is covered by no backup: report it.
    const chain = await this.coinChain(network);
    if (chain.outputsPaying !== undefined) {
      const { coinKey } = await import('../../lib/statechain/coin.ts');
      const { parsePublicKey } = await import('../../lib/keys/keys.ts');
      const st = inner.statement;
      const others = (await chain.outputsPaying(coinKey(parsePublicKey(st.owner_share), parsePublicKey(st.operator_share)).script)).filter((u) => `${u.txid}:${u.vout}` !== v.outpoint);
      message.other_deposits = others.map((u) => ({ outpoint: `${u.txid}:${u.vout}`, amount_sat: Number(u.value), confirmations: u.confirmations }));
      if (others.length > 0) this.term.warn(`${others.length} other output(s) pay this coin's address: no backup covers them (see other_deposits)`);
    }
    return { message };
  }
}
