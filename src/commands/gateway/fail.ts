import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { hexFlag, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';

export default class GatewayFail extends DeviceCommand<typeof GatewayFail> {
  static override summary = 'The gateway\'s Lightning payment failed (or it gives up): the nonce for the state that gives the device its amount back.';
  static override description = `  gateway  --payment-hash HEX  → gateway/fail (the gateway's nonce for state n+2)

Refuses (exit 4, nothing written) another payment than the one in flight (E_WRONG_PAYMENT), or one it holds the
preimage of (E_PAYMENT_SETTLED: settle it instead).`;
  static override examples = [
    {
      description: 'A toll the Lightning node could not pay: the gateway fails it',
      command: tollExample(3, 'failed'),
    },
  ];
  static override flags = {
    'payment-hash': hexFlag(32, { description: 'the payment in flight to fail (the job\'s payment_hash)', required: true }),
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    return { message: await this.gatewayFail(this.network(), f.contract, f['payment-hash']!) }; // topics/device/command.ts
  }
}
