/**
 * Test harness for real Nutshell 0.20.3 mints (the ecash mint the credit mint fronts): find
 * the folder holding its wheels, setup.sh and start.sh ($NUTSHELL, which .ci/run sets from
 * ../shared/nutshell), build its venv once (a cache directory keyed by the wheels' checksums,
 * built under a lock and marked complete last, so parallel runs never use half a venv), and start
 * mints with start.sh on free 127.0.0.1 ports in temporary data directories — their
 * management RPC open (no TLS, loopback) so a test can rotate a keyset as an operator does
 * with `mint-cli next-keyset`. The suite is skipped, visibly, when NUTSHELL is unset.
 *
 * A wallet's side of a swap (POST /v1/swap) is built with cashu-ts (devDependency, shares
 * nothing with src/): its token decoding, blinding and DLEQ check.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { blindMessage, getDecodedToken, hashToCurve, verifyDLEQProof } from '@cashu/cashu-ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { freePort } from '../regtest/bitcoind.ts';
import { environmentOutsideRuns } from '../e2e/cli.ts';
import { freshExchange, nodeTempDirRoot, running } from '../helpers.ts';
import { systemTempDir } from '../setup/run-tmp.ts';

const run = promisify(execFile);

/** $NUTSHELL when it holds setup.sh and start.sh; a NUTSHELL naming anything else is returned as is, so the suite fails loudly rather than skipping. */
export function findNutshell(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env['NUTSHELL']?.trim();
  return dir || undefined;
}

/**
 * The venv, built once per wheelhouse (~15–35 s) and reused by every later run and file. A
 * venv cannot be moved (its scripts name its path), so it is built in place under a lock
 * directory and marked complete last; a run finding the lock waits for it, and takes over a
 * lock whose builder died.
 */
export async function nutshellVenv(dir: string): Promise<string> {
  const key = createHash('sha256').update(readFileSync(join(dir, 'wheelhouse.SHA256SUMS'))).update(readFileSync(join(dir, 'requirements-lock.txt'))).digest('hex').slice(0, 16);
  const venv = join(systemTempDir(), `offchain-nutshell-venv-${key}`);
  const complete = join(venv, '.offchain-complete');
  const lock = `${venv}.lock`;
  for (let waited = 0; !existsSync(complete); waited++) {
    try {
      mkdirSync(lock);
    } catch {
      const owner = Number(readFileSync(join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      let alive = owner > 0;
      try {
        if (alive) process.kill(owner, 0);
      } catch {
        alive = false;
      }
      if (!alive && waited > 5) rmSync(lock, { recursive: true, force: true });
      if (waited > 600) throw new Error(`waited 5 minutes for ${lock} (another run building the Nutshell venv)`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      writeFileSync(join(lock, 'pid'), String(process.pid));
      if (!existsSync(complete)) {
        await run('bash', [join(dir, 'setup.sh')], { env: { ...environmentOutsideRuns(), VENV: venv }, timeout: 240_000 });
        writeFileSync(complete, new Date().toISOString());
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return venv;
}

export type NutshellOptions = { seed: string; inputFeePpk?: number; keysetIdVersion?: 'v1' | 'v2'; derivationPath?: string };

export type NutshellMint = {
  url: string;
  dataDir: string;
  pid: number;
  /** mint-cli next-keyset sat [fee]: the next index becomes the active keyset (the management RPC, as an operator rotates). */
  rotate(inputFeePpk?: number): Promise<string>;
  /** mint-cli get keysets: the mint's own accounting per keyset (balance: its outstanding-ecash liability; fees_paid). */
  accounting(): Promise<{ id: string; balance: number; fees_paid: number }[]>;
  /**
   * The mint process's CPU so far (user + system, /proc/PID/stat), for measuring: start.sh launches it
   * in the background and exits, so it is init's child and no `time` of the test run counts it.
   */
  cpuSeconds(): number;
  stop(): Promise<void>;
};

/** start.sh's own wait is 120 probes 0.5 s apart (60 s and more); a start, twice that for a v1 keyset, may take this long. */
const START_LIMIT_MS = 120_000;

/**
 * Run start.sh in a process group of its own and return its stdout. The mint it launches in
 * the background stays in that group, so a start.sh that fails, or is killed at its limit,
 * takes that mint with it instead of leaving it running on the machine.
 */
export function startScript(script: string, args: string[], env: NodeJS.ProcessEnv, limitMs = START_LIMIT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* nothing left in the group */
      }
    };
    const timer = setTimeout(() => {
      killed = true;
      killGroup();
    }, limitMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && !killed) return resolve(stdout);
      killGroup();
      // Killed mid-wait, its stderr ends at its last step: say so.
      reject(new Error(`${killed ? `killed at its ${limitMs / 1000} s limit (the mint did not answer in time); ` : `exit ${code}; `}${stderr.trim()}`));
    });
  });
}

