/**
 * The shipped deployment files (deploy/, docs/deploy.md; issue 72 item 6), checked against the
 * real CLI: each systemd unit's ExecStart run by the built CLI with --print-config against the
 * configuration file it names (deploy/etc/offchain/), its credentials where systemd would put
 * them; the units' sandboxing, restart and stop settings; `systemd-analyze verify` where this
 * machine has it; every key of every shipped configuration file known to the commands; the
 * Dockerfile's sources present and its runtime's packages the production dependencies; the
 * compose file's YAML (read by Python's PyYAML: no YAML parser among our packages), its
 * offchain commands, files and addresses consistent with its configuration and HAProxy's.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT, tempDir } from '../helpers.ts';
import { run } from './cli.ts';
import { checkConfigFile, type FlagDef } from '../../src/lib/cli/config.ts';
import { parseConfigText } from '../../src/lib/cli/config-file.ts';

const DEPLOY = join(ROOT, 'deploy');
const dir = tempDir('offchain-deploy-');
afterAll(() => dir.cleanup());

type Manifest = { commands: Record<string, { flags: Record<string, FlagDef> }> };
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest;
const COMMANDS = Object.fromEntries(Object.entries(manifest.commands).map(([id, c]) => [id.replace(/:/g, ' '), c.flags]));
const COMMAND_IDS = Object.keys(COMMANDS);

/** A unit file's directives: name → values (continuation lines joined), section by section flattened. */
function unitDirectives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const joined = text.replace(/\\\n\s*/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const [k, v] = [line.slice(0, eq), line.slice(eq + 1)];
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}

/** The offchain command words at the front of args (the longest known id). */
function commandOf(args: string[]): string {
  for (let n = Math.min(args.length, 4); n > 0; n--) if (COMMAND_IDS.includes(args.slice(0, n).join(' '))) return args.slice(0, n).join(' ');
  throw new Error(`no offchain command in ${args.join(' ')}`);
}

type Effective = { command: string; file: string; settings: Record<string, { value: unknown; from: string }> };

const UNITS = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service')).sort();

