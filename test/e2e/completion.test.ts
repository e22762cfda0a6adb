/**
 * Shell completion (issue 7 item 6): the zsh function @oclif/plugin-autocomplete writes
 * from our manifest offers the values of --network and --role and file names for file
 * flags (--in, --key-file, --state-dir). Generated in a sandboxed cache, as
 * `offchain autocomplete zsh` does for an operator.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv } from './cli.ts';

describe('shell completion', () => {
  it('zsh: --network and --role complete their values, file flags complete file names, every command is listed', () => {
    const dir = tempDir('offchain-completion-');
    const env = cleanEnv({ HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'cache'), NODE_ENV: '' });
    const r = spawnSync(process.execPath, [BIN, 'autocomplete', 'zsh'], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const zsh = readFileSync(join(dir.path, 'cache', 'offchain', 'autocomplete', 'functions', 'zsh', '_offchain'), 'utf8');
    expect(zsh).toContain('--network"[network to work on; must agree with the network named in the input message (default: the message\'s, else regtest)]:network options:(regtest signet testnet testnet4 mainnet)"');
    expect(zsh).toMatch(/--role"\[which party runs this step\]:role options:\(user mint\)"/);
    for (const flag of ['--in', '--key-file', '--state-dir', '--preimage-file', '--child']) expect(zsh).toMatch(new RegExp(`${flag}"\\[[^\\]]*\\]:file:_files"`));
    for (const topic of ['credit', 'htlc', 'key', 'musig', 'psbt']) expect(zsh).toContain(`"${topic}[`);
    dir.cleanup();
  });
});
