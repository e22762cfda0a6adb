/**
 * A Lightning channel party's records (src/lib/bolt3/party.ts), one per channel (`records`,
 * kind `bolt3`, by the channel id `<funding txid>:<vout>`). A step runs as one transaction
 * (database.ts `step`): read the record, check, write the new record — and only then is the
 * message handed back to print, so a crash leaves either the old record and no message, or
 * the new record, whose message a rerun prints again.
 *
 * Read-only steps never create anything: a channel that is not there is refused
 * (E_UNKNOWN_CHANNEL) without making a database.
 */
import { StateConflictError } from '../../errors.ts';
import type { StateDb } from './database.ts';
import { Records } from './records.ts';

export class ChannelBook {
  private opened: Records<unknown> | undefined;

  /** `open(create)`: the network's database, made only by a step that records a new channel. */
  constructor(
    private readonly open: (create: boolean) => Promise<StateDb | undefined>,
    /** The network's state directory, for messages. */
    readonly dir: string,
  ) {}

  private async records(create: boolean): Promise<Records<unknown> | undefined> {
    if (this.opened === undefined) {
      const db = await this.open(create);
      if (db !== undefined) this.opened = new Records<unknown>(db, 'bolt3');
    }
    return this.opened;
  }

  /** Where channel `id` is kept (the database's file), for the channel-opened message. */
  where(): string {
    return this.opened?.db.path ?? this.dir;
  }

  /** The stored record of a channel, or undefined (nothing is created). */
  async read(channelId: string): Promise<unknown> {
    return (await this.records(false))?.get(channelId);
  }

  /** Every channel record (channel id → record), by id; nothing is created. */
  async all(): Promise<Map<string, unknown>> {
    const records = await this.records(false);
    return new Map((records?.list() ?? []).map((r) => [r.id, r.record]));
  }

  /** `read`, refusing a channel this state directory does not hold. */
  async get(channelId: string): Promise<unknown> {
    const record = await this.read(channelId);
    if (record === undefined) throw this.unknown(channelId);
    return record;
  }

  /**
   * Run one step on a channel: `fn` gets the stored record (undefined for a new channel, only
   * when `create` is set) and returns the record to write, if any, and the message; the record
   * is committed before the message is returned.
   */
  async step<T>(channelId: string, fn: (record: unknown) => { record?: unknown; message: T }, opts: { create?: boolean } = {}): Promise<T> {
    const records = await this.records(opts.create === true);
    if (records === undefined) throw this.unknown(channelId);
    return records.db.step(() => {
      const current = records.get(channelId);
      if (current === undefined && !opts.create) throw this.unknown(channelId);
      const { record, message } = fn(current);
      if (record !== undefined) records.put(channelId, record);
      return message;
    });
  }

  private unknown(channelId: string): StateConflictError {
    return new StateConflictError('E_UNKNOWN_CHANNEL', `no channel ${channelId} in ${this.dir} (commitment init first, or another --state-dir or --network)`);
  }
}
