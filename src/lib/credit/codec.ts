/**
 * Terms between their wire form (addresses, hex, integers) and the library's (scripts,
 * bytes, bigint), with every check that does not need the chain: addresses of this
 * network with standard output scripts, valid keys, distinct parties, positive amounts.
 */
import type { Static } from '@sinclair/typebox';
import { decodeAddress, scriptAddress, type XOnlyPointCheck } from '../address.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { validatePublicKey } from '../keys/keys.ts';
import type { Network } from '../network.ts';
import { standardScriptType } from '../tx/policy.ts';
import { Lru } from '../lru.ts';
import type { CreditTermsSchema } from './schemas.ts';
import { contractId, makeContract, type CreditContract, type CreditTerms } from './terms.ts';

export type CreditTermsJson = Static<typeof CreditTermsSchema>;

/** lift_x on the selected backend: a contract's three addresses are decoded with it (pure JS costs ~100 µs each). */
export const xOnlyPointOnBackend: XOnlyPointCheck = (x) => activeSecp256k1().liftX(x) !== undefined;

/**
 * Output scripts of the addresses terms name, once checked (public; read-only): the mint's
 * payout address is in every contract it holds, a user's addresses in each of its contracts.
 * Decoding one costs ~30 µs (bech32m, lift_x); a refused address is not kept, so it is refused
 * the same way each time.
 */
const spendable = new Lru<Uint8Array>(4096);

function spendableScript(address: string, network: Network, field: string): Uint8Array {
  const key = `${network}:${address}`;
  const known = spendable.get(key);
  if (known) return known;
  const script = decodeAddress(address, network, field, xOnlyPointOnBackend);
  const type = standardScriptType(script);
  if (!type || type === 'op_return' || type === 'p2a') {
    throw new RefusedError('E_NONSTANDARD_SCRIPT', `${field} ${address} is not a standard spendable output type`);
  }
  return spendable.set(key, script);
}

/** Contracts of recent terms (a mint serves the same contracts over and over); read-only. */
const contracts = new Lru<CreditContract>(4096);

export function termsFromJson(j: CreditTermsJson, network: Network): CreditContract {
  const id = `${network}:${JSON.stringify(j)}`;
  return contracts.get(id) ?? contracts.set(id, deriveContract(j, network));
}

function deriveContract(j: CreditTermsJson, network: Network): CreditContract {
  const terms = termsOf(j, network, (hex, field) => validatePublicKey(fromHex(hex, field), field));
  if (equalBytes(terms.userPubkey, terms.mintPubkey)) throw new RefusedError('E_SAME_KEY', 'the user and the mint must have different keys');
  if (j.capacity_sat <= 0) throw new MalformedInputError('E_MALFORMED_MESSAGE', 'capacity_sat must be positive');
  return makeContract(terms);
}

/**
 * The id `j` commits to (terms.ts contractId), without building the contract: no key is checked
 * or aggregated — what a watcher's audit of every record asks (its terms hash to its id), at a
 * fraction of termsFromJson's cost. Throws on terms that do not decode.
 */
export function termsId(j: CreditTermsJson, network: Network): string {
  return contractId(termsOf(j, network, (hex, field) => fromHex(hex, field)));
}

function termsOf(j: CreditTermsJson, network: Network, key: (hex: string, field: string) => Uint8Array): CreditTerms {
  return {
    network,
    userPubkey: key(j.user_pubkey, 'user_pubkey'),
    mintPubkey: key(j.mint_pubkey, 'mint_pubkey'),
    capacity: BigInt(j.capacity_sat),
    funding: { txid: j.funding.txid, vout: j.funding.vout },
    expiryHeight: j.expiry_height,
    refundScript: spendableScript(j.refund_address, network, 'refund_address'),
    changeScript: spendableScript(j.change_address, network, 'change_address'),
    payoutScript: spendableScript(j.payout_address, network, 'payout_address'),
    feeRate: j.fee_rate,
  };
}

function address(script: Uint8Array, network: Network): string {
  const a = scriptAddress(script, network);
  if (!a) throw new Error('a contract script has no address');
  return a;
}

export function termsToJson(c: CreditTerms): CreditTermsJson {
  return {
    user_pubkey: toHex(c.userPubkey),
    mint_pubkey: toHex(c.mintPubkey),
    capacity_sat: Number(c.capacity),
    funding: { txid: c.funding.txid, vout: c.funding.vout },
    expiry_height: c.expiryHeight,
    refund_address: address(c.refundScript, c.network),
    change_address: address(c.changeScript, c.network),
    payout_address: address(c.payoutScript, c.network),
    fee_rate: c.feeRate,
  };
}

export function contractAddress(c: Pick<CreditContract, 'script' | 'network'>): string {
  return address(c.script, c.network);
}
