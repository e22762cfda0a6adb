import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class DeviceSettle extends DeviceCommand<typeof DeviceSettle> {
  static override summary = 'The gateway paid: check its preimage, keep it, sign the state that pays the gateway the HTLC amount.';
  static override description = `  device  < gateway/settle  → device/settle (state n+2 without the HTLC, settled + the HTLC amount)

Refuses (exit 4, nothing written) a preimage whose SHA-256 is not the payment hash (E_WRONG_PREIMAGE), a message for
another payment or contract, a hash already settled on another channel of --state-dir (E_ALREADY_PAID: one preimage
pays for one payment); the preimage is kept as the proof of payment. A repeated gateway/settle gets the same
device/settle.`;
  static override examples = [
    {
      description: 'Pay a toll, the gateway settles it with the preimage its Lightning node returned, the device signs the settled state',
      command: tollExample(4),
    },
  ];
  static override flags = { ...inputFlags, ...keyFlags, ...stateFlags };

  protected async execute(): Promise<CommandResult> {
    return { message: await this.deviceSettle(await this.readMessage('the gateway\'s gateway/settle')) }; // topics/device/command.ts
  }
}
