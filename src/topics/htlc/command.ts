/**
 * The base of the `htlc` spend commands: reads the HTLC (an `htlc/created` message, or
 * an `htlc/spend` still waiting for a signature, which carries it), the outpoint and
 * its amount (flag, message, or the node — which must agree), the destination, the
 * preimage file, and the chain tip for the one finality rule.
 */
import { Flags, type Command } from '@oclif/core';
import { MalformedInputError, RefusedError, UsageError } from '../../lib/errors.ts';
import { toHex, equalBytes } from '../../lib/bytes.ts';
import type { Network } from '../../lib/network.ts';
import type { HtlcOutput } from '../../lib/htlc/htlc.ts';
import type { HtlcCreated } from '../../lib/htlc/messages.ts';
import type { OutPoint, Spend } from '../../lib/htlc/spend.ts';
import type { SecondStage } from '../../lib/htlc/second-stage.ts';
import type { Transaction } from '@scure/btc-signer';
import { MAX_LOCKTIME, MAX_MONEY } from '../../lib/constants.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { chainFlags, feeGuardFlags, inputFlags, keyFlags, parseRate } from '../../lib/cli/flags.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';

export { MAX_LOCKTIME };

/** The most satoshis there are (21 million BTC): an --amount flag's upper bound, far below 2^53. */
/** 21 million BTC in sat (constants.ts's MAX_MONEY), for integer flags. */
export const MAX_SAT = Number(MAX_MONEY);
/** The largest nLockTime (u32). */

export const outpointFlags = {
  outpoint: Flags.string({ description: 'the funded HTLC output, TXID:VOUT', helpValue: 'TXID:VOUT', required: true }),
  amount: Flags.integer({ description: 'its amount in sat (default: the message\'s amount_sat, else asked of the node)', helpValue: 'SAT', min: 1, max: MAX_SAT }),
};

export const destinationFlags = {
  to: Flags.string({ description: 'address the coins go to', helpValue: 'ADDRESS', required: true }),
  'fee-rate': Flags.string({ description: 'fee rate in sat/vB', helpValue: 'RATE', required: true }),
  ...feeGuardFlags,
};

export const htlcSpendFlags = {
  ...inputFlags,
  ...keyFlags,
  ...outpointFlags,
  htlc: Flags.string({
    description: 'your own copy of the htlc/created message: required to complete a spend another party started, whose embedded copy must equal it',
    helpValue: 'FILE',
  }),
  ...chainFlags,
};

export const feePsbtFlags = {
  'fee-psbt': Flags.string({
    description: 'anchors second stage, the holder: a wallet PSBT (walletcreatefundedpsbt paying one of its own addresses) whose coins pay the fee at --fee-rate, taken from its change',
    helpValue: 'FILE',
  }),
};

export type HtlcInput = { htlc: HtlcOutput; created: HtlcCreated; network: Network; amountSat?: bigint; psbt?: Transaction };

export function parseOutpoint(text: string): OutPoint {
  const m = /^([0-9a-fA-F]{64}):(\d{1,10})$/.exec(text);
  if (!m || Number(m[2]) > 0xffff_ffff) throw new UsageError('E_USAGE', `--outpoint must be TXID:VOUT, got ${text}`);
  return { txid: m[1]!.toLowerCase(), vout: Number(m[2]) };
}

