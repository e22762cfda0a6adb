/**
 * argv before oclif reads it: the habits of bitcoin-cli and hal users mapped onto oclif's
 * own flags, flags written before the subcommand moved after it, and every alias run as
 * the command it names. Built from the command table src/cli.ts holds (ids and their
 * `aliases`), so it knows no command itself; it parses no flag value and runs nothing.
 */

/** The command table as far as argv cares: each id (`credit:open`) and its other names. */
export type CommandTable = Readonly<Record<string, { aliases?: string[] }>>;

/**
 * The design card's names (BRIEF): plain aliases for good. Every other older name
 * (`close-credit`, `exit-credit`, `statechain-deposit`, `onion-peel`, …) is deprecated: it
 * still runs the same command, and a person at a terminal is told the new name once per
 * run. Scripts (stderr not a terminal) see nothing, so their stderr stays one line per
 * error as the contract says.
 */
const CARD_NAMES = new Set(['open-credit', 'sign-update', 'rollover', 'statechain-transfer', 'decode-openassets', 'onion-build']);

/** Flags that take no value; any other flag before the command is followed by its value. */
const VALUELESS = new Set(['--debug', '--json-errors', '--quiet', '-q', '--psbt', '--dry-run', '--broadcast', '--any-time', '--anchors', '--bare']);

export function argvRules(commands: CommandTable) {
  /**
   * Every command's other names (its `aliases`: the design card's `open-credit` for
   * `credit open`, …), as words, with the command's own words; the longest first.
   */
  const ALIASES: [string[], string[]][] = Object.entries(commands)
    .flatMap(([id, c]) => (c.aliases ?? []).map((a): [string[], string[]] => [a.split(':'), id.split(':')]))
    .sort(([a], [b]) => b.length - a.length);

  /** First words of every command and alias, and the words normalizeArgv itself understands. */
  const COMMAND_STARTS = new Set([...Object.keys(commands).map((id) => id.split(':')[0]!), ...ALIASES.map(([a]) => a[0]!), 'help', 'version', 'autocomplete']);

  /**
   * An alias is run as the command it names (so its `--help` shows the command's name and
   * its ALIASES): the alias's words become the command's. Plain aliases, no warning.
   */
  function primaryWords(head: string[]): string[] {
    for (const [alias, id] of ALIASES) if (alias.every((w, i) => head[i] === w)) return [...id, ...head.slice(alias.length)];
    return head;
  }

  function hoistLeadingFlags(head: string[]): string[] {
    const flags: string[] = [];
    let i = 0;
    while (i < head.length && head[i]!.startsWith('-') && head[i] !== '-') {
      const flag = head[i]!;
      if (['--help', '-h', '--version', '-V'].includes(flag)) break;
      flags.push(flag);
      i++;
      const takesValue = !flag.includes('=') && !VALUELESS.has(flag);
      if (takesValue && i < head.length && !COMMAND_STARTS.has(head[i]!)) flags.push(head[i++]!);
    }
    if (flags.length === 0 || i >= head.length) return head;
    let j = i;
    while (j < head.length && !head[j]!.startsWith('-')) j++;
    return [...head.slice(i, j), ...flags, ...head.slice(j)];
  }

  /**
   * The habits of bitcoin-cli and hal users, mapped onto oclif's own flags: `-h` is
   * `--help`, `help [command…]` is `command… --help`, `version` and `-V` are `--version`,
   * and flags written before the subcommand (`offchain --network mainnet credit list`) are
   * moved after it, where oclif reads them. Only words before a `--` are rewritten (no
   * command has a -h or -V flag).
   */
  function normalizeArgv(argv: readonly string[]): string[] {
    if (argv.length === 1 && (argv[0] === 'version' || argv[0] === '-V')) return ['--version'];
    const end = argv.indexOf('--');
    const head = hoistLeadingFlags(end === -1 ? [...argv] : argv.slice(0, end));
    const tail = end === -1 ? [] : argv.slice(end);
    if (head[0] === 'help') return [...primaryWords(head.slice(1).map((a) => (a === '-h' ? '--help' : a)).filter((a) => a !== '--help')), '--help', ...tail];
    return [...primaryWords(head.map((a) => (a === '-h' ? '--help' : a))), ...tail];
  }

  /** The line telling which new name a deprecated alias at the head of argv has, or undefined. */
  function deprecatedAliasNotice(argv: readonly string[]): string | undefined {
    const head = hoistLeadingFlags([...argv]).filter((a, i, all) => a !== 'help' || i > 0 || all.length === 1);
    for (const [alias, id] of ALIASES) {
      if (!alias.every((w, i) => head[i] === w)) continue;
      const name = alias.join(' ');
      return CARD_NAMES.has(name) ? undefined : `offchain: warning: "${name}" is an older name, kept working: it is now "${id.join(' ')}"\n`;
    }
    return undefined;
  }

  return { aliases: ALIASES, primaryWords, normalizeArgv, deprecatedAliasNotice };
}
