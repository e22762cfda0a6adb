/**
 * One endpoint of a role's table (./<role>-routes.ts): what docs/serve.md shows, what the
 * same-bytes tests iterate, and what ./routes-plugin.ts registers on its listener.
 */
import type { TSchema } from '@sinclair/typebox';

export type Listener = 'public' | 'operator';
export type HttpPart = 'body' | 'params' | 'querystring';

export type RouteRequest = { body: unknown; params: Record<string, string>; query: Record<string, string | undefined>; id: string };

/** One endpoint: the columns are what docs/serve.md shows and the same-bytes test iterates. */
export type Route = {
  method: 'GET' | 'POST';
  /** fastify's path syntax: /v1/keys/:id */
  path: string;
  /** The metric label: a fixed name, never a value from the request. */
  step: string;
  listener: Listener;
  /** The message read (a type, or "—") and the one answered: documentation. */
  in: string;
  out: string;
  /** NUT routes answer refusals in NUT-00's shape. */
  errors?: 'offchain' | 'nut';
  /** A larger body than --body-limit for this route alone (NUT-09 restore: up to 1000 outputs). Never smaller. */
  bodyLimit?: number;
  /** The JSON Schemas of its request, checked before `handle` (./routes-plugin.ts): a message's own schema where it takes one. */
  schema?: Partial<Record<HttpPart, TSchema>>;
  /** A part checked by the library's own reader instead of the schema's check (the schema then documents it). */
  decode?: Partial<Record<HttpPart, (value: unknown) => void>>;
  handle: (req: RouteRequest) => Promise<unknown>;
};

/** An answer with another status than 200 (202 for a job still running, say) or headers of its own. */
export class Answer {
  constructor(readonly status: number, readonly value: unknown, readonly headers: Record<string, string> = {}) {}
}

