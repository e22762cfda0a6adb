/**
 * A wallet's funded PSBT (`bitcoin-cli walletcreatefundedpsbt`, used as is) as coins
 * that join one of our transactions: the credit rollover's top-up, the fee input of an
 * anchors HTLC transaction. What one such PSBT may carry:
 * - inputs that are segwit (P2WPKH, P2TR, P2SH-P2WPKH with its redeem script), each with
 *   its witness_utxo, so the fee can be estimated and the txid is known before the
 *   wallet signs;
 * - outputs that are the wallet's own — marked by a BIP-32 derivation, as Core marks its
 *   change and its own addresses — or, when the caller names one, outputs paying a given
 *   script (the caller replaces those). Anything else would pay someone else out of our
 *   transaction, and is refused.
 * The wallet signs its inputs afterwards (`walletprocesspsbt`); nothing here signs.
 */
import { RawTx, type Transaction } from '@scure/btc-signer';
import { sha256 } from '@noble/hashes/sha2.js';
import { hash160 } from '@scure/btc-signer/utils.js';
import { RefusedError, UsageError } from '../errors.ts';
import { concatBytes, equalBytes, toHex } from '../bytes.ts';
import { inputVsize, standardScriptType } from './policy.ts';
import { NUMS_H } from './wallet-output.ts';

type PsbtInput = ReturnType<Transaction['getInput']>;
type PsbtOutput = ReturnType<Transaction['getOutput']>;

/** A wallet's coin, with what its wallet needs to sign it later (a nested P2WPKH's redeem script, BIP-32 paths). */
export type WalletInput = {
  txid: string; vout: number; amount: bigint; script: Uint8Array; sequence?: number;
  redeemScript?: Uint8Array;
  bip32Derivation?: PsbtInput['bip32Derivation'];
  tapBip32Derivation?: PsbtInput['tapBip32Derivation'];
  tapInternalKey?: Uint8Array;
  /** A taproot coin with a script tree: the tree's root (the key path's tweak) and its leaves, for the wallet that signs it. */
  tapMerkleRoot?: Uint8Array;
  tapLeafScript?: PsbtInput['tapLeafScript'];
};

/** An output back to the wallet (its change), with its BIP-32 paths. */
export type WalletOutput = { script: Uint8Array; amount: bigint; bip32Derivation?: PsbtOutput['bip32Derivation']; tapBip32Derivation?: PsbtOutput['tapBip32Derivation'] };

export type WalletCoins = { inputs: WalletInput[]; change: WalletOutput[] };

/** How the caller names the PSBT in errors: its flag, and the prefix of its error codes (`E_TOPUP` → E_TOPUP_INPUT / E_TOPUP_OUTPUT). */
export type WalletPsbtRole = { flag: string; code: string; purpose: string; replacedName?: string };

export function walletInputsAmount(c: WalletCoins): bigint {
  return c.inputs.reduce((a, i) => a + i.amount, 0n);
}

export function walletChangeAmount(c: WalletCoins): bigint {
  return c.change.reduce((a, o) => a + o.amount, 0n);
}

/**
 * The wallet's inputs and change. Outputs paying `replaced` (when given) are skipped:
 * they are the wallet's way of saying "this much to X", and the caller pays X itself.
 */