export abstract class HtlcCommand<T extends typeof Command> extends OffchainCommand<T> {
  /** The HTLC being spent, and the partly signed PSBT when the input is an incomplete htlc/spend. */
  protected async readHtlc(): Promise<HtlcInput> {
    // --htlc first: a file that cannot be read is refused naming it, whatever the input (it was ignored unless the input was a spend).
    const ownFile = (this.flags as { htlc?: string }).htlc;
    const ownDoc = ownFile === undefined ? undefined : await this.readFileDocument(ownFile);
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected an htlc/created message (from htlc create) or an incomplete htlc/spend');
    const { htlcFromMessage } = await import('../../lib/htlc/messages.ts');
    const { sameJson } = await import('../../lib/json.ts');
    const value = doc.value as Record<string, unknown>;
    if (value?.type === 'htlc/spend') {
      const { decodeMessage } = await import('../../lib/message.ts');
      const { HtlcSpendSchema } = await import('../../lib/htlc/schemas.ts');
      const spend = decodeMessage(HtlcSpendSchema, value);
      if (spend.complete || !spend.htlc || !spend.psbt) throw new RefusedError('E_ALREADY_COMPLETE', 'this htlc/spend is complete: broadcast its hex');
      const { psbtBytesFromBase64 } = await import('../../lib/psbt/base64-field.ts');
      const { parsePsbt } = await import('../../lib/psbt/parse.ts');
      // The other signer's copy of the HTLC is not trusted: terms the script does not commit
      // to (the second stage's delay, key and feerate; an offered HTLC's cltv_expiry) could
      // have been changed in it. Ours must be given, and theirs must be the same.
      if (ownFile === undefined || ownDoc === undefined) {
        throw new UsageError('E_USAGE', 'this spend was started by another party: pass --htlc FILE, your own copy of the htlc/created message');
      }
      const own = htlcFromMessage(ownDoc);
      const inner = htlcFromMessage(spend.htlc);
      if (!sameJson(own.message, inner.message)) {
        throw new RefusedError('E_HTLC_MISMATCH', `the HTLC carried by this htlc/spend differs from yours (${ownFile}); refusing to sign other terms`);
      }
      if (inner.network !== spend.network) throw new RefusedError('E_NETWORK_MISMATCH', 'the htlc/spend and the HTLC it carries name different networks');
      return { ...inner, created: inner.message, network: this.network(inner.network), psbt: parsePsbt(psbtBytesFromBase64(spend.psbt, 'psbt')) };
    }
    const r = htlcFromMessage(value);
    if (ownDoc !== undefined && !sameJson(htlcFromMessage(ownDoc).message, r.message)) {
      throw new RefusedError('E_HTLC_MISMATCH', `the HTLC of the input differs from yours (--htlc ${ownFile}); refusing to sign other terms`);
    }
    return { htlc: r.htlc, created: r.message, network: this.network(r.network), ...(r.amountSat === undefined ? {} : { amountSat: r.amountSat }) };
  }

  /**
   * The HTLC output's amount: --amount, else the message's amount_sat, else the node's.
   * With a node, its answer is checked against the HTLC's script and any amount given.
   */
  protected async htlcAmount(input: HtlcInput, outpoint: OutPoint): Promise<bigint> {
    return this.outputAmount(input.network, outpoint, input.htlc.scriptPubKey, input.created.address, input.amountSat);
  }

  /**
   * A contract output's amount: --amount, else the message's, else the node's. With a node,
   * its answer is checked against the output's script and any amount given.
   */
  protected async outputAmount(network: Network, outpoint: OutPoint, script: Uint8Array, address: string, fromMessage: bigint | undefined): Promise<bigint> {
    const f = this.flags as { amount?: number };
    const given = f.amount !== undefined ? BigInt(f.amount) : fromMessage;
    const chain = await this.chain(network);
    if (chain.kind !== 'rpc') {
      if (given === undefined) throw new UsageError('E_USAGE', 'the output\'s amount is unknown: pass --amount SAT (or a node with --rpc-url)');
      return given;
    }
    const utxo = await chain.utxo(outpoint.txid, outpoint.vout);
    if (!utxo) throw new RefusedError('E_UTXO_NOT_FOUND', `${outpoint.txid}:${outpoint.vout} is not an unspent output the node knows`);
    if (!equalBytes(utxo.scriptPubKey, script)) {
      throw new RefusedError('E_UTXO_MISMATCH', `${outpoint.txid}:${outpoint.vout} pays ${toHex(utxo.scriptPubKey)}, not ${address}`);
    }
    if (given !== undefined && given !== utxo.value) {
      throw new RefusedError('E_UTXO_MISMATCH', `${outpoint.txid}:${outpoint.vout} holds ${utxo.value} sat, not ${given}`);
    }
    return utxo.value;
  }

  /** A 32-byte secret (hex) from a file: a preimage, an adaptor secret. */
  protected readSecretFile(path: string, flag: string): Uint8Array {
    return readHexSecretFile(path, flag, { length: 32 });
  }

  /** The fee guard's limits (--max-fee-rate, --max-fee-share). */
  protected async feeLimits(): Promise<FeeLimits> {
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    const f = this.flags as { 'max-fee-rate'?: string; 'max-fee-share'?: string };
    return parseFeeLimits({ maxFeeRate: f['max-fee-rate'], maxFeeShare: f['max-fee-share'] });
  }

  protected feeRate(): number {
    return parseRate((this.flags as { 'fee-rate': string })['fee-rate']);
  }

  /** The payment preimage from a file: hex (64 digits for 32 bytes), whitespace ignored. */
  protected readPreimage(path: string | undefined): Uint8Array | undefined {
    return path === undefined ? undefined : readHexSecretFile(path, '--preimage-file', { what: 'the preimage' });
  }

