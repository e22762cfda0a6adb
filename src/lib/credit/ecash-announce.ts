/**
 * The keyset a receipt announces (`next_keyset`, ecash-keysets.ts), signed by the mint's
 * key for one contract and state, and the user's check of that signature before it adopts
 * the keyset (ecash.ts, adoptKeyset): a relay that swapped the announcement for a keyset of
 * its own (a valid id for other keys) would leave the user unable to pay in ecash.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { stringifyLine } from '../json.ts';
import { schnorrSign, schnorrVerify } from '../taproot/schnorr.ts';
import { short, type NextKeysetJson } from './ecash-keysets.ts';

/** What the mint signs: BIP-340 tagged hash of the canonical JSON line {contract_id, state, next_keyset} (no sig). */
export function announcementDigest(contractId: string, state: number, k: NextKeysetJson): Uint8Array {
  const { sig: _sig, ...body } = k;
  return schnorr.utils.taggedHash('offchain/credit/next-keyset', utf8(stringifyLine({ contract_id: contractId, state, next_keyset: body })));
}

export function signAnnouncement(k: NextKeysetJson, contractId: string, state: number, mintSecretKey: Uint8Array, auxRand: Uint8Array): NextKeysetJson {
  return { ...k, sig: toHex(schnorrSign(announcementDigest(contractId, state, k), mintSecretKey, auxRand)) };
}

/** The user's check that the mint of this contract announced this keyset for this state (E_BAD_NEXT_KEYSET otherwise). */
export function checkAnnouncement(k: NextKeysetJson, contractId: string, state: number, mintPubkey: Uint8Array): void {
  const ok = k.sig !== undefined && /^[0-9a-f]{128}$/.test(k.sig) && schnorrVerify(fromHex(k.sig, 'next_keyset.sig', 64), announcementDigest(contractId, state, k), mintPubkey.length === 33 ? mintPubkey.subarray(1) : mintPubkey);
  if (!ok) throw new RefusedError('E_BAD_NEXT_KEYSET', `the receipt's next keyset ${short(k.id)} is not signed by the mint's key for contract ${contractId} state ${state}: not adopted, nothing kept`);
}
