import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, MAX_SAT } from '../../topics/htlc/command.ts';
import { chainFlags, flagValue } from '../../lib/cli/flags.ts';
import { RefusedError, UsageError } from '../../lib/errors.ts';

export default class PtlcCreate extends HtlcCommand<typeof PtlcCreate> {
  static override summary = 'Create a point-locked taproot output: the payee claims with an adaptor signature that reveals t, the payer refunds after a timeout.';
  static override description =
    'Key path: MuSig2 of payer and payee, spent by the claim whose pre-signature only t (T = t·G) completes. Script path: one leaf, ' +
    'and_v(v:pk(payer),after(L)), the payer\'s refund once L is final. Give the lock point with --point, or let the payee draw t with ' +
    '--secret-out FILE (written 0600, never printed). Prints ptlc/created; keep it: every later step checks the PTLC it is given against it.';
  static override examples = [
    {
      description: 'Bob (payee) draws t and creates a PTLC from Alice, refundable at height 1100',
      command: 'D=$(mktemp -d); <%= config.bin %> ptlc create --payer $(cat fixtures/keys/alice.pub) --payee $(cat fixtures/keys/bob.pub) --locktime 1100 --secret-out $D/ptlc.secret --amount 50000',
    },
  ];
  static override flags = {
    payer: Flags.string({ description: 'payer\'s public key', helpValue: 'PUBKEY', required: true }),
    payee: Flags.string({ description: 'payee\'s public key', helpValue: 'PUBKEY', required: true }),
    point: Flags.string({ description: 'the lock point T (33-byte compressed)', helpValue: 'HEX', exclusive: ['secret-out'] }),
    'secret-out': Flags.string({ description: 'draw a fresh secret t and write it (hex) to this new 0600 file; T = t·G', helpValue: 'FILE' }),
    locktime: Flags.string({ description: 'the refund\'s timeout: an absolute height or time, or +N blocks after the tip', helpValue: 'N|+N', required: true }),
    amount: Flags.integer({ description: 'the amount to fund, in sat (refused below dust)', helpValue: 'SAT', min: 0, max: MAX_SAT }),
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const f = this.flags;
    if (f.point === undefined && f['secret-out'] === undefined) throw new UsageError('E_USAGE', 'give --point HEX, or --secret-out FILE to draw a fresh secret');
    const { parsePublicKey } = await import('../../lib/keys/keys.ts');
    const { ptlcOutput } = await import('../../lib/ptlc/ptlc.ts');
    const { createdMessage } = await import('../../lib/ptlc/messages.ts');
    const { dustThreshold } = await import('../../lib/tx/policy.ts');
    const locktime = await this.absoluteLocktime(network, f.locktime);
    let secret: Uint8Array | undefined;
    let point: Uint8Array;
    if (f['secret-out'] !== undefined) {
      const { secp256k1 } = await import('@noble/curves/secp256k1.js');
      secret = secp256k1.utils.randomSecretKey(this.random.bytes(48, 'ptlc/secret'));
      point = secp256k1.getPublicKey(secret, true);
    } else {
      point = flagValue(() => parsePublicKey(f.point!, '--point'));
    }
    const payer = flagValue(() => parsePublicKey(f.payer, '--payer'));
    const payee = flagValue(() => parsePublicKey(f.payee, '--payee'));
    if (payer.subarray(1).every((b, i) => b === payee[i + 1])) throw new UsageError('E_USAGE', 'payer and payee are the same key');
    const ptlc = ptlcOutput({ payer, payee, point, locktime });
    const amount = f.amount === undefined ? undefined : BigInt(f.amount);
    if (amount !== undefined && amount < dustThreshold(ptlc.scriptPubKey)) {
      throw new RefusedError('E_DUST_AMOUNT', `${amount} sat is below the ${dustThreshold(ptlc.scriptPubKey)} sat dust limit of a P2TR output`);
    }
    const message = createdMessage(ptlc, network, amount);
    if (secret) {
      // Last, once everything else is valid: nothing is written for a refused create.
      const { writeNewFile } = await import('../../lib/store/exclusive.ts');
      const { toHex } = await import('../../lib/bytes.ts');
      writeNewFile(f['secret-out']!, toHex(secret) + '\n', 0o600);
      secret.fill(0);
    }
    return { message };
  }
}
