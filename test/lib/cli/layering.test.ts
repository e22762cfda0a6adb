/**
 * Start-up rules, checked on the source: a command file statically imports only oclif, the
 * base command and flag groups (everything else is imported lazily inside execute(), so
 * `--help` and light commands never load secp256k1 or btc-signer), and the bases commands
 * import load no heavy library either.
 *
 * The layers themselves (no cycles, no upward import, the store through the protocols'
 * ports, no protocol in src/lib/cli/, no test code or devDependency in src/, no import() of
 * a Node builtin) are .dependency-cruiser.cjs, run by `npm run deps` first in `npm test`.
 * This file used to hold two of those checks as regexes over `import … from` lines; the
 * tool sees what they missed (`import type`, lazy `import()`, double quotes, a builtin
 * without `node:`), so they were dropped here. What stays below is that the rules can fail:
 * each one fires on a planted tree, exactly where it should.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { dirname, join, relative } from 'node:path';
import { ROOT, tempDir } from '../../helpers.ts';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `import … from 'x'` at top level, excluding `import type`. */
function staticImports(path: string): string[] {
  const src = readFileSync(path, 'utf8');
  return [...src.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
}

/** Every package a module loads at start-up: its static imports, followed through relative ones. */
function packagesReached(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) walk(join(dirname(file), spec));
      else packages.add(spec);
    }
  };
  walk(entry);
  return packages;
}

const COMMAND_ALLOWED = [/^@oclif\/core$/, /^node:/, /lib\/cli\/base-command\.ts$/, /^(\.\.\/)+topics\/[a-z-]+\/[a-z-]+\.ts$/, /lib\/cli\/flags\.ts$/, /lib\/cli\/store-flags\.ts$/, /lib\/cli\/input\.ts$/, /lib\/cli\/secret-file\.ts$/, /lib\/errors\.ts$/, /lib\/constants\.ts$/, /lib\/envelope\.ts$/, /lib\/bytes\.ts$/, /lib\/network\.ts$/];

