/**
 * The credit mint's group commit (src/topics/credit/mint-batch.ts), shared by the stream and
 * `serve mint`, on a store of test code's own making (its commit held open by the test):
 * nothing is released before the batch's commit returned, answers and refusals come out in
 * the order the requests came, a failed commit ends the batcher (nothing of the batch is
 * answered, nothing later is taken), and a refusal known before any step — a message for
 * another network, a line that is not JSON — is given without touching the store, so a store
 * outage does not turn it into E_STORE_UNREACHABLE; a batch is committed at its limit while
 * more requests wait (the stream's is larger than a service's).
 */
import { describe, expect, it } from 'vitest';
import { ExitCode, MalformedInputError, OffchainError } from '../../../src/lib/errors.ts';
import { Outages } from '../../../src/lib/store/outages.ts';
import { BATCH, MintBatch, STREAM_BATCH } from '../../../src/topics/credit/mint-batch.ts';
import { mintSteps } from '../../../src/topics/credit/mint-steps.ts';
import type { MintContext } from '../../../src/lib/credit/ports.ts';

type FakeStore = {
  steps: number;
  commits: number;
  down: boolean;
  commitGate: Promise<void> | undefined;
  failCommit: Error | undefined;
  broken: Error | undefined;
  step<T>(fn: () => Promise<T>): Promise<T>;
  commit(): Promise<void>;
  reachable(withinMs: number): Promise<boolean>;
};

function fakeStore(): FakeStore {
  return {
    steps: 0,
    commits: 0,
    down: false,
    commitGate: undefined,
    failCommit: undefined,
    broken: undefined,
    async step(fn) {
      this.steps++;
      if (this.down) throw new OffchainError('E_STORE_UNREACHABLE', 'the store does not answer', ExitCode.general);
      return fn();
    },
    async commit() {
      this.commits++;
      await this.commitGate;
      if (this.failCommit) throw (this.broken = this.failCommit);
    },
    async reachable() {
      return !this.down;
    },
  };
}

async function batcher(store: FakeStore, limit?: number): Promise<MintBatch> {
  const outages = new Outages(store as never, 0, () => undefined);
  return new MintBatch({} as MintContext, store as never, outages, await mintSteps('regtest'), limit);
}

const settled = (p: Promise<unknown>) => {
  const s = { done: false };
  p.then(() => (s.done = true), () => (s.done = true));
  return s;
};
const turns = (n: number) => new Promise<void>((res) => {
  const go = (k: number) => (k === 0 ? res() : setImmediate(() => go(k - 1)));
  go(n);
});

describe('MintBatch', () => {
  it('releases nothing before its batch\'s commit returned, then everything in the order it came', async () => {
    const store = fakeStore();
    let open!: () => void;
    store.commitGate = new Promise((res) => (open = res));
    const batch = await batcher(store);
    const order: string[] = [];
    const a = batch.read(async () => 'A').then((v) => order.push(String(v)));
    const e = batch.refuse(new MalformedInputError('E_MALFORMED_JSON', 'not JSON')).catch((x: OffchainError) => order.push(x.code));
    const b = batch.read(async () => 'B').then((v) => order.push(String(v)));
    const s = settled(Promise.all([a, e, b]));
    await turns(10);
    expect(store.commits).toBe(1); // the batch is being committed…
    expect(s.done).toBe(false); // …and nothing of it has left
    expect(order).toEqual([]);
    open();
    await Promise.all([a, e, b]);
    expect(order).toEqual(['A', 'E_MALFORMED_JSON', 'B']);
    await batch.close();
  });

  it('a failed commit ends it: the batch\'s requests are not answered, later ones not taken', async () => {
    const store = fakeStore();
    store.failCommit = new OffchainError('E_STATE_WRITE', 'the disk is full', ExitCode.general);
    const batch = await batcher(store);
    const a = batch.read(async () => 'A');
    await expect(a).rejects.toMatchObject({ code: 'E_STATE_WRITE' });
    await expect(batch.ended).rejects.toMatchObject({ code: 'E_STATE_WRITE' });
    const steps = store.steps;
    await expect(batch.read(async () => 'B')).rejects.toMatchObject({ code: 'E_STATE_WRITE' });
    expect(store.steps).toBe(steps);
  });

  it('commits at its limit while more requests wait, and releases that batch before serving on', async () => {
    const store = fakeStore();
    const servedAtCommit: number[] = [];
    const commit = store.commit.bind(store);
    store.commit = async () => {
      servedAtCommit.push(store.steps);
      await commit();
    };
    const batch = await batcher(store, 3);
    const order: string[] = [];
    const reads = ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((v) => batch.read(async () => v).then((x) => order.push(x)));
    await Promise.all(reads);
    await batch.close();
    // Seven waiting at once: committed after the 3rd and the 6th, then the 7th once none waits.
    expect(servedAtCommit.slice(0, 3)).toEqual([3, 6, 7]);
    expect(order).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G']);
  });

  it('a service commits at most 256 requests at once, the stream 1,024', () => {
    expect(BATCH).toBe(256);
    expect(STREAM_BATCH).toBe(1024);
  });

  it('during a store outage, another network\'s message and a line that is not JSON get their own codes, without the store', async () => {
    const store = fakeStore();
    store.down = true;
    const batch = await batcher(store);
    // The outage is real to a request that needs the store.
    await expect(batch.read(async () => 'A')).rejects.toMatchObject({ code: 'E_STORE_UNREACHABLE' });
    const steps = store.steps;
    await expect(batch.submit({ type: 'credit/update-request', version: 1, network: 'signet' })).rejects.toMatchObject({ code: 'E_NETWORK_MISMATCH' });
    await expect(batch.refuse(new MalformedInputError('E_MALFORMED_JSON', 'line 3 is not JSON'))).rejects.toMatchObject({ code: 'E_MALFORMED_JSON' });
    // A route's type pinned: another message type is E_WRONG_MESSAGE, also before the store.
    await expect(batch.submit({ type: 'credit/update-request', version: 1, network: 'regtest' }, 'credit/open-request')).rejects.toMatchObject({ code: 'E_WRONG_MESSAGE' });
    expect(store.steps).toBe(steps);
    await batch.close();
  });
});
