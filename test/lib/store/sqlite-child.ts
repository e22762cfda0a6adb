/**
 * The other processes of the store tests, on one state.sqlite (run with `node --import tsx`,
 * test/lib/store/processes.ts). One mode per scenario; a mode that races others prints
 * `ready` and waits for a line on stdin, so the parent releases them together. Results go to
 * stdout, one line each, written synchronously (a SIGKILL right after loses none of them).
 *
 * The nonces a child issues are made by processes.ts `churnNonce(counter)`, which the parent computes too.
 */
import { writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { isOffchainError } from '../../../src/lib/errors.ts';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { Records } from '../../../src/lib/store/sqlite/records.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { churnNonce } from './processes.ts';

/**
 * A line on stdout, whole, before the next step: written synchronously (a kill -9 right after must
 * not lose a line said). The pipe may be non-blocking (on Node 26 a churning child met EAGAIN when
 * the parent fell behind): the write then waits a millisecond and goes on.
 */
const say = (line: string) => {
  let rest = Buffer.from(`${line}\n`);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(1, rest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
};
const forever = () => new Promise(() => setInterval(() => undefined, 60_000));
const code = (e: unknown) => (isOffchainError(e) ? e.code : String(e));

function waitForGo(): Promise<void> {
  say('ready');
  return new Promise((resolve) => process.stdin.once('data', () => resolve()));
}

function open(dir: string): StateDb {
  return StateDb.open(dir, { create: true })!;
}

async function main(mode: string, args: string[]): Promise<void> {
  switch (mode) {
    case 'take': {
      // One take of one nonce, released with the other racers.
      const [dir = '', key = '', pubnonce = '', context = ''] = args;
      const nonces = new SqliteNonces(open(dir), Sealer.fromSecret(fromHex(key)));
      await waitForGo();
      try {
        say(JSON.stringify({ ok: true, secnonce: toHex(await nonces.take(fromHex(pubnonce), context)) }));
      } catch (e) {
        say(JSON.stringify({ ok: false, code: code(e) }));
      }
      return;
    }
    case 'churn': {
      // Issue, take, issue, take … until killed; each line said once its step returned (committed).
      const [dir = '', key = ''] = args;
      const nonces = new SqliteNonces(open(dir), Sealer.fromSecret(fromHex(key)));
      say('ready');
      for (;;) {
        let counter = 0;
        const { pubnonce } = await nonces.issue('churn', (c) => ((counter = c), churnNonce(c)));
        say(`issued ${counter} ${toHex(pubnonce)}`);
        const secret = await nonces.take(pubnonce, 'churn');
        say(`took ${counter} ${toHex(secret)}`);
      }
    }
    case 'take-then-hang': {
      // A step that took a nonce (its secret in hand) and never ends: killed mid-transaction.
      const [dir = '', key = '', pubnonce = '', context = ''] = args;
      const db = open(dir);
      const nonces = new SqliteNonces(db, Sealer.fromSecret(fromHex(key)));
      await db.step(async () => {
        const secret = await nonces.take(fromHex(pubnonce), context);
        say(`taken ${toHex(secret)}`);
        await forever();
      });
      return;
    }
    case 'issue-then-hang': {
      const [dir = '', key = ''] = args;
      const db = open(dir);
      const nonces = new SqliteNonces(db, Sealer.fromSecret(fromHex(key)));
      await db.step(async () => {
        let counter = 0;
        const { pubnonce } = await nonces.issue('hang', (c) => ((counter = c), churnNonce(c)));
        say(`issued ${counter} ${toHex(pubnonce)}`);
        await forever();
      });
      return;
    }
    case 'take-at-commit': {
      // A step that takes a nonce and writes `rows` records, saying `committing` as its function
      // returns: the parent kills it then, during (or just after) its COMMIT.
      const [dir = '', key = '', pubnonce = '', context = '', rows = '0'] = args;
      const db = open(dir);
      const nonces = new SqliteNonces(db, Sealer.fromSecret(fromHex(key)));
      const records = new Records<{ n: number; pad: string }>(db, 'statechain');
      await db.step(async () => {
        await nonces.take(fromHex(pubnonce), context);
        for (let i = 0; i < Number(rows); i++) records.put(`r${i}`, { n: i, pad: 'x'.repeat(2000) });
        say('committing');
      });
      say('committed');
      await forever();
      return;
    }
    case 'increment': {
      // Read a counter, wait, write it + 1: in a step (serialised), or `raw` (autocommit reads
      // and writes: loses updates, so the step's test can fail).
      const [dir = '', times = '0', how = 'step'] = args;
      const db = open(dir);
      const records = new Records<{ n: number }>(db, 'statechain');
      await waitForGo();
      for (let i = 0; i < Number(times); i++) {
        const once = async () => {
          const n = records.get('count')?.n ?? 0;
          await sleep(1);
          records.put('count', { n: n + 1 });
        };
        if (how === 'step') await db.step(once);
        else await once();
      }
      say('done');
      return;
    }
    case 'hold': {
      // A step that holds the database's write lock until killed.
      const [dir = ''] = args;
      const db = open(dir);
      await db.step(async () => {
        new Records(db, 'statechain').put('held', { by: process.pid });
        say('held');
        await forever();
      });
      return;
    }
    case 'idle': {
      // The database open, nothing in progress, until killed (a service between requests).
      const [dir = ''] = args;
      const db = open(dir);
      await db.step(() => new Records(db, 'statechain').put('idle', { by: process.pid }));
      say('open');
      await forever();
      return;
    }
    case 'wait-and-see': {
      // A step begun while another process holds the write lock: it waits (busy timeout), then
      // says what it found of the holder's write, and writes its own.
      const [dir = ''] = args;
      const db = open(dir);
      const records = new Records<unknown>(db, 'statechain');
      say('waiting');
      await db.step(() => {
        say(JSON.stringify({ held: records.get('held') ?? null }));
        records.put('after', { by: process.pid });
      });
      say('done');
      return;
    }
    case 'mint-fill': {
      // The mint's group commit until something stops it: each batch takes the nonce the one before
      // issued, issues the next, stores a record, commits, and says `committed <n> <pubnonce>`. A
      // failed commit says `failed <code>`, then what a next step on the same store gives.
      const [dir = '', count = '0', pad = '0', key = ''] = args;
      const store = new SqliteMintStore<{ contract_id: string; n: number; pad: string }>(open(dir), { sealer: Sealer.fromSecret(fromHex(key)) });
      let previous: Uint8Array | undefined;
      for (let n = 1; n <= Number(count); n++) {
        try {
          const prev = previous;
          const issued = await store.step(async () => {
            if (prev) await store.take(prev, `ctx/${n - 1}`);
            const out = await store.issue(`ctx/${n}`, (c) => churnNonce(c));
            await store.put({ contract_id: `c${n % 5}`, n, pad: 'x'.repeat(Number(pad)) });
            return out;
          });
          await store.commit();
          previous = issued.pubnonce;
          say(`committed ${n} ${toHex(issued.pubnonce)}`);
        } catch (e) {
          say(`failed ${code(e)}`);
          try {
            await store.step(async () => store.put({ contract_id: 'after', n: 0, pad: '' }));
            say('after ok');
          } catch (f) {
            say(`after ${code(f)}`);
          }
          process.exit(1);
        }
      }
      return;
    }
    case 'open': {
      // Open a network's database (`create`: make it), say the outcome: `opened` or the error's code and message.
      const [dir = '', create = 'create'] = args;
      try {
        const db = StateDb.open(dir, { create: create === 'create' });
        say(db === undefined ? 'none' : 'opened');
        if (db) await db.step(() => db.sql.prepare("INSERT INTO meta (key, value) VALUES ('written', '1') ON CONFLICT (key) DO NOTHING").run());
        db?.close();
      } catch (e) {
        say(JSON.stringify({ code: code(e), exitCode: (e as { exitCode?: number }).exitCode, message: (e as Error).message }));
      }
      return;
    }
    case 'new-files': {
      // New 4 MiB files PREFIXf0, PREFIXf1, … (each of one byte value) until killed.
      const [dir = '', prefix = ''] = args;
      const { writeNewFile } = await import('../../../src/lib/store/exclusive.ts');
      say('ready');
      for (let i = 0; ; i++) writeNewFile(`${dir}/${prefix}f${i}`, new Uint8Array(4 << 20).fill(0x61 + (i % 26)));
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

const [mode = '', ...args] = process.argv.slice(2);
main(mode, args).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
    process.exit(1);
  },
);
