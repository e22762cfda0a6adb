/**
 * Reads src/ as text and finds every error code it names (`'E_…'`) and, where the code is
 * thrown directly, the exit class it is thrown with: `new RefusedError('E_X', …)`, a
 * subclass (`class TrucRefusal extends RefusedError`), `new OffchainError('E_X', …, ExitCode.state)`,
 * `super('E_X', …)` in a subclass, and a file's own helper (`function refuse(code, …) { throw
 * new RefusedError(code, …) }`, `const malformed = (code, m) => new MalformedInputError(code, m)`).
 * A code passed along in any other way (a variable, a rule table) is found by the first scan
 * only. Test code: it shares nothing with the table it checks (src/lib/error-codes.ts).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The exit a base class gives (src/lib/errors.ts), by class name. */
const BASE_EXITS: Record<string, number> = { UsageError: 2, MalformedInputError: 3, RefusedError: 4, StateConflictError: 5, InterruptedError: 130 };
const EXIT_NAMES: Record<string, number> = { ok: 0, general: 1, usage: 2, malformed: 3, refused: 4, state: 5, interrupted: 130 };

export type Site = { code: string; file: string; line: number; exit: number; via: string };

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The text of a call's arguments starting at `open` (the index of its `(`), skipping strings and template literals. */
function callText(s: string, open: number): string {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'" || ch === '"') {
      for (i++; i < s.length && s[i] !== ch; i++) if (s[i] === '\\') i++;
    } else if (ch === '`') {
      let nest = 0;
      for (i++; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (nest === 0 && s[i] === '`') break;
        else if (s[i] === '$' && s[i + 1] === '{') { nest++; i++; }
        else if (s[i] === '}' && nest > 0) nest--;
      }
    } else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return s.slice(open + 1, i);
  }
  return s.slice(open + 1);
}

/** The third argument's exit of an OffchainError(code, message, exit?) call: a number or ExitCode.name; default 1. */
function offchainExit(args: string): number | undefined {
  // Split the top-level commas of the argument text.
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i]!;
    if (ch === "'" || ch === '"') { for (i++; i < args.length && args[i] !== ch; i++) if (args[i] === '\\') i++; }
    else if (ch === '`') { let nest = 0; for (i++; i < args.length; i++) { if (args[i] === '\\') i++; else if (nest === 0 && args[i] === '`') break; else if (args[i] === '$' && args[i + 1] === '{') { nest++; i++; } else if (args[i] === '}' && nest > 0) nest--; } }
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) { parts.push(args.slice(start, i)); start = i + 1; }
  }
  parts.push(args.slice(start));
  const third = parts[2]?.trim();
  if (third === undefined || third === '' || third === 'undefined') return 1;
  if (/^\d+$/.test(third)) return Number(third);
  const named = /^ExitCode\.(\w+)$/.exec(third);
  return named ? EXIT_NAMES[named[1]!] : undefined;
}

export function scanErrorCodes(root: string): { codes: Map<string, string[]>; sites: Site[] } {
  const files = tsFiles(join(root, 'src')).map((p) => ({ path: relative(root, p), text: readFileSync(p, 'utf8') }));
  // Every class extending one of ours, anywhere in src/: its exit (a subclass of OffchainError that fixes its exit in super() is resolved per call).
  const parents = new Map<string, string>();
  for (const f of files) for (const m of f.text.matchAll(/class (\w+) extends (\w+)/g)) parents.set(m[1]!, m[2]!);
  const exitOfClass = (name: string): number | undefined => {
    for (let n: string | undefined = name, i = 0; n !== undefined && i < 10; n = parents.get(n), i++) if (BASE_EXITS[n] !== undefined) return BASE_EXITS[n];
    return undefined;
  };
  const codes = new Map<string, string[]>();
  const sites: Site[] = [];
  for (const f of files) {
    const s = f.text;
    // The file's helpers that throw or build one of our errors with the code they are given.
    const helpers = new Map<string, number>();
    for (const m of s.matchAll(/(?:function (\w+)\(code\b|const (\w+) = \(code\b)[^]{0,160}?new (\w+)\(code\b/g)) {
      const exit = exitOfClass(m[3]!);
      if (exit !== undefined) helpers.set((m[1] ?? m[2])!, exit);
    }
    // A code in quotes, or opening a message written out whole (`E_UNKNOWN_COMMAND: …`); not a prefix ('E_OA_').
    for (const m of s.matchAll(/'(E_[A-Z0-9_]*[A-Z0-9])'|`(E_[A-Z0-9_]*[A-Z0-9]):/g)) {
      const code = (m[1] ?? m[2])!;
      const line = s.slice(0, m.index).split('\n').length;
      codes.set(code, [...(codes.get(code) ?? []), `${f.path}:${line}`]);
      const callee = /([\w.]+)\(\s*$/.exec(s.slice(Math.max(0, m.index - 80), m.index));
      if (!callee) continue;
      const name = callee[1]!;
      const open = s.lastIndexOf('(', m.index);
      let exit: number | undefined;
      if (name === 'OffchainError') exit = offchainExit(callText(s, open));
      else if (name === 'super') {
        const cls = [...s.slice(0, m.index).matchAll(/class \w+ extends (\w+)/g)].pop()?.[1];
        exit = cls === 'OffchainError' ? offchainExit(callText(s, open)) : cls ? exitOfClass(cls) : undefined;
      } else if (/Error$|Refusal$/.test(name)) exit = exitOfClass(name);
      else exit = helpers.get(name);
      if (exit !== undefined) sites.push({ code, file: f.path, line, exit, via: name });
    }
  }
  return { codes, sites };
}
