import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, termsFlag, tollExample } from '../../lib/cli/device-command.ts';
import { fundingConfirmationsFlag } from '../../lib/cli/credit-command.ts';
import { chainFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';

export default class GatewayPay extends DeviceCommand<typeof GatewayPay> {
  static override summary = 'The gateway checks and co-signs a device\'s payment state and prints the job for its Lightning node.';
  static override description = `  gateway  < device/pay  → gateway/job (the invoice to pay, the amount, the most the route may cost, the HTLC expiry)

Checks everything the credit mint checks of a state (funding confirmed, not within the safety margin of expiry,
version, lock time, outputs, fee rate) and the HTLC rebuilt from the invoice's hash, the two keys and the expiry;
the amount covers the invoice and the fee of --terms; the expiry leaves the invoice's final CLTV delta, the Lightning
budget and the claim margin; one payment in flight. Refusals exit 4 (a wrong state number 5) and write nothing. The
fully signed state is stored with the contract in the mint's store (its nonce consumed in the same transaction)
before the job is printed. Then pay the job's invoice with the Lightning node, e.g.
  lightning-cli pay \$(jq -r .invoice job.json) maxfee=\$((\$(jq -r .max_fee_msat job.json)/1000))
and feed the result to "gateway settle --preimage-file" or "gateway fail". A repeated device/pay gets the same job.`;
  static override examples = [
    {
      description: 'The demo device pays a toll; the gateway co-signs the state and prints its Lightning job',
      command: tollExample(2),
    },
  ];
  static override flags = {
    ...inputFlags,
    ...termsFlag,
    now: Flags.integer({ description: 'judge the invoice\'s expiry at this time, unix seconds (default: the clock)', helpValue: 'T', min: 0 }),
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const { decodeMessage } = await import('../../lib/message.ts');
    const { DevicePaySchema } = await import('../../lib/device/schemas.ts');
    const terms = await this.gatewayTerms();
    const { network, value } = await this.readMessage('a device/pay');
    const m = decodeMessage(DevicePaySchema, value);
    const now = f.now ?? Math.floor(Date.now() / 1000);
    const { pay } = await import('../../lib/device/gateway.ts');
    return { message: await this.gatewayStep(network, m.contract_id, terms, (ctx, g) => pay(ctx, g, m, now)) };
  }
}
