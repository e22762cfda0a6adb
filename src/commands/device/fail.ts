import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand } from '../../lib/cli/device-command.ts';
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
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> device pay --invoice fixtures/device/toll.bolt11 --policy fixtures/policies/device.json --terms fixtures/policies/gateway-terms.json --now 1800000000 --tip-height 1000 --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> gateway pay --terms fixtures/policies/gateway-terms.json --now 1800000000 --tip-height 1000 --funding-confirmations 1 --key-env MINT_KEY --state-dir $D/mint > $D/job.json && ' +
        '<%= config.bin %> gateway fail --payment-hash 72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793 --key-env MINT_KEY --state-dir $D/mint ' +
        '| <%= config.bin %> device fail --key-env USER_KEY --state-dir $D/user',
    },
  ];
  static override flags = { ...inputFlags, ...keyFlags, ...stateFlags };

  protected async execute(): Promise<CommandResult> {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { GatewayFailSchema } = await import('../../lib/device/schemas.ts');
    const { network, value } = await this.readMessage('the gateway\'s gateway/fail');
    const m = decodeMessage(GatewayFailSchema, value);
    const { fail } = await import('../../lib/device/device.ts');
    const message = await this.deviceStep(network, m.contract_id, (d, key) => {
      const s = fail(d, key, m);
      return { record: s.record, out: s.message };
    });
    return { message };
  }
}
