/**
 * The configuration file (src/lib/cli/config.ts, docs/config.md): every flag of every command a
 * key, sections per command, the precedence flag > environment > section > top > default,
 * paths' `~/` expanded, secrets refused, and an unknown key or section named with what it was
 * probably meant to be. The flag tables are the commands' own (the built manifest, serve mint's class).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../../helpers.ts';
import { checkConfigFile, envOf, keyOf, NOT_KEYS, ONE_STEP, resolveSettings, type FlagDef } from '../../../src/lib/cli/config.ts';
import { parseConfigText, readConfigFile } from '../../../src/lib/cli/config-file.ts';
import { ClnRpc } from '../../../src/lib/lightning/cln-rpc.ts';
import ServeMint from '../../../src/commands/serve/mint.ts';

const dir = tempDir('offchain-config-');
afterAll(() => dir.cleanup());

type Manifest = { commands: Record<string, { flags: Record<string, FlagDef> }> };
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest;
const COMMANDS = Object.fromEntries(Object.entries(manifest.commands).map(([id, c]) => [id.replace(/:/g, ' '), c.flags]));
const MINT = { ...ServeMint.baseFlags, ...ServeMint.flags } as unknown as Record<string, FlagDef>;

/** serve mint's settings from `text` (a file), `env` and `argv`: the words added, the sources, the variables filled. */
async function mint(text: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []) {
  const path = join(dir.path, 'config');
  writeFileSync(path, text);
  return resolveSettings({ command: 'serve mint', defs: MINT, argv, env, home: '/home/operator', file: { path, lines: parseConfigText(text, path) }, commands: () => COMMANDS });
}

function refusal(f: () => unknown): { code?: string; exitCode?: number; message: string } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; exitCode?: number; message: string };
  }
  throw new Error('accepted');
}
async function refusalOf(p: Promise<unknown>) {
  return p.then(() => { throw new Error('accepted'); }, (e: { code?: string; exitCode?: number; message: string }) => e);
}

describe('every flag of every command is a key (the flag\'s long name, - → _)', () => {
  it('a file with each command\'s every flag in its section, and each at the top (but those that make a step act), is accepted', () => {
    const lines: string[] = [];
    let keys = 0;
    for (const [id, flags] of Object.entries(COMMANDS)) {
      lines.push(`[${id}]`);
      for (const [name, def] of Object.entries(flags)) {
        if (NOT_KEYS.has(name) || /(^|-)(secret|password|seed|preimage)$/.test(name)) continue;
        lines.push(`${keyOf(name)}=${def.type === 'boolean' ? 'true' : 'x'}`);
        keys++;
      }
    }
    const top = [...new Set(Object.values(COMMANDS).flatMap((f) => Object.keys(f)))].filter((n) => !NOT_KEYS.has(n) && !ONE_STEP.has(keyOf(n)) && !/(^|-)(secret|password|seed|preimage)$/.test(n)).map((n) => `${keyOf(n)}=x`);
    expect(Object.keys(COMMANDS).length).toBeGreaterThanOrEqual(91);
    expect(keys).toBeGreaterThan(500);
    expect(() => checkConfigFile({ path: 'f', lines: parseConfigText([...top, ...lines].join('\n'), 'f') }, COMMANDS)).not.toThrow();
  });
  it('the keys that are not: the file\'s own flag, --print-config, and what is read before the file', () => {
    for (const key of ['config', 'print_config', 'debug', 'json_errors']) {
      expect(refusal(() => checkConfigFile({ path: 'f', lines: parseConfigText(`${key}=true\n`, 'f') }, COMMANDS))).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
    }
  });
  it('each key\'s variable is OFFCHAIN_<KEY>, the older names kept', () => {
    expect(envOf('max_connections')).toBe('OFFCHAIN_MAX_CONNECTIONS');
    expect(envOf('store')).toBe('OFFCHAIN_STORE_URL');
    expect(envOf('state_dir')).toBe('OFFCHAIN_STATE_DIR');
    expect(envOf('lightning_rpc', MINT['lightning-rpc'])).toBe('OFFCHAIN_LIGHTNING_RPC');
  });
});

