import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, MAX_SAT } from '../../topics/htlc/command.ts';
import { chainFlags, flagValues } from '../../lib/cli/flags.ts';
import { UsageError } from '../../lib/errors.ts';
import { invoiceFlags } from '../../topics/invoice/invoice-flag.ts';

export default class HtlcCreate extends HtlcCommand<typeof HtlcCreate> {
  static override summary = 'Create an HTLC output: its address, script, and a description to claim or refund it later.';
  static override description =
    'Kinds: seed (the seed\'s P2WSH HASH160 script, with OP_SIZE 32 OP_EQUALVERIFY unless --bare), offered / received (BOLT 3 HTLC outputs, ' +
    'with --anchors for option_anchors), taproot (claim leaf: SHA256 + recipient; refund leaf: CLTV + payer; MuSig2 key path of both). ' +
    'The payment hash is SHA-256; give it with --payment-hash, or --preimage-out FILE draws a fresh 32-byte preimage and writes it only to ' +
    'that new file (mode 0600), never to stdout. With --invoice, the payment hash of an invoice signed by --payee (required). Prints htlc/created: fund its address, keep the message. Refuses an --amount below dust (exit 4).';
  static override examples = [
    {
      description: 'A seed HTLC from Alice (payer) to Bob (recipient), refundable at height 1100',
      command: '<%= config.bin %> htlc create --kind seed --payer $(cat fixtures/keys/alice.pub) --recipient $(cat fixtures/keys/bob.pub) --locktime 1100 --payment-hash $(cat fixtures/htlc/payment-hash.hex) --amount 50000',
    },
    {
      description: 'A taproot HTLC (from fixtures/keys/alice.key to bob.key) with a fresh preimage (written to a new 0600 file) and a timeout 144 blocks after the tip',
      command: 'D=$(mktemp -d); <%= config.bin %> htlc create --kind taproot --payer $(cat fixtures/keys/alice.pub) --recipient $(cat fixtures/keys/bob.pub) --locktime +144 --tip-height 1000 --preimage-out $D/htlc.preimage --amount 50000',
    },
    {
      description: 'Lock an HTLC to a BOLT 11 invoice\'s payment hash (piped from invoice decode), once it is signed by the payee you mean to pay',
      command: '<%= config.bin %> invoice decode --in fixtures/invoice/regtest.bolt11 --now 1795488100 | <%= config.bin %> htlc create --kind seed --invoice - --payee $(cat fixtures/invoice/regtest.payee) --now 1795488100 --payer $(cat fixtures/keys/alice.pub) --recipient $(cat fixtures/keys/bob.pub) --locktime 1100 --amount 50000',
    },
  ];
  static override flags = {
    kind: Flags.string({ description: 'which script', options: ['seed', 'offered', 'received', 'taproot'], default: 'seed' }),
    'payment-hash': Flags.string({ description: 'SHA-256 of the preimage, hex', helpValue: 'HEX', exclusive: ['preimage-out', 'invoice'] }),
    ...invoiceFlags,
    'preimage-out': Flags.string({ description: 'draw a fresh 32-byte preimage and write it (hex) to this new file, mode 0600', helpValue: 'FILE', exclusive: ['invoice'] }),
    payer: Flags.string({ description: 'seed/taproot: payer\'s public key (refund path)', helpValue: 'PUBKEY' }),
    recipient: Flags.string({ description: 'seed/taproot: recipient\'s public key (claim path)', helpValue: 'PUBKEY' }),
    locktime: Flags.string({ description: 'timeout of the payer\'s path: an absolute height or time, or +N blocks after the tip (BOLT 3: cltv_expiry)', helpValue: 'N|+N' }),
    bare: Flags.boolean({ description: 'seed: the bare seed script, without OP_SIZE 32 OP_EQUALVERIFY (any preimage length; see docs/htlc.md)' }),
    amount: Flags.integer({ description: 'the amount to fund, in sat: refused below the output\'s dust limit', helpValue: 'SAT', min: 0, max: MAX_SAT }),
    'revocation-pubkey': Flags.string({ description: 'BOLT 3: revocationpubkey', helpValue: 'PUBKEY' }),
    'local-htlc-pubkey': Flags.string({ description: 'BOLT 3: local_htlcpubkey (the commitment holder)', helpValue: 'PUBKEY' }),
    'remote-htlc-pubkey': Flags.string({ description: 'BOLT 3: remote_htlcpubkey', helpValue: 'PUBKEY' }),
    anchors: Flags.boolean({ description: 'BOLT 3: option_anchors (1 OP_CHECKSEQUENCEVERIFY on the non-revocation paths)' }),
    'to-self-delay': Flags.integer({ description: 'BOLT 3: CSV delay of the second-stage output', helpValue: 'BLOCKS', min: 1, max: 65535 }),
    'local-delayed-pubkey': Flags.string({ description: 'BOLT 3: local_delayedpubkey (second-stage output)', helpValue: 'PUBKEY' }),
    'feerate-per-kw': Flags.integer({ description: 'BOLT 3: the commitment\'s feerate, which fixes the HTLC transactions\' fee', helpValue: 'N', min: 0, max: 0xffff_ffff }),
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const { createHtlc } = await import('../../lib/htlc/create.ts');
    // The invoice's payment hash (verified, unexpired); an --amount must cover what it asks.
    const invoice = f.invoice === undefined ? undefined : await this.invoiceLock(f.invoice, f.payee, f.network as never, f.now, f.amount);
    const paymentHash = invoice === undefined ? f['payment-hash'] : invoice.paymentHash;
    const network = this.network(invoice?.network);
    if (paymentHash === undefined && f['preimage-out'] === undefined) {
      throw new UsageError('E_USAGE', 'give --payment-hash HEX, --invoice FILE, or --preimage-out FILE to draw a fresh preimage');
    }
    const locktime = await this.absoluteLocktime(network, f.locktime);
    const preimage = f['preimage-out'] !== undefined ? this.random.bytes(32, 'htlc/preimage') : undefined;
    // Every field comes from a flag: a malformed one is a usage error (exit 2); a refusal (dust) stays 4.
    const { message, preimageFile } = flagValues(() => createHtlc({
      kind: f.kind as 'seed' | 'offered' | 'received' | 'taproot', paymentHash, preimage, payer: f.payer, recipient: f.recipient, locktime, bare: f.bare,
      amountSat: f.amount === undefined ? undefined : BigInt(f.amount), revocationPubkey: f['revocation-pubkey'], localHtlcPubkey: f['local-htlc-pubkey'],
      remoteHtlcPubkey: f['remote-htlc-pubkey'], anchors: f.anchors, toSelfDelay: f['to-self-delay'], localDelayedPubkey: f['local-delayed-pubkey'], feeratePerKw: f['feerate-per-kw'],
    }, network));
    if (preimage && preimageFile) {
      // Last, once everything else is valid: nothing is written for a refused create.
      const { writeNewFile } = await import('../../lib/store/exclusive.ts');
      writeNewFile(f['preimage-out']!, preimageFile, 0o600);
      preimage.fill(0);
    }
    return { message };
  }
}
