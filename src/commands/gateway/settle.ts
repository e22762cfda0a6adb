import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class GatewaySettle extends DeviceCommand<typeof GatewaySettle> {
  static override summary = 'The gateway\'s Lightning node paid: hand the device the preimage and the nonce for the state that settles the payment.';
  static override description = `  gateway  --preimage-file FILE  → gateway/settle (the preimage, the gateway's nonce for state n+2)

The preimage comes from the Lightning node's payment (lightning-cli pay: payment_preimage) in a file of mode 0600.
Refuses (exit 4, nothing written) a preimage that does not hash to the payment in flight (E_WRONG_PREIMAGE), a
failed payment, or no payment in flight.`;
  static override examples = [
    {
      description: 'A toll paid on Lightning: the gateway settles it with the preimage',
      command: tollExample(3),
    },
  ];
  static override flags = {
    'preimage-file': Flags.string({ description: 'file (mode 0600) holding the payment preimage (hex), from the Lightning node', helpValue: 'FILE', required: true }),
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const preimage = readHexSecretFile(f['preimage-file'], '--preimage-file', { length: 32 });
    return { message: await this.gatewaySettle(this.network(), f.contract, preimage) }; // topics/device/command.ts
  }
}
