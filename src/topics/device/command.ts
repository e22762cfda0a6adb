/**
 * The base of the `device …` and `gateway …` commands (docs/device-gateway.md): thin
 * shells over src/lib/device/. The channel is a credit contract, so its state lives in
 * the credit stores: the device's record is a field (`device`) of the user's contract
 * record, written under the user's state lock; the gateway's record is a field
 * (`gateway`) of the mint's contract record, written in the same `withMint` SQLite
 * transaction that consumes the gateway's secret nonce, committed before the message is
 * printed. A step that refuses throws before anything is written.
 *
 * Every step refuses (E_CONTRACT_FROZEN) once the contract is no longer open: on the
 * device's side closed, closing or rolled over; on the gateway's, also once the mint
 * exits with its latest state (exit-credit) — a state co-signed after that could never
 * be mined, and the gateway would have paid its invoice on Lightning for nothing.
 *
 * The credit fields stay in step with the channel, so the credit commands that still
 * apply (close-credit, exit-credit, refund-credit) see the channel's state: the mint's
 * `next_state` and `latest` (settled = cumulative); the device's `confirmed` and
 * `mint_nonce` once it is idle again.
 */
import { Flags, type Command } from '@oclif/core';
import { malformedJson, readFlagFile } from '../../lib/cli/input.ts';
import { ExitCode, OffchainError, RefusedError, StateConflictError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { KeyPair } from '../../lib/keys/keys.ts';
import type { DeviceChannel, GatewayChannel, MintContractRecord, ReceiptJson, UserContractRecord } from '../../lib/credit/ports.ts';
import type { GatewayContext } from '../../lib/device/gateway.ts';
import type { DevicePolicy, GatewayTerms } from '../../lib/device/policy.ts';
import { ExitSteps } from '../credit/exit.ts';

export const termsFlag = {
  terms: Flags.string({
    description: 'the gateway\'s terms (JSON: fee_base_msat, fee_ppm, cltv_budget_blocks, claim_margin_blocks, optional min_htlc_sat), e.g. fixtures/policies/gateway-terms.json',
    helpValue: 'FILE',
    required: true,
  }),
};

export type GatewayTermsFile = GatewayTerms & { claim_margin_blocks: number; min_htlc_sat?: number };

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** A JSON file a flag names: E_INPUT_FILE naming the flag when it cannot be read, E_MALFORMED_JSON (line and column) when it does not parse, as every file flag. */
function jsonFlagFile(flag: string, path: string): unknown {
  const text = new TextDecoder().decode(readFlagFile(flag, path));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw malformedJson(`${flag} ${path}`, text, e as Error);
  }
}

