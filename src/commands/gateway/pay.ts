import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, termsFlag, tollExample } from '../device/shared/command.ts';
import { contractFlag, fundingConfirmationsFlag } from '../credit/shared/flags.ts';
import { chainFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { StateConflictError, UsageError } from '../../lib/errors.ts';

export default class GatewayPay extends DeviceCommand<typeof GatewayPay> {
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
    const gateway = await import('../../lib/device/gateway.ts');
    const { ClnRpc } = await import('../../lib/lightning/cln-rpc.ts');
    const node = rpc ? new ClnRpc(rpc) : undefined;
    let network = this.network();
    let contractId = f.contract;
    if (!f.resume) {
      // A node that does not answer is found before the state is stored (E_LIGHTNING_UNREACHABLE, nothing written).
      if (node) await node.call('getinfo', {});
      const { decodeMessage } = await import('../../lib/message.ts');
      const { DevicePaySchema } = await import('../../lib/device/schemas.ts');
      const read = await this.readMessage('a device/pay');
      const m = decodeMessage(DevicePaySchema, read.value);
      network = read.network;
      contractId = m.contract_id;
      const job = await this.gatewayStep(network, m.contract_id, terms, (ctx, g) => gateway.pay(ctx, g, m, now));
      if (!rpc) return { message: job };
    }
    const { payInFlight } = await import('../../lib/device/lightning.ts');
    const inFlight = await this.gatewayInFlight(network, contractId);
    const started = performance.now();
    const outcome = await payInFlight(node!, inFlight, {
      claimMarginBlocks: terms.claim_margin_blocks, retryForSeconds: f['pay-timeout'], now: Math.floor(Date.now() / 1000),
      beforePay: () => this.gatewayMarkAttempted(network, inFlight.contract_id, inFlight.payment_hash),
    });
    if (outcome.status === 'pending') throw new StateConflictError('E_PAYMENT_PENDING', `payment ${inFlight.payment_hash} is not decided yet (${outcome.reason}); its HTLC state stays stored, nothing else is written: run the same command again later, or "gateway pay --lightning-rpc SOCKET --resume"`);
    if (outcome.status === 'failed') this.term.warn(`the Lightning payment failed: ${outcome.reason}`);
    else if (outcome.how === 'paid now') this.term.info(`paid on Lightning in ${Math.round(performance.now() - started)} ms, routing fee ${outcome.fee_msat} msat`);
    return { message: await this.gatewayStep(network, inFlight.contract_id, undefined, (ctx, g) => (outcome.status === 'paid' ? gateway.settle(ctx, g, outcome.preimage) : gateway.fail(ctx, g, inFlight.payment_hash))) };
  }
}
