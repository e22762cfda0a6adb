/**
 * The bash completion of flag values (src/lib/cli/completion.ts), from made-up commands:
 * one case for a flag completed alike everywhere (so it also works before the command),
 * one per command where commands disagree, and no word a shell could misread.
 */
import { describe, expect, it } from 'vitest';
import { bashValueCompletion, BASH_VALUES_MARKER } from '../../../src/lib/cli/completion.ts';

const option = (extra: Record<string, unknown> = {}) => ({ type: 'option', ...extra });

describe('bash completion of flag values', () => {
  it('a flag alike in every command gets one case; disagreeing commands get one case each', () => {
    const text = bashValueCompletion([
      { id: 'a', flags: { network: option({ options: ['x', 'y'] }), in: option({ helpValue: 'FILE' }), kind: option({ options: ['p'] }) } },
      { id: 'b:c', flags: { network: option({ options: ['x', 'y'] }), in: option({ helpValue: 'FILE' }), kind: option({ helpValue: 'HEX' }), dir: option({ helpValue: 'DIR' }) } },
      { id: 'd', flags: { quiet: { type: 'boolean' }, secret: option({ helpValue: 'FILE', hidden: true }) } },
    ]);
    const cases = text.split('\n').filter((l) => l.includes(') ') && l.trim().endsWith(';;')).map((l) => l.trim());
    expect(cases).toEqual([
      '*" --dir") compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen -d -- "$cur") ); return 0 ;;',
      '*" --in") compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;',
      '"a --kind") COMPREPLY=( $(compgen -W "p" -- "$cur") ); return 0 ;;',
      '"b:c --kind") COMPREPLY=(); return 0 ;;',
      '*" --network") COMPREPLY=( $(compgen -W "x y" -- "$cur") ); return 0 ;;',
    ]);
    expect(text.startsWith(BASH_VALUES_MARKER)).toBe(true);
    expect(text).toContain('complete -F _offchain_complete_values offchain');
  });

  it('refuses an option value a shell would split or expand', () => {
    for (const word of ['two words', '$(rm -rf ~)', 'a"b', '']) {
      expect(() => bashValueCompletion([{ id: 'a', flags: { f: option({ options: ['ok', word] }) } }])).toThrow(/cannot be a bash completion word/);
    }
  });
});
