/**
 * The services' own message (docs/serve.md, "GET /v1/info"): what a `serve` process is and how
 * it is doing, on its operator's listener — for a runbook, a monitor or a deployment check. No
 * protocol: it names the store (a PostgreSQL URL without its password), the chain tip, the
 * secp256k1 backend and the watcher's last round; never a key, a contract or an amount.
 */
import { Type } from '@sinclair/typebox';
import { Hex, messageSchema } from '../message.ts';

const Tip = Type.Object({ height: Type.Integer({ minimum: 0 }), hash: Type.Optional(Hex('block hash (display byte order)', 32)) }, { additionalProperties: false });

export const ServeInfoSchema = messageSchema('serve/info', 'A service\'s status (GET /v1/info on its operator\'s listener).', {
  role: Type.Union([Type.Literal('mint'), Type.Literal('gateway'), Type.Literal('statechain')]),
  offchain_version: Type.String({ description: 'the toolkit\'s version (package.json)' }),
  store: Type.Union([
    Type.Object({ kind: Type.Literal('sqlite'), path: Type.String({ description: 'the state directory of this network' }) }, { additionalProperties: false }),
    Type.Object({ kind: Type.Literal('postgres'), url: Type.String({ description: 'the database, its password never shown' }) }, { additionalProperties: false }),
  ]),
  chain: Type.Union([
    Type.Object({ source: Type.Literal('rpc'), height: Type.Integer({ minimum: 0 }), hash: Hex('the tip\'s block hash', 32) }, { additionalProperties: false }),
    Type.Object({ source: Type.Literal('rpc'), error: Type.String({ description: 'the node did not answer: "CODE: message" (the answer is given anyway)' }) }, { additionalProperties: false }),
    Type.Object({ source: Type.Literal('offline'), height: Type.Integer({ minimum: 0, description: '--tip-height' }) }, { additionalProperties: false }),
  ]),
  secp256k1: Type.String({ description: 'the backend the service signs and verifies with' }),
  watcher: Type.Object({
    running: Type.Boolean({ description: 'the deadlines kept from inside the service (a node given, no --no-watch)' }),
    tip: Type.Optional(Tip),
    at: Type.Optional(Type.String({ description: 'when its last round ended (ISO 8601)' })),
    failed_rounds: Type.Optional(Type.Integer({ minimum: 0 })),
  }, { additionalProperties: false }),
  uptime_s: Type.Integer({ minimum: 0, description: 'seconds since the service listened' }),
  listening: Type.Object({ public: Type.String(), operator: Type.String() }, { additionalProperties: false }),
});

export const SERVE_SCHEMAS = [ServeInfoSchema];
