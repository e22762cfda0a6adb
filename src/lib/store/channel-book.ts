/**
 * A Lightning channel party's records (src/lib/bolt3/party.ts), one directory per channel
 * under `<state-dir>/<network>/bolt3/<funding txid>-<vout>/`. A step runs whole under
 * that directory's lock: read the record, check, write the new record (atomically),
 * and only then hand back the message to print — so a crash leaves either the old record
 * and no message, or the new record, whose message a rerun prints again.
 *
 * Read-only steps never create anything: a channel that is not there is refused
 * (E_UNKNOWN_CHANNEL) without touching the directory.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StateConflictError } from '../errors.ts';
import { readJsonFile, writeJsonAtomic } from './atomic.ts';
import { withLock } from './lock.ts';

const RECORD = 'channel.json';

export class ChannelBook {
  readonly dir: string;

  constructor(networkStateDir: string) {
    this.dir = join(resolve(networkStateDir), 'bolt3');
  }

  /** The directory of channel `txid:vout`. */
  channelDir(channelId: string): string {
    const [txid, vout] = channelId.split(':');
    return join(this.dir, `${txid}-${vout}`);
  }

  /** The stored record of a channel, or undefined (nothing is created). */
  async read(channelId: string): Promise<unknown> {
    return readJsonFile(join(this.channelDir(channelId), RECORD));
  }

  /** Every channel record in this book (channel id → record); nothing is created. */
  async all(): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    if (!existsSync(this.dir)) return out;
    for (const name of (await readdir(this.dir)).sort()) {
      const m = /^([0-9a-f]{64})-(\d+)$/.exec(name);
      if (!m) continue;
      const record = await readJsonFile(join(this.dir, name, RECORD));
      if (record !== undefined) out.set(`${m[1]}:${m[2]}`, record);
    }
    return out;
  }

  /** `read`, refusing a channel this state directory does not hold. */
  async get(channelId: string): Promise<unknown> {
    const record = await this.read(channelId);
    if (record === undefined) throw this.unknown(channelId);
    return record;
  }

  /**
   * Run one step on a channel under its lock: `fn` gets the stored record (undefined for a
   * new channel, only when `create` is set) and returns the record to write, if any, and
   * the message; the record is on disk before the message is returned.
   */
  async step<T>(channelId: string, fn: (record: unknown) => { record?: unknown; message: T }, opts: { create?: boolean } = {}): Promise<T> {
    const dir = this.channelDir(channelId);
    if (!opts.create && !existsSync(join(dir, RECORD))) throw this.unknown(channelId);
    return withLock(dir, async () => {
      const current = await readJsonFile(join(dir, RECORD));
      if (current === undefined && !opts.create) throw this.unknown(channelId);
      const { record, message } = fn(current);
      if (record !== undefined) await writeJsonAtomic(join(dir, RECORD), record);
      return message;
    });
  }

  private unknown(channelId: string): StateConflictError {
    return new StateConflictError('E_UNKNOWN_CHANNEL', `no channel ${channelId} in ${this.dir} (commitment init first, or another --state-dir or --network)`);
  }
}
