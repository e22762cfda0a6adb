/**
 * Closed-loop credit users for the mint benches (bench/pg.ts, bench/serve.ts): a SQLite
 * mint with open contracts straight in its store, each with its state-1 nonce issued, and
 * each user's next update request signed against the nonce the last receipt carried (or
 * an abandon, for a nonce of another process). Bench-only shortcuts that do not change the
 * mint's work per update: no funding round, no refund round.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schnorr } from '@noble/curves/secp256k1.js';
import { base64 } from '@scure/base';
import { fromHex, toHex } from '../src/lib/bytes.ts';
import { abandonDigest } from '../src/lib/credit/abandon.ts';
import { termsToJson } from '../src/lib/credit/codec.ts';
import type { MintContractRecord } from '../src/lib/credit/ports.ts';
import { issueStateNonce, userSignAgainst } from '../src/lib/credit/signing.ts';
import { makeContract, type CreditContract } from '../src/lib/credit/terms.ts';
import { buildState } from '../src/lib/credit/transactions.ts';
import { keyPair, type KeyPair } from '../src/lib/keys/keys.ts';
import { serializePsbt } from '../src/lib/psbt/parse.ts';
import { deterministicRandom } from '../src/lib/random.ts';
import { openMint } from './stores.ts';
import { taprootOutput } from '../src/lib/taproot/taproot.ts';
import { scriptAddress } from '../src/lib/address.ts';

const ROOT = join(import.meta.dirname, '..');
export const MINT_KEY = readFileSync(join(ROOT, 'fixtures/keys/mint.key'), 'utf8').trim();
export const mint = keyPair(fromHex(MINT_KEY));
export const AMOUNT = 1000;

export type Ct = { c: CreditContract; user: KeyPair; state: number; nonce: { state: number; pubnonce: string }; sentAt: number };

/** A SQLite mint with `contracts` open contracts, each with its state-1 nonce issued. */
export async function setup(dir: string, contracts: number): Promise<Ct[]> {
  const store = await openMint<MintContractRecord>(join(dir, 'regtest'), mint.secretKey);
  const payout = scriptAddress(taprootOutput(mint.xOnly).script, 'regtest')!;
  await store.writeDoc('offer', {
    type: 'credit/offer', version: 1, network: 'regtest', mint_pubkey: toHex(mint.publicKey), payout_address: payout, min_fee_rate: 1,
    safety_margin_blocks: 144, min_confirmations: 1, min_expiry_blocks: 100, max_expiry_blocks: 100_000, default_expiry_blocks: 4320,
  });
  const random = deterministicRandom('bench-pg');
  const out: Ct[] = [];
  for (let i = 0; i < contracts; i++) {
    const user = keyPair(fromHex((i + 1).toString(16).padStart(64, '6')));
    const c = makeContract({
      network: 'regtest', userPubkey: user.publicKey, mintPubkey: mint.publicKey, capacity: 1_000_000n,
      funding: { txid: toHex(random.bytes(32, 'txid')), vout: 0 }, expiryHeight: 10_000,
      refundScript: taprootOutput(user.xOnly).script, changeScript: taprootOutput(user.xOnly).script, payoutScript: taprootOutput(mint.xOnly).script, feeRate: 2,
    });
    await store.put({ contract_id: c.id, network: 'regtest', contract: termsToJson(c), status: 'open', next_state: 1, open_accept: {} });
    await store.bindFunding(`${c.funding.txid}:${c.funding.vout}`, { contract_id: c.id, kind: 'open' });
    out.push({ c, user, state: 1, nonce: await issueStateNonce(store, random, mint, c, 1), sentAt: 0 });
  }
  await store.close();
  return out;
}

export function request(ct: Ct): string {
  const tx = buildState(ct.c, BigInt(ct.state * AMOUNT));
  userSignAgainst(tx, 0, ct.user, mint.publicKey, ct.nonce);
  return JSON.stringify({ type: 'credit/update-request', version: 1, network: 'regtest', contract_id: ct.c.id, state: ct.state, amount_sat: AMOUNT, cumulative_sat: ct.state * AMOUNT, psbt: base64.encode(serializePsbt(tx)) });
}

export function abandon(ct: Ct): string {
  const body = { contract_id: ct.c.id, state: ct.state, kind: 'update' as const, txid: toHex(new Uint8Array(32).fill(0x11)), mint_pubnonce: ct.nonce.pubnonce };
  const user_signature = toHex(schnorr.sign(abandonDigest(body), ct.user.secretKey, new Uint8Array(32)));
  return JSON.stringify({ type: 'credit/abandon', version: 1, network: 'regtest', ...body, user_signature });
}

