/**
 * Errors that help (issue 28 item 5): a mistyped command or flag is still the one coded
 * line (E_UNKNOWN_COMMAND / E_USAGE, exit 2) and names what was probably meant; a word
 * near nothing gets no guess.
 */
import { describe, expect, it } from 'vitest';
import { run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { editDistance, nearest, suggestCommand } from '../../src/lib/cli/suggest.ts';
import { COMMANDS } from '../../src/cli.ts';

/** Spawned: the first row of each table; the others run the same built bundle in this process (in-process.ts). */
const SPAWNED = new Set(['psbt decod', 'psbt decode --nework regtest']);

async function oneLine(args: string[]): Promise<string> {
  const r = SPAWNED.has(args.join(' ')) ? run(args, { input: '' }) : await runInProcess(args, { input: '' });
  expect(r.stdout).toBe('');
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

describe('unknown commands: did you mean …', () => {
  it.each([
    [['psbt', 'decod'], 'psbt decode'],
    [['pbst', 'decode'], 'psbt decode'],
    [['musig', 'sing'], 'musig sign'],
    [['statechain-deposti'], 'statechain-deposit'],
    [['help', 'psbt', 'decod'], 'psbt decode'],
  ])('%j → %s', async (args, meant) => {
    expect(await oneLine(args)).toBe(`offchain: error E_UNKNOWN_COMMAND: "${args.filter((a) => a !== 'help').join(' ')}" is not an offchain command; did you mean "${meant}"? see offchain --help`);
  });
  it('no guess for a word near nothing', async () => {
    expect(await oneLine(['frobnicate'])).toBe('offchain: error E_UNKNOWN_COMMAND: "frobnicate" is not an offchain command; see offchain --help');
  });
});

describe('unknown flags: did you mean …', () => {
  it.each([
    [['psbt', 'decode', '--nework', 'regtest'], '--nework', '--network'],
    [['psbt', 'decode', '--inn', 'x'], '--inn', '--in'],
    [['route', 'plan', '--debgu'], '--debgu', '--debug'],
  ])('%j', async (args, typed, meant) => {
    expect(await oneLine(args)).toBe(`offchain: error E_USAGE: Nonexistent flag: ${typed}; did you mean ${meant}? (see --help)`);
  });
  it('no guess for a flag near nothing', async () => {
    expect(await oneLine(['psbt', 'decode', '--zzzzzzzz'])).toBe('offchain: error E_USAGE: Nonexistent flag: --zzzzzzzz (see --help)');
  });
});

describe('suggest', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('pbst', 'psbt')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
  it('refuses a tie and words too far', () => {
    expect(nearest('ab', ['ac', 'ad'])).toBeUndefined();
    expect(nearest('decode', ['sign'])).toBeUndefined();
  });
  it('every command id suggests itself from a one-letter slip', () => {
    for (const id of Object.keys(COMMANDS)) {
      const words = id.replace(/:/g, ' ');
      const slipped = words.slice(0, -1); // last letter dropped
      if (Object.keys(COMMANDS).includes(slipped.replace(/ /g, ':'))) continue; // "commitment point(s)": both exist
      expect(suggestCommand(slipped.split(' '), Object.keys(COMMANDS)), id).toBe(words);
    }
  });
});
