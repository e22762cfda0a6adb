/**
 * The peer pins an anchors commitment in a real node's mempool: a version 2 commitment takes any
 * number of children, so the peer spends ITS anchor on the party's commitment (to_remote_anchor:
 * `<peer funding pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`, its
 * funding key signing at once) with a coin of the node's wallet, then chains descendants off it,
 * each at a low rate, until Core refuses one: the commitment's cluster full (64 transactions since
 * cluster mempool, and no CPFP carve-out). The signature over the anchor is made here with the
 * peer's key (BIP-143, SIGHASH_ALL); Core's script interpreter checks it.
 */
import { anchorScript } from '../../src/lib/bolt3/scripts.ts';
import { p2wsh } from '../../src/lib/bolt3/script.ts';
import { SIGHASH_ALL, segwitV0Sighash } from '../../src/lib/bolt3/sighash.ts';
import { ProvenKey } from '../../src/lib/bolt3/sign.ts';
import { NOBLE } from '../../src/lib/bolt3/backend.ts';
import { serializeTx, type Tx } from '../../src/lib/bolt3/tx.ts';
import { pointOf } from '../../src/lib/bolt3/index.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import type { FundedNode, OutPoint } from './funded-node.ts';

type Raw = { txid: string; vin: { txinwitness?: string[] }[]; vout: { n: number; value: number; scriptPubKey: { hex: string } }[] };

/** Pin `commitment` through the peer's anchor, paying from `coin` (a confirmed wallet coin of `coinSat`): the descendants added, and Core's refusal of the next one. */
export async function pinThroughPeerAnchor(n: FundedNode, commitment: string, peerFunding: Uint8Array, coin: OutPoint, coinSat: number): Promise<{ added: string[]; refused: string }> {
  const rpc = <T>(m: string, p: unknown[] = []) => n.node.rpc.call<T>(m, p);
  const script = anchorScript(pointOf(peerFunding));
  const c = await rpc<Raw>('getrawtransaction', [commitment, 1]);
  const anchor = c.vout.find((o) => o.scriptPubKey.hex === toHex(p2wsh(script)))!;
  const to = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
  const toScript = fromHex((await n.wallet.call<{ scriptPubKey: string }>('getaddressinfo', [to])).scriptPubKey);
  // The first: the peer's anchor and the wallet's coin, one output back to the wallet (about 1 sat/vB).
  let amount = 330 + coinSat - 200;
  const tx: Tx = {
    version: 2, lockTime: 0,
    inputs: [{ txid: commitment, vout: anchor.n, sequence: 0xffff_fffd }, { txid: coin.txid, vout: coin.vout, sequence: 0xffff_fffd }],
    outputs: [{ amount: BigInt(amount), script: toScript }],
  };
  const walletSigned = await n.wallet.call<{ hex: string }>('signrawtransactionwithwallet', [toHex(serializeTx(tx, false))]);
  const coinWitness = (await rpc<Raw>('decoderawtransaction', [walletSigned.hex])).vin[1]!.txinwitness!.map((w) => fromHex(w));
  const signature = Uint8Array.of(...new ProvenKey(peerFunding, 'peer funding key').sign(segwitV0Sighash(tx, 0, script, 330n, SIGHASH_ALL), NOBLE), SIGHASH_ALL);
  tx.inputs[0]!.witness = [signature, script];
  tx.inputs[1]!.witness = coinWitness;
  let prev = await rpc<string>('sendrawtransaction', [toHex(serializeTx(tx)), 0]);
  const added = [prev];
  // Then a chain off it, each paying 150 sat (about 1.3 sat/vB), until the node refuses one.
  for (let i = 0; i < 70; i++) {
    amount -= 150;
    const raw = await n.wallet.call<string>('createrawtransaction', [[{ txid: prev, vout: 0 }], [{ [to]: amount / 1e8 }]]);
    const signed = await n.wallet.call<{ hex: string }>('signrawtransactionwithwallet', [raw]);
    const check = await n.mempool(signed.hex);
    if (!check.allowed) return { added, refused: check['reject-reason'] ?? 'refused' };
    prev = await rpc<string>('sendrawtransaction', [signed.hex, 0]);
    added.push(prev);
  }
  return { added, refused: 'none' };
}