async function startOnce(dir: string, venv: string, o: NutshellOptions): Promise<NutshellMint> {
  const [port, rpcPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(nodeTempDirRoot(), 'offchain-nutshell-mint-')); // in memory when it can be (helpers.ts)
  const env: NodeJS.ProcessEnv = {
    ...environmentOutsideRuns(), VENV: venv, DATA_DIR: dataDir,
    MINT_RPC_SERVER_ENABLE: 'TRUE', MINT_RPC_SERVER_MUTUAL_TLS: 'FALSE', MINT_RPC_SERVER_ADDR: '127.0.0.1', MINT_RPC_SERVER_PORT: String(rpcPort),
    ...(o.inputFeePpk !== undefined ? { INPUT_FEE_PPK: String(o.inputFeePpk) } : {}),
    ...(o.keysetIdVersion ? { KEYSET_ID_VERSION: o.keysetIdVersion } : {}),
    ...(o.derivationPath ? { DERIVATION_PATH: o.derivationPath } : {}),
  };
  let stdout: string;
  try {
    stdout = await startScript(join(dir, 'start.sh'), [String(port), o.seed], env);
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`start.sh on port ${port} failed: ${(e as Error).message}`);
  }
  const pid = Number(stdout.trim().split('\n').at(-1));
  const url = `http://127.0.0.1:${port}`;
  return {
    url, dataDir, pid,
    async rotate(inputFeePpk = 100) {
      const { stdout: out } = await run(join(venv, 'bin', 'mint-cli'), ['--insecure', '-h', '127.0.0.1', '-p', String(rpcPort), 'next-keyset', 'sat', String(inputFeePpk)], { cwd: dataDir, env: { ...environmentOutsideRuns(), HOME: dataDir }, timeout: 30_000 });
      return out;
    },
    async accounting() {
      const { stdout: out } = await run(join(venv, 'bin', 'mint-cli'), ['--insecure', '-h', '127.0.0.1', '-p', String(rpcPort), 'get', 'keysets'], { cwd: dataDir, env: { ...environmentOutsideRuns(), HOME: dataDir }, timeout: 30_000 });
      // protobuf text format, one "keyset:" block each; a field at its default (0) is not printed
      return out.split('keyset:').slice(1).map((b) => ({
        id: /\bid: "([0-9a-f]+)"/.exec(b)![1]!,
        balance: Number(/\bbalance: (-?\d+)/.exec(b)?.[1] ?? 0),
        fees_paid: Number(/\bfees_paid: (\d+)/.exec(b)?.[1] ?? 0),
      }));
    },
    cpuSeconds() {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const [utime, stime] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
        return (utime! + stime!) / 100; // USER_HZ, 100 on Linux
      } catch {
        return NaN; // gone
      }
    },
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone already */
      }
      for (let i = 0; i < 80 && running(pid); i++) await new Promise((r) => setTimeout(r, 100));
      // Only a mint still there: once gone, its pid is free for any process the suite starts next
      // (pid_max is 32768 on CI's machine, and a suite run wraps it).
      if (running(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* stopped */
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A mint on a free port (once more on another port if something took it between the probe and the bind). */
export async function startNutshell(dir: string, venv: string, o: NutshellOptions): Promise<NutshellMint> {
  try {
    return await startOnce(dir, venv, o);
  } catch (e) {
    if (!String(e).includes('already in use')) throw e;
    return startOnce(dir, venv, o);
  }
}

// ——— a wallet at the mint: GET, POST, and a swap built with cashu-ts ———

// Each request on a connection of its own (freshExchange): Nutshell's uvicorn closes an idle
// keep-alive connection after 5 s and Node's fetch keeps one for 4 s, on a clock a busy event loop
// stretches. The restore test runs the credit mint's payments in this process, so a request could
// leave on a connection the mint had just closed: "other side closed" (UND_ERR_SOCKET), seen once in
// a clean run on GET /v1/keysets. `connection: close` on fetch would not do: fetch may still send it
// on an idle socket of its pool, which the credit mint's own commands in this process fill (they
// read the mint's keysets with fetch). harness.test.ts reproduces it.

export async function getJson(url: string): Promise<any> {
  const r = await freshExchange(url, 'GET', undefined, 20_000);
  if (r.status < 200 || r.status > 299) throw new Error(`GET ${url}: HTTP ${r.status} ${r.text}`);
  return JSON.parse(r.text);
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await freshExchange(url, 'POST', JSON.stringify(body), 30_000);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.text);
  } catch {
    parsed = undefined;
  }
  return { status: r.status, body: parsed };
}

