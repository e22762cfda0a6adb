/**
 * The base of the `ptlc` commands after the pre-signature: reads a finished
 * `ptlc/presign` (its PTLC re-derived and checked, its claim PSBT parsed), and — for the
 * payer — checks the PTLC it carries against the payer's own copy (--ptlc).
 */
import type { Command } from '@oclif/core';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import { HtlcCommand } from '../htlc/command.ts';

export abstract class PtlcCommand<T extends typeof Command> extends HtlcCommand<T> {
  protected async readPresigned(opts: { ownCopy: boolean }) {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a finished ptlc/presign message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { PtlcPresignSchema } = await import('../../lib/ptlc/schemas.ts');
    const { ptlcFromMessage, sameTerms } = await import('../../lib/ptlc/messages.ts');
    const { parsePsbt } = await import('../../lib/psbt/parse.ts');
    const { psbtBytesFromBase64 } = await import('../../lib/psbt/base64-field.ts');
    const m = decodeMessage(PtlcPresignSchema, doc.value);
    if (m.pre_signature === undefined || m.nonce_parity === undefined) {
      throw new MalformedInputError('E_NOT_PRESIGNED', 'this ptlc/presign has no pre-signature yet: finish ptlc presign first');
    }
    const network = this.network(m.network);
    const carried = ptlcFromMessage(m.ptlc);
    if (opts.ownCopy) {
      const file = (this.flags as { ptlc?: string }).ptlc;
      if (file === undefined) throw new UsageError('E_USAGE', 'pass --ptlc FILE, your own ptlc/created: the PTLC this message carries must be the one you agreed to');
      sameTerms(ptlcFromMessage(await this.readFileDocument(file)).message, carried.message, file);
    }
    const tx = parsePsbt(psbtBytesFromBase64(m.psbt, 'psbt'));
    if (tx.id !== m.claim_txid) throw new MalformedInputError('E_MALFORMED_MESSAGE', 'ptlc/presign: claim_txid is not the PSBT\'s transaction');
    return { ptlc: carried.ptlc, tx, m, network, preSignature: m.pre_signature, parity: m.nonce_parity };
  }
}
