import { Flags } from '@oclif/core';
import type { CommandResult } from '../lib/cli/base-command.ts';
import { chainFlags, feeGuardFlags, keyFlags, printConfigFlags, stateFlags } from '../lib/cli/flags.ts';
import { storeFlags } from '../lib/cli/store-flags.ts';
import { UsageError } from '../lib/errors.ts';
import { WatchSteps } from '../topics/watch/command.ts';
import { zmqFlags } from '../topics/watch/flags.ts';

export default class Watch extends WatchSteps<typeof Watch> {
  static override summary = 'Keep every deadline of the contracts in a state directory: exit, refund and rebid on chain, with no other command.';
  static override description =
    'Follows Bitcoin Core\'s best chain (it asks for the tip every --interval seconds, and at once at each block the node announces ' +
    'over ZMQ where it offers hashblock: --zmq-hashblock; it keeps its own view by block hash, so a ' +
    'reorganisation is seen and every decision taken again) and, at each new block, decides for every contract the state directory ' +
    'holds (docs/watch.md has the table): the credit mint exits a contract within its safety margin of expiry (the exit-credit package, ' +
    'its fee rising each block from the node\'s estimate to --max-fee-rate, reached one block before the deadline, never above ' +
    '--max-fee-share of the payout), the credit user sends its refund once it is final, a gateway claims each HTLC it holds the ' +
    'preimage of (from 10 blocks before the HTLC\'s expiry, mined by it), a device takes back an HTLC the gateway put on chain and ' +
    'left unclaimed (from its expiry on; the device\'s key), a statechain owner gets its backup (with a CPFP child, rebid the same ' +
    'way) mined before the previous owner\'s is final, or its signed withdrawal, a payer takes back each HTLC or PTLC it kept ' +
    '(htlc watch-add, ptlc watch-add) once its locktime is final and it is unclaimed (the payer\'s key), and a BOLT 2/3 channel ' +
    'party punishes the peer\'s revoked commitment (commitment penalty\'s justice transactions, to --sweep-to, signed with ' +
    '--revocation-key-env/--revocation-key-file, mined before the cheater\'s to_self_delay runs out). Runs until SIGTERM/SIGINT, logging one JSON ' +
    'line per decision on standard error; --once evaluates the tip, acts, prints a watch/report and exits 0 (for cron and tests); ' +
    '--dry-run says what it would do, sending and storing nothing (offline too: with --tip-height instead of a node). With --tower DIR it is ' +
    'a keyless watchtower instead: it holds no key and keeps only the exports dropped into DIR — statechain/tower-backup (statechain ' +
    'tower-export: each owner\'s anchored backup mined by the block before the previous owner\'s is final, its child paid from the node\'s ' +
    'wallet, --rpc-wallet, within --max-fee-rate) and bolt3/tower-justice (commitment tower-export: a channel party\'s encrypted justice ' +
    'ladders, matched against each new block\'s txids; on a revoked commitment, the party\'s pre-signed justice sent and climbed rung by ' +
    'rung toward its deadline, its fee out of the penalized output).';
  static override examples = [
    {
      description: 'What the demo mint\'s watcher would do once its contract is 100 blocks from expiry (offline, nothing sent): exit now',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> sign-update --role user --amount 5000 --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> sign-update --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1001 --confirmations 1 > /dev/null && ' +
        '<%= config.bin %> watch --once --dry-run --key-env MINT_KEY --state-dir $D/mint --tip-height 5220',
    },
    {
      description: 'What a keyless tower holding the fixture export would do at tip 284 (the backup final at 280, due by 289): send it now, with a child from its wallet (offline, nothing sent)',
      command: 'D=$(mktemp -d); mkdir $D/drop && cp fixtures/statechain/tower-backup.json $D/drop/ && <%= config.bin %> watch --tower $D/drop --state-dir $D/tower --max-fee-rate 20 --once --dry-run --tip-height 284',
    },
    {
      description: 'The watcher of a mint beside its node, for good (stop it with SIGTERM); its decisions are JSON lines on standard error',
      command: '<%= config.bin %> watch --key-env MINT_KEY --state-dir /var/lib/offchain --rpc-url http://127.0.0.1:8332 --max-fee-rate 200',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    once: Flags.boolean({ description: 'evaluate the current tip, act, print a watch/report and exit 0' }),
    'dry-run': Flags.boolean({ description: 'say what it would do: nothing is sent to the node or stored (with a node, or offline with --tip-height and --once)' }),
    interval: Flags.string({ description: 'seconds between two questions to the node for its tip (a new block starts a round)', default: '2', helpValue: 'SECONDS' }),
    'operator-listen': Flags.string({
      description: 'serve GET /metrics (Prometheus: blocks to the nearest deadline, actions pending, budget shortfalls, reorganisations) and /healthz on this loopback HOST:PORT or unix:PATH',
      helpValue: 'HOST:PORT|unix:PATH',
    }),
    'log-level': Flags.string({ description: 'the JSON log on standard error (a long-running watcher)', options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], default: 'info' }),
    tower: Flags.string({ description: 'be a keyless watchtower for the exports dropped into this directory: statechain/tower-backup (statechain tower-export: each owner\'s anchored backup mined before the previous owner\'s is final, paid from the node\'s wallet within --max-fee-rate, required) and bolt3/tower-justice (commitment tower-export: a channel party\'s justice ladders, sent when a revoked commitment is mined); no --key-file/--key-env, no --store (docs/watch.md, "The tower")', helpValue: 'DIR' }),
    'rpc-wallet': Flags.string({ description: 'the node\'s wallet that pays: a tower\'s children, a channel party\'s anchors HTLC second stages (bitcoin-cli -rpcwallet; default: the node\'s only loaded wallet)', helpValue: 'NAME' }),
    'revocation-key-env': Flags.string({ description: 'environment variable holding the channel party\'s revocation_basepoint secret (needed when the state directory holds channels: it signs their penalties)', helpValue: 'NAME', helpGroup: 'KEY' }),
    'revocation-key-file': Flags.string({ description: 'file holding the channel party\'s revocation_basepoint secret (0600)', helpValue: 'FILE', helpGroup: 'KEY' }),
    'delayed-key-env': Flags.string({ description: 'environment variable holding the channel party\'s delayed_payment_basepoint secret: with it, its own commitment\'s to_local (and its HTLC second stages\' outputs) is swept once to_self_delay has passed', helpValue: 'NAME', helpGroup: 'KEY' }),
    'delayed-key-file': Flags.string({ description: 'file holding the channel party\'s delayed_payment_basepoint secret (0600)', helpValue: 'FILE', helpGroup: 'KEY' }),
    'htlc-key-env': Flags.string({ description: 'environment variable holding the channel party\'s htlc_basepoint secret: with it, its HTLCs on the peer\'s current commitment are taken (the peer\'s with --preimage-file, its own back at cltv_expiry), and on its own commitment their second stages sent (HTLC-success with --preimage-file, HTLC-timeout at cltv_expiry; an anchors channel\'s with a fee input of the node\'s wallet)', helpValue: 'NAME', helpGroup: 'KEY' }),
    'htlc-key-file': Flags.string({ description: 'file holding the channel party\'s htlc_basepoint secret (0600)', helpValue: 'FILE', helpGroup: 'KEY' }),
    'preimage-file': Flags.string({ description: 'a payment preimage (hex, 0600 file) of an HTLC a peer offered: claimed from its current commitment, or by an HTLC-success from your own; repeat for several', helpValue: 'FILE', multiple: true }),
    'preimage-dir': Flags.string({ description: 'a directory read at every round: each file in it (0600, 64 hex digits) a payment preimage, used like --preimage-file\'s; a file that is not one is skipped and said, never its content (docs/watch.md, "Preimages learnt while the watcher runs")', helpValue: 'DIR' }),
    'funding-key-env': Flags.string({ description: 'environment variable holding the channel party\'s funding key: with it and --seed-file, the watcher goes on chain (its latest commitment broadcast) for an HTLC about to be lost — one received whose preimage is given, 10 blocks before its cltv_expiry; one offered, 3 blocks past it', helpValue: 'NAME', helpGroup: 'KEY' }),
    'funding-key-file': Flags.string({ description: 'file holding the channel party\'s funding key (0600)', helpValue: 'FILE', helpGroup: 'KEY' }),
    'seed-file': Flags.string({ description: 'the channel party\'s per-commitment seed (32 bytes hex, 0600 file): with --funding-key-env, its latest commitment is signed to go on chain', helpValue: 'FILE', helpGroup: 'KEY' }),
    'sweep-to': Flags.string({ description: 'where a channel\'s justice transactions (and its own to_local\'s sweep) pay (needed when the state directory holds channels)', helpValue: 'ADDRESS' }),
    ...feeGuardFlags,
    ...chainFlags,
    ...zmqFlags,
    ...printConfigFlags,
  };

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const interval = Number(f.interval);
    if (!Number.isFinite(interval) || interval < 0.05 || interval > 3600) throw new UsageError('E_USAGE', `--interval must be a number of seconds from 0.05 to 3600, got ${f.interval}`);
    const { parseOperatorListen } = await import('../topics/serve/flags.ts');
    const operatorListen = f['operator-listen'] === undefined ? undefined : parseOperatorListen(f['operator-listen']);
    if (operatorListen && f.once) throw new UsageError('E_USAGE', '--operator-listen serves /metrics for a long-running watcher: drop it with --once');
    const network = this.network();
    if (f.tower !== undefined) {
      // A tower holds no key and keeps no one's store: what it acts on is in its directory, what it pays is its wallet's.
      if (f['key-file'] !== undefined || f['key-env'] !== undefined) throw new UsageError('E_USAGE', '--tower holds no key: drop --key-file/--key-env (an owner\'s own watcher is offchain watch with its key, without --tower)');
      const channelFlags = ['revocation-key-env', 'revocation-key-file', 'delayed-key-env', 'delayed-key-file', 'htlc-key-env', 'htlc-key-file', 'preimage-file', 'preimage-dir', 'sweep-to', 'funding-key-env', 'funding-key-file', 'seed-file'] as const;
      const given = channelFlags.find((k) => f[k] !== undefined);
      if (given) throw new UsageError('E_USAGE', `--tower holds no channel's keys (a channel party hands it encrypted justice ladders: commitment tower-export): drop --${given}`);
      if (f.store !== undefined) throw new UsageError('E_USAGE', '--tower keeps only its own records, in --state-dir: drop --store');
      if (f['max-fee-rate'] === undefined) throw new UsageError('E_USAGE', '--tower pays every child from its own wallet: give its budget, --max-fee-rate SAT/VB on each package');
    } else if (f['rpc-wallet'] !== undefined && f['revocation-key-env'] === undefined && f['revocation-key-file'] === undefined) {
      throw new UsageError('E_USAGE', '--rpc-wallet names the wallet a tower (--tower) or a channel party (--revocation-key-env/-file: its anchors fee inputs) pays from');
    }
    const limits = await this.feeLimits(); // E_USAGE for a bad --max-fee-rate/--max-fee-share before the node is asked
    // A state directory with channels: the revocation key and --sweep-to, before anything is decided (a tower holds no channel).
    if (f.tower === undefined) await this.channelKeyChecked(network);
    const chain = await this.watchChain(network, { dryRun: f['dry-run'], once: f.once });
    let host;
    if (f.tower !== undefined) {
      const { towerWatchHost } = await import('../topics/watch/tower.ts');
      host = await towerWatchHost({ network, chain, db: (create) => this.state(network, { create }), dir: f.tower, limits, warn: (m) => this.term.warn(m), ...(f['rpc-wallet'] !== undefined ? { wallet: f['rpc-wallet'] } : {}) });
    } else {
      // The roles' keys, E_NO_KEY/E_WRONG_KEY before any round: the mint's, a statechain owner's, a payer's (HTLCs, PTLCs).
      await this.mintKeyChecked(network);
      await this.ownerKeyChecked(network);
      await this.payerKeyChecked(network);
      host = this.watchHost(network, chain, { once: f.once });
    }
    const { watchLoop, watchRound } = await import('../topics/watch/rounds.ts');
    if (f.once) return { message: await watchRound(host, f['dry-run']) };
    this.longRunning = true;
    const { startWatchMetrics, watchLogger } = await import('../topics/watch/service.ts');
    const log = await watchLogger(f['log-level'], network);
    const gauges = { reorgs: 0, failedRounds: 0 };
    const metrics = operatorListen ? await startWatchMetrics(operatorListen, gauges) : undefined;
    if (metrics) log.info({ event: 'listening', operator: metrics.url }, 'metrics on the operator\'s listener');
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      await watchLoop(host, { dryRun: f['dry-run'], intervalMs: Math.round(interval * 1000), zmq: f['zmq-hashblock'], log, gauges, signal: stop.signal });
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      await metrics?.close();
    }
    log.info({ event: 'stopped' }, 'stopped');
  }
}
