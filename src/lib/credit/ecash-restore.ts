/**
 * NUT-09 restore, answered by the credit mint for the outputs it signed, so a wallet that
 * lost its tokens recovers them from its NUT-13 seed (the Cashu mint we front never saw
 * these outputs and answers nothing for them). From cashubtc/nuts 09.md at 3ddb1ae
 * (copied verbatim: test/vectors/cashu/09.md):
 *
 *   "Mints only respond with a BlindSignature, if they have previously signed the
 *    BlindedMessage. Each returned BlindSignature also contains the amount and the keyset
 *    id." Request {"outputs": [BlindedMessage]}; response {"outputs": [BlindedMessage],
 *    "signatures": [BlindSignature]}: "of the same length and for every entry outputs[i],
 *    there is a corresponding entry signatures[i]."
 *
 * Invariants (test/lib/credit/ecash-restore.test.ts):
 * - The same blinded messages → the same signatures, nothing else: a B_ is answered only
 *   if the `blind_signatures` table holds exactly it (its negation, or any B_ never
 *   signed, gets no entry), with the amount and keyset the row recorded — whatever amount
 *   or id the request gives (wallets send 0 and the keyset they try).
 * - The signature is the one the receipt carried, byte for byte: C_ = k·B_ with the key of
 *   the row's keyset and amount, and the NUT-12 DLEQ whose nonce is derived from
 *   (a, A, B_, C_) (nut12.ts) — recomputed, not stored, so nothing secret is read from the
 *   store and nothing is written (Nutshell recomputes its restored DLEQs too).
 * - The store is not the authority on what was signed: a row is answered only if the C_ it
 *   kept (the receipt's) is the C_ recomputed from its B_, keyset and amount. A writer of
 *   the database has no key, so it cannot make that C_ for a B_ of its own or for another
 *   amount: a row inserted, its amount or keyset changed, or its C_ missing (a row written
 *   before rows kept it, or by an older toolkit) is E_STATE_CORRUPT (exit 3) and nothing is
 *   answered. Before this, restore signed whatever a row said — ecash out of nothing for
 *   whoever could write one row.
 * - Every keyset the credit mint signed under answers: the active one and each it issued
 *   under before the ecash mint rotated (the `ecash-keysets` document keeps them all).
 * - Read-only, and needs the keysets' private keys: a row under a keyset this mint does not
 *   keep, or a seed that does not give it, is E_WRONG_KEY (exit 2), never a wrong signature.
 *
 * What it does not do: decide whether a restored proof is still unspent (the wallet asks
 * the Cashu mint, NUT-07), or hide which blinded messages a wallet owns (NUT-09 is
 * "quick-but-doxxing": the mint learns them).
 */
import { fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import { compressed, pointFromBytes } from '../ecash/curve.ts';
import { signBlindedMessage } from '../ecash/nut00.ts';
import type { MintKeyset } from '../ecash/nut01.ts';
import { createDleq } from '../ecash/nut12.ts';
import type { BlindSignatureJson } from './ecash.ts';
import type { BlindSignaturePort } from './ports.ts';

/** A NUT-00 BlindedMessage as a wallet sends it to /v1/restore (amount 0 is common: the mint's row says the amount). */
export type RestoreOutput = { amount: number; id: string; B_: string };
export type PostRestoreRequest = { outputs: RestoreOutput[] };
export type PostRestoreResponse = { outputs: RestoreOutput[]; signatures: BlindSignatureJson[] };

/** Outputs in one restore request: Nutshell's default mint_max_request_length (NUT-13 wallets ask in batches of 100). */
export const MAX_RESTORE_OUTPUTS = 1000;

const bad = (why: string): never => {
  throw new MalformedInputError('E_MALFORMED_MESSAGE', `restore request: ${why}`);
};

/**
 * A PostRestoreRequest read strictly: an object with outputs, each {amount, id, B_}
 * (unknown fields ignored, as NUT-00 asks) — the bare body a wallet POSTs, or our
 * credit/restore-request (the same with type, version, network).
 */
export function readRestoreRequest(value: unknown): PostRestoreRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('expected a NUT-09 PostRestoreRequest: {"outputs": [BlindedMessage, …]}');
  const type = (value as { type?: unknown }).type;
  if (type !== undefined && type !== 'credit/restore-request') throw new MalformedInputError('E_WRONG_MESSAGE', `expected a NUT-09 PostRestoreRequest (or credit/restore-request), got ${String(type)}`);
  const outputs = (value as { outputs?: unknown }).outputs;
  if (!Array.isArray(outputs)) return bad('"outputs" must be an array of BlindedMessages');
  if (outputs.length > MAX_RESTORE_OUTPUTS) bad(`${outputs.length} outputs; at most ${MAX_RESTORE_OUTPUTS} in one request (ask in batches)`);
  return {
    outputs: outputs.map((o, i) => {
      if (typeof o !== 'object' || o === null) return bad(`outputs[${i}] is not an object`);
      const { amount, id, B_ } = o as Record<string, unknown>;
      if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) bad(`outputs[${i}].amount must be a non-negative integer`);
      if (typeof id !== 'string' || !/^[0-9a-f]{2,66}$/.test(id)) bad(`outputs[${i}].id must be a keyset id in lowercase hex`);
      if (typeof B_ !== 'string' || !/^0[23][0-9a-f]{64}$/.test(B_)) bad(`outputs[${i}].B_ must be a compressed point in lowercase hex (66 digits)`);
      return { amount: amount as number, id: id as string, B_: B_ as string };
    }),
  };
}

