/**
 * The Nutshell harness itself, without Nutshell: start.sh launches the mint in the background
 * and waits for it; a start.sh that fails or is killed at its limit must not leave that mint
 * running on the machine (two runs at once, CI under load: each leaked mint is a Python
 * process holding a port and a core's share until the machine restarts).
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { running, tempDir } from '../helpers.ts';
import { startScript } from './nutshell.ts';

it('a start.sh killed at its limit takes the mint it launched in the background with it, and says it was killed', async () => {
  const dir = tempDir('offchain-nutshell-harness-');
  try {
    const script = join(dir.path, 'start.sh');
    const mintPid = join(dir.path, 'mint.pid');
    // As start.sh does: the "mint" in the background (nohup, its output to a log), then a wait that never ends.
    writeFileSync(script, `#!/usr/bin/env bash\necho "start.sh: waiting for the mint" >&2\nnohup sleep 600 >/dev/null 2>&1 </dev/null &\necho $! > ${JSON.stringify(mintPid)}\nwhile true; do sleep 0.2; done\n`);
    chmodSync(script, 0o755);
    const err = await startScript(script, [], process.env, 1_500).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/^killed at its 1\.5 s limit .*start\.sh: waiting for the mint$/s);
    const pid = Number(readFileSync(mintPid, 'utf8'));
    let left = running(pid);
    for (let i = 0; left && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = running(pid);
    }
    if (left) process.kill(pid, 'SIGKILL');
    expect(left, `the background "mint" (pid ${pid}) is still running`).toBe(false);
  } finally {
    dir.cleanup();
  }
});

it('a start.sh that succeeds returns its stdout (the mint pid it prints last)', async () => {
  const dir = tempDir('offchain-nutshell-harness-');
  try {
    const script = join(dir.path, 'start.sh');
    writeFileSync(script, '#!/usr/bin/env bash\necho "start.sh: up" >&2\necho 12345\n');
    await expect(startScript(script, [], process.env, 10_000)).resolves.toBe('12345\n');
  } finally {
    dir.cleanup();
  }
});

it('the wallet helpers never send on a socket that sat idle: after a kept-alive fetch and a busy event loop past the server\'s keep-alive, each request comes on a new connection and is answered', async () => {
  const { createServer } = await import('node:net');
  const { getJson, postJson } = await import('./nutshell.ts');
  // A minimal HTTP/1.1 server that keeps a connection alive and closes it 300 ms after its last
  // answer, as uvicorn does after 5 s. Its timer fires in this process's next turn, before a
  // request the busy loop below was about to send leaves: fetch's pool then hands out that closed
  // socket and fails with "other side closed" (a plain fetch, or one with `connection: close`, does).
  const ports: number[] = [];
  const server = createServer((socket) => {
    let idle: NodeJS.Timeout | undefined;
    socket.on('data', (d: Buffer) => {
      clearTimeout(idle);
      const head = d.toString('latin1');
      const close = /\r\nconnection: close/i.test(head);
      const body = JSON.stringify({ method: head.slice(0, head.indexOf(' ')), port: socket.remotePort });
      ports.push(socket.remotePort!);
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`);
      if (close) socket.end();
      else idle = setTimeout(() => socket.end(), 300);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/keysets`;
    const ask = async <T,>(call: () => Promise<T>): Promise<T> => {
      await (await fetch(url)).text(); // a kept-alive socket in this process's fetch pool, as the in-process CLI leaves one
      await new Promise((r) => setImmediate(r));
      const busyUntil = Date.now() + 600;
      while (Date.now() < busyUntil); // the event loop busy past the server's 300 ms
      return call();
    };
    expect(await ask(() => getJson(url))).toMatchObject({ method: 'GET' });
    expect((await ask(() => postJson(url, { Ys: [] }))).body).toMatchObject({ method: 'POST' });
    expect(new Set(ports).size, 'every request on a connection of its own').toBe(4);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
