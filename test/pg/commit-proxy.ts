/**
 * A TCP proxy in front of the test's PostgreSQL server that can drop one connection around
 * its next COMMIT — the faults "connection lost between COMMIT and its answer", "just
 * before COMMIT" and "while the server is still committing", which no server setting
 * produces on demand.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Armed, the next COMMIT of any connection through it:
 * - 'after': forwarded, and the connection dropped instead of passing the server's answer
 *   (the server committed; the client never hears it);
 * - 'before': the connection dropped without forwarding it;
 * - 'during': forwarded, and the connection dropped at once (the COMMIT is on its way; the
 *   client is gone before the server has finished it);
 * - 'held': neither forwarded nor dropped (the client waits for its answer: a process to be
 *   killed -9 while its COMMIT has not reached the server).
 * While `hold` is set, new connections wait before reaching the server.
 */
export class CommitProxy {
  server!: Server;
  port = 0;
  armed: 'after' | 'before' | 'during' | 'held' | undefined;
  fired = 0;
  hold: Promise<void> | undefined;
  private sockets = new Set<Socket>();
  constructor(private readonly target: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      client.pause();
      this.sockets.add(client);
      void (async () => {
        await this.hold;
        if (client.destroyed) return;
        const upstream = connect(this.target, '127.0.0.1');
        this.sockets.add(upstream);
        let dropOnAnswer = false;
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('data', (d: Buffer) => {
          const i = d.indexOf('COMMIT\0');
          if (this.armed && i >= 5 && d[i - 5] === 0x51 /* 'Q' */) {
            const how = this.armed;
            this.armed = undefined;
            this.fired++;
            if (how === 'before') return drop();
            if (how === 'held') return;
            if (how === 'during') return upstream.write(d, drop);
            dropOnAnswer = true;
          }
          upstream.write(d);
        });
        upstream.on('data', (d: Buffer) => {
          if (dropOnAnswer) return drop();
          client.write(d);
        });
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.resume();
      })();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Until the armed COMMIT has gone through the proxy. */
  async fires(timeoutMs = 20_000): Promise<void> {
    const started = Date.now();
    while (this.fired === 0) {
      if (Date.now() - started > timeoutMs) throw new Error('COMMIT never seen');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