export abstract class DeviceCommand<T extends typeof Command> extends ExitSteps<T> {
  /** --terms FILE, checked field by field (exit 2 on a bad file). */
  protected async gatewayTerms(): Promise<GatewayTermsFile> {
    const path = (this.flags as { terms?: string }).terms;
    if (!path) throw new UsageError('E_USAGE', 'pass the gateway\'s terms with --terms FILE');
    let t: Record<string, unknown>;
    t = jsonFlagFile('--terms', path) as Record<string, unknown>;
    const keys = ['fee_base_msat', 'fee_ppm', 'cltv_budget_blocks', 'claim_margin_blocks'] as const;
    for (const k of keys) {
      const v = t[k];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (k === 'fee_ppm' && v > 1_000_000)) throw new UsageError('E_USAGE', `--terms ${path}: ${k} must be a non-negative integer`);
    }
    // Optional: the smallest HTLC the gateway takes (its claim on chain must stay worth its fee).
    const min = t['min_htlc_sat'];
    if (min !== undefined && (typeof min !== 'number' || !Number.isSafeInteger(min) || min < 0)) throw new UsageError('E_USAGE', `--terms ${path}: min_htlc_sat must be a non-negative integer`);
    const extra = Object.keys(t).filter((k) => !(keys as readonly string[]).includes(k) && k !== 'min_htlc_sat');
    if (extra.length) throw new UsageError('E_USAGE', `--terms ${path}: unknown field ${extra[0]}`);
    return t as unknown as GatewayTermsFile;
  }

  /** --policy FILE: the device's spending policy (fixtures/policies/device.json), checked against its schema (exit 2). */
  protected async devicePolicy(): Promise<DevicePolicy> {
    const path = (this.flags as { policy?: string }).policy;
    if (!path) throw new UsageError('E_USAGE', 'pass the device\'s spending policy with --policy FILE');
    const { Value } = await import('@sinclair/typebox/value');
    const { DevicePolicySchema } = await import('../../lib/device/policy.ts');
    let p: unknown;
    p = jsonFlagFile('--policy', path);
    const bad = [...Value.Errors(DevicePolicySchema, p)][0];
    if (bad) throw new UsageError('E_USAGE', `--policy ${path}: ${bad.path || '/'} ${bad.message}`);
    return p as DevicePolicy;
  }

  /**
   * One device step on contract `id` (or the only open one), under the user's state lock:
   * the device's record (made from the credit record on first use), the step, then the
   * record written (durably) before the step's message is returned for printing.
   */
  protected async deviceStep<R>(network: Network, id: string | undefined, step: (d: DeviceChannel, key: KeyPair, others: DeviceChannel[]) => { record: DeviceChannel; out: R }): Promise<R> {
    const { ctx, book } = await this.userSession(network);
    const contractId = id ?? (await this.pickContract(book, ['open']));
    return book.exclusive(async () => {
      const rec = await book.get(contractId);
      if (!rec) refuse('E_UNKNOWN_CONTRACT', `no contract ${contractId} in this state directory: the message is for another contract`);
      // Every step, not only the first: a closed (or closing, rolled-over) contract signs nothing more.
      checkDeviceOpen(rec);
      // The device's other channels (a rollover's previous contract, a second channel): its
      // single-use and daily rules are the device's, not one channel's (device.ts pay).
      const others = (await book.list()).filter((o) => o.contract_id !== contractId && o.device).map((o) => o.device!);
      const { record: d, out } = step(rec.device ?? deviceChannelOf(rec), ctx.user, others);
      const idle = !d.in_flight && !d.pending;
      const next: UserContractRecord = { ...rec, device: d, ...(idle ? { confirmed: { state: d.state, cumulative_sat: d.settled_sat }, mint_nonce: d.gateway_nonce } : {}) };
      await book.put(next);
      return out;
    });
  }

  /** `device settle`'s step: gateway/settle → device/settle (the preimage checked and kept, the settled state signed). */
  protected async deviceSettle(read: { network: Network; value: unknown }): Promise<Record<string, unknown>> {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { GatewaySettleSchema } = await import('../../lib/device/schemas.ts');
    const m = decodeMessage(GatewaySettleSchema, read.value);
    const { settle } = await import('../../lib/device/device.ts');
    return this.deviceStep(read.network, m.contract_id, (d, key, others) => {
      const s = settle(d, key, m, others);
      return { record: s.record, out: s.message };
    });
  }

  /** `device fail`'s step: gateway/fail → device/fail (the amount back in the change). */
  protected async deviceFail(read: { network: Network; value: unknown }): Promise<Record<string, unknown>> {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { GatewayFailSchema } = await import('../../lib/device/schemas.ts');
    const m = decodeMessage(GatewayFailSchema, read.value);
    const { fail } = await import('../../lib/device/device.ts');
    return this.deviceStep(read.network, m.contract_id, (d, key) => {
      const s = fail(d, key, m);
      return { record: s.record, out: s.message };
    });
  }

  /** `device receipt`'s step: gateway/receipt applied, the channel idle again → credit/balance. */
  protected async deviceReceipt(read: { network: Network; value: unknown }): Promise<Record<string, unknown>> {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { GatewayReceiptSchema } = await import('../../lib/device/schemas.ts');
    const m = decodeMessage(GatewayReceiptSchema, read.value);
    const { receipt } = await import('../../lib/device/device.ts');
    await this.deviceStep(read.network, m.contract_id, (d) => ({ record: receipt(d, m), out: undefined }));
    return this.deviceBalance(read.network, m.contract_id);
  }

  /**
   * `device pay --peer`: the rest of the toll against a gateway service, each answer applied
   * by the step the pipe would run (device settle|fail, device receipt), each written before
   * the next message leaves. `sent` is the device/pay, or the device/settle|fail a crashed run
   * left pending. Prints what `device receipt` prints; a payment the gateway failed is the
   * command's error once its receipt is applied (E_PAYMENT_FAILED, exit 4: nothing paid).
   * Each request is retried for --peer-timeout; after it the error names `device pay --resend`.
   */
  protected async tollThrough(base: URL, sent: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { callPeer, peerRetry } = await import('../../lib/cli/peer.ts');
    const { stringifyMessage } = await import('../../lib/json.ts');
    const contract = String(sent.contract_id);
    const call = {
      contract,
      onRetry: (why: string, ms: number) => this.term.info(`the gateway: ${why}; again in ${Math.round(ms / 100) / 10} s`),
      ...peerRetry((this.flags as { 'peer-timeout'?: number })['peer-timeout']),
      resend: `the payment stays in flight: send it again with "offchain device pay --resend --contract ${contract} --peer ${base.href.replace(/\/$/, '')}" (the same message; the gateway answers it once, and never pays an invoice twice)`,
    };
    let done = sent;
    if (sent.type === 'device/pay') {
      const answer = (await callPeer(base, '/v1/gateway/pay', { ...call, body: stringifyMessage(sent), timeoutMs: 120_000 })).value as Record<string, unknown>;
      if (answer?.type === 'gateway/job') throw new OffchainError('E_PEER_ANSWER', `${base.origin} answered a gateway/job: that gateway pays no invoice itself (serve gateway without --lightning-rpc); its settle or fail goes to "device settle|fail" by hand`, ExitCode.general);
      const read = await this.messageOf(answer);
      done = read.type === 'gateway/fail' ? await this.deviceFail(read) : await this.deviceSettle(read);
    }
    const receipt = (await callPeer(base, '/v1/gateway/complete', { ...call, body: stringifyMessage(done) })).value;
    const balance = await this.deviceReceipt(await this.messageOf(receipt));
    if (done.type === 'device/fail') {
      // Stored as any receipt (the channel idle again, the HTLC's amount back in the change); a script must not take it for a payment.
      throw new RefusedError('E_PAYMENT_FAILED', `the gateway could not pay invoice ${String(done.payment_hash)} on Lightning: nothing was paid, the HTLC's amount is back in the channel (state ${String(balance.state)}, settled ${String(balance.cumulative_sat)} sat; its receipt stored). Pay it again later, or ask the payee for a new invoice`);
    }
    return balance;
  }

  /**
   * `device pay --resend`: the channel's payment in flight as last recorded — the device/settle
   * or device/fail signed since, else the device/pay — resent unchanged (nothing newly signed).
   * Nothing in flight: E_NOTHING_PENDING.
   */
  protected async inFlightMessage(network: Network, id: string | undefined): Promise<Record<string, unknown>> {
    const { book } = await this.userView(network);
    const contractId = id ?? (await this.pickContract(book, ['open']));
    const d = (await book.get(contractId))?.device;
    const { inFlightRequest } = await import('../../lib/device/device.ts');
    const message = d ? inFlightRequest(d) : undefined;
    if (!message) throw new StateConflictError('E_NOTHING_PENDING', `no payment is in flight on contract ${contractId}: nothing to resend`);
    return message;
  }

  /** The device/settle or device/fail a crashed `device pay --peer` left unacknowledged for this invoice, if any. */
  protected async pendingFor(network: Network, id: string | undefined, invoice: string): Promise<Record<string, unknown> | undefined> {
    const { book } = await this.userView(network);
    const contractId = id ?? (await this.pickContract(book, ['open']));
    const p = (await book.get(contractId))?.device?.pending;
    if (!p) return undefined;
    const { decodeBolt11 } = await import('../../lib/invoice/bolt11.ts');
    const hash = Buffer.from(decodeBolt11(invoice).paymentHash).toString('hex');
    return p.payment_hash === hash ? p.request : undefined;
  }

  /** The device's channel as the credit contract's balance (credit/balance: state, settled = cumulative, spendable). */
  protected async deviceBalance(network: Network, id: string): Promise<Record<string, unknown>> {
    const { ctx, book } = await this.userView(network);
    const rec = await book.get(id);
    if (!rec) refuse('E_UNKNOWN_CONTRACT', `no contract ${id} in this state directory`);
    const { balanceMessage } = await import('../../lib/credit/user.ts');
    const { termsFromJson } = await import('../../lib/credit/codec.ts');
    const { devicePayments } = await import('../../lib/credit/channel-payments.ts');
    return { ...balanceMessage(ctx as Parameters<typeof balanceMessage>[0], termsFromJson(rec.contract, network), rec), ...(rec.device ? { payments: devicePayments(rec.device) } : {}) };
  }

  /** The gateway's payment in flight on contract `id` (or the only open one), read from its last commit; nothing written. */
  protected async gatewayInFlight(network: Network, id: string | undefined): Promise<NonNullable<GatewayChannel['in_flight']> & { contract_id: string }> {
    return this.withMintView(network, async (store) => {
      const contractId = id ?? (await this.pickContract({ list: () => store.list(), dir: 'the mint\'s state directory' }, ['open']));
      const rec = await store.get(contractId);
      if (!rec) refuse('E_UNKNOWN_CONTRACT', `this gateway has no contract ${contractId}`);
      const f = rec.gateway?.in_flight;
      if (!f) refuse('E_NO_PAYMENT_IN_FLIGHT', `no payment is in flight on contract ${contractId}`);
      // Never pay on Lightning for a contract that is exiting or settling: its settle would be
      // refused and the preimage lost with it. A payment the node already made is found by hand
      // (lightning-cli listpays) and claimed with gateway claim --preimage-file.
      if (rec.status !== 'open' || rec.exiting || rec.settlement) {
        refuse('E_CONTRACT_FROZEN', `contract ${contractId} is frozen (${rec.exiting ? `exiting with state ${rec.exiting.state}` : rec.settlement ? rec.settlement.kind : rec.status}): nothing is paid on Lightning for it; if the node already paid ${f.payment_hash}, take the preimage from "lightning-cli listpays -k payment_hash=${f.payment_hash}" and claim with gateway claim --preimage-file`);
      }
      return { ...f, contract_id: contractId };
    });
  }

  /**
   * Marks the payment in flight as attempted on Lightning, committed before the node is asked
   * to pay (lightning.ts: a completed payment settles only a job this gateway attempted).
   * It takes, issues and burns no nonce: on PostgreSQL it opens no host epoch (`nonces: 'none'`).
   */
  protected async gatewayMarkAttempted(network: Network, contractId: string, paymentHash: string): Promise<void> {
    await this.withMint(network, async (_ctx, store) => {
      const rec = await store.get(contractId);
      const f = rec?.gateway?.in_flight;
      if (!rec || !f || f.payment_hash !== paymentHash) refuse('E_NO_PAYMENT_IN_FLIGHT', `payment ${paymentHash} is no longer in flight on contract ${contractId}`);
      if (rec.status !== 'open' || rec.exiting || rec.settlement) refuse('E_CONTRACT_FROZEN', `contract ${contractId} froze before its payment was sent: nothing is paid on Lightning for it`);
      if (f.attempted) return;
      await store.put({ ...rec, gateway: { ...rec.gateway!, in_flight: { ...f, attempted: true } } });
    }, { nonces: 'none' });
  }

  /**
   * A message value (standard input's, or a service's request body) with its envelope checked
   * and this invocation's network resolved from it, as readMessage does for standard input.
   */
  protected async messageOf(value: unknown): Promise<{ type: string; network: Network; value: unknown }> {
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const env = readEnvelope(value);
    return { type: env.type, network: this.network(env.network), value };
  }

  /** `gateway complete`'s step: device/settle or device/fail → gateway/receipt (stored; a repeat gets the stored receipt). */
  protected async gatewayComplete(read: { type: string; network: Network; value: unknown }): Promise<Record<string, unknown>> {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { DeviceSettleSchema, DeviceFailSchema } = await import('../../lib/device/schemas.ts');
    const m = decodeMessage(read.type === 'device/settle' ? DeviceSettleSchema : DeviceFailSchema, read.value);
    const { completeStep } = await import('../../lib/device/gateway.ts');
    return this.gatewayStep(read.network, m.contract_id, undefined, (ctx, g) => completeStep(ctx, g, m));
  }

  /** `gateway settle`'s step: the preimage of the payment in flight → gateway/settle. */
  protected async gatewaySettle(network: Network, contractId: string | undefined, preimage: Uint8Array): Promise<Record<string, unknown>> {
    const { settle } = await import('../../lib/device/gateway.ts');
    return this.gatewayStep(network, contractId, undefined, (ctx, g) => settle(ctx, g, preimage));
  }

  /** `gateway fail`'s step: the payment in flight given up → gateway/fail. */
  protected async gatewayFail(network: Network, contractId: string | undefined, paymentHash: string): Promise<Record<string, unknown>> {
    const hash = paymentHash.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new UsageError('E_USAGE', '--payment-hash must be 64 hex digits');
    const { fail } = await import('../../lib/device/gateway.ts');
    return this.gatewayStep(network, contractId, undefined, (ctx, g) => fail(ctx, g, hash));
  }

  /**
   * `gateway claim`'s step: the gateway's exit with its latest state and one child claiming the
   * HTLC (lib/device/replace.ts gatewayClaimPackage), frozen as by exit-credit (unless dry run;
   * with broadcast only once the node accepted). `contract`: a service's request names it (the
   * one-shot takes --contract or the only contract).
   */
  protected async gatewayClaim(network: Network, o: { feeRate: string; to?: string; preimage?: Uint8Array; broadcast?: boolean; dryRun?: boolean; contract?: string; /** false: the exit package whatever the node holds (a watcher's sizing build, with dryRun). */ lookup?: false }): Promise<Record<string, unknown>> {
    const { gatewayClaimPackage } = await import('../../lib/device/replace.ts');
    const { submitExit } = await import('../../lib/credit/exit.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const to = o.to ? decodeAddress(o.to, network, '--to') : undefined;
    const feeRate = await this.guardedRate(o.feeRate);
    const feeLimits = await this.feeLimits();
    // As exit-credit (mintExit): the freeze is committed before the package goes out, and taken back only on proof the node did not take it.
    // The claim alone (the state mined, or a spender of the HTLC in the mempool to replace) is sent by itself.
    return this.mintExit(network, 'the gateway', async (ctx, record) => {
      const { message, alone } = await gatewayClaimPackage(ctx.chain, record, ctx.mint, { network, feeRate, feeLimits, ...(to ? { to } : {}), ...(o.preimage ? { preimage: o.preimage } : {}), auxRand: ctx.random.bytes(32, 'gateway/claim/aux'), ...(o.lookup === false ? { lookup: false as const } : {}) });
      if (!o.broadcast) return { message };
      if (alone) return { message, send: async () => ({ txid: await this.broadcastTx(ctx.chain, alone(), 'the claim') }) };
      return { message, send: () => submitExit(ctx.chain, message) };
    }, { broadcast: o.broadcast === true, 'dry-run': o.dryRun === true, ...(o.contract ? { contract: o.contract } : {}) });
  }

  /**
   * sendrawtransaction: the txid, or E_BROADCAST_REJECTED (exit 4) naming the node's reason
   * when the node refuses it, and `unchanged` (nothing is to be written then; a gateway claim's
   * freeze is mintExit's to say).
   */
  protected async broadcastTx(chain: { broadcast(raw: Uint8Array): Promise<string> }, raw: Uint8Array, what: string, unchanged?: string): Promise<string> {
    const { RpcError } = await import('../../lib/chain/rpc-client.ts');
    try {
      return await chain.broadcast(raw);
    } catch (e) {
      if (e instanceof RpcError) throw new RefusedError('E_BROADCAST_REJECTED', `the node did not accept ${what}: ${e.rpcMessage}${unchanged ? `; ${unchanged} is unchanged` : ''}`);
      throw e;
    }
  }

  /**
   * One gateway step as one transaction of the mint's store: the gateway's record (made
   * from the mint's credit record on first use) and every nonce the step took or issued
   * are committed together before the message is returned for printing.
   */
  protected async gatewayStep(
    network: Network,
    id: string | undefined,
    terms: GatewayTermsFile | undefined,
    step: (ctx: GatewayContext, g: GatewayChannel) => Promise<{ record: GatewayChannel; message: Record<string, unknown> }>,
  ): Promise<Record<string, unknown>> {
    return this.withMint(network, async (mctx, store) => {
      const contractId = id ?? (await this.pickContract({ list: () => store.list(), dir: 'the mint\'s state directory' }, ['open']));
      const rec = await store.get(contractId);
      if (!rec) refuse('E_UNKNOWN_CONTRACT', `this gateway has no contract ${contractId}`);
      const g = rec.gateway ?? gatewayChannelOf(rec);
      // Every step, not only the first: once the mint exits (exit-credit), closes or rolls the
      // contract over, the gateway co-signs no later state — a payment state then could never
      // be mined, yet its job would have the invoice paid on Lightning. The step refuses it
      // (gateway.ts checkOpen), a device's request only once it is the device's (issue 72:
      // the freeze's words name the state the mint exits with).
      const frozen = frozenBecause(rec);
      const ctx: GatewayContext = {
        gateway: mctx.mint, nonces: mctx.nonces, random: mctx.random, chain: mctx.chain,
        policy: { safety_margin_blocks: mctx.policy.safety_margin_blocks, min_confirmations: mctx.policy.min_confirmations },
        terms: { fee_base_msat: 0, fee_ppm: 0, cltv_budget_blocks: 0, claim_margin_blocks: 0, ...terms, min_fee_rate: mctx.policy.min_fee_rate },
        ...(frozen !== undefined ? { frozen } : {}),
      };
      const { record, message } = await step(ctx, g);
      // A replay (the step answered from the record, e.g. a repeated device/pay's job): nothing to write.
      if (record === g && rec.gateway) return message;
      const next: MintContractRecord = { ...rec, gateway: record, next_state: record.next_state };
      if (record.latest) {
        // What the mint exits with (exit-credit) and closes against (close-credit): the gateway's latest state.
        next.latest = { state: record.latest.state, cumulative_sat: record.latest.settled_sat, txid: record.latest.txid, hex: record.latest.hex, receipt: rec.latest?.receipt as ReceiptJson };
      }
      await store.put(next);
      return message;
    });
  }
}

