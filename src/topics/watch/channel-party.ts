/**
 * What `offchain watch` needs of a BOLT 2/3 channel party (./channel.ts keeps its deadlines): the
 * state directory's channel records (the `commitment` commands' ChannelBook), and the party's
 * secrets, read like keyFlags (an environment variable or a 0600 file, never argv) and checked
 * against every channel's basepoint before anything is decided:
 *
 *   --revocation-key-env/-file  revocation_basepoint secret   required  the penalties
 *   --delayed-key-env/-file     delayed_payment_basepoint     optional  its own to_local's sweep
 *   --htlc-key-env/-file        htlc_basepoint (+ --preimage-file, --preimage-dir, those learnt on chain: ./preimages.ts)
 *                               optional  its HTLCs on either commitment
 *   --funding-key-env/-file     funding key (+ --seed-file)  optional  going on chain: its latest commitment signed
 *                               (src/lib/watch/channel-onchain.ts), the seed checked against local_first_point
 *   --sweep-to                  where they all pay            required
 */
import { OffchainError, RefusedError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { ChannelHost, WatchedChannel } from './channel.ts';
import type { PreimageSource } from './preimages.ts';

export type ChannelFlags = {
  'revocation-key-env'?: string; 'revocation-key-file'?: string; 'delayed-key-env'?: string; 'delayed-key-file'?: string;
  'htlc-key-env'?: string; 'htlc-key-file'?: string; 'preimage-file'?: string[]; 'preimage-dir'?: string; 'sweep-to'?: string;
  'funding-key-env'?: string; 'funding-key-file'?: string; 'seed-file'?: string;
};

/** The party's secrets and destination, loaded once. */
export type ChannelParty = {
  secret: Uint8Array; point: string; delayed?: Uint8Array; htlc?: { secret: Uint8Array; preimages: PreimageSource }; destination: { script: Uint8Array; dustSat: number };
  /** The funding key and the per-commitment seed: the party's latest commitment signed to go on chain; their public sides (hex), which channel they are. */
  close?: { fundingSecret: Uint8Array; seed: Uint8Array; fundingPubkey: string; firstPoint: string };
};

/**
 * The channel records of `network`'s database, each decoded — a damaged one is its channel's
 * error, not the round's (the other channels and kinds go on); none without a database.
 */
/** One step on a channel's record under its lock (the `commitment` commands' ChannelBook.step): the record written before the message returns. */
export function channelStepper(open: (create: boolean) => Promise<StateDb | undefined>, dir: string): NonNullable<ChannelHost['step']> {
  return async (id, fn) => {
    const { ChannelBook } = await import('../../lib/store/sqlite/channels.ts');
    const { decodeChannelRecord } = await import('../../lib/bolt3/party.ts');
    return new ChannelBook(() => open(false), dir).step(id, (v) => fn(decodeChannelRecord(v, `the record of channel ${id}`)));
  };
}

export async function readChannels(open: (create: boolean) => Promise<StateDb | undefined>, dir: string, network: Network): Promise<WatchedChannel[]> {
  const { ChannelBook } = await import('../../lib/store/sqlite/channels.ts');
  const { decodeChannelRecord } = await import('../../lib/bolt3/party.ts');
  const book = new ChannelBook(() => open(false), dir);
  const all = [...(await book.all())];
  // A channel on a statechain coin: the coin's outpoint, when this directory holds the coin's record (./channel-coin.ts).
  const coins = all.length > 0 ? await (await import('./channel-coin.ts')).coinOutpoints(open, dir) : new Map<string, string>();
  return all.flatMap(([id, v]): WatchedChannel[] => {
    try {
      const record = decodeChannelRecord(v, `the record of channel ${id}`);
      const coin = record.funding_locktime !== undefined ? coins.get(record.channel.funding_txid) : undefined;
      return record.network === network ? [{ id, record, ...(coin !== undefined ? { coin } : {}) }] : [];
    } catch (e) {
      return [{ id, error: e instanceof OffchainError ? `${e.code}: ${e.message}` : String(e) }];
    }
  });
}

type Basepoint = 'revocation_basepoint' | 'delayed_payment_basepoint' | 'htlc_basepoint' | 'funding_pubkey';

/** One basepoint secret from `--<flag>-env`/`--<flag>-file`, checked against every channel's (E_NO_KEY, E_KEY_FILE_PERMISSIONS, E_WRONG_KEY). */
async function basepointSecret(flag: string, env: string | undefined, file: string | undefined, network: Network, channels: WatchedChannel[], field: Basepoint): Promise<{ secret: Uint8Array; point: string }> {
  if (file === undefined && !process.env[env!]) throw new UsageError('E_NO_KEY', `the environment variable ${env} named by --${flag}-env is not set`);
  const { loadKeyPair } = await import('../../lib/cli/secrets.ts');
  const { pointOf } = await import('../../lib/bolt3/keys.ts');
  const { toHex } = await import('../../lib/bytes.ts');
  const { secretKey } = await loadKeyPair({ keyFile: file, keyFileFlag: `--${flag}-file`, keyEnv: env, env: process.env, network, interactive: false, prompt: async () => '' });
  const point = toHex(pointOf(secretKey, field));
  const other = channels.find((c) => c.record && c.record.channel.local[field] !== point);
  if (other) {
    secretKey.fill(0);
    throw new RefusedError('E_WRONG_KEY', `this key is not the ${field} secret of channel ${other.id} (its basepoint is ${other.record!.channel.local[field]}): pass that channel's --${flag}-env/--${flag}-file`);
  }
  return { secret: secretKey, point };
}

/**
 * The party's secrets and --sweep-to, for a state directory holding `channels`: missing or wrong,
 * refused before anything is decided (E_NO_KEY, E_USAGE naming the flag, E_WRONG_KEY).
 */
export async function loadChannelParty(f: ChannelFlags, channels: WatchedChannel[], network: Network, dir: string, say: (line: string) => void = () => {}): Promise<ChannelParty> {
  if (f['revocation-key-env'] === undefined && f['revocation-key-file'] === undefined) {
    throw new UsageError('E_NO_KEY', `${dir} holds ${channels.length} channel(s): their penalties are signed with your revocation_basepoint secret — pass --revocation-key-env NAME or --revocation-key-file FILE`);
  }
  if (f['sweep-to'] === undefined) throw new UsageError('E_USAGE', `${dir} holds channel(s): pass --sweep-to ADDRESS, where their penalties pay`);
  for (const flag of ['preimage-file', 'preimage-dir'] as const) {
    if (f[flag] !== undefined && f['htlc-key-env'] === undefined && f['htlc-key-file'] === undefined) {
      throw new UsageError('E_USAGE', `--${flag} claims HTLCs with the htlc_basepoint secret: pass --htlc-key-env or --htlc-key-file too`);
    }
  }
  const { PreimageSource, checkPreimageDir } = await import('./preimages.ts');
  if (f['preimage-dir'] !== undefined) await checkPreimageDir(f['preimage-dir']);
  const { decodeAddress } = await import('../../lib/address.ts');
  const { dustThreshold } = await import('../../lib/tx/policy.ts');
  const script = decodeAddress(f['sweep-to'], network, '--sweep-to');
  const held: Uint8Array[] = [];
  try {
    const revocation = await basepointSecret('revocation-key', f['revocation-key-env'], f['revocation-key-file'], network, channels, 'revocation_basepoint');
    held.push(revocation.secret);
    // Optional: with it, the party's own commitment's to_local is swept.
    const delayed = f['delayed-key-env'] !== undefined || f['delayed-key-file'] !== undefined
      ? (await basepointSecret('delayed-key', f['delayed-key-env'], f['delayed-key-file'], network, channels, 'delayed_payment_basepoint')).secret
      : undefined;
    if (delayed) held.push(delayed);
    // Optional too: with it and the preimages given, the party's HTLCs on the peer's current commitment are taken.
    let htlc: ChannelParty['htlc'];
    if (f['htlc-key-env'] !== undefined || f['htlc-key-file'] !== undefined) {
      const { secret } = await basepointSecret('htlc-key', f['htlc-key-env'], f['htlc-key-file'], network, channels, 'htlc_basepoint');
      held.push(secret);
      const { readHexSecretFile } = await import('../../lib/cli/secret-file.ts');
      const given = (f['preimage-file'] ?? []).map((p) => readHexSecretFile(p, '--preimage-file', { length: 32 }));
      htlc = { secret, preimages: new PreimageSource(given, { ...(f['preimage-dir'] !== undefined ? { dir: f['preimage-dir'] } : {}), say }) };
    }
    const close = await closeSecrets(f, network, channels, held);
    return { secret: revocation.secret, point: revocation.point, ...(delayed ? { delayed } : {}), ...(htlc ? { htlc } : {}), ...(close ? { close } : {}), destination: { script, dustSat: Number(dustThreshold(script)) } };
  } catch (e) {
    for (const s of held) s.fill(0);
    throw e;
  }
}

/**
 * Optional: the funding key (--funding-key-env/-file) and the per-commitment seed (--seed-file, 0600),
 * both or neither, checked against every channel (its funding_pubkey, its local_first_point): with
 * them the watcher goes on chain for an HTLC about to be lost (src/lib/watch/channel-onchain.ts).
 */
async function closeSecrets(f: ChannelFlags, network: Network, channels: WatchedChannel[], held: Uint8Array[]): Promise<ChannelParty['close']> {
  const keyed = f['funding-key-env'] !== undefined || f['funding-key-file'] !== undefined;
  if (!keyed && f['seed-file'] === undefined) return undefined;
  if (!keyed || f['seed-file'] === undefined) {
    throw new UsageError('E_USAGE', 'going on chain signs your latest commitment with your funding key and per-commitment seed: pass both --funding-key-env (or --funding-key-file) and --seed-file');
  }
  const { secret: fundingSecret, point: fundingPubkey } = await basepointSecret('funding-key', f['funding-key-env'], f['funding-key-file'], network, channels, 'funding_pubkey');
  held.push(fundingSecret);
  const { readHexSecretFile } = await import('../../lib/cli/secret-file.ts');
  const seed = readHexSecretFile(f['seed-file'], '--seed-file', { length: 32 });
  held.push(seed);
  const { checkSeed, ownPoint } = await import('../../lib/bolt3/party.ts');
  for (const c of channels) {
    if (c.record) checkSeed(c.record, seed);
  }
  const { toHex } = await import('../../lib/bytes.ts');
  return { fundingSecret, seed, fundingPubkey, firstPoint: toHex(ownPoint(seed, 0)) };
}

/**
 * The host of ./channel.ts's round. `party`: the secrets, or why they could not be had — then each
 * channel's decision carries that error (a channel recorded after a watcher started without a key
 * for it); a channel of another revocation basepoint than the key's is its own error too.
 */
export function channelHost(
  channels: WatchedChannel[], party: ChannelParty | OffchainError, limits: ChannelHost['limits'], done: Set<string>, wallet?: ChannelHost['wallet'], step?: ChannelHost['step'],
): ChannelHost {
  if (party instanceof OffchainError) {
    const error = `${party.code}: ${party.message}`;
    const unkeyed = channels.map(({ id }) => ({ id, error }));
    return { channels: async () => unkeyed, revocationKey: async () => new Uint8Array(32), destination: { script: new Uint8Array(0), dustSat: 0 }, limits, done };
  }
  const checked = channels.map((c) => (c.record && c.record.channel.local.revocation_basepoint !== party.point
    ? { id: c.id, error: `E_WRONG_KEY: the revocation key given is not channel ${c.id}'s (its basepoint is ${c.record.channel.local.revocation_basepoint})` }
    : c));
  const { delayed, htlc, close } = party;
  return {
    channels: async () => checked, revocationKey: async () => party.secret.slice(), ...(delayed ? { delayedKey: async () => delayed.slice() } : {}),
    ...(htlc ? { htlcKey: async () => ({ secret: htlc.secret.slice(), preimages: htlc.preimages.copies() }), preimages: htlc.preimages } : {}),
    // A channel recorded after the watcher started may be another funding key's or seed's: said by its decision, never signed for.
    ...(close && step ? {
      closeKeys: async () => ({ fundingSecret: close.fundingSecret.slice(), seed: close.seed.slice() }), step,
      closeFits: (rec: ChannelRecord) => rec.channel.local.funding_pubkey === close.fundingPubkey && rec.local_first_point === close.firstPoint,
    } : {}),
    destination: party.destination, limits, done, ...(wallet ? { wallet } : {}),
  };
}
