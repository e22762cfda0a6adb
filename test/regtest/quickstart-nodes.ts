/**
 * `node scripts/quickstart.mjs --nodes-only …` for a test file: started once, ready when it
 * prints its "Ctrl-C stops everything it started." line, its work directory (env.sh, bin/,
 * keys/, the nodes' data) read from its first line, stopped by SIGTERM (the script stops
 * what it started, in order). What its summary named and is still running after that is
 * stopped here, saying so, and its work directory removed: a safety net, so that a quick start
 * that fails to stop what it started (as --postgres once did: quickstart.test.ts guards that)
 * leaks nothing into the rest of the run. test/regtest/doc-nodes.test.ts and
 * doc-nodes-operators.test.ts run the docs' blocks against it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT, nodeTempDirRoot, running } from '../helpers.ts';
import { nutshellVenv } from '../nutshell/nutshell.ts';
import { environmentOutsideRuns } from '../e2e/cli.ts';

export type QuickstartNodes = { work: string; out: string; stop: () => Promise<void> };

export async function startQuickstartNodes(args: string[], peers: Record<string, string | undefined>, readyMs = 240_000): Promise<QuickstartNodes> {
  const env = { ...environmentOutsideRuns() } as NodeJS.ProcessEnv;
  for (const [k, v] of Object.entries(peers)) if (v) env[k] = v;
  await quickstartInNodeTempDir(env);
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'quickstart.mjs'), '--nodes-only', ...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await Promise.race([closed, sleep(60_000)]);
    }
    const work = /work directory (\S+)/.exec(out)?.[1];
    // Only a process of this quick start: running, and its command line names the work directory (not a reused pid).
    const ours = (pid: number) => {
      try {
        return running(pid) && !!work && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(work);
      } catch {
        return false;
      }
    };
    const left = [...out.matchAll(/\bpid (\d+)/g)].map((m) => Number(m[1])).filter(ours);
    if (left.length) console.warn(`[regtest] the quick start left pid ${left.join(', ')} running after SIGTERM: stopping them here`);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const pid of left.filter(ours)) {
        try {
          process.kill(pid, signal);
        } catch { /* gone */ }
      }
      for (let i = 0; i < 150 && left.some(ours); i++) await sleep(100);
    }
    if (work && existsSync(work)) rmSync(work, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`quickstart not ready in ${readyMs / 1000} s\n${out}\n${err}`)), readyMs);
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (/Ctrl-C stops everything it started\.\n/.test(out)) (clearTimeout(timer), resolve());
      });
      child.on('close', (status) => (clearTimeout(timer), reject(new Error(`quickstart exited ${status}\n${out}\n${err}`))));
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { work: /work directory (\S+)/.exec(out)![1]!, out, stop };
}

/**
 * The quick start's environment, changed so that its work directory (the nodes' data) is
 * where the suite's own nodes keep theirs (helpers.ts nodeTempDirRoot), with the Nutshell
 * venv it would otherwise look for under TMPDIR named as it is (the same cached venv).
 */
export async function quickstartInNodeTempDir(env: NodeJS.ProcessEnv): Promise<void> {
  if (nodeTempDirRoot() === tmpdir()) return;
  if (env['NUTSHELL'] && !env['VENV']) env['VENV'] = await nutshellVenv(env['NUTSHELL']);
  env['TMPDIR'] = nodeTempDirRoot();
}