function checkDeviceOpen(r: UserContractRecord): void {
  if (r.status !== 'open') refuse('E_CONTRACT_FROZEN', `contract ${r.contract_id} is ${r.status}`);
}

function deviceChannelOf(r: UserContractRecord): DeviceChannel {
  if (r.pending) throw new StateConflictError('E_PENDING', `state ${r.pending.state} (${r.pending.kind}) of contract ${r.contract_id} awaits the mint's answer: finish it with the credit commands first`);
  return {
    network: r.network, contract_id: r.contract_id, contract: r.contract, state: r.confirmed.state, settled_sat: r.confirmed.cumulative_sat,
    ...(r.mint_nonce ? { gateway_nonce: r.mint_nonce } : {}), paid: [], day: { date: '', spent_msat: '0' },
  };
}

/** Why the mint's record takes no more payments (E_CONTRACT_FROZEN's words), undefined while open. */
function frozenBecause(r: MintContractRecord): string | undefined {
  if (r.status === 'open' && !r.exiting && !r.settlement) return undefined;
  return `contract ${r.contract_id} is not open for payments${r.exiting ? `: the mint is exiting it with its state ${r.exiting.state}` : r.settlement ? `: the mint signed a ${r.settlement.kind}` : ''}`;
}

function gatewayChannelOf(r: MintContractRecord): GatewayChannel {
  return { network: r.network, contract_id: r.contract_id, contract: r.contract, next_state: r.next_state, settled_sat: r.latest?.cumulative_sat ?? 0 };
}

