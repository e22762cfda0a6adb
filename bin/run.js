#!/usr/bin/env node
// Production entry. `--version` is answered before anything is imported (runbooks and
// monitoring call it often); everything else goes to the bundled CLI.
import { createRequire } from 'node:module';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const { version } = createRequire(import.meta.url)('../package.json');
  process.stdout.write(`offchain/${version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const { main } = await import('../dist/offchain.js');
  await main(argv);
}