  /** --fee-psbt's wallet PSBT (base64, hex or binary), if given. */
  protected async feeWallet(): Promise<Transaction | undefined> {
    const path = (this.flags as { 'fee-psbt'?: string })['fee-psbt'];
    return path === undefined ? undefined : this.readPsbtAt(path);
  }

  /** A one-signer spend as the command's result: the htlc/spend message and its PSBT. */
  protected async spendResult(input: HtlcInput, path: 'claim' | 'refund' | 'revoke', s: Spend, outpoint: OutPoint, amountSat: bigint): Promise<CommandResult> {
    const { spendMessage } = await import('../../lib/htlc/messages.ts');
    const { serializePsbt } = await import('../../lib/psbt/parse.ts');
    const psbt = serializePsbt(s.tx);
    const message = spendMessage(input.created, { path, complete: true, txid: s.txid, outpoint, amountSat, feeSat: s.feeSat, lockTime: s.lockTime, sequence: s.sequence, hex: s.hex, psbt });
    return { message, psbt };
  }

  /** A BOLT 3 second-stage step as the command's result: complete, or a PSBT for the other HTLC key. */
  protected async secondStageResult(input: HtlcInput, s: SecondStage, outpoint: OutPoint, amountSat: bigint): Promise<CommandResult> {
    const { spendMessage } = await import('../../lib/htlc/messages.ts');
    const { serializePsbt } = await import('../../lib/psbt/parse.ts');
    const psbt = serializePsbt(s.tx);
    const message = spendMessage(input.created, {
      path: s.kind, complete: s.complete, txid: s.txid, outpoint, amountSat, feeSat: s.feeSat, lockTime: s.lockTime,
      sequence: s.tx.getInput(0).sequence!, psbt, ...(s.hex ? { hex: s.hex } : {}), missing: s.missing,
    });
    return { message, psbt };
  }

  /**
   * `htlc create --invoice`: the payment hash of an invoice signed by --payee (verified,
   * unexpired), and its network; an --amount below what the invoice asks is refused.
   */
  protected async invoiceLock(path: string, payee: string | undefined, network: Network | undefined, now: number | undefined, amount: number | undefined): Promise<{ paymentHash: string; network: Network }> {
    const { readInvoiceTerms } = await import('../invoice/invoice-flag.ts');
    const terms = await readInvoiceTerms(path, payee, network, now, false);
    if (terms.amountMsat !== undefined && amount !== undefined && BigInt(amount) * 1000n < terms.amountMsat) {
      throw new RefusedError('E_INVOICE_MISMATCH', `--amount ${amount} sat is below the invoice's ${terms.amountMsat} msat`);
    }
    return { paymentHash: Buffer.from(terms.paymentHash).toString('hex'), network: terms.network };
  }

  /** A timeout given as an absolute height or time, or `+N` blocks after the chain tip. */
  protected async absoluteLocktime(network: Network, text: string | undefined): Promise<number> {
    if (text === undefined) throw new UsageError('E_USAGE', 'give --locktime (an absolute height or time, or +N blocks after the tip)');
    const m = /^(\+)?(\d{1,10})$/.exec(text);
    if (!m) throw new UsageError('E_USAGE', `--locktime must be a number or +N, got ${text}`);
    const n = Number(m[2]);
    const locktime = m[1] ? (await (await this.chain(network)).tip()).height + n : n;
    if (locktime < 1 || locktime > MAX_LOCKTIME) throw new UsageError('E_USAGE', `--locktime ${text} gives ${locktime}: an nLockTime is 1 to ${MAX_LOCKTIME}`);
    return locktime;
  }

  /** --to as an output script of this network. */
  protected async destination(network: Network): Promise<Uint8Array> {
    const { decodeAddress } = await import('../../lib/address.ts'); // btc-signer: loaded only when needed
    return decodeAddress((this.flags as { to: string }).to, network, '--to');
  }

  /**
   * The one finality rule (Core's, src/lib/chain/finality.ts) at the tip from the node or
   * --tip-height/--tip-mtp: refuse a transaction with this nLockTime that Core would
   * still reject as non-final.
   */
  protected async requireFinal(network: Network, lockTime: number): Promise<void> {
    const { explainFinality, isFinalAtTip } = await import('../../lib/chain/finality.ts');
    const tip = await (await this.chain(network)).tip();
    const tx = { lockTime, inputs: [{ sequence: 0xffff_fffd }] };
    if (!isFinalAtTip(tx, tip)) throw new RefusedError('E_NOT_FINAL', `not final yet: ${explainFinality(tx, tip)}`);
  }
}