describe('the systemd units', () => {
  it('ship one for each service and the watcher', () => {
    expect(UNITS).toEqual(['offchain-gateway.service', 'offchain-mint.service', 'offchain-statechain.service', 'offchain-watch.service']);
  });

  for (const unit of UNITS) {
    it(`${unit}: its ExecStart parses with the real CLI against the configuration file it names, its credentials where systemd puts them`, () => {
      const d = unitDirectives(readFileSync(join(DEPLOY, 'systemd', unit), 'utf8'));
      const [exec] = d.get('ExecStart')!;
      const words = exec!.split(/\s+/);
      expect(words[0]).toBe('/usr/bin/offchain');
      const args = words.slice(1);
      const command = commandOf(args);
      const role = unit.replace(/^offchain-|\.service$/g, '');
      expect(args.slice(args.indexOf('--config'), args.indexOf('--config') + 2)).toEqual(['--config', `/etc/offchain/${role}.conf`]);
      // The credentials: every one loaded is used as ${CREDENTIALS_DIRECTORY}/NAME, and nothing else is read from there.
      const loaded = (d.get('LoadCredential') ?? []).map((c) => c.split(':')[0]!);
      const used = [...exec!.matchAll(/\$\{CREDENTIALS_DIRECTORY\}\/([\w.-]+)/g)].map((m) => m[1]!);
      expect(used.sort()).toEqual([...loaded].sort());
      expect(loaded).toContain(`${role === 'watch' ? 'mint' : role}.key`);
      const credentials = join(dir.path, `credentials-${role}`);
      const argv = args.map((w) => w.replace('${CREDENTIALS_DIRECTORY}', credentials).replace(`/etc/offchain/${role}.conf`, join(DEPLOY, 'etc/offchain', `${role}.conf`)));
      const r = run([...argv, '--print-config']);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Effective;
      expect(out.command).toBe(command);
      expect(out.settings.key_file).toEqual({ value: join(credentials, `${role === 'watch' ? 'mint' : role}.key`), from: 'flag' });
      // Each setting of the file reached the command.
      const fileKeys = parseConfigText(readFileSync(join(DEPLOY, 'etc/offchain', `${role}.conf`), 'utf8'), 'f').filter((l) => l.section === undefined || l.section === command).map((l) => l.key);
      for (const key of fileKeys) expect(out.settings[key]?.from, key).toMatch(/^file /);
      // The state directory is the unit's StateDirectory, under /var/lib.
      expect(out.settings.state_dir!.value).toBe(`/var/lib/${d.get('StateDirectory')![0]}`);
      // systemd waits past the drain before it kills.
      const drain = (out.settings.drain_timeout?.value as number | undefined) ?? 0;
      expect(Number(d.get('TimeoutStopSec')![0])).toBeGreaterThan(drain);
    });

    it(`${unit}: sandboxed, restarted on failure, stopped with SIGTERM`, () => {
      const d = unitDirectives(readFileSync(join(DEPLOY, 'systemd', unit), 'utf8'));
      const one = (k: string) => d.get(k)?.[0];
      expect({
        user: one('User') ?? (one('DynamicUser') === 'yes' ? 'dynamic' : undefined),
        ProtectSystem: one('ProtectSystem'), NoNewPrivileges: one('NoNewPrivileges'), PrivateTmp: one('PrivateTmp'),
        ProtectHome: one('ProtectHome'), Restart: one('Restart'), KillSignal: one('KillSignal'), UMask: one('UMask'),
      }).toEqual({ user: 'offchain', ProtectSystem: 'strict', NoNewPrivileges: 'yes', PrivateTmp: 'yes', ProtectHome: 'yes', Restart: 'on-failure', KillSignal: 'SIGTERM', UMask: '0077' });
      // The user the sysusers.d file creates.
      expect(readFileSync(join(DEPLOY, 'sysusers.d/offchain.conf'), 'utf8')).toMatch(/^u offchain /m);
    });
  }

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.skipIf(analyze.status !== 0)('systemd-analyze verify accepts every unit (the offchain binary stood in by a script)', () => {
    const units = join(dir.path, 'units');
    mkdirSync(units, { recursive: true });
    const bin = join(dir.path, 'offchain');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    for (const unit of UNITS) writeFileSync(join(units, unit), readFileSync(join(DEPLOY, 'systemd', unit), 'utf8').replaceAll('/usr/bin/offchain', bin));
    const r = spawnSync('systemd-analyze', ['verify', ...UNITS.map((u) => join(units, u))], { encoding: 'utf8' });
    expect(r.stderr.split('\n').filter((l) => l.trim() !== '' && !/Failed to (open|read) .*multi-user.target|Cannot add dependency job/.test(l)), r.stderr).toEqual([]);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('the shipped configuration files', () => {
  const confs = [...readdirSync(join(DEPLOY, 'etc/offchain')).map((f) => `etc/offchain/${f}`), 'compose/mint.conf'];
  it.each(confs)('%s: every key known to the commands, no secret in it', (file) => {
    const path = join(DEPLOY, file);
    expect(() => checkConfigFile({ path, lines: parseConfigText(readFileSync(path, 'utf8'), path) }, COMMANDS)).not.toThrow();
  });
});

describe('the Dockerfile', () => {
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const ignore = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  it('copies from the build context only what exists and the ignore file lets through', () => {
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const s of sources) {
      expect(existsSync(join(ROOT, s)), s).toBe(true);
      expect(ignore, s).toContain(s);
    }
  });
  it('runs on Node 24 slim, as a user that is not root, from the bundle and the production dependencies', () => {
    expect([...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['${NODE_IMAGE}', '${NODE_IMAGE}', '${NODE_IMAGE}']);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/npm ci --omit=dev/);
    // What bin/run.js loads: the bundle, the manifest, package.json — copied into the last stage.
    for (const f of ['/src/bin', '/src/dist', '/src/oclif.manifest.json', '/src/package.json']) expect(text, f).toContain(f);
    // The bundle keeps these packages outside it (scripts/build.mjs): each is a production dependency, or an optional one
    // (npm ci --omit=dev installs those too; zeromq, which a watcher loads only for a node that offers ZMQ).
    const build = readFileSync(join(ROOT, 'scripts/build.mjs'), 'utf8');
    const external = JSON.parse(/external: (\[[^\]]*\])/.exec(build)![1]!.replace(/'/g, '"')) as string[];
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies: Record<string, string> };
    const deps = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies)];
    for (const p of external.filter((p) => !['typescript', 'ts-node'].includes(p))) expect(deps, p).toContain(p);
  });
});

describe('the compose file', () => {
  // The `yaml` package (a devDependency), strict, with the `<<` merge keys compose reads: a duplicate key or any other error throws.
  const parsed = (() => {
    try {
      return { doc: parseYaml(readFileSync(join(DEPLOY, 'compose/compose.yaml'), 'utf8'), { strict: true, uniqueKeys: true, merge: true }) as unknown };
    } catch (e) {
      return { error: (e as Error).message };
    }
  })();
  it('is YAML', () => {
    expect(parsed.error).toBeUndefined();
  });
  type Service = { image?: string; build?: { context: string; dockerfile: string }; command?: string[]; volumes?: string[]; secrets?: string[]; networks?: Record<string, { ipv4_address?: string }> };
  const compose = () => parsed.doc as { services: Record<string, Service>; secrets: Record<string, { file: string }> };

  it('has the mint (two processes), its watcher, Nutshell, bitcoind, PostgreSQL and a balancer', () => {
    const s = compose().services;
    expect(Object.keys(s).sort()).toEqual(['balancer', 'bitcoind', 'mint-1', 'mint-2', 'mint-init', 'nutshell', 'postgres', 'watch']);
    // Every offchain service builds the image from this repository (none is in a registry).
    for (const name of ['mint-init', 'mint-1', 'mint-2', 'watch']) expect(s[name]!.build, name).toEqual({ context: '../..', dockerfile: 'deploy/Dockerfile' });
    expect(existsSync(join(DEPLOY, 'compose', '../..', 'deploy/Dockerfile'))).toBe(true);
  });

  it('runs offchain commands that parse with the real CLI against its configuration file, from that file alone', () => {
    const services = Object.entries(compose().services).filter(([, s]) => s.image === 'offchain:latest');
    expect(services.map(([n]) => n).sort()).toEqual(['mint-1', 'mint-2', 'mint-init', 'watch']);
    for (const [name, s] of services) {
      const args = s.command!;
      expect(args.slice(-2), name).toEqual(['--config', '/etc/offchain/mint.conf']);
      const mount = s.volumes!.find((v) => v.endsWith(':/etc/offchain/mint.conf:ro'))!;
      const conf = join(DEPLOY, 'compose', mount.split(':')[0]!);
      expect(existsSync(conf), name).toBe(true);
      const command = commandOf(args);
      if (command === 'credit open') continue; // no --print-config: its keys are checked above
      const r = run([...args.slice(0, -1), conf, '--print-config']);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as Effective;
      expect(out.settings.key_file, name).toEqual({ value: '/run/secrets/mint_key', from: `file ${conf} line 6` });
      expect(s.secrets, name).toEqual(expect.arrayContaining(['mint_key', 'store_password']));
    }
  });

  it('agrees with mint.conf and haproxy.cfg: the balancer trusted, the mint processes its servers on their port', () => {
    const c = compose();
    const lines = parseConfigText(readFileSync(join(DEPLOY, 'compose/mint.conf'), 'utf8'), 'mint.conf');
    const key = (k: string) => lines.find((l) => l.key === k && (l.section === undefined || l.section === 'serve mint'))!.value;
    expect(c.services.balancer!.networks!.default!.ipv4_address).toBe(key('trust_proxy'));
    const port = key('listen').split(':').at(-1);
    const haproxy = readFileSync(join(DEPLOY, 'compose/haproxy.cfg'), 'utf8');
    expect([...haproxy.matchAll(/^\s*server (\S+) (\S+)/gm)].map((m) => [m[1], m[2]])).toEqual([['mint-1', `mint-1:${port}`], ['mint-2', `mint-2:${port}`]]);
    expect(haproxy).toMatch(/balance hdr\(Offchain-Contract\)/);
    expect(c.services.balancer!.volumes).toEqual(['./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro']);
    // Each secret mint.conf names is one compose mounts.
    for (const l of lines.filter((x) => x.value.startsWith('/run/secrets/'))) expect(Object.keys(c.secrets), l.key).toContain(l.value.slice('/run/secrets/'.length));
    expect(dirname(key('rpc_cookie'))).toMatch(/^\/bitcoin\//);
  });
});


describe('docs/config.md', () => {
  it('shows each shipped configuration file as it is (the blocks that run it with --print-config)', () => {
    const doc = readFileSync(join(ROOT, 'docs/config.md'), 'utf8');
    for (const role of ['mint', 'watch', 'gateway', 'statechain']) {
      const block = new RegExp(`cat > ${role}\\.conf <<'EOF'\\n([\\s\\S]*?)^EOF$`, 'm').exec(doc);
      expect(block?.[1], role).toBe(readFileSync(join(DEPLOY, 'etc/offchain', `${role}.conf`), 'utf8'));
    }
  });
});
