import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { chainFlags, feeGuardFlags } from '../../lib/cli/flags.ts';
import { PackageCommand, policyFlags } from '../../topics/package/command.ts';
import { UsageError } from '../../lib/errors.ts';

export default class PackageChild extends PackageCommand<typeof PackageChild> {
  static override summary = 'Build the TRUC child that bumps a parent from your own wallet: the package (parent + child) at --fee-rate, checked before it is printed.';
  static override description =
    'The parent is a signed version-3 transaction — raw hex, a finalized PSBT, or one of our messages carrying one (exit-credit\'s exit, ' +
    'statechain-backup\'s statechain/spend, a package/child). The child spends its pay-to-anchor output(s) (OP_1 <4e73>, empty witness) or the ' +
    'output(s) of yours named with --spend, plus the coins of --wallet-psbt, the answer of bitcoin-cli walletcreatefundedpsbt used as is: every ' +
    'output of it must be the wallet\'s own (a child paying anyone else is refused). The fee is taken from the wallet\'s largest output so that ' +
    'parent + child pay --fee-rate on the child\'s largest signed size. The package goes through every rule of package check (exit 4 naming the ' +
    'rule and Bitcoin Core\'s string) and the fee guard before the unsigned child is printed as a package/child message: sign its "psbt" with ' +
    'bitcoin-cli walletprocesspsbt, then package submit. --replaces an earlier child of the same parent pays enough more for the node to swap them ' +
    '(TRUC sibling eviction). The parent\'s fee sets the child\'s: with --rpc-url every input of the parent is the node\'s word (a PSBT or --prevout ' +
    'that disagrees is refused, naming the input); offline they come from --prevout or the PSBT\'s witness_utxo, on trust (listed in ' +
    'parent.inputs_on_trust, and on stderr).';
  static override examples = [
    {
      description: 'Bump the fixture zero-fee parent to 5 sat/vB from a wallet\'s walletcreatefundedpsbt answer',
      command: '<%= config.bin %> package child --parent fixtures/truc/parent.psbt --wallet-psbt fixtures/truc/walletcreatefundedpsbt.answer --fee-rate 5',
    },
  ];
  static override flags = {
    parent: Flags.string({ description: 'the parent: raw hex or a finalized PSBT (inline or a file), or a file holding one of our messages carrying it', helpValue: 'HEX|PSBT|FILE', required: true }),
    'wallet-psbt': Flags.string({ description: 'your wallet\'s coins: bitcoin-cli walletcreatefundedpsbt\'s answer (its JSON, or the PSBT), paying only the wallet\'s own addresses', helpValue: 'FILE', required: true }),
    'fee-rate': Flags.string({ description: 'the package\'s fee rate (parent + child together), sat/vB', helpValue: 'SAT/VB', required: true }),
    spend: Flags.integer({ description: 'a parent output of yours the child spends (P2TR or P2WPKH your wallet signs; repeat). Default: the parent\'s pay-to-anchor output(s)', helpValue: 'VOUT', multiple: true, min: 0 }),
    replaces: Flags.string({ description: 'an earlier child of this parent (signed: walletprocesspsbt\'s answer, a PSBT or hex) that this one must replace: it pays that child\'s fee — as the node\'s mempool holds it, or as the node knows its inputs (needs --rpc-url; a file\'s witness_utxo the node contradicts is refused) — plus the node\'s incremental relay fee on its own size', helpValue: 'FILE' }),
    prevout: Flags.string({ description: 'an input of the parent: its outpoint, value in sat and output script in hex (repeat; or --rpc-url to ask the node)', helpValue: 'TXID:VOUT:AMOUNT:SCRIPT', multiple: true }),
    ...policyFlags,
    ...feeGuardFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const network = this.network();
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    const { buildChild, childMessage } = await import('../../lib/truc/child.ts');
    const { parsePrevout } = await import('../../lib/truc/input.ts');
    const feeRate = Number(f['fee-rate']);
    if (!/^\d+(\.\d{1,3})?$/.test(f['fee-rate'].trim()) || !(feeRate > 0)) throw new UsageError('E_USAGE', `--fee-rate takes a positive number of sat/vB with at most three decimals, got ${f['fee-rate']}`);
    const feeLimits = parseFeeLimits({ maxFeeRate: f['max-fee-rate'], maxFeeShare: f['max-fee-share'] });
    const parent = await this.packageTx('parent', f.parent, 'parent');
    const wallet = await this.walletPsbtAt('--wallet-psbt', f['wallet-psbt']);
    const replaces = f.replaces === undefined ? undefined : await this.packageTx('replaces', f.replaces, 'child');
    const chain = await this.chain(network);
    const policy = await this.policy(chain, feeLimits.maxFeeRate);
    const standing = await this.parentStanding(chain, parent.raw);
    const { prevouts: parentPrevouts, onTrust } = await this.completePrevouts(chain, [parent.raw], [...(f.prevout ?? []).map(parsePrevout), ...parent.prevouts]);
    const walletOnTrust = await this.walletCoinsVouched(chain, wallet);
    const replaced = replaces ? await this.replacedChild(chain, replaces.raw, parent.raw, replaces.prevouts) : undefined;
    const built = buildChild({
      parent: parent.raw, parentPrevouts, wallet, feeRate, feeLimits, policy, incrementalRelayFeeRate: policy.incrementalRelayFeeRate, conflicts: standing.conflicts,
      ...(f.spend === undefined ? {} : { spend: f.spend }),
      ...(replaced ? { replaces: replaced } : {}),
    });
    if (standing.conflicts.length > 0) {
      this.term.warn(`the parent conflicts with ${standing.conflicts.map((c) => `${c.txid} (${c.descendantFee} sat with its descendants)`).join(', ')} in the node's mempool: the child pays for the package to replace it (package RBF), ${built.childFee} sat`);
    }
    if (onTrust.length > 0) {
      this.term.warn(`the parent's fee is computed from input amounts taken on trust (${onTrust.map((p) => `${p.txid}:${p.vout} ${p.amount} sat`).join(', ')}): an overstated one makes the child pay less than --fee-rate; give --rpc-url to have the node say`);
    }
    if (walletOnTrust.length > 0) {
      this.term.warn(`the child's change is computed from --wallet-psbt coin amounts taken on trust (${walletOnTrust.map((p) => `${p.txid}:${p.vout} ${p.amount} sat`).join(', ')}): an overstated one makes the child pay less than --fee-rate; give --rpc-url to have the node say`);
    }
    return { message: childMessage(built, parent.raw, feeRate, network, onTrust.map((p) => `${p.txid}:${p.vout}`), parentPrevouts, walletOnTrust.map((p) => `${p.txid}:${p.vout}`)) };
  }
}
