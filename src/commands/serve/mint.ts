import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { MintStream, retiredNonceEpoch } from '../../topics/credit/stream.ts';
import { ecashSeedFlags } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { zmqFlags } from '../../topics/watch/flags.ts';
import { serveFlags } from '../../topics/serve/flags.ts';
import type { ExitRequest } from '../../topics/credit/exit.ts';

export default class ServeMint extends MintStream<typeof ServeMint> {
  static override summary = 'The credit mint as an HTTP service: each step of the credit protocol one endpoint, answering the bytes the one-shot command prints.';
  static override description = `Serves what "sign-update --role mint --stream" serves (opens, payments, abandons, closes, rollovers), plus the published
offer, the ecash keysets (NUT-01/02) and restore (NUT-09), over HTTP (docs/serve.md, "The credit mint"). Each POST takes the
JSON message a pipe carries and answers what the one-shot command would print for it, byte for byte; a refusal is a
credit/error body with its code and exit_code. Answers leave only after their batch is committed (group commit, as the
stream). The operator's listener (--operator-listen, loopback only) adds /metrics, GET /v1/operator/contracts (as credit list)
and POST /v1/operator/exit {fee_rate, contract_id?, to?, broadcast|dry_run} (as credit exit, signed by the mint key: no --child).
On SQLite one serve process holds a --state-dir; on PostgreSQL any number may share the store, each opening the nonces
it issued (route requests by contract; a restart makes each of its users abandon once, which --peer does by itself).
With a node (--rpc-url) it also keeps every contract's deadline, as offchain watch does (docs/watch.md): the exit of a contract within
its safety margin, its fee rising each block within --max-fee-rate/--max-fee-share; --no-watch leaves that to a separate watcher.
Prints one serve/listening line on standard output, then logs JSON on standard error; SIGTERM drains and exits 0.`;
  static override examples = [
    {
      description: 'Serve the demo mint on a free port, ask it for its offer, stop it (SIGTERM: it drains and exits 0)',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '{ <%= config.bin %> serve mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1001 --confirmations 1 --listen 127.0.0.1:0 --log-level warn > $D/listening & ' +
        'pid=$!; for i in $(seq 50); do [ -s $D/listening ] && break; sleep 0.2; done; ' +
        'curl -s "$(sed -n \'s/.*"public":"\\([^"]*\\)".*/\\1/p\' $D/listening)/v1/credit/offer"; kill $pid; wait $pid; }',
    },
  ];
  static override flags = {
    ...serveFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    // Retired: every PostgreSQL mint process seals its nonces under its own key (refused with `host`, saying so).
    'nonce-epoch': Flags.string({ hidden: true, description: 'retired: every PostgreSQL mint process seals its nonces under its own key', options: ['process', 'host'] }),
    ...ecashSeedFlags,
    ...chainFlags,
    watch: Flags.boolean({
      description: 'with a node (--rpc-url), keep every contract\'s deadline from inside the service, as offchain watch does (its decisions in the log, its gauges on /metrics); --no-watch when a separate offchain watch runs',
      default: true,
      allowNo: true,
    }),
    ...zmqFlags,
    ...feeGuardFlags,
    // A new command: --confirmations without the one-shots' old spelling (--funding-confirmations).
    confirmations: Flags.integer({ description: 'offline: assert the served contract\'s funding output has N confirmations (with a node, it is asked instead)', helpValue: 'N', min: 0, helpGroup: 'CHAIN' }),
  };

  /** Keeps noble's large precompute tables (the base class narrows them for one-shot commands). */
  protected override longRunning = true;

  /** The service's standard error is its JSON log from the start: a refused flag is a JSON line too (topics/serve/log.ts). */
  override async run(): Promise<void> {
    (await import('../../topics/serve/log.ts')).serveLogsJson('mint');
    await super.run();
  }

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const { serveOptions } = await import('../../topics/serve/flags.ts');
    const options = serveOptions(f, 8338); // E_USAGE before anything is opened
    retiredNonceEpoch(f['nonce-epoch']);
    const { setBasePointWindow } = await import('../../lib/curve.ts');
    setBasePointWindow(8);
    await this.useFastestBackend(); // named in the service's listening line and /v1/info
    const network = this.network();
    let code = 0;
    await this.withMintStore(network, async (ctx, store) => {
      const batch = await this.mintBatch(network, ctx, store, 'service');
      this.served = { ctx, store, batch };
      const { mintGauges, mintPlugin } = await import('../../topics/serve/mint-routes.ts');
      const { announcement, startService } = await import('../../topics/serve/service.ts');
      const exit = (r: ExitRequest) => this.creditExit(r); // topics/credit/exit.ts, as `credit exit`
      // The watcher beside the routes (topics/watch/): with a node, unless --no-watch. It stops before the drain.
      const watcher = await this.serviceWatcher(network, ctx.chain, f.watch, options.logLevel, f['zmq-hashblock']);
      const { infoHook, storeInfo } = await import('../../topics/serve/info.ts');
      const svc = await startService({ ...options, role: 'mint', group: 'credit', network }, [mintPlugin({ network, ctx, store, batch, exit })], {
        // What is in flight finished (the listeners closed first): the watcher's round ends, then the last batch is committed and released.
        drain: async () => {
          await watcher?.stop();
          await batch.close();
        },
        gauges: [...mintGauges({ store, batch }), ...(watcher?.gauges ?? [])],
        info: infoHook({ version: this.config.version, store: await storeInfo(f, this.stateDir(network)), chain: ctx.chain, watcher }),
      });
      watcher?.start();
      // A store that broke for good (a failed commit) ends the service: nothing more may be answered.
      batch.ended.catch(() => void svc.stop());
      this.emitLine(announcement('mint', svc.urls));
      code = await svc.done;
      this.served = undefined;
      if (batch.failure !== undefined) throw batch.failure;
      // Past --drain-timeout (or a second signal): exit now; every step in flight is uncommitted and rolls back.
      if (code !== 0) process.exit(code);
    });
  }
}
