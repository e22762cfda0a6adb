/**
 * A role's table of routes (./<role>-routes.ts) as one fastify plugin: registered on a
 * listener, it adds the routes of that listener, each with the JSON Schemas of its body,
 * params and query. fastify checks them before the handler runs, through the library's own
 * decoder, so a request refused there never reaches its step (nothing read or written) and is
 * refused with the code the one-shot command gives the same input:
 *
 *   the route's schema                               checked by                              refused with
 *   a message's (messageSchema; the files in         readEnvelope, this service's network,   E_MALFORMED_MESSAGE, E_MESSAGE_VERSION,
 *   schemas/), or several (Type.Union: the one        decodeMessage                           E_NETWORK_MISMATCH, E_WRONG_MESSAGE
 *   its type names)
 *   with the route's own decoder (`decode`)          that decoder                            its code (NUT-09 restore's reader)
 *   any other (an operator's body, params)           TypeBox's check                         E_MALFORMED_REQUEST, the first field at fault
 *   a query string                                   TypeBox's check                         E_USAGE (a query is the one-shot's flags)
 *
 * The refusal's shape is the route's (NUT-00 on the NUT routes): the service's error handler.
 * The plugin adds no hook, parser or handler of its own beyond its routes: the listener's
 * body reader, limits and logs apply (./service.ts).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MalformedInputError, RefusedError, UsageError } from '../../lib/errors.ts';
import { readEnvelope } from '../../lib/envelope.ts';
import { decodeMessage } from '../../lib/message.ts';
import type { HttpPart, Listener, Route } from './route.ts';

export type RoutePluginOptions = {
  listener: Listener;
  /** The service's network: a message of another is E_NETWORK_MISMATCH. */
  network: string;
  /** --body-limit: a route's own limit is never smaller. */
  bodyLimit: number;
  /** The service's step around the route's handler (draining, the step timeout, metrics). */
  run: (route: Route, req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
};

/** A role's routes as a fastify plugin; `routes` is its table (docs/serve.md, the same-bytes tests). */
export type RoutePlugin = FastifyPluginAsync<RoutePluginOptions> & { readonly routes: readonly Route[] };

type MessageSchema = TSchema & { properties: { type: { const: string } } };

function isMessageSchema(s: TSchema): s is MessageSchema {
  return typeof (s as { properties?: { type?: { const?: unknown } } }).properties?.type?.const === 'string';
}

/** The message schemas a body schema names: itself, or each of a union's. */
function messageSchemas(s: TSchema): MessageSchema[] | undefined {
  if (isMessageSchema(s)) return [s];
  const anyOf = (s as { anyOf?: TSchema[] }).anyOf;
  return anyOf && anyOf.length > 0 && anyOf.every(isMessageSchema) ? anyOf : undefined;
}

/** A message body: its envelope, the service's network, then the schema its type names (decodeMessage). */
function messageCheck(schemas: MessageSchema[], network: string): (value: unknown) => void {
  return (value) => {
    const env = readEnvelope(value);
    if (env.network !== network) throw new RefusedError('E_NETWORK_MISMATCH', `the request is for ${env.network}, this service serves ${network}`);
    // One schema: decodeMessage names it in its E_WRONG_MESSAGE. Several: the one the type names, else all of them.
    const named = schemas.length === 1 ? schemas[0]! : schemas.find((s) => s.properties.type.const === env.type);
    if (!named) throw new MalformedInputError('E_WRONG_MESSAGE', `expected ${schemas.map((s) => s.properties.type.const).join(' or ')}, got ${env.type}`);
    decodeMessage(named as never, value);
  };
}

/** Any other part: TypeBox's check, the first error by its field. */
function requestCheck(schema: TSchema, part: HttpPart): (value: unknown) => void {
  const what = part === 'body' ? 'the request body' : part === 'params' ? 'the path' : 'the query';
  return (value) => {
    if (Value.Check(schema, value)) return;
    const first = Value.Errors(schema, value).First();
    const where = first?.path ? first.path.slice(1).replace(/\//g, '.') : '(whole)';
    const message = `${what}: ${where}: ${first?.message ?? 'invalid'}`;
    throw part === 'querystring' ? new UsageError('E_USAGE', message) : new MalformedInputError('E_MALFORMED_REQUEST', message);
  };
}

/** The check of one part of a route's request. */
export function partCheck(route: Route, part: HttpPart, network: string): ((value: unknown) => void) | undefined {
  const own = route.decode?.[part];
  if (own) return own;
  const schema = route.schema?.[part];
  if (!schema) return undefined;
  const messages = part === 'body' ? messageSchemas(schema) : undefined;
  return messages ? messageCheck(messages, network) : requestCheck(schema, part);
}

/** The table as a plugin: the routes of the listener it is registered on, their schemas checked by partCheck. */
export function routePlugin(routes: readonly Route[]): RoutePlugin {
  const plugin: FastifyPluginAsync<RoutePluginOptions> = async (app, opts) => {
    const mine = routes.filter((r) => r.listener === opts.listener);
    const byKey = new Map(mine.map((r) => [`${r.method} ${r.path}`, r]));
    // Encapsulated: this plugin's routes only. fastify calls it once per route and part that has a schema.
    app.setValidatorCompiler(({ method, url, httpPart }) => {
      // A GET's HEAD (fastify adds one to each GET) is checked as its GET.
      const route = byKey.get(`${method === 'HEAD' ? 'GET' : method} ${url}`);
      const check = route ? partCheck(route, httpPart as HttpPart, opts.network) : undefined;
      if (!check) throw new Error(`no check for ${httpPart} of ${method} ${url}`);
      return (value: unknown) => {
        try {
          check(value);
          return { value };
        } catch (error) {
          return { error: error as Error };
        }
      };
    });
    for (const route of mine) {
      app.route({
        method: route.method,
        url: route.path,
        config: { shape: route.errors ?? 'offchain' },
        ...(route.schema ? { schema: { ...route.schema } } : {}),
        ...(route.bodyLimit !== undefined ? { bodyLimit: Math.max(route.bodyLimit, opts.bodyLimit) } : {}),
        handler: (req, reply) => opts.run(route, req, reply),
      });
    }
  };
  return Object.assign(plugin, { routes });
}
