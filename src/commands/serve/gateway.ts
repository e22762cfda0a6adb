import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { termsFlag } from '../../topics/device/command.ts';
import { GatewayLightning } from '../../topics/device/lightning.ts';
import { ecashSeedFlags, fundingConfirmationsFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { zmqFlags } from '../../topics/watch/flags.ts';
import { serveFlags, serveOptions, type ServeFlagValues } from '../../topics/serve/flags.ts';

export default class ServeGateway extends GatewayLightning<typeof ServeGateway> {
  static override summary = 'Run the gateway as an HTTP service: devices pay through it (device pay --peer URL), its Lightning node pays their invoices.';
  static override description = `  serve gateway --terms FILE [--lightning-rpc SOCKET]  → {"type":"serve/listening",…} then serves until SIGTERM

Each endpoint is one step of the gateway commands, answering the bytes the one-shot prints (docs/serve.md, "The
gateway"): POST /v1/gateway/pay (device/pay → gateway/job, or with --lightning-rpc the payment made and
gateway/settle | gateway/fail), POST /v1/gateway/complete (device/settle | device/fail → gateway/receipt),
GET /v1/gateway/terms;
on --operator-listen only: GET /v1/operator/payments/HASH (the settle or fail given, 404 E_PAYMENT_UNDECIDED before), POST /v1/operator/settle {preimage}, /v1/operator/fail {payment_hash} and
/v1/operator/claim {fee_rate, dry_run|broadcast, …}, as "gateway settle", "gateway fail" and "gateway claim". The gateway is a credit mint on device channels, so it also serves "serve mint"'s
credit routes (/v1/credit/offer, /open, /update, /abandon, /close, /rollover…, GET /v1/operator/contracts). Refusals: the one-shot's code and exit code as an HTTP status. A repeated
device/pay gets the same answer; a payment still pending is 503 E_PAYMENT_PENDING with Retry-After (the node is
asked again on the retry, and never pays a hash it knows). Every step goes through the mint's group commit and is
committed before it is answered; on SQLite one serve process holds a --state-dir. With a node, the service runs the
watcher of "offchain watch" beside its routes (unless --no-watch): each payment's HTLC whose preimage it holds is claimed
on chain before the device may refund it, within --max-fee-rate/--max-fee-share.`;
  static override examples = [
    {
      description: 'The demo gateway as a service without a Lightning node (it answers jobs) on a free port: once its serve/listening line is out (it is ready), ask it for its credit offer (a gateway is a credit mint on device channels), then stop it (SIGTERM: it drains and exits 0)',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '{ <%= config.bin %> serve gateway --terms fixtures/policies/gateway-terms.json --tip-height 1000 --confirmations 1 --key-env MINT_KEY --state-dir $D/mint --listen 127.0.0.1:0 --log-level warn > $D/listening & ' +
        'pid=$!; for i in $(seq 300); do [ -s $D/listening ] && break; sleep 0.1; done; ' +
        'curl -s "$(sed -n \'s/.*"public":"\\([^"]*\\)".*/\\1/p\' $D/listening)/v1/credit/offer"; kill $pid; wait $pid; }',
    },
    {
      description: 'With Core Lightning, the operator\'s listener on loopback (a device then runs: device pay --peer http://GATEWAY:8339 …)',
      command: '<%= config.bin %> serve gateway --terms terms.json --lightning-rpc ~/.lightning/bitcoin/lightning-rpc --operator-listen 127.0.0.1:9339 $GW',
    },
  ];
  static override flags = {
    ...termsFlag,
    now: Flags.integer({ description: 'judge invoices\' expiry at this time, unix seconds (default: the clock at each request; tests)', helpValue: 'T', min: 0 }),
    'lightning-rpc': Flags.string({
      description: 'pay through this Core Lightning node: the path of its lightning-rpc socket (or $OFFCHAIN_LIGHTNING_RPC, config lightning_rpc=); without it /v1/gateway/pay answers the job',
      helpValue: 'SOCKET',
      env: 'OFFCHAIN_LIGHTNING_RPC',
      helpGroup: 'LIGHTNING',
    }),
    'pay-timeout': Flags.integer({ description: 'seconds the node may try routes (pay\'s retry_for); then, with an HTLC still out, 503 E_PAYMENT_PENDING. Keep --step-timeout above it', helpValue: 'S', min: 1, default: 60, helpGroup: 'LIGHTNING' }),
    ...serveFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...ecashSeedFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
    watch: Flags.boolean({
      description: 'with a node (--rpc-url), keep every contract\'s deadline from inside the service, as offchain watch does — the exits, and each HTLC claimed with its preimage before the device can refund it (decisions in the log, gauges on /metrics); --no-watch when a separate offchain watch runs',
      default: true,
      allowNo: true,
    }),
    ...zmqFlags,
    ...feeGuardFlags,
  };

  protected override longRunning = true;

  /** The service's standard error is its JSON log from the start: a refused flag is a JSON line too (topics/serve/log.ts). */
  override async run(): Promise<void> {
    (await import('../../topics/serve/log.ts')).serveLogsJson('gateway');
    await super.run();
  }

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const network = this.network();
    const terms = await this.gatewayTerms();
    const options = serveOptions(f as unknown as ServeFlagValues, 8339);
    // As serve mint: the fastest secp256k1 backend that loads (libsecp256k1), not pure-JS noble —
    // the gateway verifies the device's partial signature and signs last on every step (byte-identical results).
    await this.useFastestBackend(); // named in the service's listening line and /v1/info
    const { ClnRpc } = await import('../../lib/lightning/cln-rpc.ts');
    const node = f['lightning-rpc'] ? new ClnRpc(f['lightning-rpc']) : undefined;
    // A node that does not answer stops the service at its start (E_LIGHTNING_UNREACHABLE), not at the first
    // device; a node on another network (E_NETWORK_MISMATCH, exit 4) too, as gateway pay: before the store is opened.
    if (node) (await import('../../lib/device/lightning.ts')).checkNodeNetwork(await node.call<{ network?: unknown }>('getinfo', {}), network, 'the gateway (--network)');
    const { paymentAnswer } = await import('../../lib/device/gateway.ts');
    const { gatewayPlugin } = await import('../../topics/serve/gateway-routes.ts');
    const { mintGauges, mintPlugin } = await import('../../topics/serve/mint-routes.ts');
    const { mintBatchOn } = await import('../../topics/credit/stream.ts');
    const { startService, announcement } = await import('../../topics/serve/service.ts');
    const now = () => f.now ?? Math.floor(Date.now() / 1000);
    let code = 0;
    await this.withMintStore(network, async (ctx, store) => {
      const batch = await mintBatchOn(this.term, network, ctx, store, 'service');
      this.served = { ctx, store, batch };
      const routes = [
        gatewayPlugin({
          network,
          terms: async () => ({ ...terms }),
          pay: async (body) => this.payDevicePay(node, terms, now(), await this.messageOf(body), f['pay-timeout']),
          complete: async (body) => this.gatewayComplete(await this.messageOf(body)),
          payment: (hash) => batch.read(async () => {
            for (const r of await store.list()) {
              const a = r.gateway ? paymentAnswer(r.gateway, hash, ctx.mint) : undefined;
              if (a) return a;
            }
            return undefined;
          }),
          settle: (id, preimage) => this.gatewaySettle(network, id, preimage),
          fail: (id, hash) => this.gatewayFail(network, id, hash),
          claim: (c) => this.gatewayClaim(network, c),
        }),
        // The gateway is a credit mint on device channels: the credit routes of `serve mint` (open, abandon, close, …).
        mintPlugin({ network, ctx, store, batch }),
      ];
      // The watcher beside the routes (topics/watch/): with a node, unless --no-watch. It stops before the drain.
      const watcher = await this.serviceWatcher(network, ctx.chain, f.watch, options.logLevel, f['zmq-hashblock']);
      const { infoHook, storeInfo } = await import('../../topics/serve/info.ts');
      const svc = await startService({ ...options, role: 'gateway', group: 'gateway', network }, routes, {
        drain: async () => {
          await watcher?.stop();
          await batch.close();
        },
        gauges: [...mintGauges({ store, batch }), ...(watcher?.gauges ?? [])],
        info: infoHook({ version: this.config.version, store: await storeInfo(f, this.stateDir(network)), chain: ctx.chain, watcher }),
      });
      watcher?.start();
      batch.ended.catch(() => void svc.stop());
      this.emitLine(announcement('gateway', svc.urls));
      code = await svc.done;
      this.served = undefined;
      if (batch.failure !== undefined) throw batch.failure;
      if (code !== 0) process.exit(code);
    });
  }
}
