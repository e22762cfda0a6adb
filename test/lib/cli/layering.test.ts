/**
 * Start-up and layering rules, checked on the source: a command file statically imports
 * only oclif, the base command and flag groups (everything else is imported lazily inside
 * execute(), so `--help` and light commands never load secp256k1 or btc-signer), and
 * library modules never import the CLI layer or commands (STYLE.md: data flows one way).
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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

const COMMAND_ALLOWED = [/^@oclif\/core$/, /^node:/, /lib\/cli\/base-command\.ts$/, /lib\/cli\/credit-command\.ts$/, /lib\/cli\/flags\.ts$/, /lib\/cli\/input\.ts$/, /lib\/errors\.ts$/, /lib\/bytes\.ts$/, /lib\/network\.ts$/];

describe('layering', () => {
  it('commands import heavy modules lazily', () => {
    const offenders: string[] = [];
    for (const f of files(join(ROOT, 'src/commands'))) {
      for (const spec of staticImports(f)) {
        if (!COMMAND_ALLOWED.some((re) => re.test(spec))) offenders.push(`${relative(ROOT, f)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the base command statically imports no curve, PSBT or schema library', () => {
    const heavy = /@noble\/curves|@scure\/btc-signer|typebox|inquirer|keys\/keys|psbt\/|message\.ts/;
    const base = join(ROOT, 'src/lib/cli/base-command.ts');
    expect(staticImports(base).filter((s) => heavy.test(s))).toEqual([]);
  });

  it('nothing import()s a node: builtin (the bundle runs in a vm script, which cannot import())', () => {
    const offenders = [...files(join(ROOT, 'src/commands')), ...files(join(ROOT, 'src/lib'))].filter((f) => /import\(\s*'node:/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('library modules never import the CLI layer or commands', () => {
    const offenders: string[] = [];
    for (const f of files(join(ROOT, 'src/lib'))) {
      if (f.includes('/lib/cli/')) continue;
      for (const spec of staticImports(f)) if (/\/cli\/|commands\//.test(spec)) offenders.push(`${relative(ROOT, f)} imports ${spec}`);
    }
    expect(offenders).toEqual([]);
  });
});
