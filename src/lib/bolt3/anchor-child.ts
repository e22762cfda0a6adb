/**
 * The CPFP child of an anchors commitment (option_anchors, BOLT 3 "to_local_anchor and
 * to_remote_anchor Output"): the commitment pays the fee agreed when it was signed
 * (feerate_per_kw, perhaps long ago); its holder spends their own 330-sat anchor — the
 * `<local_funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`
 * output, spent at once with local_funding_pubkey's signature — together with coins of a
 * wallet (`walletcreatefundedpsbt`'s answer, read as ../tx/wallet-psbt.ts reads it) so that
 * the two, sent as a package, pay the rate asked. The holder signs the anchor (SIGHASH_ALL);
 * the wallet signs its inputs last (`walletprocesspsbt`).
 *
 * INVARIANTS (test/lib/bolt3/anchor-child.test.ts, property tests):
 * - The anchor spent is the holder's own `to_local_anchor` (its script made of the key that
 *   signs it), never the peer's `to_remote_anchor`; the child spends nothing else of the
 *   commitment and nothing the commitment spends.
 * - Every output is the wallet's own (BIP-32-marked, E_FEE_PSBT_OUTPUT); the anchor's 330 sat
 *   and the wallet's coins, less exactly `childFeeSat`, go back to its largest change output;
 *   change left below dust is refused (E_FEE_PSBT_SHORT).
 * - The fee guard holds the package (commitment + child at its largest signed size): its rate
 *   within --max-fee-rate, the child's fee within --max-fee-share of `stakeSat` (what going on
 *   chain saves) — else E_FEE_TOO_HIGH, nothing signed.
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { equalBytes } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { checkFee, type FeeLimits } from '../tx/fee-guard.ts';
import { dustThreshold } from '../tx/policy.ts';
import { psbtInputOf, txidOnceSigned, walletCoins, walletInputsAmount, type WalletCoins } from '../tx/wallet-psbt.ts';
import type { CommitmentOutput, CommitmentTransaction } from './commitment.ts';
import { FEE_PSBT, walletWitness } from './htlc-fee.ts';
import { p2wsh } from './script.ts';
import { anchorScript } from './scripts.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { NOBLE } from './backend.ts';
import { ProvenKey } from './sign.ts';
import { weight, type Tx } from './tx.ts';

const SEQUENCE = 0xffff_fffd;

/** The commitment's `to_local_anchor`: the holder's own, its script made of local_funding_pubkey (none: E_NO_ANCHOR). */
export function ownAnchor(c: CommitmentTransaction): CommitmentOutput & { witnessScript: Uint8Array } {
  const script = anchorScript(c.params.local.fundingPubkey);
  const o = c.outputs.find((x) => x.kind === 'to_local_anchor');
  if (!o || !o.witnessScript || !equalBytes(o.witnessScript, script) || !equalBytes(o.script, p2wsh(script))) {
    throw new RefusedError('E_NO_ANCHOR', `commitment ${c.txid} has no to_local_anchor of your funding key: nothing of yours to bump it with (a legacy channel, or nothing of yours on it)`);
  }
  return o as CommitmentOutput & { witnessScript: Uint8Array };
}

/** The child with the anchor and the wallet's coins in, at its largest signed size (a 73-byte signature), change `amounts`. */
function assemble(c: CommitmentTransaction, coins: WalletCoins, amounts: bigint[]): Tx {
  const anchor = ownAnchor(c);
  return {
    version: 2, lockTime: 0,
    inputs: [
      { txid: c.txid, vout: anchor.index, sequence: SEQUENCE, witness: [new Uint8Array(73), anchor.witnessScript] },
      ...coins.inputs.map((i) => {
        const w = walletWitness(i.script, i.redeemScript);
        return { txid: i.txid, vout: i.vout, sequence: i.sequence ?? SEQUENCE, witness: w.witness, ...(w.scriptSig ? { scriptSig: w.scriptSig } : {}) };
      }),
    ],
    outputs: coins.change.map((o, k) => ({ amount: amounts[k]!, script: o.script })),
  };
}

function coinsOf(c: CommitmentTransaction, wallet: Transaction): WalletCoins {
  const coins = walletCoins(wallet, FEE_PSBT);
  if (coins.inputs.length === 0) throw new RefusedError('E_FEE_PSBT_INPUT', 'the wallet\'s coins pay the anchor child\'s fee: none given');
  if (coins.change.length === 0) throw new RefusedError('E_FEE_PSBT_OUTPUT', 'the wallet gave no output of its own to take the anchor child\'s change');
  for (const i of coins.inputs) {
    if (i.txid === c.txid || c.tx.inputs.some((x) => x.txid === i.txid && x.vout === i.vout)) throw new RefusedError('E_FEE_PSBT_INPUT', `the wallet's coin ${i.txid}:${i.vout} is the commitment's or what it spends`);
  }
  return coins;
}

