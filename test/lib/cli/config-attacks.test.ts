/**
 * The configuration file attacked (issue 72 item 5, src/lib/cli/config.ts, config-file.ts): any
 * text and any environment is read or refused with one E_CONFIG, never a crash; no refusal
 * and no --print-config shows a secret the file or the environment carried.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../../helpers.ts';
import { effectiveSettings, resolveSettings, type FlagDef } from '../../../src/lib/cli/config.ts';
import { parseConfigText, readConfigFile } from '../../../src/lib/cli/config-file.ts';
import { UsageError } from '../../../src/lib/errors.ts';
import ServeMint from '../../../src/commands/serve/mint.ts';

type Manifest = { commands: Record<string, { flags: Record<string, FlagDef> }> };
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest;
const COMMANDS = Object.fromEntries(Object.entries(manifest.commands).map(([id, c]) => [id.replace(/:/g, ' '), c.flags]));
const MINT = { ...ServeMint.baseFlags, ...ServeMint.flags } as unknown as Record<string, FlagDef>;

/** `command`'s settings from `text` and `env`, as the base command resolves them. */
function settings(text: string, env: NodeJS.ProcessEnv = {}, command = 'serve mint', defs = command === 'serve mint' ? MINT : COMMANDS[command]!) {
  return resolveSettings({ command, defs, argv: [], env, home: '/home/operator', file: { path: 'f', lines: parseConfigText(text, 'f') }, commands: () => COMMANDS });
}

/** Read or refused with one E_CONFIG (exit 2): nothing else may come out. */
async function readOrConfigError(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!(e instanceof UsageError) || e.code !== 'E_CONFIG' || e.exitCode !== 2) throw e;
  }
}

const KEYS = [...new Set(Object.keys(MINT).map((n) => n.replace(/-/g, '_')))];
const junk = fc.string({ unit: 'binary', maxLength: 60 });
const line = fc.oneof(
  junk,
  fc.tuple(fc.constantFrom(...KEYS, 'payout_address', 'nope', 'MAX_CONNECTIONS', 'export watch'), fc.constantFrom('=', ' = ', '=='), fc.oneof(junk, fc.constantFrom('true', 'false', 'yes', '1', '0', '""', "'x'", '~/x', '-1', '1e3', '127.0.0.1:0', 'postgresql://u@h/db'))).map(([k, eq, v]) => `${k}${eq}${v}`),
  fc.constantFrom('[serve mint]', '[serve  mint]', '[watch]', '[nope]', '[]', '[serve mint', '#', '\uFEFF', '\r', '\0'),
);

describe('any text is read or refused with one E_CONFIG', () => {
  it('lines of junk, keys, sections, CRLF and BOM (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(line, { maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r'), fc.boolean(), async (lines, eol, bom) => {
      await readOrConfigError(() => settings(`${bom ? '\uFEFF' : ''}${lines.join(eol)}`));
    }), { numRuns: 1500 });
  });
  it('any environment value for any key (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...KEYS), junk, async (key, value) => {
      await readOrConfigError(() => settings('', { [`OFFCHAIN_${key.toUpperCase()}`]: value }));
    }), { numRuns: 1500 });
  });
  it('a very long line', async () => {
    await readOrConfigError(() => settings(`listen=${'1'.repeat(1_000_000)}\n${'x'.repeat(1_000_000)}`));
  });
});

describe('no refusal shows what the file holds', () => {
  it('a key file given as the configuration file: the refusal names the line, never its text', () => {
    const key = 'deadbeefcafebabe0123456789abcdef0011223344556677889900aabbccddee';
    for (const text of [`${key}\n`, `network=regtest\npassword ${key}\n`, `\x1b]0;owned\x07${key}\n`]) {
      const e = (() => { try { parseConfigText(text, 'f'); } catch (x) { return x as UsageError; } throw new Error('accepted'); })();
      expect(e).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
      expect(e.message).toMatch(/^f line \d: expected key=value or \[command\]/);
      expect(e.message).not.toContain(key.slice(0, 8));
      expect(e.message).not.toContain('\x1b');
    }
  });
});

describe('a password in a URL, however written, is refused in the file and never printed', () => {
  // libpq reads each as a password: a %-escaped parameter name is decoded, and so is a URL after spaces (trimmed).
  const hidden = ['postgresql://mint@db/mint?%70assword=SEKRIT', 'postgresql://mint@db/mint?sslmode=disable&PASS%57ORD=SEKRIT', ' postgresql://mint:SEKRIT@db/mint', '\tpostgres://mint:SEKRIT@db/mint', 'postgresql://mint@db/mint?a?password=SEKRIT'];
  it('in the file: E_CONFIG, the password not echoed', async () => {
    for (const url of hidden) {
      const e = await settings(`store="${url}"\n`).then(() => undefined, (x: UsageError) => x);
      expect(e, JSON.stringify(url)).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
      expect(e!.message).not.toContain('SEKRIT');
    }
  });
  it('from the environment: --print-config shows it redacted', async () => {
    for (const url of hidden) {
      const env = { OFFCHAIN_STORE_URL: url, OFFCHAIN_RPC_URL: url.replace(/postgres(ql)?:/, 'http:') };
      const run = await settings('', env);
      const shown = JSON.stringify(effectiveSettings(MINT, {}, run.sources, env));
      expect(shown, JSON.stringify(url)).toContain('"from":"env OFFCHAIN_STORE_URL"');
      expect(shown, JSON.stringify(url)).not.toContain('SEKRIT');
    }
  });
});