/** The keysets a restore answers under, by id (derived when first asked for: EcashSigner.kept). */
export type KeysetLookup = { ids: string[]; keyset(id: string): MintKeyset | undefined };

/**
 * NUT-09: for each asked output the mint signed, in the request's order, that output and its
 * signature, under the keyset its row names — the active one or one it signed under before a
 * rotation (`keysets`: a list, or the credit mint's kept keysets).
 */
export async function restoreSignatures(
  store: Pick<BlindSignaturePort, 'signedBlindedMessages'>,
  keysets: MintKeyset[] | KeysetLookup,
  req: PostRestoreRequest,
): Promise<PostRestoreResponse> {
  const lookup: KeysetLookup = Array.isArray(keysets) ? { ids: keysets.map((k) => k.id), keyset: (id) => keysets.find((k) => k.id === id) } : keysets;
  const rows = new Map((await store.signedBlindedMessages([...new Set(req.outputs.map((o) => o.B_))])).map((r) => [r.B_, r]));
  const outputs: RestoreOutput[] = [];
  const signatures: BlindSignatureJson[] = [];
  for (const [i, o] of req.outputs.entries()) {
    const row = rows.get(o.B_);
    if (!row) continue;
    const ks = lookup.keyset(row.keyset_id);
    if (!ks) {
      throw new RefusedError('E_WRONG_KEY', `output ${i} was signed under keyset ${row.keyset_id}; this ecash seed and path give ${lookup.ids.join(', ') || 'no keyset'}: run it with the seed and --ecash-path of that keyset`);
    }
    const a = BigInt(row.amount);
    const k = ks.privateKeys.get(a);
    const A = ks.points.get(a);
    if (k === undefined || !A) throw new Error(`keyset ${ks.id} has no key for the stored amount ${row.amount}`);
    const B_ = pointFromBytes(fromHex(o.B_, `outputs[${i}].B_`), `outputs[${i}].B_`);
    const C_ = signBlindedMessage(k, B_);
    const C_hex = toHex(compressed(C_));
    // The row must carry the C_ its receipt did: only the key makes it, so a row the mint did not write never gets signed.
    if (row.C_ !== C_hex) {
      throw new MalformedInputError(
        'E_STATE_CORRUPT',
        `output ${i} (B_ ${o.B_.slice(0, 16)}…): the store's row (keyset ${row.keyset_id}, ${row.amount} sat) ${row.C_ === null ? 'keeps no signature (written before rows kept one, or by an older toolkit)' : 'keeps a signature this keyset\'s key does not give for it'}: not a row this mint wrote as it stands, so nothing is signed; check who writes the mint's database`,
      );
    }
    const d = createDleq(k, B_, C_, A);
    outputs.push(o);
    signatures.push({ amount: row.amount, id: row.keyset_id, C_: C_hex, dleq: { e: toHex(d.e), s: toHex(d.s) } });
  }
  return { outputs, signatures };
}
