import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand } from '../../topics/htlc/command.ts';

export default class PtlcLockSecret extends HtlcCommand<typeof PtlcLockSecret> {
  static override summary = 'Settle a multi-hop lock: from the outgoing claim\'s secret r to the incoming lock\'s l = r − y (or, payee, z to z + Σy).';
  static override description =
    'A hop that extracted r from its outgoing claim (ptlc extract) computes l to claim its incoming PTLC; the sender computes z = t₀ − y₀, ' +
    'the proof of payment; the payee (--from l, its z) computes the secret of the lock it claims. The secret read must open its point and ' +
    'the one written is checked to open the other; both live only in files (0600).';
  static override examples = [
    {
      description: 'The payee turns z into the secret of the lock it claims',
      command: 'D=$(mktemp -d); <%= config.bin %> ptlc lock-secret --lock fixtures/ptlc/lock-2.json --from l --secret-file fixtures/ptlc/payment-secret.hex --secret-out $D/lock-r',
    },
  ];
  static override flags = {
    lock: Flags.string({ description: 'this party\'s ptlc/lock record', helpValue: 'FILE', required: true }),
    from: Flags.string({ description: 'which secret --secret-file holds: r (outgoing, extracted) or l (payee: z)', options: ['r', 'l'], required: true }),
    'secret-file': Flags.string({ description: 'the known secret (hex)', helpValue: 'FILE', required: true }),
    'secret-out': Flags.string({ description: 'new file (0600) for the other secret', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { readLock } = await import('../../lib/ptlc/lock-file.ts');
    const { lockSecret } = await import('../../lib/ptlc/multi-hop.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const { writeNewFile } = await import('../../lib/store/exclusive.ts');
    // A lock record holds this party's y: a secret file, 0600 like every other.
    const { requirePrivateFile } = await import('../../lib/cli/secret-file.ts');
    // Standard input (`--lock -`) is a pipe, as a key may be: no file mode to check.
    if (this.flags.lock !== '-') requirePrivateFile(this.flags.lock, '--lock');
    const { record, network } = readLock(await this.readFileDocument(this.flags.lock));
    this.network(network);
    const from = this.flags.from as 'l' | 'r';
    const known = this.readSecretFile(this.flags['secret-file'], '--secret-file');
    const other = lockSecret(record, from, known);
    known.fill(0);
    writeNewFile(this.flags['secret-out'], toHex(other) + '\n', 0o600);
    other.fill(0);
    return { message: { type: 'ptlc/lock-secret', version: 1, network, index: record.index, from, opens: toHex(from === 'r' ? record.L : record.R), secret_file: this.flags['secret-out'] } };
  }
}
