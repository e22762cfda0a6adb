/**
 * Benchmark setup for the mint's streaming mode (bundled to dist/bench-credit.js).
 * Builds, in a fresh state directory, a mint with `contracts` open contracts and, for
 * each, `payments` successive update requests (signed by the users, as `sign-update
 * --role user` would), interleaved across contracts in a JSON Lines file: the steady
 * state of a mint whose users pay repeatedly. Bench-only shortcuts, which do not change
 * the mint's work per update: contracts go straight into the mint's store (no refund
 * round), and each contract's mint nonces for states 1..payments are issued up front
 * (the mint still issues the next nonce with every receipt, as always).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { keyPair } from '../src/lib/keys/keys.ts';
import { fromHex, toHex } from '../src/lib/bytes.ts';
import { scriptAddress } from '../src/lib/address.ts';
import { taprootOutput } from '../src/lib/taproot/taproot.ts';
import { deterministicRandom } from '../src/lib/random.ts';
import { MintStore } from '../src/lib/store/mint-store.ts';
import { makeContract } from '../src/lib/credit/terms.ts';
import { termsToJson } from '../src/lib/credit/codec.ts';
import { buildState } from '../src/lib/credit/transactions.ts';
import { issueStateNonce, userSignAgainst } from '../src/lib/credit/signing.ts';
import { serializePsbt } from '../src/lib/psbt/parse.ts';
import type { MintContractRecord } from '../src/lib/credit/ports.ts';

export async function setupMintStream(opts: { dir: string; contracts: number; payments?: number; mintKeyHex: string }) {
  const payments = opts.payments ?? 1;
  const mint = keyPair(fromHex(opts.mintKeyHex));
  const payout = scriptAddress(taprootOutput(mint.xOnly).script, 'regtest')!;
  const mintDir = join(opts.dir, 'regtest', 'credit-mint');
  const store = await MintStore.open<MintContractRecord>(mintDir);
  const offer = {
    type: 'credit/offer', version: 1, network: 'regtest', mint_pubkey: toHex(mint.publicKey), payout_address: payout, min_fee_rate: 1,
    safety_margin_blocks: 144, min_confirmations: 1, min_expiry_blocks: 100, max_expiry_blocks: 100_000, default_expiry_blocks: 4320,
  };
  await store.writeDoc('offer', offer);
  const random = deterministicRandom('bench');
  const rounds: string[][] = Array.from({ length: payments }, () => []);
  for (let i = 0; i < opts.contracts; i++) {
    const user = keyPair(fromHex((i + 1).toString(16).padStart(64, '7')));
    const c = makeContract({
      network: 'regtest', userPubkey: user.publicKey, mintPubkey: mint.publicKey, capacity: 1_000_000n,
      funding: { txid: toHex(random.bytes(32, 'txid')), vout: 0 }, expiryHeight: 10_000,
      refundScript: taprootOutput(user.xOnly).script, changeScript: taprootOutput(user.xOnly).script, payoutScript: taprootOutput(mint.xOnly).script, feeRate: 2,
    });
    await store.put({ contract_id: c.id, network: 'regtest', contract: termsToJson(c), status: 'open', next_state: 1, open_accept: {} });
    for (let state = 1; state <= payments; state++) {
      const nonce = await issueStateNonce(store, random, mint, c, state);
      const tx = buildState(c, BigInt(state * 1000));
      userSignAgainst(tx, 0, user, mint.publicKey, nonce);
      rounds[state - 1]!.push(JSON.stringify({
        type: 'credit/update-request', version: 1, network: 'regtest', contract_id: c.id, state, amount_sat: 1000, cumulative_sat: state * 1000,
        psbt: base64.encode(serializePsbt(tx)),
      }));
    }
  }
  const lines = rounds.flat();
  await store.close();
  writeFileSync(join(opts.dir, 'requests.jsonl'), lines.join('\n') + '\n');
  return { requests: join(opts.dir, 'requests.jsonl') };
}