describe('a step acts (sends, broadcasts, publishes) only when its own command line or section says so', () => {
  it('a key at the top of the file that would make every command with it act is E_CONFIG naming the line', async () => {
    for (const [text, command] of [['broadcast=true\n', 'credit exit'], ['peer=http://127.0.0.1:8338\n', 'credit sign-update'], ['publish=true\n', 'credit open'], ['resend=true\n', 'device pay'], ['start=1\n', 'credit abandon'], ['resume=true\n', 'gateway pay'],
      // What one step works on, its clock and a fee risk: set once, every later step would take them.
      ['amount=1000\n', 'credit sign-update'], ['contract=ab\n', 'credit exit'], ['tip_height=900000\n', 'credit sign-update'], ['now=1800000000\n', 'device pay'], ['allow_unanchored=true\n', 'credit exit']] as const) {
      const e = await settings(text, {}, command).then(() => undefined, (x: UsageError) => x);
      expect(e, text).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
      expect(e!.message, text).toMatch(/^f line 1: /);
      // The commands it names are those with the flag (a two-word key's flag has a dash).
      expect(e!.message, text).toMatch(new RegExp(`every command with --${text.split('=')[0]!.replace(/_/g, '-')} act \\([1-9]\\d* of them\\)`));
    }
  });
  it('an inherited OFFCHAIN_BROADCAST or OFFCHAIN_PEER is E_CONFIG naming the variable, never --broadcast or --peer', async () => {
    for (const [env, command] of [[{ OFFCHAIN_BROADCAST: '1' }, 'credit exit'], [{ OFFCHAIN_BROADCAST: 'true' }, 'statechain withdraw'], [{ OFFCHAIN_PEER: 'http://127.0.0.1:8338' }, 'device pay'], [{ OFFCHAIN_PUBLISH: '1' }, 'credit open'], [{ OFFCHAIN_AMOUNT: '1000' }, 'credit sign-update'], [{ OFFCHAIN_TIP_HEIGHT: '900000' }, 'credit exit']] as const) {
      const e = await settings('', env, command).then((r) => r.argv, (x: UsageError) => x);
      expect(e, JSON.stringify(env)).toMatchObject({ code: 'E_CONFIG', exitCode: 2, message: expect.stringMatching(/^\$OFFCHAIN_(BROADCAST|PEER|PUBLISH|AMOUNT|TIP_HEIGHT): /) });
    }
  });
  it('in the command\'s own section, or on the command line, it is taken', async () => {
    expect((await settings('[credit exit]\nbroadcast=true\n', {}, 'credit exit')).argv).toEqual(['--broadcast']);
    expect((await settings('[device pay]\npeer=http://127.0.0.1:8338\n', {}, 'device pay')).argv).toEqual(['--peer=http://127.0.0.1:8338']);
    expect((await settings('[credit open]\npublish=true\n', {}, 'credit open')).argv).toEqual(['--publish']);
    // Another command's section says nothing to this one.
    expect((await settings('[credit exit]\nbroadcast=true\n', {}, 'statechain withdraw')).argv).toEqual([]);
  });
});

describe('the file read is a regular file of a configuration\'s size that no other user may change', () => {
  const dir = tempDir('offchain-config-attacks-');
  afterAll(() => dir.cleanup());
  const refusedAs = (path: string) => {
    try {
      readConfigFile(['--config', path], {}, '/h');
    } catch (e) {
      return `${(e as UsageError).code} ${(e as UsageError).exitCode} ${(e as UsageError).message}`;
    }
    return 'read';
  };
  it('a device, a FIFO (no writer: it would wait forever) and a directory are E_CONFIG at once; /dev/null is no configuration', () => {
    const fifo = join(dir.path, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const path of ['/dev/zero', fifo, dir.path]) expect(refusedAs(path), path).toMatch(/^E_CONFIG 2 /);
    expect(readConfigFile(['--config', '/dev/null'], {}, '/h')?.lines).toEqual([]);
  });
  it('a file over 1 MiB is E_CONFIG (no configuration is that long)', () => {
    const big = join(dir.path, 'big.conf');
    writeFileSync(big, `# ${'x'.repeat(2 << 20)}\nnetwork=regtest\n`);
    expect(refusedAs(big)).toMatch(/^E_CONFIG 2 .*bytes/);
  });
  it('a file every user may write is E_CONFIG: any of them could point peer, rpc_url or key_file elsewhere', () => {
    const loose = join(dir.path, 'loose.conf');
    writeFileSync(loose, 'network=regtest\n');
    chmodSync(loose, 0o666);
    expect(refusedAs(loose)).toMatch(/^E_CONFIG 2 .*every user/);
    chmodSync(loose, 0o644);
    expect(refusedAs(loose)).toBe('read');
  });
});
