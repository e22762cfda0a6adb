/**
 * A breach for the tower tests (tower-ladder, tower-justice, the tower's round): Alice's record
 * after Bob revoked his commitments 0 and 1 (two HTLCs each), Bob's commitment 0 as he would
 * broadcast it (with his HTLC transactions, signed where the format lets him sign alone), and his
 * current commitment 2 (not revoked). Test code only; what it builds goes through the product's
 * party steps (./two-parties.ts).
 */
import { holderCommitment } from '../../../src/lib/bolt3/party-holder-commitment.ts';
import type { ChannelRecord } from '../../../src/lib/bolt3/party.ts';
import { parseTx, type ParsedTx } from '../../independent/tx.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import type { ChannelState } from '../../../src/lib/bolt3/party.ts';
import { B, CHANNEL_ID, open, sha, sk, updateTo, type Format } from './two-parties.ts';

/** 32-byte preimages: HTLC i of every state has payment hash SHA256(PREIMAGES[i]). */
export const PREIMAGES = [0, 1].map((i) => sha(Uint8Array.of(0xc0 + i)));

/** Alice's side of state n: an HTLC each way (Alice offers 30,000 sat, Bob offers 20,000 sat), Bob's balance rising with n. */
export function state(n: number, format: Format): ChannelState {
  const htlc = (direction: 'offered' | 'received', sat: number, i: number, cltv: number) => ({ direction, amount_msat: `${sat}000`, payment_hash: toHex(sha(PREIMAGES[i]!)), cltv_expiry: cltv });
  const htlcs = [htlc('offered', 30_000, 0, 600 + n), htlc('received', 20_000, 1, 620 + n)];
  const bob = 200_000_000n + BigInt(n) * 1_000_000n;
  return {
    type: 'bolt3/channel-state', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: n,
    to_local_msat: String(1_000_000_000n - bob - 50_000_000n), to_remote_msat: String(bob), feerate_per_kw: format === 'zero-fee' ? 0 : 2500, htlcs,
  };
}

/** Where the ladders pay: a P2WPKH (dust threshold 294 sat). */
export const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x11));
export const DEST_DUST = 294;

type Held = { txid: string; hex: string; htlc_txs: { kind: string; commitment_output_index: number; hex?: string }[] };
/** `htlcTxs`: Bob's signed HTLC transactions of the revoked commitment by the output they spend, parsed; `htlcHex`: their bytes. */
export type Breached = { record: ChannelRecord; revoked: Held; commitment: ParsedTx; current: Held; htlcTxs: Map<number, ParsedTx>; htlcHex: Map<number, string> };

const cache = new Map<Format, Breached>();

export function breached(format: Format = 'legacy'): Breached {
  const known = cache.get(format);
  if (known) return known;
  let p = updateTo(open(format), state(0, format));
  // Bob knows the preimage of the HTLC Alice offers him: both his HTLC transactions are signed.
  const revoked = holderCommitment(p.b, B.seed, sk(B), [PREIMAGES[0]!]) as Held;
  p = updateTo(p, state(1, format));
  p = updateTo(p, state(2, format));
  const current = holderCommitment(p.b, B.seed, sk(B), []) as Held;
  const htlcTxs = new Map(revoked.htlc_txs.flatMap((h) => (h.hex ? [[h.commitment_output_index, parseTx(h.hex)] as const] : [])));
  const htlcHex = new Map(revoked.htlc_txs.flatMap((h) => (h.hex ? [[h.commitment_output_index, h.hex] as const] : [])));
  const b = { record: p.a, revoked, commitment: parseTx(revoked.hex), current, htlcTxs, htlcHex };
  cache.set(format, b);
  return b;
}
