/**
 * A cheap credit user for the load generators (bench/pg-scale.ts): the same update request
 * bytes as <tree>/bench/credit-closed-loop.ts `request(ct)` makes, for a fraction of its CPU.
 *
 * Why: `request` builds each state with @scure/btc-signer, which checks the whole input again
 * at every update (each key lifted — a square root in pure JS — and the taproot tweak
 * recomputed): 10–25 ms of CPU a request on this VM, several times the mint's own work per
 * update. On two cores the loader then takes a core and is the bound, and a row with two
 * mint processes cannot show whether the mints scale.
 *
 * How: everything that does not depend on the mint's nonce is done ahead, untimed, once per
 * contract and state — the state's PSBT without any MuSig2 nonce or signature (buildState,
 * serialised), its sighash, the key aggregation's participants and tweak (readMusigInput).
 * Per request only what does depend on it: BIP-327 NonceAgg of the mint's nonce and
 * DeterministicSign (the tree's own bip327.ts, on its selected backend), and the three
 * key-value pairs that userSignAgainst adds (the mint's public nonce, the user's public nonce
 * and partial signature, BIP-373) put into input 0's map of the serialised PSBT, the map's
 * pairs in the order btc-signer writes them (by key bytes). `check(ct)` compares the bytes with
 * `request(ct)`'s (the slow path, untimed): pg-scale.ts runs it on every contract before the
 * clock starts and stops on a difference.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

type Ct = { c: { id: string }; user: { secretKey: Uint8Array; publicKey: Uint8Array }; state: number; nonce: { state: number; pubnonce: string } };

const PSBT_IN_MUSIG2_PUB_NONCE = 0x1b;
const PSBT_IN_MUSIG2_PARTIAL_SIG = 0x1c;

function readCompact(b: Uint8Array, at: number): [number, number] {
  const f = b[at]!;
  if (f < 0xfd) return [f, at + 1];
  if (f === 0xfd) return [b[at + 1]! | (b[at + 2]! << 8), at + 3];
  if (f === 0xfe) return [(b[at + 1]! | (b[at + 2]! << 8) | (b[at + 3]! << 16)) + b[at + 4]! * 0x1000000, at + 5];
  throw new Error('fast-user: 8-byte compact size in a PSBT map');
}
function compact(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
}
/** A map's pairs from `at` to its 0x00: [key, value] each with its bytes, and where the map ends (after the 0x00). */
function readMap(b: Uint8Array, at: number): { pairs: [Uint8Array, Uint8Array][]; end: number } {
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (;;) {
    const [kl, k0] = readCompact(b, at);
    if (kl === 0) return { pairs, end: k0 };
    const key = b.subarray(k0, k0 + kl);
    const [vl, v0] = readCompact(b, k0 + kl);
    pairs.push([key, b.subarray(v0, v0 + vl)]);
    at = v0 + vl;
  }
}
const cmp = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);
const concat = (parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

export async function fastUser(tree: string, mintPublicKey: Uint8Array, amount: number) {
  const mod = async <T = any>(p: string): Promise<T> => import(pathToFileURL(join(tree, p)).href) as Promise<T>;
  const { buildState } = await mod('src/lib/credit/transactions.ts');
  const { readMusigInput } = await mod('src/lib/musig/psbt-keypath.ts');
  const { serializePsbt } = await mod('src/lib/psbt/parse.ts');
  const { nonceAgg, deterministicSign } = await mod('src/lib/musig/bip327.ts');
  const { base64 } = await import(pathToFileURL(join(tree, 'node_modules/@scure/base/index.js')).href);

  type Prepared = { head: Uint8Array; pairs: [Uint8Array, Uint8Array][]; tail: Uint8Array; msg: Uint8Array; participants: Uint8Array[]; tweak: Uint8Array; signingKey: Uint8Array; userPub: Uint8Array };
  const prepared = new Map<string, Prepared>();

  /** The state's PSBT without nonces, split around input 0's map, and its signing data. */
  function prepare(ct: Ct & { c: any }, state: number): Prepared {
    const k = `${ct.c.id}:${state}`;
    const hit = prepared.get(k);
    if (hit) return hit;
    const tx = buildState(ct.c, BigInt(state * amount));
    const input = readMusigInput(tx, 0);
    const bytes: Uint8Array = serializePsbt(tx);
    // magic (5 bytes), the global map, then input 0's.
    const global = readMap(bytes, 5);
    const in0 = readMap(bytes, global.end);
    const p: Prepared = {
      head: bytes.subarray(0, global.end), pairs: in0.pairs, tail: bytes.subarray(in0.end), msg: input.msg,
      participants: input.key.participants, tweak: input.key.output.tweak, signingKey: input.signingKey, userPub: ct.user.publicKey,
    };
    prepared.set(k, p);
    return p;
  }

  function request(ct: Ct & { c: any }): string {
    const p = prepare(ct, ct.state);
    const mintNonce = Uint8Array.from(Buffer.from(ct.nonce.pubnonce, 'hex'));
    const out = deterministicSign(ct.user.secretKey, nonceAgg([mintNonce]), p.participants, [p.tweak], [true], p.msg);
    const key = (type: number, who: Uint8Array) => concat([Uint8Array.of(type), who, p.signingKey]);
    const pairs: [Uint8Array, Uint8Array][] = [
      ...p.pairs,
      [key(PSBT_IN_MUSIG2_PUB_NONCE, mintPublicKey), mintNonce],
      [key(PSBT_IN_MUSIG2_PUB_NONCE, p.userPub), out.pubnonce],
      [key(PSBT_IN_MUSIG2_PARTIAL_SIG, p.userPub), out.psig],
    ].sort((a, b) => cmp(a[0], b[0])) as [Uint8Array, Uint8Array][];
    const body = concat([p.head, ...pairs.flatMap(([k, v]) => [compact(k.length), k, compact(v.length), v]), Uint8Array.of(0), p.tail]);
    return JSON.stringify({
      type: 'credit/update-request', version: 1, network: 'regtest', contract_id: ct.c.id, state: ct.state, amount_sat: amount,
      cumulative_sat: ct.state * amount, psbt: base64.encode(body),
    });
  }

  return {
    /** Prepare states `from`..`to` of each contract ahead (untimed). */
    prepareAhead(cts: (Ct & { c: any })[], from: number, to: number): void {
      for (const ct of cts) for (let s = from; s <= to; s++) prepare(ct, s);
    },
    request,
    /** Whether this request's bytes are `slow(ct)`'s (the slow path: untimed). */
    check(ct: Ct & { c: any }, slow: (ct: any) => string): boolean {
      return request(ct) === slow(ct);
    },
  };
}
