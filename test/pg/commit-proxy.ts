/**
 * A TCP proxy in front of the test's PostgreSQL server that can drop one connection around
 * its next COMMIT — the fault "connection lost between COMMIT and its answer" (and just
 * before COMMIT), which no server setting produces on demand.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to the server that can drop one connection around its next COMMIT:
 * 'after' forwards COMMIT and drops the connection instead of passing the server's answer;
 * 'before' drops it without forwarding COMMIT.
 */
export class CommitProxy {
  server!: Server;
  port = 0;
  armed: 'after' | 'before' | undefined;
  fired = 0;
  private sockets = new Set<Socket>();
  constructor(private readonly target: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
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
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
