/**
 * The CLI's single entry: the explicit command table oclif reads (package.json →
 * oclif.commands, strategy "explicit") and `main`, which bin/run.js calls. Bundled into
 * dist/offchain.js by scripts/build.mjs.
 */
import { execute } from '@oclif/core';
import KeyNew from './commands/key/new.ts';
import KeyShow from './commands/key/show.ts';

export const COMMANDS = {
  'key:new': KeyNew,
  'key:show': KeyShow,
};

export async function main(argv: string[], opts: { development?: boolean } = {}): Promise<void> {
  await execute({ args: argv, dir: import.meta.url, development: opts.development });
}
