import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { PtlcCommand } from '../../topics/ptlc/command.ts';
import { chainFlags, inputFlags } from '../../lib/cli/flags.ts';
import { UsageError } from '../../lib/errors.ts';

export default class PtlcExtract extends PtlcCommand<typeof PtlcExtract> {
  static override summary = 'The payer reads t from the payee\'s claim: the signature on chain minus the pre-signature.';
  static override description =
    'Reads the finished ptlc/presign (checked against your own --ptlc copy, both partial signatures and the pre-signature re-verified) and the ' +
    'claim — a raw transaction in --claim-tx FILE, or --claim-txid with a node (getrawtransaction) — and writes t to the new 0600 file ' +
    '--secret-out; t is checked to open the lock point, and never printed. This is the proof of payment, or what the payer needs to claim its own incoming PTLC.';
  static override examples = [
    {
      description: 'Alice reads t from the fixture claim',
      command: 'D=$(mktemp -d); <%= config.bin %> ptlc extract --in fixtures/ptlc/presigned.json --ptlc fixtures/ptlc/created.json --claim-tx fixtures/ptlc/claim.hex --secret-out $D/ptlc-t',
    },
  ];
  static override flags = {
    ...inputFlags,
    ptlc: Flags.string({ description: 'your own copy of ptlc/created', helpValue: 'FILE', required: true }),
    'claim-tx': Flags.string({ description: 'the claim as raw transaction hex in a file', helpValue: 'FILE', exclusive: ['claim-txid'] }),
    'claim-txid': Flags.string({ description: 'the claim\'s txid, fetched from the node', helpValue: 'TXID' }),
    'secret-out': Flags.string({ description: 'new file (0600) for t, hex', helpValue: 'FILE', required: true }),
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { ptlc, tx, m, network, preSignature, parity } = await this.readPresigned({ ownCopy: true });
    const { checkPresigned } = await import('../../lib/ptlc/presign.ts');
    const { extractSecret } = await import('../../lib/ptlc/spend.ts');
    const { fromHex, toHex } = await import('../../lib/bytes.ts');
    checkPresigned(
      ptlc, tx, { payer: fromHex(m.payer_pubnonce ?? '', 'payer_pubnonce', 66), payee: fromHex(m.payee_pubnonce, 'payee_pubnonce', 66) },
      { payer: fromHex(m.payer_partial_sig ?? '', 'payer_partial_sig', 32), payee: fromHex(m.payee_partial_sig ?? '', 'payee_partial_sig', 32) },
      { preSignature: fromHex(preSignature, 'pre_signature', 64), parity },
    );
    let raw: Uint8Array;
    if (this.flags['claim-tx'] !== undefined) {
      raw = fromHex(new TextDecoder().decode(await this.readFlagInput('--claim-tx', this.flags['claim-tx'])).trim(), `--claim-tx ${this.flags['claim-tx']}`);
    } else if (this.flags['claim-txid'] !== undefined) {
      raw = await (await this.chain(network)).rawTransaction(this.flags['claim-txid']);
    } else {
      throw new UsageError('E_USAGE', 'give the claim: --claim-tx FILE (raw hex) or --claim-txid TXID with a node');
    }
    const t = extractSecret(ptlc, raw, fromHex(preSignature, 'pre_signature', 64), parity);
    const { writeNewFile } = await import('../../lib/store/exclusive.ts');
    writeNewFile(this.flags['secret-out'], toHex(t) + '\n', 0o600);
    t.fill(0);
    const { Transaction } = await import('@scure/btc-signer');
    const claimTxid = Transaction.fromRaw(raw, { allowUnknownOutputs: true, disableScriptCheck: true }).id;
    return { message: { type: 'ptlc/extracted', version: 1, network, claim_txid: claimTxid, point: toHex(ptlc.spec.point), secret_file: this.flags['secret-out'] } };
  }
}
