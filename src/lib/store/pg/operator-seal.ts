/**
 * The operator's secrets in the database (pg/operator-store.ts): s and x₁ sealed with
 * ChaCha20-Poly1305 under a key derived from the operator's own key (which the database never
 * sees), the coin id and row version as associated data, so a share moved to another row or
 * version does not open; the record kept beside them without its secrets; and the
 * fingerprint the host's witness keeps of a row version (pg/witness.ts). Not here: where a
 * replaced sealed share still lives (pg/operator-store.ts, "Erasing the replaced share").
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../bytes.ts';
import { RefusedError } from '../../errors.ts';
import type { OperatorRecord } from '../../statechain/ports.ts';

export type Secrets = { share_secret: string; x1: string | null };
export type Stored = Omit<OperatorRecord, 'share_secret' | 'x1' | 'seen_nonces'>;

/** The key the shares are sealed under: derived from the operator's authentication secret key. */
export function shareSealKey(operatorSecret: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8('offchain/statechain/operator-store/v1'), operatorSecret));
}

export function sealShare(sealKey: Uint8Array, record: OperatorRecord, version: number): Buffer {
  const nonce = randomBytes(12);
  const secrets: Secrets = { share_secret: record.share_secret, x1: record.x1 };
  const plain = utf8(JSON.stringify(secrets));
  const cipher = createCipheriv('chacha20-poly1305', sealKey, nonce, { authTagLength: 16 });
  cipher.setAAD(utf8(`${record.coin_id}/${version}`), { plaintextLength: plain.length });
  const out = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  plain.fill(0);
  return out;
}

export function unsealShare(sealKey: Uint8Array, where: string, sealed: Buffer, coinId: string, version: number): Secrets {
  try {
    const decipher = createDecipheriv('chacha20-poly1305', sealKey, sealed.subarray(0, 12), { authTagLength: 16 });
    decipher.setAAD(utf8(`${coinId}/${version}`), { plaintextLength: sealed.length - 28 });
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
    const s = JSON.parse(plain.toString('utf8')) as Secrets;
    plain.fill(0);
    fromHex(s.share_secret, 'share', 32);
    return s;
  } catch {
    throw new RefusedError('E_WRONG_KEY', `coin ${coinId}'s share in ${where} does not open with this operator key (another operator's store, or a moved row)`);
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
