/**
 * The operator's secrets in the database (pg/operator-store.ts): s and x₁ sealed by the one
 * seal every store uses (../seal.ts, purpose `share`) under a key derived from the operator's
 * own key (which the database never sees), the coin id and row version as its label, so a
 * share moved to another row or version does not open — with a random iv, so every write of
 * a row seals afresh (its fingerprint, below); the record kept beside them without its
 * secrets; and the fingerprint the host's witness keeps of a row version (pg/witness.ts).
 * A share sealed by the form before (ChaCha20-Poly1305 under SHA-256 of a label and the key)
 * is read once: the coin's next step writes it in this one. Not here: where a replaced
 * sealed share still lives (pg/operator-store.ts, "Erasing the replaced share").
 */
import { createDecipheriv } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../bytes.ts';
import { RefusedError } from '../../errors.ts';
import type { OperatorRecord } from '../../statechain/ports.ts';
import { Sealer } from '../seal.ts';

export type Secrets = { share_secret: string; x1: string | null };
export type Stored = Omit<OperatorRecord, 'share_secret' | 'x1' | 'seen_nonces'>;

/** The operator's seal, and the key of the form before it (read once). */
export type ShareSeal = { sealer: Sealer; legacy: Uint8Array };

export function shareSeal(operatorSecret: Uint8Array): ShareSeal {
  return { sealer: Sealer.fromSecret(operatorSecret), legacy: sha256(concatBytes(utf8('offchain/statechain/operator-store/v1'), operatorSecret)) };
}

export function sealShare(seal: ShareSeal, record: OperatorRecord, version: number): Buffer {
  const secrets: Secrets = { share_secret: record.share_secret, x1: record.x1 };
  const plain = utf8(JSON.stringify(secrets));
  try {
    return seal.sealer.seal('share', [record.coin_id, String(version)], plain, 'random');
  } finally {
    plain.fill(0);
  }
}

export function unsealShare(seal: ShareSeal, where: string, sealed: Buffer, coinId: string, version: number): Secrets {
  const plain = seal.sealer.open('share', [coinId, String(version)], sealed) ?? legacyOpen(seal.legacy, sealed, coinId, version);
  try {
    if (plain === undefined) throw new Error('does not open');
    const s = JSON.parse(plain.toString('utf8')) as Secrets;
    fromHex(s.share_secret, 'share', 32);
    return s;
  } catch {
    throw new RefusedError('E_WRONG_KEY', `coin ${coinId}'s share in ${where} does not open with this operator key (another operator's store, or a moved row)`);
  } finally {
    plain?.fill(0);
  }
}

/** The form before ../seal.ts: ChaCha20-Poly1305, nonce ‖ ciphertext ‖ tag, `<coin>/<version>` as associated data. */
function legacyOpen(key: Uint8Array, sealed: Buffer, coinId: string, version: number): Buffer | undefined {
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, sealed.subarray(0, 12), { authTagLength: 16 });
    decipher.setAAD(utf8(`${coinId}/${version}`), { plaintextLength: sealed.length - 28 });
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * What the witness keeps of a row version besides its number: a digest of the record text and
 * the sealed share (sealed afresh, with a random nonce, at every write — so two writes of one
 * version, in two forked histories, never share it). Not secret: the sealed share is not either.
 */
export function fingerprint(record: string, sealed: Uint8Array): string {
  return toHex(sha256(concatBytes(utf8(`${record.length}:${record}`), sealed))).slice(0, 32);
}

export function stored(r: OperatorRecord): Stored {
  const { share_secret: _s, x1: _x, seen_nonces: _n, ...rest } = r;
  return rest;
}
