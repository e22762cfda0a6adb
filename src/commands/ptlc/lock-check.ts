import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';

export default class PtlcLockCheck extends OffchainCommand<typeof PtlcLockCheck> {
  static override summary = 'A hop checks its lock record (R = L + y·G) before locking anything to R.';
  static override description = 'Refuses (exit 4, E_BAD_HOP_LOCK) a record whose points do not match its tweak; prints the public points it may lock to.';
  static override examples = [{ description: 'Check the fixture hop\'s lock record', command: '<%= config.bin %> ptlc lock-check --lock fixtures/ptlc/lock-1.json' }];
  static override flags = { lock: Flags.string({ description: 'this party\'s ptlc/lock record (a 0600 file, or "-": standard input)', helpValue: 'FILE', required: true }) };

  protected async execute(): Promise<CommandResult> {
    const { readLock } = await import('../../lib/ptlc/lock-file.ts');
    const { checkLock } = await import('../../lib/ptlc/multi-hop.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    // A lock record holds this party's y: a secret file, 0600 like every other.
    const { requirePrivateFile } = await import('../../lib/cli/secret-file.ts');
    // Standard input (`--lock -`) is a pipe, as a key may be: no file mode to check.
    if (this.flags.lock !== '-') requirePrivateFile(this.flags.lock, '--lock');
    const { record, network } = readLock(await this.readFileDocument(this.flags.lock));
    this.network(network);
    checkLock(record);
    return { message: { type: 'ptlc/locks', version: 1, network, locks: [{ role: record.role, index: record.index, L: toHex(record.L), R: toHex(record.R) }] } };
  }
}
