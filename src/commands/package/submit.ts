import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { chainFlags } from '../../lib/cli/flags.ts';
import { PackageCommand, policyFlags } from '../../topics/package/command.ts';
import { UsageError } from '../../lib/errors.ts';

export default class PackageSubmit extends PackageCommand<typeof PackageSubmit> {
  static override summary = 'Check a signed TRUC package and submit it to the node (submitpackage), printing each transaction\'s result.';
  static override description =
    'The parent as package child took it (the package/child message, raw hex, a PSBT or one of our messages carrying it) and the signed ' +
    'child (bitcoin-cli walletprocesspsbt\'s answer, a finalized PSBT or raw hex). The package is first checked by every rule of package check ' +
    'against the node\'s own getmempoolinfo (a refusal: exit 4, nothing sent), then submitted with --max-fee-rate passed as submitpackage\'s ' +
    'maxfeerate. Accepted: a package/submitted message with each transaction\'s answer (by wtxid) and the transactions it replaced (an earlier ' +
    'child, by TRUC sibling eviction). Refused: E_BROADCAST_REJECTED (exit 4) with the node\'s reasons. Nothing is written either way.';
  static override examples = [
    {
      description: 'Without a node: check the fixture package as submit would (--dry-run prints package check\'s package/checked and submits nothing)',
      command: '<%= config.bin %> package submit --parent fixtures/truc/parent.psbt --child fixtures/truc/child.hex --dry-run',
    },
    {
      description: 'Submit the child a wallet signed (walletprocesspsbt\'s answer) with its parent (package child\'s message)',
      command: '<%= config.bin %> package submit --parent child.json --child signed.json --rpc-url http://127.0.0.1:18443',
    },
  ];
  static override flags = {
    parent: Flags.string({ description: 'the parent: package child\'s message, raw hex, a finalized PSBT, or one of our messages carrying it', helpValue: 'HEX|PSBT|FILE', required: true }),
    child: Flags.string({ description: 'the signed child: walletprocesspsbt\'s answer, a finalized PSBT or raw hex', helpValue: 'HEX|PSBT|FILE', required: true }),
    prevout: Flags.string({ description: 'an input that is not a package output and that the node cannot show: outpoint, value in sat, script hex (repeat)', helpValue: 'TXID:VOUT:AMOUNT:SCRIPT', multiple: true }),
    'max-fee-rate': Flags.string({ description: 'submitpackage\'s maxfeerate: refuse either transaction paying more, sat/vB (default 10000: Core\'s; 0: none)', helpValue: 'SAT/VB', helpGroup: 'FEE' }),
    'dry-run': Flags.boolean({ description: 'check the package as submit would, print package check\'s package/checked message, and submit nothing (no node needed)' }),
    ...policyFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const network = this.network();
    const { checkTrucPackage, checkedMessage } = await import('../../lib/truc/check.ts');
    const { parsePrevout } = await import('../../lib/truc/input.ts');
    const { submittedMessage } = await import('../../lib/truc/submit.ts');
    const { satPerKvb } = await import('../../topics/package/command.ts');
    const { CORE_MAX_FEE_RATE } = await import('../../lib/tx/fee-guard.ts');
    const maxKvb = satPerKvb('max-fee-rate', f['max-fee-rate'], CORE_MAX_FEE_RATE * 1000);
    const parent = await this.packageTx('parent', f.parent, 'parent');
    const child = await this.packageTx('child', f.child, 'child');
    const chain = await this.chain(network);
    if (!f['dry-run'] && (chain.kind !== 'rpc' || !chain.submitPackage)) throw new UsageError('E_CHAIN_OFFLINE', 'package submit needs a node: pass --rpc-url (or submit both with bitcoin-cli submitpackage)');
    const policy = await this.policy(chain, maxKvb / 1000);
    const { prevouts } = await this.completePrevouts(chain, [parent.raw, child.raw], [...(f.prevout ?? []).map(parsePrevout), ...parent.prevouts, ...child.prevouts]);
    const verdict = checkTrucPackage(parent.raw, child.raw, prevouts, policy);
    if (f['dry-run']) return { message: checkedMessage(verdict, policy, network) };
    const result = await chain.submitPackage!([parent.raw, child.raw], maxKvb);
    return { message: submittedMessage(result as Parameters<typeof submittedMessage>[0], verdict, network) };
  }
}
