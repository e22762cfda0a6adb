/**
 * `offchain autocomplete bash` keeps the README's promise (issue 41 item 7): it prints the
 * one line to add to ~/.bashrc — not oclif's multi-step instructions — and, like
 * `autocomplete script bash`, which prints what that line evaluates, writes nothing under
 * the home directory (no ~/.cache/offchain). test/e2e/completion.test.ts runs the script in
 * real bash.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv } from './cli.ts';

it('autocomplete bash|zsh print the one rc-file line; autocomplete script bash prints the functions; HOME is left empty', () => {
  const dir = tempDir('offchain-ac-text-');
  try {
    const env = cleanEnv({ HOME: dir.path, XDG_CACHE_HOME: '', NODE_ENV: '' });
    const ac = (...args: string[]) => spawnSync(process.execPath, [BIN, 'autocomplete', ...args], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    for (const shell of ['bash', 'zsh']) {
      const r = ac(shell);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`eval "$(offchain autocomplete script ${shell})"\n`);
      expect(r.stderr).toBe('');
    }
    const script = ac('script', 'bash');
    expect(script.status, script.stderr).toBe(0);
    expect(script.stdout).toContain('complete -F _offchain_complete_values offchain');
    expect(readdirSync(dir.path)).toEqual([]);
  } finally {
    dir.cleanup();
  }
}, 90_000);
