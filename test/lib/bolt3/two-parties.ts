/**
 * Two channel parties for the party tests (party.test.ts, party-attacks.test.ts): Alice
 * (the opener) and Bob, their secrets from tags, their channels from each side, agreed
 * states, and one whole update in BOLT 2's order. Test code only; what it builds goes
 * through the product's party steps.
 */
import { createHash } from 'node:crypto';
import { toHex } from '../../../src/lib/bytes.ts';
import type { ChannelRecord, ChannelState, OwnChannel, RevokeAndAck } from '../../../src/lib/bolt3/party.ts';
import { channelPoints, initChannel } from '../../../src/lib/bolt3/party-open.ts';
import { receiveSigs, signPeer } from '../../../src/lib/bolt3/party-commitment-signed.ts';
import { receiveRevocation } from '../../../src/lib/bolt3/party-revoke-and-ack.ts';
import { flipTerms } from '../../../src/lib/bolt3/party-terms.ts';
import { N, decodeCompressed, encodeCompressed, int, pointAdd, pointMul, publicKeyOf } from '../../independent/secp256k1.ts';
import { compactSize, concat, u32le, u64le, type ParsedTx } from '../../independent/tx.ts';

export const sha = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
export const secret = (tag: string) => sha(new TextEncoder().encode(tag));
export type Secrets = { funding: Uint8Array; revocation: Uint8Array; payment: Uint8Array; delayed: Uint8Array; htlc: Uint8Array; seed: Uint8Array };
const secretsOf = (who: string): Secrets => ({
  funding: secret(`${who} funding`), revocation: secret(`${who} revocation`), payment: secret(`${who} payment`),
  delayed: secret(`${who} delayed`), htlc: secret(`${who} htlc`), seed: secret(`${who} seed`),
});
export const A = secretsOf('alice');
export const B = secretsOf('bob');
export const pub = (s: Uint8Array) => toHex(publicKeyOf(s));
const keys = (s: Secrets) => ({
  funding_pubkey: pub(s.funding), revocation_basepoint: pub(s.revocation), payment_basepoint: pub(s.payment),
  delayed_payment_basepoint: pub(s.delayed), htlc_basepoint: pub(s.htlc),
});
const FUNDING = { funding_txid: 'ab'.repeat(32), funding_vout: 1, funding_satoshis: 1_000_000 };
export const CHANNEL_ID = `${'ab'.repeat(32)}:1`;
export type Format = 'legacy' | 'anchors' | 'zero-fee';

export function channels(format: Format = 'legacy'): { a: OwnChannel; b: OwnChannel } {
  return {
    a: { format, ...FUNDING, opener: 'local', to_self_delay: 144, dust_limit_satoshis: 546, remote_to_self_delay: 30, remote_dust_limit_satoshis: 354, local: keys(A), remote: keys(B) },
    b: { format, ...FUNDING, opener: 'remote', to_self_delay: 30, dust_limit_satoshis: 354, remote_to_self_delay: 144, remote_dust_limit_satoshis: 546, local: keys(B), remote: keys(A) },
  };
}

const hash = (i: number) => toHex(sha(Uint8Array.of(i)));
/** Alice's side of state n: `htlcs` HTLCs, offered and received in turn; Bob's to_local is never trimmed. */
export function aliceState(n: number, htlcs = 2, format: Format = 'legacy'): ChannelState {
  const list = Array.from({ length: htlcs }, (_, i) => ({
    direction: (i % 2 === 0 ? 'offered' : 'received') as 'offered' | 'received', amount_msat: String(5_000_000 + i * 1000), payment_hash: hash(n * 10 + i), cltv_expiry: 500 + n + i,
  }));
  const inFlight = list.reduce((a, h) => a + BigInt(h.amount_msat), 0n);
  const toRemote = BigInt(n + 1) * 10_000_000n;
  return {
    type: 'bolt3/channel-state', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: n,
    to_local_msat: String(1_000_000_000n - toRemote - inFlight), to_remote_msat: String(toRemote), feerate_per_kw: format === 'zero-fee' ? 0 : 2500, htlcs: list,
  };
}
export const bobState = (n: number, htlcs = 2, format: Format = 'legacy'): ChannelState => ({ ...aliceState(n, htlcs, format), ...flipTerms(aliceState(n, htlcs, format)) });
export const sk = (s: Secrets) => ({ fundingSecret: s.funding, htlcBasepointSecret: s.htlc });

