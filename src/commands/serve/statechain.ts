import type { CommandResult } from '../../lib/cli/base-command.ts';
import { ExitCode, OffchainError } from '../../lib/errors.ts';
import { chainFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { StatechainCommand } from '../../topics/statechain/command.ts';
import { operatorStoreFlags, relativeBlocks, statechainFlags, termsFlags } from '../../topics/statechain/flags.ts';
import { serveFlags, serveOptions, type ServeFlagValues } from '../../topics/serve/flags.ts';

export default class ServeStatechain extends StatechainCommand<typeof ServeStatechain> {
  static override summary = 'Run the statechain operator as an HTTP service: every operator step of deposit, transfer and withdraw, one endpoint each.';
  static override description =
    'Answers each message a pipe would carry to the operator with the bytes `statechain deposit|transfer|withdraw` print for it (the same rows: ' +
    'src/topics/statechain/operator-steps.ts), from the same key, --state-dir or --store, chain and terms flags. Owners and receivers reach it with ' +
    '--peer URL. The operator keeps no secret nonce, so any number of processes on one PostgreSQL (--store) may take any request: each coin\'s ' +
    'row lock serialises its steps. A request sent again gets the answer already given (a deposit-request too). The first line on standard output ' +
    'is {"type":"serve/listening",…} with the address; logs are JSON on standard error; SIGTERM drains. Endpoints: docs/serve.md.';
  static override examples = [
    {
      description: 'The operator serves (offline: the tip height given; with a node, --rpc-url instead) and answers a deposit request sent with curl; then it is stopped',
      command: 'D=$(mktemp -d); OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> serve statechain --key-env OPERATOR_KEY --state-dir $D/sc-operator --tip-height 200 --confirmations 3 --listen 127.0.0.1:0 --log-level warn > $D/up & for i in $(seq 100); do grep -qs public $D/up && break; sleep 0.1; done; curl -s -H \'content-type: application/json\' --data-binary @fixtures/statechain/deposit-request.json $(grep -o \'http://[^\"]*\' $D/up)/v1/statechain/deposit; kill $!',
    },
    {
      description: 'Three processes on one PostgreSQL behind any load balancer (the password from the environment, never argv)',
      command: 'OFFCHAIN_STORE_PASSWORD=… <%= config.bin %> serve statechain --key-env OPERATOR_KEY --store postgres://operator@db:5432/statechain --rpc-url http://127.0.0.1:8332 --listen 0.0.0.0:8340 --operator-listen 127.0.0.1:9340',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags,
    ...chainFlags,
    confirmations: statechainFlags.confirmations,
    ...operatorStoreFlags,
    ...termsFlags,
    ...serveFlags,
  };

  protected override longRunning = true;

  /** The service's standard error is its JSON log from the start: a refused flag is a JSON line too (topics/serve/log.ts). */
  override async run(): Promise<void> {
    (await import('../../topics/serve/log.ts')).serveLogsJson('statechain');
    await super.run();
  }

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const network = this.network();
    const opts = serveOptions(f as ServeFlagValues, 8340);
    const { offeredTerms } = await import('../../topics/statechain/operator-steps.ts');
    const initialLock = relativeBlocks(f['initial-lock'] ?? '+12960', '--initial-lock', (line) => this.term.warn(line));
    // The terms and the key are checked before the service listens: a bad flag never starts it.
    const terms = await offeredTerms({ interval: f.interval, initialLock, minConfirmations: f['min-confirmations'], backupFee: f['backup-fee'], margin: f.margin, anchor: f.anchor });
    const operator = await this.keyPair(network);
    const stores = await this.storePool(network);
    // PostgreSQL answers (and its tables are the operator's) before the service listens: E_STORE_* now, not at the first request.
    await stores.use(async (s) => (s as { ready?: () => Promise<void> }).ready?.());

    // Under the test seed each request draws from a stream restarted as a one-shot's is: the same bytes as `statechain …` from the same state.
    const seed = process.env.OFFCHAIN_TEST_SEED;
    const { deterministicRandom } = await import('../../lib/random.ts');
    const random = () => (this.random.deterministic && seed ? deterministicRandom(seed) : this.random);

    const { operatorStep } = await import('../../topics/statechain/operator-steps.ts');
    const { statechainPlugin } = await import('../../topics/serve/statechain-routes.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const routes = statechainPlugin({
      network,
      answer: async (type, value) => {
        const row = operatorStep(type);
        const r = random();
        return stores.use((store) => row.run({
          network, store, terms: async () => terms,
          context: async (statement) => ({ operator, random: r, chain: await this.coinChain(network, statement), network }),
        }, value));
      },
      info: async () => ({ type: 'statechain/operator-info', version: 1, network, operator_auth: toHex(operator.publicKey), terms }),
      coins: async () => ({ type: 'statechain/operator-coins', version: 1, network, coins: await stores.use((s) => s.coins()) }),
    });
    const { startService, announcement } = await import('../../topics/serve/service.ts');
    const { infoHook, storeInfo } = await import('../../topics/serve/info.ts');
    const info = infoHook({ version: this.config.version, store: await storeInfo(f, this.stateDir(network)), chain: await this.chain(network) });
    const svc = await startService({ ...opts, role: 'statechain', group: 'statechain', network }, [routes], { drain: () => stores.close(), info });
    this.emitLine(announcement('statechain', svc.urls));
    process.exitCode = await svc.done;
  }

  /**
   * The operator's stores, one per request in flight: a PostgreSQL store is one connection
   * (one transaction at a time), so concurrent requests each take their own; idle ones are
   * kept for the next (at most 8), one that failed is closed rather than reused.
   */
  private async storePool(network: import('../../lib/network.ts').Network) {
    type Store = import('../../lib/statechain/ports.ts').OperatorStore;
    const idle: Store[] = [];
    let closed = false;
    const use = async <T>(fn: (s: Store) => Promise<T>): Promise<T> => {
      const store = idle.pop() ?? (await this.operatorStore(network));
      let ok = false;
      try {
        const out = await fn(store);
        ok = true;
        return out;
      } catch (e) {
        // A coded refusal leaves the connection as it was; anything else (the store unreachable, an internal error) does not reuse it.
        ok = e instanceof OffchainError && e.exitCode !== ExitCode.general;
        throw e;
      } finally {
        if (ok && !closed && idle.length < 8) idle.push(store);
        else await store.close();
      }
    };
    return { use, close: async () => {
      closed = true;
      await Promise.all(idle.splice(0).map((s) => s.close()));
    } };
  }
}
