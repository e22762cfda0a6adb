import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { termsFlag, tollExample } from '../../topics/device/command.ts';
import { GatewayLightning } from '../../topics/device/lightning.ts';
import { contractFlag, fundingConfirmationsFlag } from '../../topics/credit/flags.ts';
import { chainFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { UsageError } from '../../lib/errors.ts';

export default class GatewayPay extends GatewayLightning<typeof GatewayPay> {
  static override summary = 'The gateway checks and co-signs a device\'s payment state and pays it through its Lightning node (or prints the job for it).';
  static override description = `  gateway  < device/pay  → gateway/job (the invoice to pay, the amount, the most the route may cost, the HTLC expiry)
  gateway  < device/pay  --lightning-rpc SOCKET  → gateway/settle (paid: the preimage) | gateway/fail (failed)

Checks everything the credit mint checks of a state (funding confirmed, not within the safety margin of expiry,
version, lock time, outputs, fee rate) and the HTLC rebuilt from the invoice's hash, the two keys and the expiry;
the amount covers the invoice and the fee of --terms; the expiry leaves the invoice's final CLTV delta, the Lightning
budget and the claim margin; one payment in flight. Refusals exit 4 (a wrong state number 5) and write nothing. The
fully signed state is stored with the contract in the mint's store (its nonce consumed in the same transaction)
before anything is printed or paid. A repeated device/pay gets the same job.

Without --lightning-rpc it prints the job: pay its invoice with the Lightning node and feed the result to
"gateway settle --preimage-file" or "gateway fail".

With --lightning-rpc (Core Lightning's lightning-rpc socket; or $OFFCHAIN_LIGHTNING_RPC, config lightning_rpc=) it
then pays the invoice itself: it first asks the node about the payment hash (listpays) and never pays a hash the node
knows; pay's maxfee is the job's max_fee_msat (the gateway's own fee: it never pays more routing fee than the device
pays it), maxdelay leaves the claim margin before the device's HTLC expires, retry_for is --pay-timeout. Paid: it
prints gateway/settle with the node's preimage (as "gateway settle"); failed for good: gateway/fail (as "gateway
fail"); still pending (an HTLC out, no answer in time): E_PAYMENT_PENDING, exit 5, nothing written — run the same
command again, or "gateway pay --lightning-rpc SOCKET --resume" (no input), until it decides. Each is stored before
it is printed.`;
  static override examples = [
    {
      description: 'The demo device pays a toll; the gateway co-signs the state and prints its Lightning job',
      command: tollExample(2),
    },
    {
      description: 'With Core Lightning: pay, settle in one pipe (needs a node with a route to the payee; see docs/device-gateway.md)',
      command: '<%= config.bin %> device pay --invoice toll.bolt11 --policy device.json --terms terms.json $DEV | <%= config.bin %> gateway pay --terms terms.json --lightning-rpc ~/.lightning/bitcoin/lightning-rpc $GW | <%= config.bin %> device settle $DEV',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...termsFlag,
    now: Flags.integer({ description: 'judge the invoice\'s expiry at this time, unix seconds (default: the clock)', helpValue: 'T', min: 0 }),
    'lightning-rpc': Flags.string({
      description: 'pay through this Core Lightning node: the path of its lightning-rpc socket (or $OFFCHAIN_LIGHTNING_RPC, config lightning_rpc=)',
      helpValue: 'SOCKET',
      env: 'OFFCHAIN_LIGHTNING_RPC',
      helpGroup: 'LIGHTNING',
    }),
    'pay-timeout': Flags.integer({ description: 'seconds the node may try routes (pay\'s retry_for); then, with an HTLC still out, E_PAYMENT_PENDING', helpValue: 'S', min: 1, default: 60, helpGroup: 'LIGHTNING' }),
    resume: Flags.boolean({ description: 'no input: ask the node about the payment already in flight (after E_PAYMENT_PENDING) and settle or fail it', helpGroup: 'LIGHTNING' }),
    ...contractFlag,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const rpc = f['lightning-rpc'];
    if (f.resume && !rpc) throw new UsageError('E_USAGE', '--resume asks the Lightning node: give --lightning-rpc SOCKET');
    const terms = await this.gatewayTerms();
    const now = f.now ?? Math.floor(Date.now() / 1000);
    const { ClnRpc } = await import('../../lib/lightning/cln-rpc.ts');
    const node = rpc ? new ClnRpc(rpc) : undefined;
    if (f.resume) return { message: await this.payOnLightning(node!, this.network(), f.contract, terms, f['pay-timeout']) };
    return { message: await this.payDevicePay(node, terms, now, await this.readMessage('a device/pay'), f['pay-timeout']) }; // topics/device/lightning.ts
  }
}
