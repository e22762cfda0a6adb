/**
 * ClnRpc against a socket that answers garbage (issue 41): a peer that is not lightningd — an
 * HTTP server, a line of text, a JSON fragment closed by lightningd's blank line — is
 * E_LIGHTNING_PROTOCOL as soon as the answer shows it, not E_LIGHTNING_TIMEOUT after the
 * call's 30 s. The socket stays open in every case (a server that writes and waits).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClnRpc } from '../../../src/lib/lightning/cln-rpc.ts';
import { tempDir } from '../../helpers.ts';

let dir: { path: string; cleanup: () => void };
let reply = '';
let server: Server;
const open: Socket[] = [];

beforeAll(async () => {
  dir = tempDir('offchain-cln-rpc-');
  server = createServer((s) => {
    open.push(s);
    s.on('error', () => {});
    s.once('data', () => s.write(reply)); // and never closes
  });
  await new Promise<void>((res) => server.listen(join(dir.path, 'rpc'), res));
});
afterAll(async () => {
  for (const s of open) s.destroy();
  await new Promise<void>((res) => server.close(() => res()));
  dir.cleanup();
});

describe('an answer that is not JSON-RPC: E_LIGHTNING_PROTOCOL at once, not a 30 s timeout', () => {
  it.each([
    ['an HTTP server', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'],
    ['a line of text', 'hello\n'],
    ['a JSON fragment ended by the blank line', '{"jsonrpc": "2.0", "id": \n\n'],
    ['JSON that is not an object', '[1, 2, 3]\n\n'],
    ['binary noise', '\u0000\u0001\u0002\u00ff'],
  ])('%s', async (_name, text) => {
    reply = text;
    const started = performance.now();
    await expect(new ClnRpc(join(dir.path, 'rpc')).call('getinfo', {})).rejects.toMatchObject({ code: 'E_LIGHTNING_PROTOCOL', exitCode: 1 });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('an answer still arriving (a JSON object not yet closed) is waited for: that one is the time limit', async () => {
    reply = '{"jsonrpc": "2.0", "id": "x", "result": {';
    await expect(new ClnRpc(join(dir.path, 'rpc'), 300).call('getinfo', {})).rejects.toMatchObject({ code: 'E_LIGHTNING_TIMEOUT' });
  });
});
