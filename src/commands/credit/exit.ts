import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand } from './shared/command.ts';
import { contractFlag } from './shared/flags.ts';
import { chainFlags, feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import type { ChainSource } from '../../lib/chain/index.ts';

export default class ExitCredit extends CreditCommand<typeof ExitCredit> {
  /** Also `exit-credit`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['exit-credit'];
  static override summary = 'The mint\'s unilateral exit: its latest signed state plus a CPFP child, to mine before expiry.';
  static override description =
    'Prints the latest fully signed state and a TRUC (v3) child spending the mint\'s payout that brings the pair to --fee-rate; ' +
    'when the payout address is the mint key\'s own P2TR address the child is signed too. Submit both with bitcoin-cli submitpackage, ' +
    'or pass --broadcast with a node. Must be mined by the contract\'s expiry height. The contract is frozen from then on: the mint ' +
    'signs no later state, close or rollover of it (E_CONTRACT_FROZEN), unless --dry-run; run exit-credit again to bump the fee. It runs while the mint ' +
    'streams, taking the last committed state.';
  static override examples = [
    {
      description: 'After one payment, the mint exits the demo contract at 10 sat/vB',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> sign-update --role user --amount 5000 --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> sign-update --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1001 --confirmations 1 > /dev/null && ' +
        '<%= config.bin %> exit-credit --fee-rate 10 --key-env MINT_KEY --state-dir $D/mint',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    'fee-rate': Flags.string({ description: 'target fee rate of state + child together, sat/vB', required: true, helpValue: 'SAT/VB' }),
    to: Flags.string({ description: 'where the child pays (default: the payout address)', helpValue: 'ADDRESS' }),
    child: Flags.string({
      description: 'the child signed by your wallet, when the payout address is the wallet\'s: the finalized PSBT from bitcoin-cli walletprocesspsbt (its JSON answer, base64 or binary)',
      helpValue: 'FILE',
    }),
    broadcast: Flags.boolean({ description: 'submit state and child as a package to the node (needs --rpc-url) and print its answer under "broadcast"' }),
    'dry-run': Flags.boolean({ description: 'print the exit package without freezing the contract (to check it, e.g. with testmempoolaccept)', exclusive: ['broadcast'] }),
    ...feeGuardFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { buildExit } = await import('../../lib/credit/exit.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const to = this.flags.to ? decodeAddress(this.flags.to, network, '--to') : undefined;
    const feeRate = await this.guardedRate(this.flags['fee-rate']);
    const feeLimits = await this.feeLimits();
    // One transaction with the mint's other writers (a streaming mint included): the exit
    // takes the latest committed state and freezes the contract, so no later state of it
    // is signed that this exit would leave unpaid. With --broadcast the freeze is written
    // only once the node has accepted the package, in the same transaction: a failed
    // broadcast (no node, a refusal, an unreachable node) changes nothing on disk.
    const childPsbt = this.flags.child === undefined ? undefined : await this.walletChild(this.flags.child);
    const message = await this.withMint(network, async (ctx, store) => {
      if (this.flags.broadcast && !ctx.chain.submitPackage) throw new UsageError('E_CHAIN_OFFLINE', '--broadcast needs a node: pass --rpc-url (or drop --broadcast and submit the printed package with bitcoin-cli submitpackage)');
      const id = await this.pickContract(store, ['open', 'closing', 'rolling-over']);
      const record = await store.get(id);
      if (!record) throw new UsageError('E_USAGE', `the mint has no contract ${id}`);
      let message: Record<string, unknown> = buildExit(record, ctx.mint, { feeRate, feeLimits, to, auxRand: this.random.bytes(32, 'credit/exit/aux') });
      if (childPsbt) {
        const { withWalletChild } = await import('../../lib/credit/exit-child.ts');
        const { exitPrevouts } = await import('../../lib/credit/exit.ts');
        const { CORE_POLICY } = await import('../../lib/truc/check.ts');
        message = withWalletChild(message as Parameters<typeof withWalletChild>[0], childPsbt, exitPrevouts(record), { ...CORE_POLICY, maxFeeRate: Math.round(feeLimits.maxFeeRate * 1000) }, feeLimits);
      }
      if (this.flags.broadcast) message = { ...message, broadcast: await this.submit(ctx.chain, message, Math.round(feeLimits.maxFeeRate * 1000)) };
      if (!record.exiting && !this.flags['dry-run']) await store.put({ ...record, exiting: { state: record.latest!.state, txid: record.latest!.txid } });
      return message;
    }, { nonces: 'none' }); // an exit signs with no nonce: nothing of the host's is kept under --state-dir
    return { message };
  }

  /**
   * Submit state + child as one package; throws (nothing is marked) unless the node
   * accepted it. Returns what the node answered (Core's names, fees in sat).
   */
  private async submit(chain: ChainSource, message: Record<string, unknown>, maxFeeRateSatPerKvb: number): Promise<Record<string, unknown>> {
    if (!(message.child as { hex?: string }).hex) {
      throw new UsageError('E_USAGE', 'the child is not signed (the payout address is not the mint key\'s): sign child.psbt with bitcoin-cli walletprocesspsbt and pass it back with --child');
    }
    const { submitExit } = await import('../../lib/credit/exit.ts');
    return submitExit(chain, message, maxFeeRateSatPerKvb);
  }

  /** --child: a finalized PSBT as bitcoin-cli walletprocesspsbt prints it (JSON with "psbt"), or the PSBT itself. */
  private async walletChild(path: string): Promise<Uint8Array> {
    const { detectFormat } = await import('../../lib/cli/input.ts');
    const doc = detectFormat(await this.readFlagInput('--child', path), `--child ${path}`);
    if (doc.format === 'psbt') return doc.psbt;
    const psbt = doc.format === 'json' ? (doc.value as { psbt?: unknown }).psbt : undefined;
    if (typeof psbt !== 'string') throw new MalformedInputError('E_MALFORMED_PSBT', `--child ${path} holds neither a PSBT nor a JSON object with a "psbt" field`);
    const { psbtBytesFromBase64 } = await import('../../lib/psbt/base64-field.ts');
    return psbtBytesFromBase64(psbt, `--child ${path}: psbt`);
  }
}