describe('layering', () => {
  it('commands import heavy modules lazily', () => {
    const offenders: string[] = [];
    const commands = files(join(ROOT, 'src/commands'));
    // The scan must see what it judges: many command files, each with the imports it has.
    expect(commands.length).toBeGreaterThan(10);
    for (const f of commands) expect(staticImports(f).length, relative(ROOT, f)).toBeGreaterThan(0);
    for (const f of commands) {
      for (const spec of staticImports(f)) {
        if (!COMMAND_ALLOWED.some((re) => re.test(spec))) offenders.push(`${relative(ROOT, f)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the base command loads no curve, PSBT or schema library, directly or through what it imports', () => {
    const heavy = /^(@noble\/curves|@scure\/btc-signer|@sinclair\/typebox|inquirer)(\/|$)/;
    const reached = packagesReached(join(ROOT, 'src/lib/cli/base-command.ts'));
    // chalk comes only through ./terminal.ts: the walk follows relative imports.
    expect(reached.has('chalk'), 'the walk follows imports').toBe(true);
    expect([...reached].filter((s) => heavy.test(s))).toEqual([]);
  });

  it('the topics\' bases commands may import load no curve, PSBT or schema library either, nor the watcher\'s ZMQ (optional, native)', () => {
    const heavy = /^(@noble\/curves|@scure\/btc-signer|@sinclair\/typebox|inquirer|zeromq)(\/|$)/;
    // A topic's shared flags, base class and steps (src/topics/<topic>/): src/lib/cli holds none (issue 43).
    const shared = files(join(ROOT, 'src/topics')).filter((f) => staticImports(f).includes('@oclif/core'));
    expect(shared.length).toBeGreaterThanOrEqual(8);
    for (const path of shared) {
      const base = relative(ROOT, path);
      const reached = packagesReached(path);
      expect(reached.has('@oclif/core'), `${base}: the walk follows imports`).toBe(true);
      expect([...reached].filter((s) => heavy.test(s)), base).toEqual([]);
    }
  });
});

/**
 * A small tree that breaks every rule of .dependency-cruiser.cjs once, beside imports each
 * rule allows: the violations must be exactly the planted ones (so each rule can fail, and
 * none fires on an allowed edge).
 */
const PLANTED: Record<string, string> = {
  'lib/bytes.ts': 'export const b = 1;\n',
  'lib/errors.ts': "import { k } from './musig/bip327.ts';\nexport const e = k;\n", // foundation → primitive
  'lib/musig/bip327.ts': "import { b } from '../bytes.ts';\nimport type { N } from '../store/nonce-store.ts';\nexport const k = b;\nexport type K = N;\n", // primitive → store
  'lib/store/nonce-store.ts': "export type N = number;\n",
  'lib/credit/ports.ts': "import type { D } from '../device/channel.ts';\nexport type P = D;\n", // credit → device (type-only), and a type-only cycle
  'lib/credit/user.ts': "export const u = 1;\n",
  'lib/device/channel.ts': "import type { P } from '../credit/ports.ts';\nexport type D = { p?: P };\n",
  'lib/store/mint-store.ts': "import type { P } from '../credit/ports.ts';\nimport { u } from '../credit/user.ts';\nexport const m = (p: P) => [p, u];\n", // ports: allowed; user.ts: not
  'lib/cli/config.ts': "import type { N } from '../store/nonce-store.ts';\nexport type C = N;\n", // generic store: allowed
  'lib/cli/base.ts': "export const load = () => import('../store/mint-store.ts');\n", // reaches credit/ports through a protocol's store
  'lib/cli/flags.ts': "import { h } from '../htlc/htlc.ts';\nexport const f = h;\n", // a protocol in the CLI layer
  'lib/htlc/htlc.ts': "export const h = 1;\n",
  'lib/htlc/refund.ts': "import { p } from '../ptlc/ptlc.ts';\nexport const r = p;\n", // a protocol built on htlc
  'lib/ptlc/ptlc.ts': "import { h } from '../htlc/htlc.ts';\nexport const p = h;\n", // built on htlc: allowed
  'lib/bolt3/tx.ts': "import { helper } from '../../../test/helpers.ts';\nexport const t = helper;\n", // test code
  'lib/onion/packet.ts': "export const read = () => import('node:fs');\n", // import() of a builtin
  'lib/route/plan.ts': "import fc from 'fast-check';\nimport chalk from 'chalk';\nexport const x = [fc, chalk];\n", // a devDependency; an undeclared package
  'lib/invoice/bolt11.ts': "import { y } from './missing.ts';\nexport const i = y;\n", // unresolvable
  'lib/mystery/thing.ts': "export const z = 1;\n",
  'commands/credit/open.ts': "import { z } from '../../lib/mystery/thing.ts';\nimport { c } from './close.ts';\nimport { s } from '../../topics/credit/command.ts';\nimport { all } from '../../lib/schemas.ts';\nexport const o = [z, c, s, all];\n",
  'commands/credit/close.ts': "export const c = 1;\n",
  'topics/credit/command.ts': "import { c } from '../../commands/credit/close.ts';\nimport { l } from '../../cli.ts';\nexport const s = [c, l];\n", // a topic knows no command
  'cli.ts': "export const l = 1;\n",
  'lib/schemas.ts': "import { h } from './htlc/htlc.ts';\nexport const all = [h];\n", // the catalogue may list every protocol
};

describe('the dependency rules (.dependency-cruiser.cjs)', () => {
  it('each rule fires on a planted violation, and on nothing else', async () => {
    const dir = tempDir('offchain-deps-');
    try {
      for (const [path, text] of Object.entries(PLANTED)) {
        mkdirSync(dirname(join(dir.path, 'src', path)), { recursive: true });
        writeFileSync(join(dir.path, 'src', path), text);
      }
      mkdirSync(join(dir.path, 'test'));
      writeFileSync(join(dir.path, 'test/helpers.ts'), 'export const helper = 1;\n');
      writeFileSync(join(dir.path, 'package.json'), JSON.stringify({ name: 'planted', type: 'module', devDependencies: { 'fast-check': '*' } }));
      symlinkSync(join(ROOT, 'node_modules'), join(dir.path, 'node_modules'));
      const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs'));
      const cwd = process.cwd();
      process.chdir(dir.path); // the rules' paths are relative to the project root, as `npm run deps` runs them
      let result: ICruiseResult;
      try {
        result = (await cruise(['src'], { ...config.options, ruleSet: { forbidden: config.forbidden }, validate: true })).output as ICruiseResult;
      } finally {
        process.chdir(cwd);
      }
      // A package as its name (node_modules is a symlink here, resolved to its real path).
      const to = (t: string) => t.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$1');
      const found = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${to(v.to)}`).sort();
      expect(found).toEqual(
        [
          'foundation: src/lib/errors.ts → src/lib/musig/bip327.ts',
          'primitives: src/lib/musig/bip327.ts → src/lib/store/nonce-store.ts',
          'protocol-credit: src/lib/credit/ports.ts → src/lib/device/channel.ts',
          'no-circular: src/lib/credit/ports.ts → src/lib/device/channel.ts',
          'store-through-ports: src/lib/store/mint-store.ts → src/lib/credit/user.ts',
          'cli-reaches-no-protocol: src/lib/cli/base.ts → src/lib/credit/ports.ts',
          'cli-knows-no-protocol: src/lib/cli/flags.ts → src/lib/htlc/htlc.ts',
          'protocol-htlc: src/lib/htlc/refund.ts → src/lib/ptlc/ptlc.ts',
          'no-test-code: src/lib/bolt3/tx.ts → test/helpers.ts',
          'no-lazy-builtin: src/lib/onion/packet.ts → fs',
          'no-dev-dependency: src/lib/route/plan.ts → fast-check',
          'no-undeclared-package: src/lib/route/plan.ts → chalk',
          'resolvable: src/lib/invoice/bolt11.ts → ./missing.ts',
          'unlayered: src/commands/credit/open.ts → src/lib/mystery/thing.ts',
          'command-is-a-leaf: src/commands/credit/open.ts → src/commands/credit/close.ts',
          'command-is-a-leaf: src/topics/credit/command.ts → src/commands/credit/close.ts',
          'topics-below-commands: src/topics/credit/command.ts → src/cli.ts',
          'catalogue-is-not-imported: src/commands/credit/open.ts → src/lib/schemas.ts',
        ].sort(),
      );
    } finally {
      dir.cleanup();
    }
  });
});
