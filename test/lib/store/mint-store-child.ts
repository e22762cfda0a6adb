/**
 * A mint store writing batches until something stops it, for the crash and full-disk
 * tests: run as its own process (`node --import tsx`). Each batch takes the nonce the
 * previous batch issued, issues the next one and stores a record; after each commit it
 * prints `committed <n> <pubnonce hex>`. A failed commit prints `failed <code>` and
 * exits 1, as the CLI would.
 */
import { createHash } from 'node:crypto';
import { MintStore } from '../../../src/lib/store/mint-store.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { toHex } from '../../../src/lib/bytes.ts';

/** 66 distinct bytes per counter (not a valid nonce: the store does not care). */
const fakePubnonce = (counter: number) => {
  const h = (tag: string) => createHash('sha256').update(`${tag}${counter}`).digest();
  return Uint8Array.from([2, ...h('a'), 2, ...h('b')]);
};

const [dir, countText, padText] = process.argv.slice(2);
const count = Number(countText);
const pad = 'x'.repeat(Number(padText ?? 2000));

const store = await MintStore.open<{ contract_id: string; n: number; pad: string }>(dir!);
let previous: Uint8Array | undefined;
for (let n = 1; n <= count; n++) {
  try {
    if (previous) await store.take(previous, `ctx/${n - 1}`);
    const { pubnonce } = await store.issue(`ctx/${n}`, (counter) => ({ secnonce: new Uint8Array(97).fill(counter % 256), pubnonce: fakePubnonce(counter) }));
    await store.put({ contract_id: `c${n % 5}`, n, pad });
    await store.commit();
    previous = pubnonce;
    process.stdout.write(`committed ${n} ${toHex(pubnonce)}\n`);
  } catch (e) {
    process.stdout.write(`failed ${e instanceof OffchainError ? e.code : (e as Error).message}\n`);
    process.exit(1);
  }
}
await store.close();
