/**
 * A service's Prometheus metrics (prom-client, a registry of its own): steps served by
 * outcome, their latency, refusals by code, requests in flight, the role's gauges (open
 * contracts, nonces outstanding) and Node's process metrics. Labels are fixed names —
 * the role, the step, the code — never a contract id, key, hash or amount (privacy, and
 * a bounded number of series).
 */
import type { Registry } from 'prom-client';

/** A role's gauge: read at each scrape (one cheap query); a failed read leaves it out of that scrape. */
export type Gauge = { name: string; help: string; read: () => Promise<number> };

export class ServiceMetrics {
  private registry: Registry | undefined;
  private seconds: import('prom-client').Histogram<'role' | 'step'> | undefined;
  private refusals: import('prom-client').Counter<'role' | 'code'> | undefined;
  /**
   * Steps served by step and outcome, and steps in flight: plain counts a request adds to,
   * read into offchain_steps_total and offchain_http_inflight at each scrape. prom-client
   * checks and hashes a sample's labels at every call: a request made four such calls (all the
   * metrics ~0.05 ms of CPU a request at one user, of the HTTP layer's ~0.27), now one — the
   * histogram's (~0.01–0.02 ms saved, load 2).
   */
  private readonly served = new Map<string, { step: string; outcome: string; n: number }>();
  private running = 0;

  constructor(private readonly role: string, private readonly gauges: Gauge[]) {}

  async ready(): Promise<void> {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    this.registry = registry;
    const { role, served } = this;
    const running = () => this.running;
    new prom.Counter({
      name: 'offchain_steps_total', help: 'Steps served, by outcome (answered, refused: a coded refusal, failed: an internal or store error)', labelNames: ['role', 'step', 'outcome'], registers: [registry],
      collect() {
        this.reset();
        for (const { step, outcome, n } of served.values()) this.inc({ role, step, outcome }, n);
      },
    });
    this.seconds = new prom.Histogram({ name: 'offchain_step_seconds', help: 'Time from a request\'s body read to its answer, by step', labelNames: ['role', 'step'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
    this.refusals = new prom.Counter({ name: 'offchain_refusals_total', help: 'Refused requests by code', labelNames: ['role', 'code'], registers: [registry] });
    new prom.Gauge({
      name: 'offchain_http_inflight', help: 'Steps being served now', labelNames: ['role'], registers: [registry],
      collect() {
        this.set({ role }, running());
      },
    });
    for (const g of this.gauges) {
      const role = this.role;
      new prom.Gauge({
        name: g.name,
        help: g.help,
        labelNames: ['role'],
        registers: [registry],
        async collect() {
          try {
            this.set({ role }, await g.read());
          } catch {
            this.reset();
          }
        },
      });
    }
    prom.collectDefaultMetrics({ register: registry, prefix: 'offchain_' });
  }

  /** A step begins; the returned function ends it with its outcome. */
  start(step: string): (outcome: 'answered' | 'refused' | 'failed') => void {
    const end = this.seconds!.startTimer({ role: this.role, step });
    this.running++;
    return (outcome) => {
      end();
      this.running--;
      const key = `${step} ${outcome}`;
      const count = this.served.get(key);
      if (count) count.n++;
      else this.served.set(key, { step, outcome, n: 1 });
    };
  }

  refused(code: string): void {
    this.refusals!.inc({ role: this.role, code });
  }

  get contentType(): string {
    return this.registry!.contentType;
  }

  text(): Promise<string> {
    return this.registry!.metrics();
  }
}