/** A P2WPKH script, for the estimate before the wallet chose its coins. */
const P2WPKH_STAND_IN = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20));

/** The child's vsize once signed, at its largest (amounts do not change it); without the wallet's coins, as one P2WPKH coin paying its change to itself. */
export function anchorChildVsize(c: CommitmentTransaction, wallet?: Transaction): number {
  const coins = wallet ? coinsOf(c, wallet) : { inputs: [{ txid: '00'.repeat(32), vout: 0, amount: 0n, script: P2WPKH_STAND_IN }], change: [{ script: P2WPKH_STAND_IN, amount: 0n }] };
  return Math.ceil(weight(assemble(c, coins, coins.change.map((o) => o.amount))) / 4);
}

/** The most the child can pay: the anchor and the wallet's coins, less the other change outputs and the largest one's dust. */
export function anchorChildMaxFee(c: CommitmentTransaction, wallet: Transaction): bigint {
  const coins = coinsOf(c, wallet);
  const largest = coins.change.reduce((best, o, i) => (o.amount > coins.change[best]!.amount ? i : best), 0);
  const others = coins.change.reduce((a, o, i) => (i === largest ? a : a + o.amount), 0n);
  return ownAnchor(c).amountSat + walletInputsAmount(coins) - others - dustThreshold(coins.change[largest]!.script);
}

export type AnchorChild = { psbt: string; txid: string; feeSat: bigint; vsize: number };

/**
 * The child paying `childFeeSat`, its anchor input signed with the funding key (the wallet's left for it to sign). `parent`:
 * the commitment's vsize and fee, for the package's guard; `stakeSat`: what going on chain saves (the share's base).
 */
export function fundAnchorChild(
  c: CommitmentTransaction, wallet: Transaction, childFeeSat: bigint, fundingSecret: Uint8Array,
  guard: { parent: { vsize: number; feeSat: bigint }; stakeSat: bigint; limits: FeeLimits },
): AnchorChild {
  const anchor = ownAnchor(c);
  const key = new ProvenKey(fundingSecret, 'funding secret key');
  if (!key.is(c.params.local.fundingPubkey)) throw new RefusedError('E_WRONG_SIGNING_KEY', 'the secret key given is not your funding key of the channel: it cannot spend your anchor');
  const coins = coinsOf(c, wallet);
  const vsize = anchorChildVsize(c, wallet);
  if (childFeeSat <= 0n) throw new RangeError(`an anchor child pays a fee (asked ${childFeeSat} sat)`);
  checkFee({
    what: 'the commitment and its anchor child', feeSat: guard.parent.feeSat + childFeeSat, vsize: guard.parent.vsize + vsize, amountSat: guard.stakeSat, payerFeeSat: childFeeSat,
  }, guard.limits);
  const largest = coins.change.reduce((best, o, i) => (o.amount > coins.change[best]!.amount ? i : best), 0);
  const others = coins.change.reduce((a, o, i) => (i === largest ? a : a + o.amount), 0n);
  const rest = anchor.amountSat + walletInputsAmount(coins) - others - childFeeSat;
  const dust = dustThreshold(coins.change[largest]!.script);
  if (rest < dust) throw new RefusedError('E_FEE_PSBT_SHORT', `the wallet's coins leave ${rest} sat of change after the anchor child's ${childFeeSat} sat fee: fund it with at least ${dust - rest} sat more`);
  const amounts = coins.change.map((o, i) => (i === largest ? rest : o.amount));
  const unsigned = assemble(c, coins, amounts);
  const tx: Tx = { ...unsigned, inputs: unsigned.inputs.map(({ witness: _w, scriptSig: _s, ...i }) => i) };
  const signature = Uint8Array.of(...key.sign(segwitV0Sighash(tx, 0, anchor.witnessScript, anchor.amountSat, SIGHASH_ALL), NOBLE), SIGHASH_ALL);
  const psbt = new Transaction({ version: 2, lockTime: 0, allowUnknownOutputs: true });
  psbt.addInput({ txid: c.txid, index: anchor.index, sequence: SEQUENCE, witnessUtxo: { script: anchor.script, amount: anchor.amountSat } });
  for (const i of coins.inputs) psbt.addInput(psbtInputOf(i, SEQUENCE));
  coins.change.forEach((o, i) => psbt.addOutput({ ...o, amount: amounts[i]! }));
  psbt.updateInput(0, { finalScriptWitness: [signature, anchor.witnessScript] }, true);
  return { psbt: base64.encode(psbt.toPSBT()), txid: txidOnceSigned(psbt), feeSat: childFeeSat, vsize };
}
