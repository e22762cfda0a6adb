/** The part of autocannon 9's API bench/serve.ts uses (the package ships no types). */
declare module 'autocannon' {
  type Histogram = { p50: number; p99: number; average: number };
  type Result = { duration: number; requests: Histogram & { total: number }; latency: Histogram; errors: number; non2xx: number };
  type Options = { url: string; connections?: number; pipelining?: number; maxConnectionRequests?: number; amount?: number; timeout?: number; requests?: unknown[] };
  export default function autocannon(opts: Options): Promise<Result>;
}
