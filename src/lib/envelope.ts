/**
 * The envelope every JSON message carries — `type` (namespaced, e.g. `credit/update`),
 * `version`, `network` — read without the schema machinery, so the CLI layer can check
 * it cheaply on every input (message.ts validates whole messages against schemas).
 */
import { MalformedInputError } from './errors.ts';
import { NETWORKS, type Network } from './network.ts';

export const MESSAGE_VERSION = 1;

export type Envelope = { type: string; version: number; network: Network };

/** The envelope of any JSON value that claims to be one of our messages. */
export function readEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedInputError('E_MALFORMED_MESSAGE', 'expected a JSON object message');
  }
  const v = value as Record<string, unknown>;
  if (typeof v.type !== 'string') throw new MalformedInputError('E_MALFORMED_MESSAGE', 'the message has no "type"');
  if (v.version !== MESSAGE_VERSION) {
    throw new MalformedInputError('E_MESSAGE_VERSION', `${v.type} version ${JSON.stringify(v.version)} is not supported (this offchain speaks version ${MESSAGE_VERSION})`);
  }
  if (typeof v.network !== 'string' || !(NETWORKS as readonly string[]).includes(v.network)) {
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${v.type}: "network" must be one of ${NETWORKS.join(', ')}`);
  }
  return { type: v.type, version: v.version, network: v.network as Network };
}
