import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { PtlcCommand } from '../../topics/ptlc/command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';

export default class PtlcClaim extends PtlcCommand<typeof PtlcClaim> {
  static override summary = 'The payee\'s claim: complete the pre-signature with t and print the key-path spend.';
  static override description =
    'Reads the finished ptlc/presign and t from --secret-file; refuses (exit 4, E_WRONG_SECRET) a t whose point is not the lock point or whose ' +
    'adapted signature does not verify. Broadcasting the claim reveals t to the payer (ptlc extract).';
  static override examples = [
    { description: 'Bob claims the fixture PTLC', command: '<%= config.bin %> ptlc claim --in fixtures/ptlc/presigned.json --secret-file fixtures/ptlc/secret.hex' },
  ];
  static override flags = {
    ...inputFlags,
    'secret-file': Flags.string({ description: 'file holding t (hex)', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { ptlc, tx, m } = await this.readPresigned({ ownCopy: false });
    const t = this.readSecretFile(this.flags['secret-file'], '--secret-file');
    const { completeClaim } = await import('../../lib/ptlc/spend.ts');
    const { fromHex } = await import('../../lib/bytes.ts');
    const done = completeClaim(ptlc, tx, fromHex(m.pre_signature!, 'pre_signature', 64), m.nonce_parity!, t);
    t.fill(0);
    const fee = Number(m.amount_sat) - Number(done.tx.getOutput(0).amount!);
    return { message: { type: 'ptlc/spend', version: 1, network: m.network, path: 'claim', txid: done.tx.id, hex: done.hex, fee_sat: fee, locktime: done.tx.lockTime } };
  }
}
