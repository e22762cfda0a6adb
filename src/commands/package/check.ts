import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { satPerKvb } from '../../topics/package/command.ts';
import { UsageError } from '../../lib/errors.ts';

const HEX_TX = /^([0-9a-fA-F]{2})+$/;


export default class PackageCheck extends OffchainCommand<typeof PackageCheck> {
  static override summary = 'Check a 1-parent-1-child TRUC package as Bitcoin Core\'s submitpackage would, before anything is broadcast.';
  static override description =
    'Bitcoin Core\'s verdict, string for string: each transaction alone first (a parent paying the relay floor alone enters alone, and its child ' +
    'must then pay the floor on its own size), then the package for what failed alone only for its fee. ' +
    'Both version 3 (and no v3/non-v3 mix), the child spends the parent, parent ≤ 10,000 vB and child ≤ 1,000 vB (sigop-adjusted), ' +
    'at most one dust output and only in a zero-fee transaction, the child spends the parent\'s dust (ephemeral dust), a P2A (OP_1 <4e73>) ' +
    'spent with an empty witness, the package feerate at least --min-relay-fee / --mempool-min-fee, each transaction\'s own feerate at most --max-fee-rate. ' +
    'A refusal exits 4 naming the rule (E_TRUC_…) and Bitcoin Core\'s reject string; docs/truc.md lists them. ' +
    'Each transaction is raw hex (inline or a file) or a finalized PSBT whose inputs carry witness_utxo; a raw transaction\'s inputs ' +
    '(the parent\'s, and the child\'s other than the parent\'s outputs) are given with --prevout. Those inputs are taken as confirmed: ' +
    'the node, not this check, knows whether they are.';
  static override examples = [
    {
      description: 'A zero-fee parent with a pay-to-anchor (a finalized PSBT: its input\'s value comes from witness_utxo) and the child that spends the anchor',
      command: '<%= config.bin %> package check --parent fixtures/truc/parent.psbt --child fixtures/truc/child.hex',
    },
    {
      description: 'The same parent as raw hex, its input given with --prevout, checked against a node whose mempool floor is 2 sat/vB',
      command: '<%= config.bin %> package check --parent fixtures/truc/parent.hex --prevout $(cat fixtures/truc/parent.prevout) --child fixtures/truc/child.hex --mempool-min-fee 2',
    },
  ];
  static override flags = {
    parent: Flags.string({ description: 'the parent: raw transaction hex or a finalized PSBT in base64, or a file holding either (or a binary PSBT); "-": standard input', helpValue: 'HEX|PSBT|FILE', required: true }),
    child: Flags.string({ description: 'the child: raw transaction hex or a finalized PSBT in base64 (e.g. walletprocesspsbt\'s), or a file holding either', helpValue: 'HEX|PSBT|FILE', required: true }),
    prevout: Flags.string({ description: 'an input of a raw transaction that is not the parent\'s output: its outpoint, value in sat and output script in hex (repeat)', helpValue: 'TXID:VOUT:AMOUNT:SCRIPT', multiple: true }),
    'min-relay-fee': Flags.string({ description: 'the node\'s minrelaytxfee, sat/vB (default 0.1: Bitcoin Core 30\'s)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
    'mempool-min-fee': Flags.string({ description: 'the node\'s mempoolminfee when its mempool is full (getmempoolinfo), sat/vB (default: none)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
    'max-fee-rate': Flags.string({ description: 'the highest feerate either transaction may pay, sat/vB, as submitpackage\'s maxfeerate (default 10000; 0: none)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
    'dust-relay-fee': Flags.string({ description: 'the node\'s dustrelayfee, sat/vB (default 3)', helpValue: 'SAT/VB', helpGroup: 'POLICY' }),
  };

  protected async execute(): Promise<CommandResult> {
    const { checkTrucPackage, checkedMessage, CORE_POLICY } = await import('../../lib/truc/check.ts');
    const { packageTxFrom, parsePrevout } = await import('../../lib/truc/input.ts');
    const f = this.flags;
    const policy = {
      minRelayFeeRate: satPerKvb('min-relay-fee', f['min-relay-fee'], CORE_POLICY.minRelayFeeRate),
      mempoolMinFeeRate: satPerKvb('mempool-min-fee', f['mempool-min-fee'], CORE_POLICY.mempoolMinFeeRate),
      maxFeeRate: satPerKvb('max-fee-rate', f['max-fee-rate'], CORE_POLICY.maxFeeRate),
      dustRelayFeeRate: satPerKvb('dust-relay-fee', f['dust-relay-fee'], CORE_POLICY.dustRelayFeeRate),
    };
    const given = (f.prevout ?? []).map(parsePrevout);
    const inline = (value: string) => HEX_TX.test(value) || value.startsWith('cHNidP8');
    const read = async (flag: string, value: string) => packageTxFrom(inline(value) ? new TextEncoder().encode(value) : await this.readFlagInput(`--${flag}`, value), `--${flag}`);
    if (f.parent === '-' && f.child === '-') throw new UsageError('E_USAGE', '--parent - and --child - both read standard input: give one of them a file');
    const parent = await read('parent', f.parent);
    const child = await read('child', f.child);
    const network = this.network();
    const verdict = checkTrucPackage(parent.raw, child.raw, [...given, ...parent.prevouts, ...child.prevouts], policy);
    return { message: checkedMessage(verdict, policy, network) };
  }
}