export function walletCoins(wallet: Transaction, role: WalletPsbtRole, replaced?: Uint8Array): WalletCoins {
  const inputs = Array.from({ length: wallet.inputsLength }, (_, i): WalletInput => {
    const input = wallet.getInput(i);
    if (!input.witnessUtxo || !input.txid || input.index === undefined) {
      throw new UsageError(`${role.code}_INPUT`, `${role.flag} input ${i} has no witness_utxo (make the PSBT with walletcreatefundedpsbt, or add it with utxoupdatepsbt)`);
    }
    const t: WalletInput = { txid: toHex(input.txid), vout: input.index, amount: input.witnessUtxo.amount, script: input.witnessUtxo.script, sequence: input.sequence };
    if (input.redeemScript) t.redeemScript = input.redeemScript;
    if (input.bip32Derivation?.length) t.bip32Derivation = input.bip32Derivation;
    if (input.tapBip32Derivation?.length) t.tapBip32Derivation = input.tapBip32Derivation;
    if (input.tapInternalKey) t.tapInternalKey = input.tapInternalKey;
    if (input.tapMerkleRoot) t.tapMerkleRoot = input.tapMerkleRoot;
    if (input.tapLeafScript?.length) t.tapLeafScript = input.tapLeafScript;
    walletInputVbytes(t.script, t.redeemScript, role); // refuses what the fee cannot be estimated for
    // A P2TR coin is sized as a key-path spend (57.5 vB): with a script tree, only if the wallet records its internal key
    // and that key is not BIP-341's unspendable H (Core records H too): a tr(H, …) coin is signed by a script path,
    // larger than sized (review of issue 37).
    const tree = t.tapMerkleRoot !== undefined || t.tapLeafScript !== undefined;
    const keyPath = !!t.tapInternalKey && !equalBytes(t.tapInternalKey, NUMS_H) && !!t.tapBip32Derivation?.some(([k, d]) => d.hashes.length === 0 && equalBytes(k, t.tapInternalKey!));
    if (tree && !keyPath) {
      throw new RefusedError(`${role.code}_INPUT`, `${role.flag} input ${i} is a taproot coin with a script tree whose internal key the wallet does not derive: it is spent by a script path, whose size cannot be known before it is signed (use coins of a single-key or key-path address)`);
    }
    return t;
  });
  const change: WalletOutput[] = [];
  for (let i = 0; i < wallet.outputsLength; i++) {
    const o = wallet.getOutput(i);
    if (!o.script || o.amount === undefined) throw new UsageError(`${role.code}_OUTPUT`, `${role.flag} output ${i} has no script or amount`);
    if (replaced && equalBytes(o.script, replaced)) continue;
    if (!o.bip32Derivation?.length && !o.tapBip32Derivation?.length) {
      throw new RefusedError(`${role.code}_OUTPUT`, `${role.flag} output ${i} pays ${toHex(o.script)}, ${replaced ? `neither ${role.replacedName ?? 'that'} nor the wallet's change` : 'not the wallet\'s own'} (no BIP-32 derivation): ${role.purpose}`);
    }
    const c: WalletOutput = { script: o.script, amount: o.amount };
    if (o.bip32Derivation?.length) c.bip32Derivation = o.bip32Derivation;
    if (o.tapBip32Derivation?.length) c.tapBip32Derivation = o.tapBip32Derivation;
    change.push(c);
  }
  return { inputs, change };
}

/** A wallet input as a PSBT input again (witness_utxo, redeem script, BIP-32 paths), for `Transaction.addInput`. */
export function psbtInputOf(i: WalletInput, defaultSequence?: number) {
  const { txid, vout, amount, script, sequence, ...fields } = i;
  const seq = sequence ?? defaultSequence;
  return { txid, index: vout, ...(seq === undefined ? {} : { sequence: seq }), witnessUtxo: { script, amount }, ...fields };
}

/** A P2SH script whose redeem script is a P2WPKH program (what Core calls p2sh-segwit). */
export function isNestedP2wpkh(script: Uint8Array, redeemScript: Uint8Array | undefined): boolean {
  return !!redeemScript && standardScriptType(script) === 'p2sh' && standardScriptType(redeemScript) === 'p2wpkh'
    && equalBytes(script.subarray(2, 22), hash160(redeemScript));
}

/** vbytes of a wallet input: P2TR key path 57.5, P2WPKH 68, P2SH-P2WPKH 91 (its 23-byte scriptSig). */
export function walletInputVbytes(script: Uint8Array, redeemScript: Uint8Array | undefined, role: WalletPsbtRole): number {
  if (isNestedP2wpkh(script, redeemScript)) return inputVsize(redeemScript!)! + 23;
  const v = standardScriptType(script) === 'p2sh' ? undefined : inputVsize(script);
  if (v === undefined) {
    throw new RefusedError(`${role.code}_INPUT`, `${role.flag}: inputs must be P2TR, P2WPKH or P2SH-P2WPKH with its redeem script (segwit, so the txid is stable and the fee can be estimated)`);
  }
  return v;
}

/**
 * The txid a transaction will have once signed. A P2SH-P2WPKH input's scriptSig (the
 * push of its redeem script) is part of the txid, and the unsigned PSBT has none yet;
 * every other wallet input is native segwit (empty scriptSig), as is every input of
 * ours. Known in advance, so what spends the transaction can be built before it is signed.
 */
export function txidOnceSigned(tx: Transaction): string {
  const inputs = Array.from({ length: tx.inputsLength }, (_, i) => {
    const input = tx.getInput(i);
    const nested = input.witnessUtxo && isNestedP2wpkh(input.witnessUtxo.script, input.redeemScript);
    return { txid: input.txid!, index: input.index!, finalScriptSig: nested ? concatBytes(Uint8Array.of(input.redeemScript!.length), input.redeemScript!) : new Uint8Array(), sequence: input.sequence ?? 0xffffffff };
  });
  if (inputs.every((i) => i.finalScriptSig.length === 0)) return tx.id;
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => ({ amount: tx.getOutput(i).amount!, script: tx.getOutput(i).script! }));
  return toHex(sha256(sha256(RawTx.encode({ version: tx.version, segwitFlag: false, inputs, outputs, witnesses: [], lockTime: tx.lockTime }))).reverse());
}
