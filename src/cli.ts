/**
 * The CLI's single entry: the explicit command table oclif reads (package.json →
 * oclif.commands, strategy "explicit") and `main`, which bin/run.js calls. Bundled into
 * dist/offchain.js by scripts/build.mjs.
 */
import { execute } from '@oclif/core';
import KeyNew from './commands/key/new.ts';
import KeyShow from './commands/key/show.ts';
import MusigInit from './commands/musig/init.ts';
import MusigNonce from './commands/musig/nonce.ts';
import MusigSign from './commands/musig/sign.ts';
import PsbtAnalyze from './commands/psbt/analyze.ts';
import PsbtCombine from './commands/psbt/combine.ts';
import PsbtDecode from './commands/psbt/decode.ts';
import PsbtExtract from './commands/psbt/extract.ts';
import PsbtFinalize from './commands/psbt/finalize.ts';

export const COMMANDS = {
  'key:new': KeyNew,
  'key:show': KeyShow,
  'musig:init': MusigInit,
  'musig:nonce': MusigNonce,
  'musig:sign': MusigSign,
  'psbt:analyze': PsbtAnalyze,
  'psbt:combine': PsbtCombine,
  'psbt:decode': PsbtDecode,
  'psbt:extract': PsbtExtract,
  'psbt:finalize': PsbtFinalize,
};

export async function main(argv: string[], opts: { development?: boolean } = {}): Promise<void> {
  await execute({ args: argv, dir: import.meta.url, development: opts.development });
}
