import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class DeviceFail extends DeviceCommand<typeof DeviceFail> {
  static override summary = 'The gateway failed the payment: sign the state that gives the HTLC amount back to the device.';
  static override description = `  device  < gateway/fail  → device/fail (state n+2 without the HTLC, the amount back in the change)

Refuses (exit 4, nothing written) a message for another payment or contract. The failed payment's state is remembered:
if the gateway ever broadcasts it, the device refunds its HTLC after the expiry. A repeated gateway/fail gets the same
device/fail.`;
  static override examples = [
    {
      description: 'Pay a toll, the gateway fails it, the device signs the state that gives the amount back',
      command: tollExample(4, 'failed'),
    },
  ];
  static override flags = { ...inputFlags, ...keyFlags, ...stateFlags };

  protected async execute(): Promise<CommandResult> {
    return { message: await this.deviceFail(await this.readMessage('the gateway\'s gateway/fail')) }; // topics/device/command.ts
  }
}
