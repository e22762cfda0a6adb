/**
 * Entry point of the child processes the store tests spawn (bundled with esbuild, as
 * there is no TypeScript loader at run time). One mode per scenario; every mode that
 * races others prints `ready` and waits for a line on stdin, so the parent can release
 * them all at once. Results go to stdout as one JSON line.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { isOffchainError } from '../../../src/lib/errors.ts';
import { ensureDir, writeFileAtomic, type AtomicWriteStep } from '../../../src/lib/store/atomic.ts';
import { sealStateStep, stepHome, withStateStep } from '../../../src/lib/store/state-step.ts';
import { withLock } from '../../../src/lib/store/lock.ts';
import { NonceStore } from '../../../src/lib/store/nonce-store.ts';

const [mode = '', ...args] = process.argv.slice(2);

function waitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  return new Promise((resolve) => process.stdin.once('data', () => resolve()));
}

function crashAt<S extends string>(step: string): (s: S) => void {
  return (s) => {
    if (s === step) process.kill(process.pid, 'SIGKILL');
  };
}

/** Read-sleep-write on a plain file: loses updates unless something serialises it. */
async function increment(dir: string): Promise<void> {
  const file = join(dir, 'count.txt');
  const n = Number(readFileSync(file, 'utf8'));
  await sleep(1);
  writeFileSync(file, String(n + 1));
}

async function main(): Promise<void> {
  switch (mode) {
    case 'count': {
      const [dir = '', times = '0', useLock = 'lock'] = args;
      await waitForGo();
      for (let i = 0; i < Number(times); i++) {
        if (useLock === 'lock') await withLock(dir, () => increment(dir), { timeoutMs: 60_000 });
        else await increment(dir);
      }
      process.stdout.write('done\n');
      break;
    }
    case 'hold': {
      const [dir = ''] = args;
      await withLock(dir, async () => {
        process.stdout.write('held\n');
        // A pending promise alone would let node exit; a timer keeps it alive until killed.
        await new Promise(() => setInterval(() => undefined, 60_000));
      });
      break;
    }
    case 'crash-at-takeover': {
      const [dir = ''] = args;
      await withLock(dir, () => undefined, { timeoutMs: 5_000, onStep: crashAt('takeover-marked') });
      process.stdout.write('no-crash\n');
      break;
    }
    case 'take': {
      // With a barrier, every racer passes take's pre-check (the nonce looks unused to
      // all of them) and then waits until all are there: only the rename can decide.
      const [dir = '', pubnonce = '', context = '', barrier = '', racers = '0'] = args;
      let checked = false;
      const store = new NonceStore(dir, {
        onStep: (s) => {
          if (s !== 'take:checked' || !barrier) return;
          checked = true;
          writeFileSync(join(barrier, String(process.pid)), '');
          const deadline = Date.now() + 10_000;
          // Busy-wait (no sleep), so the racers leave the barrier as close together as the
          // scheduler allows; a non-atomic consume then lets several of them win.
          while (readdirSync(barrier).length < Number(racers) && Date.now() < deadline);
        },
      });
      await waitForGo();
      try {
        const secnonce = await store.take(fromHex(pubnonce), context);
        process.stdout.write(`${JSON.stringify({ ok: true, checked, secnonce: toHex(secnonce) })}\n`);
      } catch (e) {
        process.stdout.write(`${JSON.stringify({ ok: false, checked, code: isOffchainError(e) ? e.code : String(e) })}\n`);
      }
      break;
    }
    case 'take-pause': {
      // Stop inside take at `step` until the parent creates `release`.
      const [dir = '', pubnonce = '', context = '', step = '', release = ''] = args;
      const store = new NonceStore(dir, {
        onStep: (s) => {
          if (s !== step) return;
          process.stdout.write('paused\n'); // synchronous for pipes on Linux
          const deadline = Date.now() + 20_000;
          while (!existsSync(release) && Date.now() < deadline);
        },
      });
      const secnonce = await store.take(fromHex(pubnonce), context);
      process.stdout.write(`${JSON.stringify({ ok: true, secnonce: toHex(secnonce) })}\n`);
      break;
    }
    case 'take-crash': {
      const [dir = '', pubnonce = '', context = '', step = ''] = args;
      const store = new NonceStore(dir, { onStep: crashAt(step) });
      await store.take(fromHex(pubnonce), context);
      process.stdout.write('no-crash\n');
      break;
    }
    case 'atomic-loop': {
      // Alternate two large, uniform contents until killed.
      const [file = ''] = args;
      const size = 4 << 20;
      const a = new Uint8Array(size).fill(0x61);
      const b = new Uint8Array(size).fill(0x62);
      await writeFileAtomic(file, a);
      process.stdout.write('ready\n');
      for (let i = 0; ; i++) await writeFileAtomic(file, i % 2 ? a : b);
    }
    case 'step-crash': {
      // One step in `home`: replace a.json, make sub/ and sub/b.json, (seal,) replace a.json
      // again, make c.json; SIGKILL at `at` of write number `nth` (1..4), or hang at the end.
      const [home = '', seal = 'open', nth = '0', at = 'renamed'] = args;
      let n = 0;
      const write = (name: string, body: string) => {
        const mine = ++n;
        return writeFileAtomic(join(home, name), body, { onStep: (s: AtomicWriteStep) => mine === Number(nth) && crashAt(at)(s) });
      };
      await withStateStep(async () => {
        stepHome(home);
        await write('a.json', 'a2\n');
        await ensureDir(join(home, 'sub'));
        await write('sub/b.json', 'b1\n');
        if (seal === 'sealed') sealStateStep();
        await write('a.json', 'a3\n');
        await write('c.json', 'c1\n');
        process.stdout.write('mid\n');
        await new Promise(() => setInterval(() => undefined, 60_000));
      });
      break;
    }
    case 'step-short': {
      // One step in `home` replacing f0.json … f<k-1>.json (run under a file-size limit, so the
      // record's lines end up written short); SIGKILLed (unsealed) after the first write whose
      // record line has no newline, or at the end.
      const [home = '', k = '0'] = args;
      const { readdirSync, readFileSync } = await import('node:fs');
      await withStateStep(async () => {
        stepHome(home);
        for (let i = 0; i < Number(k); i++) {
          await writeFileAtomic(join(home, `f${i}.json`), 'new\n').catch(() => undefined);
          const rec = readdirSync(home).find((f) => f.endsWith('.open'));
          if (rec !== undefined && !readFileSync(join(home, rec), 'utf8').endsWith('\n')) process.kill(process.pid, 'SIGKILL');
        }
        process.kill(process.pid, 'SIGKILL');
      });
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
