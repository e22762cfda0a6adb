/**
 * Start-up and layering rules, checked on the source: a command file statically imports
 * only oclif, the base command and flag groups (everything else is imported lazily inside
 * execute(), so `--help` and light commands never load secp256k1 or btc-signer), and
 * library modules never import the CLI layer or commands (STYLE.md: data flows one way).
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../../helpers.ts';

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

const COMMAND_ALLOWED = [/^@oclif\/core$/, /^node:/, /lib\/cli\/base-command\.ts$/, /lib\/cli\/credit-command\.ts$/, /lib\/cli\/device-command\.ts$/, /lib\/cli\/htlc-command\.ts$/, /lib\/cli\/ptlc-command\.ts$/, /lib\/cli\/commitment-command\.ts$/, /lib\/cli\/statechain-command\.ts$/, /lib\/cli\/package-command\.ts$/, /lib\/cli\/invoice-flag\.ts$/, /^(\.\.?\/)+([a-z-]+\/)?shared\/[a-z-]+\.ts$/, /lib\/cli\/flags\.ts$/, /lib\/cli\/store-flags\.ts$/, /lib\/cli\/input\.ts$/, /lib\/cli\/secret-file\.ts$/, /lib\/errors\.ts$/, /lib\/envelope\.ts$/, /lib\/bytes\.ts$/, /lib\/network\.ts$/];

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

  it('the command bases commands may import load no curve, PSBT or schema library either', () => {
    const heavy = /^(@noble\/curves|@scure\/btc-signer|@sinclair\/typebox|inquirer)(\/|$)/;
    // A group's shared flags and steps (src/commands/<group>/shared/), and any base still in src/lib/cli.
    const inLibCli = ['credit-command.ts', 'device-command.ts', 'htlc-command.ts', 'ptlc-command.ts', 'commitment-command.ts', 'statechain-command.ts', 'package-command.ts', 'invoice-flag.ts']
      .map((f) => join(ROOT, 'src/lib/cli', f))
      .filter((f) => existsSync(f));
    const shared = files(join(ROOT, 'src/commands')).filter((f) => f.includes('/shared/') && staticImports(f).includes('@oclif/core'));
    expect(inLibCli.length + shared.length).toBeGreaterThanOrEqual(8);
    for (const path of [...inLibCli, ...shared]) {
      const base = relative(ROOT, path);
      const reached = packagesReached(path);
      expect(reached.has('@oclif/core'), `${base}: the walk follows imports`).toBe(true);
      expect([...reached].filter((s) => heavy.test(s)), base).toEqual([]);
    }
  });

  it('nothing import()s a node: builtin (the bundle runs in a vm script, which cannot import())', () => {
    const offenders = [...files(join(ROOT, 'src/commands')), ...files(join(ROOT, 'src/lib'))].filter((f) => /import\(\s*'node:/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('library modules never import the CLI layer or commands', () => {
    const offenders: string[] = [];
    const library = files(join(ROOT, 'src/lib')).filter((f) => !f.includes('/lib/cli/'));
    expect(library.length).toBeGreaterThan(30);
    expect(library.flatMap(staticImports)).toContain('../errors.ts');
    for (const f of library) {
      for (const spec of staticImports(f)) if (/\/cli\/|commands\//.test(spec)) offenders.push(`${relative(ROOT, f)} imports ${spec}`);
    }
    expect(offenders).toEqual([]);
  });
});
