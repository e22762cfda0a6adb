import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { tollExample } from '../../topics/device/command.ts';
import { HtlcRefundSteps } from '../../topics/device/htlc-refund.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, hexFlag, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class DeviceRefundHtlc extends HtlcRefundSteps<typeof DeviceRefundHtlc> {
  static override summary = 'The device\'s unilateral path for a payment: take its HTLC back through the refund leaf once the HTLC\'s expiry height is final.';
  static override description = `  device  [--payment-hash HEX]  → device/htlc-refund (the signed refund transaction)

When the gateway has put a state holding the payment's HTLC on chain (its exit) and not claimed it: the device spends
the HTLC output through the refund leaf, built from its own record (it built every state, so it knows the state's txid
and the HTLC's place), for the payment in flight or any failed payment (--payment-hash; default: the one in flight; a hash failed and paid
again sits in several states: name the one on chain with --state-txid).
The transaction has nLockTime = the HTLC's expiry height: Bitcoin Core accepts it once the tip reaches that height.
Refuses (exit 4) before then, saying how many blocks remain, unless --any-time (E_NOT_FINAL). --broadcast sends it to
the node (E_BROADCAST_REJECTED, exit 4, when refused, e.g. the state is not on chain or the gateway claimed first).
Writes nothing. Everything else of the channel comes back by the device's change output, or by refund-credit after
the channel's expiry when no state was broadcast.`;
  static override examples = [
    {
      description: 'A toll in flight, the gateway gone after putting its state on chain: the device takes the HTLC back once the tip reaches its expiry (1144)',
      command: `${tollExample(2)} > /dev/null && <%= config.bin %> device refund-htlc --fee-rate 2 --tip-height 1144 --key-env USER_KEY --state-dir $D/user`,
    },
  ];
  static override flags = {
    'payment-hash': hexFlag(32, { description: 'the payment whose HTLC to refund (default: the one in flight)' }),
    'state-txid': hexFlag(32, { description: 'the state on chain holding the HTLC, when the payment hash was in several states (a failed payment paid again)', helpValue: 'TXID' }),
    'fee-rate': Flags.string({ description: 'fee rate of the refund, sat/vB', required: true, helpValue: 'SAT/VB' }),
    to: Flags.string({ description: 'where the refund pays (default: the contract\'s refund address)', helpValue: 'ADDRESS' }),
    'any-time': Flags.boolean({ description: 'print the refund even before it is final (rejected as non-final until then)' }),
    broadcast: Flags.boolean({ description: 'send it to the node (needs --rpc-url) and print its answer under "broadcast"' }),
    'dry-run': Flags.boolean({ description: 'build and print only (the default without --broadcast)', exclusive: ['broadcast'] }),
    ...keyFlags,
    ...stateFlags,
    ...contractFlag,
    ...feeGuardFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    return { message: await this.htlcRefund() }; // topics/device/htlc-refund.ts
  }
}
