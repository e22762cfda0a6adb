import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, MAX_SAT, parseOutpoint } from '../../topics/htlc/command.ts';
import { chainFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError, RefusedError, UsageError } from '../../lib/errors.ts';

export default class PtlcPresign extends HtlcCommand<typeof PtlcPresign> {
  /** A MuSig2 adaptor session: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'The claim\'s MuSig2 adaptor pre-signature, one step per run: payee starts, payer signs, payee finishes.';
  static override description =
    'Run by each party in turn, piping the output to the other: (1) the payee, on ptlc/created with --outpoint/--to/--fee-rate, builds the ' +
    'claim and issues its nonce; (2) the payer adds its nonce and partial signature (the nonce is consumed on disk before the signature is printed); ' +
    '(3) the payee checks it, signs, and aggregates the pre-signature, checked against the lock point; (4) the payer checks the finished ' +
    'message. Steps 2–4 need --ptlc FILE, your own ptlc/created: the PTLC carried by the message must be the same (the lock point is not in the address).';
  static override examples = [
    {
      description: 'Step 1, the payee (Bob) starts the claim of the fixture PTLC',
      command: 'D=$(mktemp -d); BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> ptlc presign --key-env BOB_KEY --state-dir $D/ptlc-bob --in fixtures/ptlc/created.json --outpoint ' + '5f'.repeat(32) + ':0 --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    ...stateFlags,
    ptlc: Flags.string({ description: 'your own copy of ptlc/created (steps 2–4)', helpValue: 'FILE' }),
    outpoint: Flags.string({ description: 'step 1: the funded PTLC output', helpValue: 'TXID:VOUT' }),
    amount: Flags.integer({ description: 'step 1: its amount (default: amount_sat, else the node\'s)', helpValue: 'SAT', min: 1, max: MAX_SAT }),
    to: Flags.string({ description: 'step 1: where the claim pays the payee', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'step 1: the claim\'s fee rate, sat/vB', helpValue: 'RATE' }),
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected ptlc/created (step 1) or ptlc/presign');
    const value = doc.value as { type?: string };
    const { ptlcFromMessage, sameTerms } = await import('../../lib/ptlc/messages.ts');
    const { parsePsbt, serializePsbt } = await import('../../lib/psbt/parse.ts');
    const { psbtBytesFromBase64 } = await import('../../lib/psbt/base64-field.ts');
    const { toHex, equalBytes } = await import('../../lib/bytes.ts');
    const presign = await import('../../lib/ptlc/presign.ts');
    const { base64 } = await import('@scure/base');

    if (value.type === 'ptlc/created') {
      const { ptlc, network, amountSat: noted, message } = ptlcFromMessage(value);
      this.network(network);
      const f = this.flags;
      if (f.outpoint === undefined || f.to === undefined || f['fee-rate'] === undefined) throw new UsageError('E_USAGE', 'step 1 (the payee) needs --outpoint, --to and --fee-rate');
      const signer = await this.keyPair(network);
      if (!equalBytes(signer.publicKey, ptlc.spec.payee)) throw new RefusedError('E_KEY_MISMATCH', 'step 1 is the payee\'s: this key is not the PTLC\'s payee');
      const outpoint = parseOutpoint(f.outpoint);
      const amountSat = await this.outputAmount(network, outpoint, ptlc.scriptPubKey, message.address, noted);
      const { claimTransaction } = await import('../../lib/ptlc/spend.ts');
      const { tx } = claimTransaction(ptlc, { outpoint, amountSat, destination: await this.destination(network), feeRate: this.feeRate() });
      const nonce = await presign.payeeStart(ptlc, tx, signer, await this.nonceStore(network, signer), this.random);
      return {
        message: {
          type: 'ptlc/presign', version: 1, network, ptlc: message, psbt: base64.encode(serializePsbt(tx)), claim_txid: tx.id,
          outpoint, amount_sat: amountSat, payee_pubnonce: toHex(nonce), next: 'payer',
        },
      };
    }

    const { decodeMessage } = await import('../../lib/message.ts');
    const { PtlcPresignSchema } = await import('../../lib/ptlc/schemas.ts');
    const m = decodeMessage(PtlcPresignSchema, value);
    const carried = ptlcFromMessage(m.ptlc);
    const network = this.network(m.network);
    if (this.flags.ptlc === undefined) throw new UsageError('E_USAGE', 'pass --ptlc FILE, your own ptlc/created: the PTLC this message carries must be the one you agreed to');
    const own = ptlcFromMessage(await this.readFileDocument(this.flags.ptlc));
    sameTerms(own.message, carried.message, this.flags.ptlc);
    const { ptlc } = own;
    const tx = parsePsbt(psbtBytesFromBase64(m.psbt, 'psbt'));
    if (tx.id !== m.claim_txid) throw new MalformedInputError('E_MALFORMED_MESSAGE', 'ptlc/presign: claim_txid is not the PSBT\'s transaction');
    const signer = await this.keyPair(network);
    return { message: await presign.presignStep(m, ptlc, tx, signer, await this.nonceStore(network, signer), this.random) };
  }
}
