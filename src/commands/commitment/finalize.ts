import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand } from '../../lib/cli/commitment-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { RefusedError } from '../../lib/errors.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class CommitmentFinalize extends CommitmentCommand<typeof CommitmentFinalize> {
  static override summary = 'Finish a BOLT 3 commitment both parties signed: the broadcastable commitment and its HTLC transactions.';
  static override description =
    'Checks both funding signatures and every HTLC signature against the rebuilt transactions (a bad one is refused naming whose, exit 4), then ' +
    'prints the signed commitment (hex) and the HTLC-timeout transactions; HTLC-success transactions too for each --preimage-file whose SHA256 ' +
    'is their payment hash.';
  static override examples = [
    { description: 'Finish the fixture commitment both parties signed', command: '<%= config.bin %> commitment finalize --in fixtures/bolt3/appendix-c-signed.json' },
  ];
  static override flags = {
    ...inputFlags,
    'preimage-file': Flags.string({ description: 'a payment preimage (hex) for an HTLC-success transaction; repeat for several', helpValue: 'FILE', multiple: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { m, network, c, htlcTxs, signatures } = await this.readCommitment();
    const lib = await import('../../lib/bolt3/index.ts');
    const { fromHex } = await import('../../lib/bytes.ts');
    const { sha256 } = await import('@noble/hashes/sha2.js');
    const { checkPartySignatures, commitmentMessage } = await import('../../lib/bolt3/messages.ts');
    const { local, remote } = signatures;
    if (!local || !remote) throw new RefusedError('E_NOT_SIGNED', `the ${local ? 'remote' : 'local'} party has not signed yet (commitment sign --as ${local ? 'remote' : 'local'})`);
    // Every HTLC signature is checked, also those of HTLC-success transactions left unfinished
    // here; the funding signatures are finalizeCommitment's to check.
    checkPartySignatures(c, htlcTxs, local, 'local', { commitment: false });
    checkPartySignatures(c, htlcTxs, remote, 'remote', { commitment: false });
    const signed = lib.finalizeCommitment(c, fromHex(local.commitment, 'local signature'), fromHex(remote.commitment, 'remote signature'));
    const preimages = (this.flags['preimage-file'] ?? []).map((f) => readHexSecretFile(f, '--preimage-file', { length: 32 }));
    const htlcs = htlcTxs.flatMap((h, i) => {
      const preimage = h.kind === 'htlc-success' ? preimages.find((p) => sha256(p).every((b, j) => b === h.htlc.paymentHash[j])) : undefined;
      if (h.kind === 'htlc-success' && !preimage) return [];
      const tx = lib.finalizeHtlcTransaction(h, fromHex(local.htlcs[i]!, `local HTLC signature ${i}`), fromHex(remote.htlcs[i]!, `remote HTLC signature ${i}`), preimage);
      return [{ txid: tx.txid, hex: tx.hex }];
    });
    return { message: { ...commitmentMessage(network, m.channel, m.state, c, htlcTxs, signatures), hex: signed.hex, signed_htlc_txs: htlcs } };
  }
}