type Keyset = { id: string; unit: string; active: boolean; input_fee_ppk: number };

/** Powers of two summing to n, largest first. */
const split = (n: number) => Array.from({ length: 53 }, (_, i) => 2 ** i).filter((p) => Math.floor(n / p) % 2 === 1).reverse();

export type SwapResult = { status: number; body: any; inputs: number; fee: number; amount: number };

/**
 * A wallet receives a token at the mint: every proof as an input of POST /v1/swap, the
 * outputs (blinded by cashu-ts) summing to the amount minus the input fee the mint's
 * keysets announce (NUT-02: ceil(Σ input_fee_ppk / 1000)). On success every returned
 * signature's DLEQ is checked with cashu-ts against the keys of the active keyset.
 */
export async function swapToken(url: string, token: string): Promise<SwapResult> {
  const keysets = (await getJson(`${url}/v1/keysets`)).keysets as Keyset[];
  const decoded = getDecodedToken(token, keysets.map((k) => k.id));
  const inputs = decoded.proofs.map((p) => ({ id: p.id, amount: Number(p.amount.toString()), secret: p.secret, C: p.C }));
  const amount = inputs.reduce((s, p) => s + p.amount, 0);
  const ppk = inputs.reduce((s, p) => s + (keysets.find((k) => k.id === p.id)?.input_fee_ppk ?? 0), 0);
  const fee = Math.ceil(ppk / 1000);
  const active = keysets.find((k) => k.active && k.unit === 'sat')!;
  const keys = (await getJson(`${url}/v1/keys/${active.id}`)).keysets[0].keys as Record<string, string>;
  const blinded = split(amount - fee).map((a) => {
    const bm = blindMessage(new TextEncoder().encode(randomBytes(32).toString('hex')));
    return { a, bm, out: { amount: a, id: active.id, B_: bm.B_.toHex(true) } };
  });
  const r = await postJson(`${url}/v1/swap`, { inputs, outputs: blinded.map((b) => b.out) });
  if (r.status === 200) {
    if (r.body.signatures.length !== blinded.length) throw new Error(`the swap returned ${r.body.signatures.length} signatures for ${blinded.length} outputs`);
    for (const [i, s] of (r.body.signatures as { amount: number; C_: string; dleq: { e: string; s: string } }[]).entries()) {
      const A = secp256k1.Point.fromHex(keys[String(s.amount)]!);
      const ok = verifyDLEQProof({ e: Buffer.from(s.dleq.e, 'hex'), s: Buffer.from(s.dleq.s, 'hex') }, blinded[i]!.bm.B_, secp256k1.Point.fromHex(s.C_) as never, A as never);
      if (!ok) throw new Error(`the swap's signature ${i} has no valid DLEQ for the active keyset`);
    }
  }
  return { ...r, inputs: inputs.length, fee, amount };
}

/** POST /v1/checkstate for every proof of a token: their states (UNSPENT, PENDING, SPENT). */
export async function proofStates(url: string, token: string): Promise<string[]> {
  const keysets = (await getJson(`${url}/v1/keysets`)).keysets as Keyset[];
  const Ys = getDecodedToken(token, keysets.map((k) => k.id)).proofs.map((p) => hashToCurve(new TextEncoder().encode(p.secret)).toHex(true));
  const r = await postJson(`${url}/v1/checkstate`, { Ys });
  if (r.status !== 200) throw new Error(`checkstate: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body.states as { state: string }[]).map((s) => s.state);
}
