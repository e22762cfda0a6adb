/**
 * The base of the `commitment` commands: reads a `bolt3/commitment-request` or a
 * `bolt3/commitment` (whose derived fields are ignored: everything is rebuilt from the
 * channel and the state) and the signatures it carries so far.
 */
import { Flags, type Command } from '@oclif/core';
import { MalformedInputError } from '../errors.ts';
import { OffchainCommand } from './base-command.ts';

/** The per-commitment seed and commitment number (`commitment point` / `reveal`). */
export const seedFlags = {
  'seed-file': Flags.string({ description: 'your per-commitment seed: 32 bytes hex (0600 file)', helpValue: 'FILE', required: true }),
  'commitment-number': Flags.integer({ description: 'the commitment number, counted from 0 (index 2^48 - 1 - N)', helpValue: 'N', min: 0, required: true }),
};

export abstract class CommitmentCommand<T extends typeof Command> extends OffchainCommand<T> {
  protected async readCommitment() {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a bolt3/commitment-request or bolt3/commitment message');
    const { decodeMessage } = await import('../message.ts');
    const { CommitmentRequestSchema, CommitmentSchema } = await import('../bolt3/schemas.ts');
    const value = doc.value as { type?: string };
    const m = value.type === 'bolt3/commitment' ? decodeMessage(CommitmentSchema, value) : decodeMessage(CommitmentRequestSchema, value);
    const network = this.network(m.network);
    const { buildFromJson } = await import('../bolt3/messages.ts');
    const { c, htlcTxs } = buildFromJson(m.channel, m.state);
    type Signatures = { local?: { commitment: string; htlcs: string[] }; remote?: { commitment: string; htlcs: string[] } };
    const signatures: Signatures = 'signatures' in m ? { ...(m.signatures as Signatures) } : {};
    return { m, network, c, htlcTxs, signatures };
  }
}
