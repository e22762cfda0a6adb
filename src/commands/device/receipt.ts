import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { humanFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class DeviceReceipt extends DeviceCommand<typeof DeviceReceipt> {
  static override summary = 'The gateway stored the settle or fail state: the channel is idle again, with the gateway\'s nonce for the next payment.';
  static override description = `  device  < gateway/receipt  → credit/balance (the channel's state, cumulative_sat = settled to the gateway, spendable_sat,
                               payments: each one's payment_hash, outcome, amount_sat, fee_sat and, when paid, its preimage)

Refuses (exit 4, nothing written) a receipt for another state or contract, or one whose settled amount is not the one
the device signed (E_RECEIPT_MISMATCH).`;
  static override examples = [
    {
      description: 'A toll paid and settled end to end, the device idle again',
      command: tollExample(6),
    },
  ];
  static override flags = { ...inputFlags, ...keyFlags, ...stateFlags, ...humanFlags };

  protected async execute(): Promise<CommandResult> {
    const message = await this.deviceReceipt(await this.readMessage('the gateway\'s gateway/receipt')); // topics/device/command.ts
    const { balanceText } = await import('../../topics/device/human.ts');
    return { message, human: () => balanceText(message as never) };
  }
}