describe('precedence: flag > environment > [section] > top > default', () => {
  const text = 'max_connections=100\n[serve mint]\nmax_connections=200\n';
  const env = { OFFCHAIN_MAX_CONNECTIONS: '300' };
  it.each([
    ['the flag on argv', text, env, ['--max-connections', '400'], [], 'flag'],
    ['the environment', text, env, [], ['--max-connections=300'], 'env'],
    ['the command\'s section', text, {}, [], ['--max-connections=200'], 'file'],
    ['the top of the file', 'max_connections=100\n[serve gateway]\nmax_connections=200\n', {}, [], ['--max-connections=100'], 'file'],
    ['the default', '# nothing\n', {}, [], [], undefined],
  ])('%s', async (_what, file, e, argv, words, from) => {
    const r = await mint(file, e, argv);
    expect(r.argv.filter((w) => w.startsWith('--max-connections'))).toEqual(words);
    expect(r.sources['max-connections']?.from).toBe(from);
  });
  it('a flag given as an alias, --no-x or its letter counts as given', async () => {
    expect((await mint('watch=true\nquiet=true\n', {}, ['--no-watch', '-q'])).argv).toEqual([]);
  });
  it('a key another command has is ignored by this one; a key no command has is E_CONFIG with the key meant', async () => {
    expect((await mint('payout_address=bcrt1qx\nmax_connections=9\n')).argv).toEqual(['--max-connections=9']);
    const e = await refusalOf(mint('max_conections=9\n'));
    expect(e).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
    expect(e.message).toMatch(/line 1: unknown key "max_conections".*did you mean "max_connections"\?/);
  });
  it('a section key its command does not have, and an unknown section, are E_CONFIG', async () => {
    expect((await refusalOf(mint('[serve mint]\npayout_address=x\n'))).message).toMatch(/"serve mint" has no key "payout_address"/);
    expect((await refusalOf(mint('[serve mnt]\nlisten=x\n'))).message).toMatch(/no command "serve mnt".*did you mean \[serve mint\]\?/);
  });
  it('a value the flag\'s own parser refuses is E_CONFIG naming the line, or the variable', async () => {
    expect((await refusalOf(mint('\n[serve mint]\nmax_connections=lots\n'))).message).toMatch(/config line 3: max_connections: .*integer/i);
    expect((await refusalOf(mint('', { OFFCHAIN_RATE_LIMIT: '-1' }))).message).toMatch(/^\$OFFCHAIN_RATE_LIMIT: rate_limit: /);
    expect((await refusalOf(mint('log_level=loud\n'))).code).toBe('E_CONFIG');
  });
  it('a boolean is true or false (false is --no-x); anything else is E_CONFIG', async () => {
    expect((await mint('watch=false\n')).argv).toEqual(['--no-watch']);
    expect((await mint('watch=true\n')).argv).toEqual(['--watch']);
    expect([...(await mint('', { OFFCHAIN_QUIET: '1', OFFCHAIN_WATCH: '0' })).argv].sort()).toEqual(['--no-watch', '--quiet']);
    expect((await refusalOf(mint('watch=no\n'))).message).toMatch(/watch is true or false/);
  });
  it('a key set twice in one place is refused; once at the top and once in a section is not', async () => {
    expect((await refusalOf(mint('listen=a:1\nlisten=b:2\n'))).message).toMatch(/line 2: "listen" is set twice/);
    expect((await mint('listen=127.0.0.1:1\n[serve mint]\nlisten=127.0.0.1:2\n')).argv).toEqual(['--listen=127.0.0.1:2']);
  });
  it('a flag exclusive with one on argv is not taken from the file (exclusive, exactlyOne)', async () => {
    const defs: Record<string, FlagDef> = { hops: { type: 'option', exactlyOne: ['hops', 'route'] } as FlagDef, route: { type: 'option', exactlyOne: ['hops', 'route'] } as FlagDef, 'fee-rate': { type: 'option', exclusive: ['resend'] }, resend: { type: 'boolean' } };
    const path = join(dir.path, 'x');
    const text = '[ptlc lock-plan]\nhops=2\n';
    const r = await resolveSettings({ command: 'ptlc lock-plan', defs, argv: ['--route', 'r.json'], env: { OFFCHAIN_FEE_RATE: '5' }, home: '/h', file: { path, lines: parseConfigText(text, path) }, commands: () => COMMANDS });
    expect(r.argv).toEqual(['--fee-rate=5']);
    expect((await resolveSettings({ command: 'ptlc lock-plan', defs, argv: ['--resend'], env: { OFFCHAIN_FEE_RATE: '5' }, home: '/h' })).argv).toEqual([]);
  });
  it('a repeated flag is a repeated key, and its variable a comma list', async () => {
    const defs: Record<string, FlagDef> = { 'preimage-file': { type: 'option', multiple: true, helpValue: 'FILE' } };
    const path = join(dir.path, 'm');
    const run = (text: string, env: NodeJS.ProcessEnv = {}) => resolveSettings({ command: 'watch', defs, argv: [], env, home: '/h', file: { path, lines: parseConfigText(text, path) }, commands: () => COMMANDS });
    expect((await run('[watch]\npreimage_file=~/a\npreimage_file=/b\n')).argv).toEqual(['--preimage-file=/h/a', '--preimage-file=/b']);
    expect((await run('', { OFFCHAIN_PREIMAGE_FILE: '/a,/b' })).argv).toEqual(['--preimage-file=/a', '--preimage-file=/b']);
  });
});

