/**
 * BIP-327 KeySort + KeyAgg for a taproot key-path output (no script tree unless a
 * merkle root is given), in the shape BIP-373 stores it: the aggregate *plain* public
 * key (33 bytes, before the taproot tweak) keys the PSBT fields, its x-only form is the
 * taproot internal key, and the BIP-341 tweak gives the output key.
 *
 * Deliberately no plain (non-x-only) tweaks, which BIP-32-derived aggregate keys
 * would need.
 */
import { compareBytes, equalBytes, toHex } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { validatePublicKey } from '../keys/keys.ts';
import { taprootOutput, type TaprootOutput } from '../taproot/taproot.ts';
import { Bip327Error, keyAgg, keySort } from './bip327.ts';
import { Lru, keyOf } from '../lru.ts';

export type MusigKey = {
  /** Participant public keys in KeyAgg order (sorted when built with sort = true). */
  participants: Uint8Array[];
  /** 33-byte aggregate plain public key (the BIP-373 field key). */
  aggregatePubkey: Uint8Array;
  /** x-only internal key = aggregatePubkey without its prefix byte. */
  internalKey: Uint8Array;
  output: TaprootOutput;
};

/**
 * Derived keys of recent participant sets: a mint signs for the same contracts again and
 * again, and KeyAgg plus the taproot tweak (a point multiplication) are pure functions
 * of public keys. Callers must treat the returned object as read-only.
 *
 * Keyed by the participants in KeyAgg order and the merkle root — what the key depends on —
 * so a contract's key built from its terms (sorted) and read back from a PSBT (the order
 * the PSBT lists) is one entry, derived once. Keys that are not all 33 bytes are derived
 * (and refused) uncached. As many as the mint's other per-contract caches hold (credit/codec.ts:
 * 4,096): with fewer, a mint serving more contracts in turn derived each key again per update.
 */
const cache = new Lru<MusigKey>(4096);

export function musigKey(pubkeys: readonly Uint8Array[], opts: { sort?: boolean; merkleRoot?: Uint8Array } = {}): MusigKey {
  if (!pubkeys.every((p) => p.length === 33)) return deriveMusigKey(pubkeys, opts);
  const order = opts.sort === false ? pubkeys : [...pubkeys].sort(compareBytes); // KeySort
  const id = `${keyOf(order)}:${opts.merkleRoot ? keyOf([opts.merkleRoot]) : ''}`;
  return cache.get(id) ?? cache.set(id, deriveMusigKey(pubkeys, opts));
}

function deriveMusigKey(pubkeys: readonly Uint8Array[], opts: { sort?: boolean; merkleRoot?: Uint8Array }): MusigKey {
  if (pubkeys.length < 2) throw new MalformedInputError('E_MUSIG_PARTICIPANTS', 'MuSig2 needs at least two participant keys');
  pubkeys.forEach((pk, i) => validatePublicKey(pk, `participant key ${i}`));
  for (let i = 0; i < pubkeys.length; i++) {
    for (let j = i + 1; j < pubkeys.length; j++) {
      // BIP-327 allows duplicates, but in our two-party protocols a repeated key means
      // one party is absent: refuse it rather than sign for a key someone controls alone.
      if (equalBytes(pubkeys[i]!, pubkeys[j]!)) {
        throw new MalformedInputError('E_MUSIG_PARTICIPANTS', `participant key ${toHex(pubkeys[i]!)} appears twice`);
      }
    }
  }
  // Copies: the cache outlives the caller's arrays (a PSBT's own fields, read in place).
  const participants = (opts.sort === false ? [...pubkeys] : keySort(pubkeys)).map((p) => p.slice());
  let aggregatePubkey: Uint8Array;
  try {
    aggregatePubkey = keyAgg(participants).aggregatePubkey;
  } catch (e) {
    if (e instanceof Bip327Error && e.signer !== undefined) {
      throw new MalformedInputError('E_BAD_PUBKEY', `participant key ${e.signer} is invalid`, { participant: toHex(participants[e.signer]!) });
    }
    throw e;
  }
  const internalKey = aggregatePubkey.slice(1);
  return { participants, aggregatePubkey, internalKey, output: taprootOutput(internalKey, opts.merkleRoot) };
}
