/**
 * What dist/device-pay.cjs gives for `@oclif/core` (scripts/build.mjs resolves the package to
 * this file in that bundle alone): oclif's own flag builders, argument builders and parser —
 * the same modules the full CLI runs, so the same flag definitions, parsing and parse errors
 * (their words and exit codes) — and a Command holding only what our base command
 * (lib/cli/base-command.ts) uses of oclif's: its argv, its config, its id, and `parse`, which
 * is oclif's Command.parse without the `preparse` hook (the full CLI runs with no plugins and
 * declares no hooks: package.json oclif, src/cli.ts loadOptions).
 *
 * Left out, and why that costs nothing here: oclif's Config.load (package.json, the 400 kB
 * manifest, the plugins — the command table, help and listings need them; ./device-pay.ts hands
 * --help and every other invocation it does not take to the full CLI), its command lookup and
 * routing, and the modules of help, ux and the logger that `@oclif/core`'s index loads.
 */
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import * as Parser from '@oclif/core/parser';

export { Args, Flags, Parser };

/** The configuration a command built here sees: what lib/cli/base-command.ts reads of oclif's (the commands, only when a configuration file exists). */
export type LiteConfig = { bin: string; commands: { id: string; flags: Record<string, unknown> }[] };

type FlagTable = Record<string, unknown>;
type ParseOptions = { flags?: FlagTable; baseFlags?: FlagTable; args?: FlagTable; strict?: boolean; enableJsonFlag?: boolean };

export abstract class Command {
  static id: string;
  static aliases: string[] = [];
  static flags: FlagTable = {};
  static baseFlags: FlagTable = {};
  static args: FlagTable = {};
  static strict = true;
  static enableJsonFlag = false;
  static summary?: string;
  static description?: string;
  static examples?: unknown[];

  id: string | undefined;
  parsed = false;

  constructor(
    public argv: string[],
    public config: LiteConfig,
  ) {
    this.id = (this.constructor as typeof Command).id;
  }

  abstract run(): Promise<unknown>;

  /** oclif's Command.parse (lib/command.js), without the preparse hook: no plugin or hook is loaded in the full CLI's run either. */
  async parse(options: ParseOptions, argv: string[] = this.argv): Promise<{ flags: Record<string, unknown>; args: Record<string, unknown> }> {
    // aggregateFlags (lib/util/aggregate-flags.js) with enableJsonFlag false, as lib/cli/base-command.ts passes it.
    if (options.enableJsonFlag) throw new Error('oclif-lite: --json is not offered');
    const opts = { context: this, ...options, flags: { ...options.baseFlags, ...options.flags } };
    this.argv = [...argv];
    const results = await Parser.parse(argv, opts as unknown as Parameters<typeof Parser.parse>[1]);
    this.warnIfFlagDeprecated(results.flags ?? {});
    this.parsed = true;
    return results as unknown as { flags: Record<string, unknown>; args: Record<string, unknown> };
  }

  /** Overridden by lib/cli/base-command.ts (its own notice for a renamed flag). */
  protected warnIfFlagDeprecated(_flags: Record<string, unknown>): void {}
}

export { flush } from '@oclif/core/flush';
