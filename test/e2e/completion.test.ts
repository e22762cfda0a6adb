/**
 * Shell completion (issue 7 item 6): the zsh function @oclif/plugin-autocomplete writes
 * from our manifest offers the values of --network and --role and file names for file
 * flags (--in, --key-file, --state-dir); its bash function completes only names, so
 * offchain appends the completion of values (src/lib/cli/completion.ts), which real bash
 * runs here. Generated in a sandboxed cache, as `offchain autocomplete zsh|bash` does for
 * an operator.
 *
 * The scripts are what `offchain autocomplete script zsh|bash` prints (the line
 * `autocomplete bash` prints evaluates them); `autocomplete --refresh-cache` still builds
 * the plugin's cache, with offchain's bash addition appended once.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv } from './cli.ts';

describe('shell completion', () => {
  it('zsh: --network and --role complete their values, file flags complete file names, every command is listed', () => {
    const dir = tempDir('offchain-completion-');
    const env = cleanEnv({ HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'cache'), NODE_ENV: '' });
    const r = spawnSync(process.execPath, [BIN, 'autocomplete', 'script', 'zsh'], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const zsh = r.stdout;
    expect(zsh.trimEnd().endsWith('compdef _offchain offchain')).toBe(true);
    expect(zsh).toContain('--network"[network to work on; must agree with the network named in the input message (default: the message\'s, else regtest)]:network options:(regtest signet testnet testnet4 mainnet)"');
    expect(zsh).toMatch(/--role"\[which party runs this step\]:role options:\(user mint\)"/);
    for (const flag of ['--in', '--key-file', '--state-dir', '--preimage-file', '--child']) expect(zsh).toMatch(new RegExp(`${flag}"\\[[^\\]]*\\]:file:_files"`));
    for (const topic of ['credit', 'htlc', 'key', 'musig', 'psbt']) expect(zsh).toContain(`"${topic}[`);
    dir.cleanup();
  });

  it('bash: the values of --network/--role, file names for FILE flags, directories for DIR flags, nothing for amounts; names still complete', () => {
    const dir = tempDir('offchain-completion-bash-');
    const env = cleanEnv({ HOME: dir.path, XDG_CACHE_HOME: join(dir.path, 'cache'), NODE_ENV: '' });
    const r = spawnSync(process.execPath, [BIN, 'autocomplete', 'script', 'bash'], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('# offchain: completion of flag values')).toHaveLength(2);
    const file = join(dir.path, 'offchain.bash');
    writeFileSync(file, r.stdout);
    // The plugin's own cache (--refresh-cache): offchain's addition appended once, not again on a second build.
    const cached = join(dir.path, 'cache', 'offchain', 'autocomplete', 'functions', 'bash', 'offchain.bash');
    for (let i = 0; i < 2; i++) expect(spawnSync(process.execPath, [BIN, 'autocomplete', '--refresh-cache'], { env, cwd: ROOT, encoding: 'utf8', timeout: 60_000 }).status).toBe(0);
    expect(readFileSync(cached, 'utf8').split('# offchain: completion of flag values')).toHaveLength(2);
    const work = join(dir.path, 'work');
    mkdirSync(join(work, 'state-a'), { recursive: true });
    writeFileSync(join(work, 'alpha.psbt'), '');
    // Each line: the words typed, the cursor on the last one; prints what bash would offer.
    const script = [
      `source '${file}'`,
      'c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _offchain_complete_values; echo "${COMPREPLY[*]}"; }',
      "c offchain sign-update --role ''",
      'c offchain --network test',
      'c offchain psbt decode --in al',
      'c offchain sign-update --state-dir st',
      "c offchain sign-update --amount ''",
      'c offchain psbt decode --i',
      'c offchain rollo',
      'complete -p offchain',
    ].join('\n');
    const b = spawnSync('bash', ['-c', script], { cwd: work, encoding: 'utf8', timeout: 30_000 });
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout.split('\n')).toEqual([
      'user mint',
      'testnet testnet4',
      'alpha.psbt',
      'state-a',
      '',
      '--in',
      'rollover',
      'complete -F _offchain_complete_values offchain',
      '',
    ]);
    dir.cleanup();
  });
});