describe('paths: ~/ is the home directory (no shell reads the file)', () => {
  it('state_dir, key_file, rpc_cookie, lightning_rpc, store_password_file', async () => {
    const r = await mint('state_dir=~/x\nkey_file=~/mint.key\nrpc_cookie=~/.bitcoin/.cookie\nstore_password_file=~/db.pass\n');
    expect(r.argv).toEqual(expect.arrayContaining(['--state-dir=/home/operator/x', '--key-file=/home/operator/mint.key', '--rpc-cookie=/home/operator/.bitcoin/.cookie', '--store-password-file=/home/operator/db.pass']));
  });
  it('~ alone; an absolute path, a relative one and ~user kept as written; a listen address untouched', async () => {
    expect((await mint('state_dir=~\n')).argv).toEqual(['--state-dir=/home/operator']);
    expect((await mint('state_dir=~other/x\n')).argv).toEqual(['--state-dir=~other/x']);
    expect((await mint('state_dir=rel/dir\n')).argv).toEqual(['--state-dir=rel/dir']);
  });
  it('$OFFCHAIN_STATE_DIR wins over the file, and is left for the command to read', async () => {
    const r = await mint('state_dir=~/x\n', { OFFCHAIN_STATE_DIR: '/from/env' });
    expect(r.argv).toEqual([]);
    expect(r.sources['state-dir']).toEqual({ from: 'env', env: 'OFFCHAIN_STATE_DIR' });
  });
  it('a setting a command reads without having its flag fills its variable (lightning_rpc for serve mint)', async () => {
    expect((await mint('lightning_rpc=~/.lightning/bitcoin/lightning-rpc\n')).envFill).toEqual({ OFFCHAIN_LIGHTNING_RPC: '/home/operator/.lightning/bitcoin/lightning-rpc' });
    expect((await mint('lightning_rpc=/run/x\n', { OFFCHAIN_LIGHTNING_RPC: '/env' })).envFill).toEqual({});
  });
});

describe('secrets only by file', () => {
  it('a URL carrying a password is refused, in any key, the password not echoed', async () => {
    for (const line of ['store=postgres://mint:hunter2@db/mint', 'store=postgres://mint@db/mint?password=hunter2', 'store=postgres://mint:hun/ter2@db/mint', 'rpc_url=http://u:hunter2@127.0.0.1:8332/', '[credit sign-update]\npeer=http://u:hunter2@mint.example/']) {
      const e = await refusalOf(mint(`${line}\n`));
      expect({ code: e.code, exit: e.exitCode }, line).toEqual({ code: 'E_CONFIG', exit: 2 });
      expect(e.message).not.toMatch(/hun/);
    }
  });
  it('a key named for a secret is refused (payment_secret)', async () => {
    expect((await refusalOf(mint('payment_secret=00\n'))).message).toMatch(/would put a secret in the configuration file/);
  });
});

describe('which file', () => {
  it('--config names it, before $OFFCHAIN_CONFIG; a named file that is not there is E_CONFIG', () => {
    const a = join(dir.path, 'a.conf');
    writeFileSync(a, 'network=signet\n');
    expect(readConfigFile(['--config', a], { OFFCHAIN_CONFIG: '/nope' }, '/h')?.lines[0]).toMatchObject({ key: 'network', value: 'signet' });
    expect(readConfigFile([`--config=${a}`], {}, '/h')?.path).toBe(a);
    expect(refusal(() => readConfigFile([], { OFFCHAIN_CONFIG: join(dir.path, 'missing') }, '/h'))).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
    expect(readConfigFile([], {}, dir.path)).toBeUndefined();
  });
  it('a .env file reads the same: upper-case keys, export, quotes', () => {
    expect(parseConfigText('export MAX_CONNECTIONS="512"\nLISTEN=\'127.0.0.1:3338\'\n', 'f').map((l) => [l.key, l.value])).toEqual([['max_connections', '512'], ['listen', '127.0.0.1:3338']]);
  });
  it('a line that is neither key=value nor [command] is E_CONFIG naming it', () => {
    expect(refusal(() => parseConfigText('network=regtest\nlisten 127.0.0.1:1\n', 'f')).message).toMatch(/^f line 2: expected key=value or \[command\]/);
  });
});

describe('the errors that name a setting (issue 41)', () => {
  it('a Lightning node that cannot be reached: the socket\'s flag, environment variable and key named', async () => {
    const e = await new ClnRpc(join(dir.path, 'no-such-socket'), 2000).call('getinfo', {}).catch((x: Error) => x);
    expect(e).toMatchObject({ code: 'E_LIGHTNING_UNREACHABLE' });
    expect((e as Error).message).toContain('--lightning-rpc, $OFFCHAIN_LIGHTNING_RPC or lightning_rpc= in the configuration file');
  });
});
