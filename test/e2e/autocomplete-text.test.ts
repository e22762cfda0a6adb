/**
 * `offchain autocomplete bash` tells the truth (issue 28 item 6): bash completes names
 * only — no summaries, which the plugin's shared text promises — plus the flag values and
 * file names offchain adds (test/e2e/completion.test.ts proves those in real bash).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv } from './cli.ts';

it('autocomplete bash: no "summaries", names the values and file names it completes', () => {
  const dir = tempDir('offchain-ac-text-');
  try {
    const env = cleanEnv({ HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'cache'), NODE_ENV: '' });
    const r = spawnSync(process.execPath, [BIN, 'autocomplete', 'bash'], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/summaries/);
    expect(r.stdout).toContain('the values of flags such as --network and --role; file names after a FILE flag such as --in');
    expect(r.stdout).toContain('printf "$(offchain autocomplete script bash)" >> ~/.bashrc');
  } finally {
    dir.cleanup();
  }
}, 90_000);
