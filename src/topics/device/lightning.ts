/**
 * `gateway pay`'s steps: the device's payment state co-signed (the job), then the payment in flight paid through Core Lightning
 * (src/lib/device/lightning.ts payInFlight: listpays first, never a hash the node knows; the
 * job marked attempted, committed, before pay), and the outcome taken as `gateway settle` or
 * `gateway fail` would take it — stored before it is printed. Still pending: E_PAYMENT_PENDING
 * (exit 5), nothing more written.
 */
import type { Command } from '@oclif/core';
import { StateConflictError } from '../../lib/errors.ts';
import { refuseInsideStep } from '../../lib/store/sqlite/database.ts';
import type { Network } from '../../lib/network.ts';
import type { ClnRpc } from '../../lib/lightning/cln-rpc.ts';
import type { GatewayTermsFile } from './command.ts';
import { WatchSteps } from '../watch/command.ts';

export abstract class GatewayLightning<T extends typeof Command> extends WatchSteps<T> {
  /**
   * The device/pay (standard input's, or a service's request body) checked and co-signed
   * (gateway.ts pay): the gateway/job, stored. A node that does not answer is found first.
   * With a node, a retried device/pay whose payment was already decided gets the stored
   * gateway/settle or gateway/fail instead (gateway.ts pay, decided): nothing asked, nothing issued.
   */
  protected async coSignDevicePay(node: ClnRpc | undefined, terms: GatewayTermsFile, now: number, read: { network: Network; value: unknown }): Promise<{ message: Record<string, unknown>; network: Network; contractId: string }> {
    const gateway = await import('../../lib/device/gateway.ts');
    // A node that does not answer, or that is on another network, is found before the state
    // is opened (E_LIGHTNING_UNREACHABLE, E_NETWORK_MISMATCH: nothing written).
    if (node) (await import('../../lib/device/lightning.ts')).checkNodeNetwork(await node.call<{ network?: unknown }>('getinfo', {}), read.network);
    const { decodeMessage } = await import('../../lib/message.ts');
    const { DevicePaySchema } = await import('../../lib/device/schemas.ts');
    const m = decodeMessage(DevicePaySchema, read.value);
    const message = await this.gatewayStep(read.network, m.contract_id, terms, (ctx, g) => gateway.pay(ctx, g, m, now, { decided: node !== undefined }));
    return { message, network: read.network, contractId: m.contract_id };
  }

  /**
   * `gateway pay`'s whole step on one device/pay: without a node, the job; with one, the job
   * paid on Lightning (payOnLightning) → gateway/settle or gateway/fail, or the one already given.
   */
  protected async payDevicePay(node: ClnRpc | undefined, terms: GatewayTermsFile, now: number, read: { network: Network; value: unknown }, retryForSeconds: number): Promise<Record<string, unknown>> {
    const job = await this.coSignDevicePay(node, terms, now, read);
    if (!node || job.message.type !== 'gateway/job') return job.message;
    return this.payOnLightning(node, job.network, job.contractId, terms, retryForSeconds);
  }

  /** gateway/settle (paid) or gateway/fail (failed for good) for the payment in flight on `contractId` (or the only open contract). */
  protected async payOnLightning(node: ClnRpc, network: Network, contractId: string | undefined, terms: GatewayTermsFile, retryForSeconds: number): Promise<Record<string, unknown>> {
    const gateway = await import('../../lib/device/gateway.ts');
    const { payInFlight } = await import('../../lib/device/lightning.ts');
    const inFlight = await this.gatewayInFlight(network, contractId);
    // A payment is asked of the node only after the COMMIT that records it (beforePay; store/sqlite/database.ts).
    refuseInsideStep('a Lightning payment');
    const started = performance.now();
    const outcome = await payInFlight(node, inFlight, {
      claimMarginBlocks: terms.claim_margin_blocks, retryForSeconds, now: Math.floor(Date.now() / 1000),
      beforePay: () => this.gatewayMarkAttempted(network, inFlight.contract_id, inFlight.payment_hash),
    });
    if (outcome.status === 'pending') throw new StateConflictError('E_PAYMENT_PENDING', `payment ${inFlight.payment_hash} is not decided yet (${outcome.reason}); its HTLC state stays stored, nothing else is written: run the same command again later, or "gateway pay --lightning-rpc SOCKET --resume"`);
    if (outcome.status === 'failed') this.term.warn(`the Lightning payment failed: ${outcome.reason}`);
    else if (outcome.how === 'paid now') this.term.info(`paid on Lightning in ${Math.round(performance.now() - started)} ms, routing fee ${outcome.fee_msat} msat`);
    return this.gatewayStep(network, inFlight.contract_id, undefined, (ctx, g) => (outcome.status === 'paid' ? gateway.settle(ctx, g, outcome.preimage) : gateway.fail(ctx, g, inFlight.payment_hash)));
  }
}
