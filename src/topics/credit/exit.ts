/**
 * The mint's unilateral exit (`credit exit`): its latest fully signed state and a TRUC child
 * spending its payout, the child signed by the mint key or by the operator's wallet (--child),
 * optionally submitted as a package. The package is src/lib/credit/exit.ts; the transaction
 * that freezes the contract is CreditCommand.mintExit. `serve mint`'s POST /v1/operator/exit
 * runs the same step with its request in place of the flags (no --child there).
 */
import type { Command } from '@oclif/core';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import type { ChainSource } from '../../lib/chain/index.ts';
import { CreditCommand } from './command.ts';

type ExitFlags = { 'fee-rate': string; to?: string; child?: string; broadcast?: boolean };

/** A service's exit request (serve mint's POST /v1/operator/exit): the one-shot's flags but --child. */
export type ExitRequest = { feeRate: string; to?: string; broadcast: boolean; dryRun: boolean; contract?: string; /** false: build as if no pin were there (a watcher's sizing build, which prices the pin itself). */ pin?: false };

export abstract class ExitSteps<T extends typeof Command> extends CreditCommand<T> {
  /**
   * The exit package (credit/exit), the contract frozen unless --dry-run. `given`: a service's
   * request in place of this command's flags (the fee guard's limits stay the command's: its
   * defaults in a service, as for the gateway's claim).
   */
  protected async creditExit(given?: ExitRequest): Promise<Record<string, unknown>> {
    const f: ExitFlags = given
      ? { 'fee-rate': given.feeRate, ...(given.to !== undefined ? { to: given.to } : {}), broadcast: given.broadcast }
      : this.flags as unknown as ExitFlags;
    const network = this.network();
    const { buildExit, exitPin } = await import('../../lib/credit/exit.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const to = f.to ? decodeAddress(f.to, network, '--to') : undefined;
    const feeRate = await this.guardedRate(f['fee-rate']);
    const feeLimits = await this.feeLimits();
    const childPsbt = f.child === undefined ? undefined : await this.walletChild(f.child);
    return this.mintExit(network, 'the mint', async (ctx, record) => {
      // ctx.random: the command's own source for the one-shot; a service's per step (serve mint's withMint).
      // With a node, a child of the state the user hung on its change (a pin) is replaced: this child pays more than it.
      const pin = ctx.chain.kind === 'rpc' && given?.pin !== false ? await exitPin(ctx.chain, record) : undefined;
      let message: Record<string, unknown> = buildExit(record, ctx.mint, { feeRate, feeLimits, to, auxRand: ctx.random.bytes(32, 'credit/exit/aux'), ...(pin ? { replaces: pin } : {}) });
      if (childPsbt) {
        const { withWalletChild } = await import('../../lib/credit/exit-child.ts');
        const { exitPrevouts } = await import('../../lib/credit/exit.ts');
        const { CORE_POLICY } = await import('../../lib/truc/check.ts');
        message = withWalletChild(message as Parameters<typeof withWalletChild>[0], childPsbt, exitPrevouts(record), CORE_POLICY, feeLimits);
      }
      if (!f.broadcast) return { message };
      const built = message;
      return { message, send: () => this.submit(ctx.chain, built) };
    }, given && { broadcast: given.broadcast, 'dry-run': given.dryRun, ...(given.contract ? { contract: given.contract } : {}) });
  }

  /**
   * Submit state + child as one package; throws unless the node accepted it (the freeze then
   * as mintExit decides). Returns what the node answered (Core's names, fees in sat).
   */
  private async submit(chain: ChainSource, message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!(message.child as { hex?: string }).hex) {
      throw new UsageError('E_USAGE', 'the child is not signed (the payout address is not the mint key\'s): sign child.psbt with bitcoin-cli walletprocesspsbt and pass it back with --child');
    }
    const { submitExit } = await import('../../lib/credit/exit.ts');
    return submitExit(chain, message);
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
