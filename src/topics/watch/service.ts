/**
 * A long-running watcher's outside: its JSON log on standard error (pino, as the services log)
 * and, with --operator-listen, a loopback listener answering GET /metrics (Prometheus text:
 * prom-client through the services' ServiceMetrics, with the watcher's gauges read from its
 * last round) and GET /healthz. No label carries a contract id, txid or amount.
 */
import { createServer, type Server } from 'node:http';
import type { ListenAt } from '../serve/service.ts';
import type { Report } from '../../lib/watch/decision.ts';

export type WatchLog = (fields: Record<string, unknown>, msg: string) => void;
export type WatchLogger = { info: WatchLog; warn: WatchLog };

export async function watchLogger(level: string, network: string): Promise<WatchLogger> {
  const { default: pino } = await import('pino');
  const logger = pino({ level, base: { role: 'watch', network }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
  return { info: (f, m) => logger.info(f, m), warn: (f, m) => logger.warn(f, m) };
}

/**
 * What the gauges read: the last round's report, the reorganisations seen since start, and the
 * ZMQ hashblock subscription when there is one (./hashblock.ts).
 */
export type WatchGaugeState = { last?: Report; lastAt?: string; reorgs: number; failedRounds: number; zmq?: { endpoint: string; connected: boolean; notifications: number } };

export const WATCH_GAUGES = (s: WatchGaugeState) => {
  const summary = () => {
    if (!s.last) throw new Error('no round yet'); // a failed read leaves the gauge out of that scrape
    return s.last.summary;
  };
  const zmq = () => {
    if (!s.zmq) throw new Error('polling alone');
    return s.zmq;
  };
  return [
    { name: 'offchain_watch_tip_height', help: 'The height of the tip the watcher last evaluated', read: async () => { if (!s.last) throw new Error('no round yet'); return s.last.tip.height; } },
    { name: 'offchain_watch_blocks_to_nearest_deadline', help: 'Blocks to the nearest deadline of a contract not done, those not read included (absent when none)', read: async () => { const n = summary().nearest_deadline; if (n === undefined) throw new Error('none'); return n; } },
    { name: 'offchain_watch_contracts', help: 'Contracts evaluated in the last round', read: async () => summary().contracts },
    { name: 'offchain_watch_contracts_idle', help: 'Contracts the last round did not read: none could need anything at its tip (far from its deadline, nothing in flight)', read: async () => summary().idle ?? 0 },
    { name: 'offchain_watch_actions_pending', help: 'Contracts with an action under way (sent, held or waiting for confirmations)', read: async () => summary().pending },
    { name: 'offchain_watch_budget_shortfalls', help: 'Bids short of the deadline\'s schedule in the last round (the budget, the coins at hand, or a deadline passed)', read: async () => summary().shortfalls },
    { name: 'offchain_watch_action_errors', help: 'Actions the node refused in the last round (taken again at the next block)', read: async () => summary().errors },
    { name: 'offchain_watch_reorgs', help: 'Reorganisations seen since the watcher started', read: async () => s.reorgs },
    { name: 'offchain_watch_failed_rounds', help: 'Rounds that failed since start (the node unreachable, a busy store), each tried again', read: async () => s.failedRounds },
    { name: 'offchain_watch_zmq_connected', help: '1 while the node\'s ZMQ hashblock wakes the watcher at each block, 0 while that subscription is down (polling alone; absent when the watcher only polls)', read: async () => Number(zmq().connected) },
    { name: 'offchain_watch_zmq_notifications', help: 'ZMQ hashblock notifications received since start, each a look at the node\'s tip (absent when the watcher only polls)', read: async () => zmq().notifications },
  ];
};

/** Serve /metrics and /healthz on the operator's listener; resolves once listening, with its URL and a close. */
export async function startWatchMetrics(at: ListenAt, state: WatchGaugeState): Promise<{ url: string; close: () => Promise<void> }> {
  const { ServiceMetrics } = await import('../serve/metrics.ts');
  const metrics = new ServiceMetrics('watch', WATCH_GAUGES(state));
  await metrics.ready();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.text().then((text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text), () => res.writeHead(500).end());
    } else if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in at) server.listen(at.path, resolve);
    else server.listen(at.port, at.host, resolve);
  });
  const a = server.address();
  const url = typeof a === 'string' ? `unix:${a}` : a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : 'closed';
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