/**
 * The toll scenario of the device and gateway --help examples, step by step from a fresh demo
 * channel (fixed clock and tip): each command's example runs the steps up to its own.
 */
const TOLL_START = [
  'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
    '<%= config.bin %> device pay --invoice fixtures/device/toll.bolt11 --policy fixtures/policies/device.json --terms fixtures/policies/gateway-terms.json --now 1800000000 --tip-height 1000 --key-env USER_KEY --state-dir $D/user',
  ' | <%= config.bin %> gateway pay --terms fixtures/policies/gateway-terms.json --now 1800000000 --tip-height 1000 --confirmations 1 --key-env MINT_KEY --state-dir $D/mint',
];
const TOLL_SETTLED = [
  ' > $D/job.json && (umask 077; echo 0101010101010101010101010101010101010101010101010101010101010101 > $D/preimage) && ' +
    '<%= config.bin %> gateway settle --preimage-file $D/preimage --key-env MINT_KEY --state-dir $D/mint',
  ' | <%= config.bin %> device settle --key-env USER_KEY --state-dir $D/user',
  ' | <%= config.bin %> gateway complete --tip-height 1000 --confirmations 1 --key-env MINT_KEY --state-dir $D/mint',
  ' | <%= config.bin %> device receipt --key-env USER_KEY --state-dir $D/user',
];
const TOLL_FAILED = [
  ' > $D/job.json && <%= config.bin %> gateway fail --payment-hash 72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793 --key-env MINT_KEY --state-dir $D/mint',
  ' | <%= config.bin %> device fail --key-env USER_KEY --state-dir $D/user',
];

/** The toll example's first `steps` steps (1: device pay, 2: gateway pay, then settle … receipt, or fail). */
export function tollExample(steps: number, path: 'settled' | 'failed' = 'settled'): string {
  return [...TOLL_START, ...(path === 'settled' ? TOLL_SETTLED : TOLL_FAILED)].slice(0, steps).join('');
}
