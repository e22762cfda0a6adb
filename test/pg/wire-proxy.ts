/**
 * A TCP proxy in front of the test's PostgreSQL server that reads the wire protocol
 * (message framing only: a type byte and a length, after the untyped startup message) so a
 * test can lose a connection at an exact step — what commit-proxy.ts does for COMMIT alone:
 *
 * - `cut = { at, how }` loses the next connection that gets that far, once:
 *   'before' the `at`-th request the client sends (1 = the startup message, then each
 *   password message, simple query 'Q', extended query 'P'… batch, and 'B'… batch running a
 *   statement prepared earlier) — dropped unsent;
 *   'idle' right after the server's `at`-th ReadyForQuery ('Z') reached the client, so the
 *   client holds an idle connection when it closes (1 = logged in, then one per request).
 * - `onQuery(sql)` sees the text of each query ('Q', the statement of a 'P', or of a 'B' that
 *   runs a statement prepared by name earlier, which carries no text) before it
 *   goes on, and may hold it (return a promise) — e.g. to crash the server under it — and
 *   then drop the connection instead of forwarding it.
 *
 * TLS is not proxied: connections through it are plain (a local store's default).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Cut = { at: number; how: 'before' | 'idle' };

/** Splits a byte stream into protocol messages; the first `untyped` messages have no type byte. */
class Framer {
  private buf = Buffer.alloc(0);
  constructor(private untyped: number) {}
  push(d: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, d]);
    const out: Buffer[] = [];
    for (;;) {
      const head = this.untyped > 0 ? 0 : 1;
      if (this.buf.length < head + 4) return out;
      const len = this.buf.readUInt32BE(head);
      if (this.buf.length < head + len) return out;
      out.push(this.buf.subarray(0, head + len));
      this.buf = this.buf.subarray(head + len);
      if (this.untyped > 0) this.untyped--;
    }
  }
}

/** The statement name a 'P' prepares (empty: the unnamed one). */
function parsedName(m: Buffer): string {
  return m.subarray(5, m.indexOf(0, 5)).toString('utf8');
}

/** The statement name a 'B' binds (after its portal's name). */
function boundName(m: Buffer): string {
  const portalEnd = m.indexOf(0, 5);
  return m.subarray(portalEnd + 1, m.indexOf(0, portalEnd + 1)).toString('utf8');
}

/** The SQL text of a 'Q' message, or of a 'P' (after its statement name). */
function sqlOf(m: Buffer): string | undefined {
  const type = String.fromCharCode(m[0]!);
  if (type === 'Q') return m.subarray(5, m.indexOf(0, 5)).toString('utf8');
  if (type === 'P') {
    const nameEnd = m.indexOf(0, 5);
    return m.subarray(nameEnd + 1, m.indexOf(0, nameEnd + 1)).toString('utf8');
  }
  return undefined;
}

export class WireProxy {
  server!: Server;
  port = 0;
  cut: Cut | undefined;
  /** How many cuts fired. */
  cuts = 0;
  onQuery: ((sql: string) => 'forward' | 'drop' | Promise<'forward' | 'drop'>) | undefined;
  /** The server's first answer to the next query with exactly this text reaches the client with a type byte no server sends ('!'), once. */
  garbleReplyTo: string | undefined;
  private garbleNext = false;
  private sockets = new Set<Socket>();
  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.serve(client));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  private serve(client: Socket): void {
    const upstream = connect(this.target, '127.0.0.1');
    // Messages go on one by one: without these, Nagle and delayed ACKs stall each for 40 ms.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(upstream);
    let dead = false;
    const drop = () => {
      dead = true;
      client.destroy();
      upstream.destroy();
    };
    const fromClient = new Framer(1);
    const fromServer = new Framer(0);
    let requests = 0;
    let ready = 0;
    // A statement the client prepared by name is sent once ('P'); each later run of it is a 'B' of
    // that name alone, without its text: that 'B' is the request, and its text the prepared one.
    const prepared = new Map<string, string>();
    let justParsed: string | undefined;
    // One message after another, so a held query holds everything behind it.
    let chain = Promise.resolve();
    client.on('data', (d: Buffer) => {
      chain = chain.then(async () => {
        // What is let through goes on in one write per chunk, as the client sent it.
        const pass: Buffer[] = [];
        const flush = () => {
          if (pass.length && !dead) upstream.write(Buffer.concat(pass.splice(0)));
        };
        for (const m of fromClient.push(d)) {
          if (dead) return;
          const type = requests === 0 ? 'startup' : String.fromCharCode(m[0]!);
          let rerun: string | undefined;
          if (type === 'P') {
            const name = parsedName(m);
            if (name) prepared.set(name, sqlOf(m)!);
            justParsed = name || undefined;
          } else if (type === 'B') {
            const name = boundName(m);
            if (name && name !== justParsed) rerun = prepared.get(name);
            justParsed = undefined;
          }
          const request = type === 'startup' || type === 'p' || type === 'Q' || type === 'P' || rerun !== undefined;
          if (request) requests++;
          if (this.cut?.how === 'before' && requests === this.cut.at && request) {
            this.cut = undefined;
            this.cuts++;
            flush();
            return drop();
          }
          const sql = requests > 0 ? (sqlOf(m) ?? rerun) : undefined;
          if (sql !== undefined && this.onQuery) {
            flush();
            const verdict = await this.onQuery(sql);
            if (verdict === 'drop' || dead) return drop();
          }
          if (sql !== undefined && sql === this.garbleReplyTo) {
            this.garbleReplyTo = undefined;
            this.garbleNext = true;
          }
          pass.push(m);
        }
        flush();
      });
    });
    upstream.on('data', (d: Buffer) => {
      const pass: Buffer[] = [];
      for (const m of fromServer.push(d)) {
        if (dead) return;
        if (this.garbleNext) {
          this.garbleNext = false;
          m[0] = 0x21;
        }
        pass.push(m);
        if (m[0] === 0x5a /* 'Z' */) ready++;
        if (m[0] === 0x5a && this.cut?.how === 'idle' && ready === this.cut.at) {
          this.cut = undefined;
          this.cuts++;
          dead = true;
          client.end(Buffer.concat(pass)); // the answer first, then the end: the client is idle when it sees it
          upstream.destroy();
          return;
        }
      }
      if (pass.length) client.write(Buffer.concat(pass));
    });
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