export function open(format: Format = 'legacy'): { a: ChannelRecord; b: ChannelRecord } {
  const ch = channels(format);
  return {
    a: initChannel('regtest', ch.a, A.seed, channelPoints('regtest', ch.b, B.seed)),
    b: initChannel('regtest', ch.b, B.seed, channelPoints('regtest', ch.a, A.seed)),
  };
}

/** One whole update to state n, in BOLT 2's order (Alice signs first); both records and the messages that crossed. */
export function update(p: { a: ChannelRecord; b: ChannelRecord }, n: number, htlcs = 2, format: Format = 'legacy') {
  return updateTo(p, aliceState(n, htlcs, format));
}

/** One whole update to a state of Alice's choosing (Bob's copy: the same state from his side). */
export function updateTo(p: { a: ChannelRecord; b: ChannelRecord }, alice: ChannelState) {
  const bob: ChannelState = { ...alice, ...flipTerms(alice) };
  const n = alice.commitment_number;
  const sigA = signPeer(p.a, alice, sk(A));
  const recvB = receiveSigs(p.b, sigA.message, bob, B.seed);
  let a = sigA.record!;
  let b = recvB.record!;
  if (n > 0) a = receiveRevocation(a, recvB.message as RevokeAndAck).record!;
  const sigB = signPeer(b, bob, sk(B));
  b = sigB.record!;
  const recvA = receiveSigs(a, sigB.message, alice, A.seed);
  a = recvA.record!;
  if (n > 0) b = receiveRevocation(b, recvA.message as RevokeAndAck).record!;
  return { a, b, sigA: sigA.message, sigB: sigB.message, revA: recvA.message, revB: recvB.message };
}

export function upTo(n: number, format?: Format) {
  let p = open(format);
  for (let i = 0; i <= n; i++) p = update(p, i, 2, format);
  return p;
}

/** BOLT 3's revocationpubkey, derived here: R·SHA256(R‖P) + P·SHA256(P‖R). */
export function revocationPubkey(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const R = decodeCompressed(revocationBasepoint);
  const P = decodeCompressed(perCommitmentPoint);
  const k1 = int(sha(revocationBasepoint, perCommitmentPoint)) % N;
  const k2 = int(sha(perCommitmentPoint, revocationBasepoint)) % N;
  return encodeCompressed(pointAdd(pointMul(R, k1), pointMul(P, k2)));
}

/** A segwit transaction serialized by test code (BIP-144), for shapes the cheater chooses. */
export function serializeSegwit(tx: Pick<ParsedTx, 'version' | 'lockTime' | 'inputs' | 'outputs'>): string {
  const parts: Uint8Array[] = [u32le(tx.version), Uint8Array.of(0x00, 0x01), compactSize(tx.inputs.length)];
  for (const i of tx.inputs) parts.push(i.outpoint, compactSize(0), u32le(i.sequence));
  parts.push(compactSize(tx.outputs.length));
  for (const o of tx.outputs) parts.push(u64le(o.amount), compactSize(o.script.length), o.script);
  for (const i of tx.inputs) {
    const w = i.witness.length ? i.witness : [new Uint8Array(0)];
    parts.push(compactSize(w.length), ...w.flatMap((item) => [compactSize(item.length), item]));
  }
  parts.push(u32le(tx.lockTime));
  return Buffer.from(concat(...parts)).toString('hex');
}
