/**
 * The base of the `commitment` commands. Two kinds of step:
 *
 * - a channel party's steps (init, sign, receive-sigs, revoke, receive-revocation,
 *   finalize, penalty): its own channel record under --state-dir (src/lib/bolt3/party.ts
 *   says what each step checks and writes), its per-commitment seed (--seed-file, 0600),
 *   its own copy of the agreed state (--state);
 * - stateless helpers over one commitment described as JSON (point, points, sweep):
 *   `readCommitment` reads a `bolt3/commitment-request`, rebuilt from channel and state.
 */
import { Flags, type Command } from '@oclif/core';
import { MalformedInputError, RefusedError, UsageError } from '../../lib/errors.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';

/** The per-commitment seed and commitment number (`commitment point`). */
export const seedFlags = {
  'seed-file': Flags.string({ description: 'your per-commitment seed: 32 bytes hex (0600 file)', helpValue: 'FILE', required: true }),
  'commitment-number': Flags.integer({ description: 'the commitment number, counted from 0 (index 2^48 - 1 - N)', helpValue: 'N', min: 0, max: 2 ** 48 - 1, required: true }),
};

export const seedFileFlag = {
  'seed-file': Flags.string({ description: 'your per-commitment seed: 32 bytes hex (0600 file), the same for the whole channel', helpValue: 'FILE', required: true }),
};

export const channelIdFlag = {
  'channel-id': Flags.string({ description: 'the channel: its funding outpoint TXID:VOUT', helpValue: 'TXID:VOUT', required: true }),
};

export const agreedStateFlag = {
  state: Flags.string({ description: 'the channel state you agreed to, from your side (bolt3/channel-state JSON; "-": standard input)', helpValue: 'FILE', required: true }),
};

export const htlcKeyFlags = {
  'htlc-key-env': Flags.string({ description: 'environment variable holding your htlc_basepoint secret (needed when the commitment has HTLC outputs)', helpValue: 'NAME', helpGroup: 'KEY' }),
  'htlc-key-file': Flags.string({ description: 'file holding your htlc_basepoint secret (0600)', helpValue: 'FILE', helpGroup: 'KEY' }),
};

const CHANNEL_ID = /^[0-9a-f]{64}:(0|[1-9][0-9]{0,9})$/;

export abstract class CommitmentCommand<T extends typeof Command> extends OffchainCommand<T> {
  /** A `bolt3/commitment-request`, its commitment and HTLC transactions rebuilt from channel and state. */
  protected async readCommitment() {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a bolt3/commitment-request message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { CommitmentRequestSchema } = await import('../../lib/bolt3/schemas.ts');
    const m = decodeMessage(CommitmentRequestSchema, doc.value);
    const network = this.network(m.network);
    const { buildFromJson } = await import('../../lib/bolt3/messages.ts');
    const { c, htlcTxs } = buildFromJson(m.channel, m.state);
    return { m, network, c, htlcTxs };
  }

  /** The input as one JSON message of `type`'s schema. */
  protected async readMessage<S extends import('@sinclair/typebox').TObject>(schema: S) {
    const doc = await this.readDocument();
    const expected = schema.properties.type?.const as string;
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', `expected a ${expected} message`);
    const { decodeMessage } = await import('../../lib/message.ts');
    const m = decodeMessage(schema, doc.value);
    this.network((m as { network: import('../../lib/network.ts').Network }).network);
    return m;
  }

  /** This network's channel book under --state-dir. */
  protected async channelBook() {
    const { ChannelBook } = await import('../../lib/store/sqlite/channels.ts');
    const network = this.network();
    return new ChannelBook((create) => this.state(network, { create }), this.stateDir(network));
  }

  protected channelId(): string {
    const id = ((this.flags as { 'channel-id'?: string })['channel-id'] ?? '').toLowerCase();
    if (!CHANNEL_ID.test(id)) throw new UsageError('E_BAD_CHANNEL_ID', `--channel-id ${id} is not TXID:VOUT`);
    return id;
  }

  /**
   * One step on a stored channel, under its lock: `fn` gets the decoded record (checked,
   * never trusted as written) and returns the record to write, if any, and the message.
   */
  protected async channelStep<M>(channelId: string, fn: (record: ChannelRecord) => { record?: ChannelRecord; message: M }): Promise<M> {
    const { decodeChannelRecord } = await import('../../lib/bolt3/party.ts');
    const book = await this.channelBook();
    const network = this.network();
    return book.step(channelId, (value) => {
      const record = decodeChannelRecord(value, `the record of channel ${channelId}`);
      if (record.network !== network) throw new RefusedError('E_NETWORK_MISMATCH', `channel ${channelId} is a ${record.network} channel`);
      return fn(record);
    });
  }

  /** A stored channel's record, read under its lock (for steps that write nothing). */
  protected async channelRecord(channelId: string): Promise<ChannelRecord> {
    return this.channelStep(channelId, (record) => ({ message: record }));
  }

  /** Your channel from your side (--channel FILE, a bolt3/channel), without its envelope. */
  protected async ownChannel(path: string) {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { OwnChannelSchema } = await import('../../lib/bolt3/schemas.ts');
    const { type: _t, version: _v, network, ...channel } = decodeMessage(OwnChannelSchema, await this.readFileDocument(path));
    this.network(network);
    return channel;
  }

  /** The per-commitment seed (--seed-file, 0600). The caller zeroes it. */
  protected seed(): Uint8Array {
    return readHexSecretFile((this.flags as { 'seed-file': string })['seed-file'], '--seed-file', { length: 32 });
  }

  /** The state the caller agreed to (--state), as a bolt3/channel-state. */
  protected async agreedState() {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { ChannelStateSchema } = await import('../../lib/bolt3/schemas.ts');
    const m = decodeMessage(ChannelStateSchema, await this.readFileDocument((this.flags as { state: string }).state));
    this.network(m.network);
    return m;
  }

  /** Funding key (--key-env/--key-file) and, when given, the htlc_basepoint secret. */
  protected async signingKeys() {
    const funding = await this.keyPair(this.network());
    return { fundingSecret: funding.secretKey, ...(await this.htlcKey()) };
  }

  /** The htlc_basepoint secret, when --htlc-key-env/--htlc-key-file is given. */
  protected async htlcKey(): Promise<{ htlcBasepointSecret?: Uint8Array }> {
    const f = this.flags as { 'htlc-key-env'?: string; 'htlc-key-file'?: string };
    if (f['htlc-key-env'] === undefined && f['htlc-key-file'] === undefined) return {};
    const { loadKeyPair } = await import('../../lib/cli/secrets.ts');
    const key = await loadKeyPair({ keyFile: f['htlc-key-file'], keyFileFlag: '--htlc-key-file', keyEnv: f['htlc-key-env'], env: process.env, network: this.network(), interactive: false, prompt: async () => '' });
    return { htlcBasepointSecret: key.secretKey };
  }
}
