/**
 * Bash completion of flag values. @oclif/plugin-autocomplete's bash function completes
 * command names and flag names only (its zsh function also completes values), so after
 * `offchain autocomplete` builds its cache, `main` appends the function made here to the
 * bash file: when the word before the cursor is a flag that takes a value, it offers that
 * flag's values (`--network`, `--role`, …), file names for a flag whose value is a FILE,
 * directory names for a DIR, and nothing for any other value (an amount, a key, an
 * address); in every other position it hands over to the plugin's function.
 *
 * Pure: commands and their flags in, bash source out.
 */

export type CompletionFlag = { type: string; options?: readonly string[]; helpValue?: string | readonly string[]; hidden?: boolean };
export type CompletionCommand = { id: string; flags: Readonly<Record<string, CompletionFlag>> };

/** The first line of the appended block: its presence means the file already has it. */
export const BASH_VALUES_MARKER = '# offchain: completion of flag values';

/** What completes a flag's value: its word list, file names, directory names, or nothing. */
type ValueKind = { words: readonly string[] } | 'files' | 'dirs' | 'none';

export function bashValueCompletion(commands: readonly CompletionCommand[]): string {
  // For each value flag, what completes it in each command that has it.
  const byFlag = new Map<string, Map<string, ValueKind>>();
  for (const command of [...commands].sort((a, b) => a.id.localeCompare(b.id))) {
    for (const [name, flag] of Object.entries(command.flags).sort(([a], [b]) => a.localeCompare(b))) {
      if (flag.type !== 'option' || flag.hidden) continue;
      const unsafe = flag.options?.find((w) => !/^[\w.+-]+$/.test(w));
      if (unsafe !== undefined) throw new Error(`--${name} of ${command.id}: the value ${JSON.stringify(unsafe)} cannot be a bash completion word`);
      const kind: ValueKind = flag.options?.length ? { words: flag.options } : flag.helpValue === 'FILE' ? 'files' : flag.helpValue === 'DIR' ? 'dirs' : 'none';
      const perCommand = byFlag.get(name) ?? new Map<string, ValueKind>();
      perCommand.set(command.id, kind);
      byFlag.set(name, perCommand);
    }
  }
  const cases: string[] = [];
  for (const [name, perCommand] of [...byFlag].sort(([a], [b]) => a.localeCompare(b))) {
    const kinds = [...new Set([...perCommand.values()].map(describe))];
    if (kinds.length === 1) {
      // The same everywhere: also before the command (`offchain --network <TAB>`).
      cases.push(caseLine(`*" --${name}"`, [...perCommand.values()][0]!));
    } else {
      for (const [id, kind] of perCommand) cases.push(caseLine(`"${id} --${name}"`, kind));
    }
  }
  return [
    BASH_VALUES_MARKER,
    '_offchain_complete_values()',
    '{',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" w i',
    '  (( COMP_CWORD > 1 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  # The command is the words before the first flag, joined by colons (credit list → credit:list).',
    '  for (( i = 1; i < COMP_CWORD; i++ )); do',
    '    w="${COMP_WORDS[i]}"',
    '    [[ "$w" == -* ]] && break',
    '    cmd="${cmd:+$cmd:}$w"',
    '  done',
    '  case "$cmd $prev" in',
    ...cases.map((line) => `    ${line}`),
    '  esac',
    '  _offchain_autocomplete',
    '}',
    '',
    'complete -F _offchain_complete_values offchain',
    '',
  ].join('\n');
}

function describe(kind: ValueKind): string {
  return typeof kind === 'string' ? kind : kind.words.join(' ');
}

function caseLine(pattern: string, kind: ValueKind): string {
  const reply =
    kind === 'files'
      ? 'compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen -f -- "$cur") )'
      : kind === 'dirs'
        ? 'compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen -d -- "$cur") )'
        : kind === 'none'
          ? 'COMPREPLY=()'
          : `COMPREPLY=( $(compgen -W "${kind.words.join(' ')}" -- "$cur") )`;
  return `${pattern}) ${reply}; return 0 ;;`;
}
