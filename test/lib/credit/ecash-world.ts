/**
 * The in-process world of test/lib/credit/world.ts with ecash on: the mint signs with
 * Nutshell's test keyset (seed TEST_PRIVATE_KEY), the user has a NUT-13 wallet seed.
 * Opening, paying and checking a token the way the ecash test files need it; every
 * token is checked by the test-code Nutshell mint (test/independent/cashu.ts).
 */
import { expect } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-open.ts';
import { authorizeOutputs, ecashOffer } from '../../../src/lib/credit/ecash.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { parsePsbtBase64 } from '../../../src/lib/psbt/parse.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { deriveMintKeyset, type MintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { decodeToken } from '../../../src/lib/ecash/token.ts';
import { nutshellAccepts, nutshellKeyset } from '../../independent/cashu.ts';
import { CHANGE, MINT, POLICY, REFUND, USER, fundingPsbt, world } from './world.ts';

export const SEED = 'TEST_PRIVATE_KEY';
export const KS = deriveMintKeyset(SEED);
export const NUTSHELL = nutshellKeyset(SEED);
export const MINT_URL = 'http://localhost:3338';

export type W = ReturnType<typeof world>;

/** A world whose mint offers and signs with `keyset` (by default KS: a fresh Nutshell 0.20.3's, v01 at fee 100). */
export function ecashWorld(wallet = fromHex('6b'.repeat(64)), keyset: MintKeyset = KS): W {
  const w = world();
  w.mint.policy = { ...POLICY, ecash: ecashOffer(keyset, MINT_URL) };
  w.mint.ecash = { keyset, signer: EcashSigner.fixed(keyset), signatures: w.mintBook };
  w.user.walletSeed = wallet;
  return w;
}

let inputs = 0;
/** Open a 1 000 000-sat contract (each on its own funding input) and confirm its funding. */
export async function open(w: W): Promise<string> {
  const offer = { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...w.mint.policy };
  const req = await user.openRequest(w.user, {
    offer: offer as never, fundingPsbt: fundingPsbt(1_000_000n, (0x40 + (inputs++ % 0x30)).toString(16)), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2,
  });
  await user.openFinish(w.user, (await mint.acceptOpen(w.mint, req as never)) as never);
  const c = termsFromJson((req as { contract: never }).contract, 'regtest');
  w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
  return c.id;
}

/** A sink that keeps the token in memory. */
export function memorySink(): { path: string; write(t: string): Promise<void>; token?: string } {
  const sink: { path: string; write(t: string): Promise<void>; token?: string } = { path: 'memory', write: async (t) => void (sink.token = t) };
  return sink;
}

/** Every proof of `token` accepted by the test-code Nutshell mint; the sum of its amounts. */
export function redeemable(token: string): bigint {
  const t = decodeToken(token);
  expect(t.mint).toBe(MINT_URL);
  let sum = 0n;
  for (const p of t.proofs) {
    expect(nutshellAccepts(NUTSHELL, { id: p.id, amount: p.amount, secret: p.secret, C: toHex(p.C) })).toBe(true);
    sum += p.amount;
  }
  return sum;
}

export type UpdateRequest = {
  type: string; version: number; network: string; contract_id: string; state: number; amount_sat: number; cumulative_sat: number; psbt: string;
  outputs: { amount: number; id: string; B_: string }[]; outputs_signature?: string;
};

/**
 * `req` with its outputs signed by the user's key, as the user itself would send them: a
 * test of a rule against a dishonest *user* (reusing a B_, asking twice) signs what it
 * changed, so the mint refuses it by that rule and not for a missing signature.
 */
export function signedByUser(req: UpdateRequest): UpdateRequest {
  const tx = parsePsbtBase64(req.psbt, 'psbt');
  const input = readMusigInput(tx, 0);
  const mintPubnonce = input.pubnonces[input.key.participants.findIndex((k) => toHex(k) === toHex(MINT.publicKey))]!;
  return { ...req, outputs_signature: authorizeOutputs(USER, { ...req, txid: tx.id, mint_pubnonce: mintPubnonce }, new Uint8Array(32)) };
}
