/**
 * Every command as `topic verb` (issue 28 item 3), through the built CLI: the older names
 * (the design card's open-credit, sign-update, rollover, statechain-transfer,
 * decode-openassets, onion-build, …) are plain aliases — they run the same command with
 * no warning, their --help is the command's (its primary name in USAGE, the alias under
 * ALIASES), `help ALIAS` too, "did you mean" knows both spellings, and the root listing
 * shows the topics, not the aliases.
 *
 * The help texts of every alias and the "did you mean" lines are what the built bundle
 * answers, run in this process (in-process.ts); a sample of aliases is also run as
 * processes and must print the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, loadCommands } from '../../src/cli.ts';
import { run } from './cli.ts';
import { runAsync } from './process.ts';
import { runInProcess } from './in-process.ts';

await loadCommands(); // every class: its flags and aliases are read below

const pairs = Object.entries(COMMANDS).flatMap(([id, c]) => ((c as { aliases?: string[] }).aliases ?? []).map((a): [string, string] => [a, id]));
const words = (id: string) => id.split(':');

describe('an alias is the command it names', () => {
  it('there are aliases to check (the cases below are not vacuous)', () => {
    expect(pairs.length).toBe(19);
  });

  /** What the three invocations printed in-process, per alias (for the spawned sample below). */
  const seen = new Map<string, Awaited<ReturnType<typeof runInProcess>>[]>();
  it.each(pairs)('%s --help and help %s are %s --help: its name in USAGE, the alias under ALIASES', async (alias, id) => {
    const primary = await runInProcess([...words(id), '--help']);
    const viaAlias = await runInProcess([...words(alias), '--help']);
    const viaHelp = await runInProcess(['help', ...words(alias)]);
    seen.set(alias, [primary, viaAlias, viaHelp]);
    expect(primary.status, primary.stderr).toBe(0);
    expect(primary.stdout).toContain(`USAGE\n  $ offchain ${words(id).join(' ')} `);
    expect(primary.stdout).toContain(`ALIASES\n  $ offchain ${words(alias).join(' ')}\n`);
    for (const r of [viaAlias, viaHelp]) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(primary.stdout);
    }
  });

  it.each([pairs[0]!, pairs[pairs.length - 1]!])('as processes, %s --help, help %s and %s --help print what they printed in-process', async (alias, id) => {
    const inProcess = seen.get(alias);
    expect(inProcess, 'the in-process case ran').toBeDefined();
    const spawned = await Promise.all([runAsync([...words(id), '--help']), runAsync([...words(alias), '--help']), runAsync(['help', ...words(alias)])]);
    expect(spawned.map(({ status, stdout, stderr }) => ({ status, stdout, stderr }))).toEqual(inProcess);
  });

  it('runs the same command, with the same output and no warning (decode-openassets, onion-error create)', () => {
    const args = ['--network', 'mainnet', '--in', 'fixtures/openassets/transfer.hex', '--prev', 'fixtures/openassets/ancestors.jsonl'];
    const primary = run(['openassets', 'decode', ...args]);
    const alias = run(['decode-openassets', ...args]);
    expect(primary.status, primary.stderr).toBe(0);
    expect(JSON.parse(primary.stdout)).toMatchObject({ type: 'openassets/decoded' });
    expect(alias).toEqual(primary);
    const onion = ['--onion', 'fixtures/onion/at-hop3.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'temporary_node_failure'];
    const e1 = run(['onion', 'error', 'create', ...onion]);
    const e2 = run(['onion-error', 'create', ...onion]);
    expect(e1.status, e1.stderr).toBe(0);
    expect(e2).toEqual(e1);
  });

  it('a flag before an alias is moved after it, as before a command', () => {
    const r = run(['--network', 'mainnet', 'decode-openassets', '--in', 'fixtures/openassets/transfer.hex']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ network: 'mainnet' });
  });

  it.each([
    [['opne-credit'], 'open-credit'],
    [['credit', 'opne'], 'credit open'],
    [['statechain', 'depost'], 'statechain deposit'],
    [['statechain-depost'], 'statechain-deposit'],
    [['onion', 'eror', 'wrap'], 'onion error wrap'],
  ])('did you mean: %j → "%s"', async (typed, meant) => {
    const r = await runInProcess(typed);
    expect(r.stderr).toBe(`offchain: error E_UNKNOWN_COMMAND: "${typed.join(' ')}" is not an offchain command; did you mean "${meant}"? see offchain --help\n`);
    expect(r.status).toBe(2);
  });

  it('the root listing shows the topics with their descriptions, not the aliases', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const topic of ['credit', 'statechain', 'onion', 'openassets', 'counterparty']) expect(r.stdout).toMatch(new RegExp(`\\n  ${topic} +[A-Z]`));
    for (const [alias] of pairs) expect(r.stdout).not.toMatch(new RegExp(`\\n  ${words(alias).join(' ')} `));
    const onion = run(['onion', '--help']);
    expect(onion.stdout).toMatch(/\n {2}onion error +BOLT 4 error onions/);
    expect(onion.stdout).toMatch(/\n {2}onion build +Wrap a route/);
  });
});

describe('older names that are not the design card\'s say their new name (on a terminal only)', () => {
  it('close-credit, exit-credit, statechain-deposit, onion-peel, onion-error create… name their topic form; the card\'s names and the primary forms say nothing', async () => {
    const { deprecatedAliasNotice } = await import('../../src/cli.ts');
    expect(deprecatedAliasNotice(['close-credit', '--role', 'user'])).toBe('offchain: warning: "close-credit" is an older name, kept working: it is now "credit close"\n');
    expect(deprecatedAliasNotice(['--network', 'regtest', 'exit-credit', '--dry-run'])).toContain('it is now "credit exit"');
    expect(deprecatedAliasNotice(['statechain-deposit', '--start'])).toContain('it is now "statechain deposit"');
    expect(deprecatedAliasNotice(['onion-error', 'create'])).toContain('it is now "onion error create"');
    for (const card of ['open-credit', 'sign-update', 'rollover', 'statechain-transfer', 'decode-openassets', 'onion-build']) expect(deprecatedAliasNotice([card]), card).toBeUndefined();
    for (const primary of [['credit', 'close'], ['statechain', 'deposit'], ['onion', 'peel'], ['psbt', 'decode']]) expect(deprecatedAliasNotice(primary)).toBeUndefined();
    // Every non-card alias has a notice (the set above is not a typo away from silence).
    const noisy = pairs.filter(([a]) => deprecatedAliasNotice(a.split(':')) !== undefined).length;
    expect(noisy).toBe(pairs.length - 6);
  });

  it('a script (stderr not a terminal) sees no notice: one error line stays one line', () => {
    const r = run(['close-credit', '--role', 'user', '--state-dir', '/nonexistent-offchain-dir'], { input: '' });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('older name');
  });
});
