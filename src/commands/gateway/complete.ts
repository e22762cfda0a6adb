import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { fundingConfirmationsFlag } from '../../topics/credit/flags.ts';
import { chainFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';

export default class GatewayComplete extends DeviceCommand<typeof GatewayComplete> {
  static override summary = 'The gateway co-signs and stores the device\'s settle or fail state and answers with a receipt.';
  static override description = `  gateway  < device/settle | device/fail  → gateway/receipt (the state stored, the nonce for the next payment)

A settle only if the gateway holds the preimage (E_NO_PREIMAGE), a fail only after its own "gateway fail"
(E_PAYMENT_NOT_FAILED); the settled amount exact (E_BAD_PAYOUT) and every credit state rule. Refusals exit 4 and
write nothing. A repeated message gets the stored receipt.`;
  static override examples = [
    {
      description: 'A toll paid and settled: the gateway stores the settled state',
      command: tollExample(5),
    },
  ];
  static override flags = { ...inputFlags, ...keyFlags, ...stateFlags, ...storeFlags, ...chainFlags, ...fundingConfirmationsFlag };

  protected async execute(): Promise<CommandResult> {
    return { message: await this.gatewayComplete(await this.readMessage('the device\'s device/settle or device/fail')) }; // topics/device/command.ts
  }
}
