/**
 * The flag every command that runs a watcher shares (`offchain watch`, `serve mint`, `serve
 * gateway`): what wakes it at a new block before its next poll (./hashblock.ts, docs/watch.md
 * "How it follows the chain").
 */
import { Flags } from '@oclif/core';
import { UsageError } from '../../lib/errors.ts';
import { flagValue } from '../../lib/cli/flags.ts';

/** `auto`, `off`, tcp://HOST:PORT (a name, an IPv4 address or a bracketed IPv6 one) or ipc://PATH — what libzmq connects to. */
export function zmqSetting(value: string): string {
  if (value === 'auto' || value === 'off') return value;
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (tcp && Number(tcp[2]) >= 1 && Number(tcp[2]) <= 65_535) return value;
  if (/^ipc:\/\/\S+$/.test(value)) return value;
  throw new UsageError('E_USAGE', `--zmq-hashblock is auto, off, tcp://HOST:PORT or ipc://PATH (the node's -zmqpubhashblock), got ${JSON.stringify(value)}`);
}

export const zmqFlags = {
  'zmq-hashblock': Flags.string({
    description:
      'also wake at each block the node announces over ZMQ, not only at the next poll: auto (the node\'s -zmqpubhashblock, ' +
      'from getzmqnotifications; none: poll alone), off, or the endpoint, tcp://HOST:PORT',
    helpValue: 'URL',
    default: 'auto',
    helpGroup: 'CHAIN',
    parse: async (value) => flagValue(() => zmqSetting(value)),
  }),
};
