/**
 * The credit user's steps against a running mint service (`--peer URL`; docs/credit.md,
 * "Paying a mint service"): the message the user's first step prints is sent to the
 * service, and the service's answer is applied by the user's next step in the same
 * invocation. The same library calls run as in the pipe, so the user's durable writes are
 * those of the piped steps, in the same order: a command that failed on its way (a crash,
 * E_PEER_UNREACHABLE) is simply run again — its request is resent unchanged, and the
 * service answers the same request with the same answer.
 *
 *   command (user)           message sent → route                                  answer           applied by
 *   open-credit              (no --offer: GET /v1/credit/offer)
 *                            credit/open-request → POST /v1/credit/open             open-accept      openFinish
 *   sign-update --amount N   credit/update-request → POST /v1/credit/update         receipt          applyReceipt
 *                            refused E_NONCE_ELSEWHERE: credit/abandon → POST /v1/credit/abandon, then the same payment once more
 *   close-credit --start     credit/close-request → POST /v1/credit/close           closed           applyClosed
 *   rollover --expiry …      credit/rollover-request → POST /v1/credit/rollover     rollover-refund  rolloverSign
 *                            credit/rollover-sign → POST /v1/credit/rollover/sign   rollover-accept  applyRolloverAccept
 *                            either refused E_NONCE_ELSEWHERE: credit/abandon, then the close or rollover once more (`absorbingElsewhere`)
 *   credit abandon --start   credit/abandon → POST /v1/credit/abandon               abandoned, or the lost answer (./answers.ts)
 *
 * A refusal comes back as the one-shot mint's own error (src/lib/cli/peer.ts): one coded
 * line on stderr, its exit code, nothing on stdout; what the user wrote before sending
 * stays, exactly as after a pipe whose mint refused.
 */
import { RefusedError, UsageError, isOffchainError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { Terminal } from '../../lib/cli/terminal.ts';
import type { UserContext, UserContractRecord } from '../../lib/credit/ports.ts';
import type { TokenSink } from '../../lib/credit/user.ts';
import type { ContractBook } from '../../lib/store/sqlite/records.ts';

/** Where each message the user sends goes on the mint service (docs/serve.md, the mint's table). */
export const MINT_ROUTES: Readonly<Record<string, string>> = {
  'credit/open-request': '/v1/credit/open',
  'credit/update-request': '/v1/credit/update',
  'credit/abandon': '/v1/credit/abandon',
  'credit/close-request': '/v1/credit/close',
  'credit/rollover-request': '/v1/credit/rollover',
  'credit/rollover-sign': '/v1/credit/rollover/sign',
};

/** The service's answer: its message type and value (checked against a schema by the step that applies it). */
export type PeerAnswer = { type: string; value: unknown };

export class MintPeer {
  private constructor(readonly base: URL, private readonly network: Network, private readonly term: Terminal, private readonly retry: { retryForMs?: number }) {}

  /** The mint service named by --peer (retried for --peer-timeout), or undefined without it. */
  static async from(flags: { peer?: string | undefined; 'peer-timeout'?: number | undefined }, network: Network, term: Terminal): Promise<MintPeer | undefined> {
    if (flags.peer === undefined) return undefined;
    const { peerUrl, peerRetry } = await import('../../lib/cli/peer.ts');
    return new MintPeer(peerUrl(flags.peer), network, term, peerRetry(flags['peer-timeout']));
  }

  /** --peer given to a step it does not belong to (the mint's, or a user step reading an answer). */
  static refuse(step: string): UsageError {
    return new UsageError('E_USAGE', `--peer is for the user's first step, which sends its request to a mint service and applies the answer (${step})`);
  }

  /** The same service, its answers taken for `network` (the offer's, when the command had none of its own). */
  on(network: Network): MintPeer {
    return new MintPeer(this.base, network, this.term, this.retry);
  }

  /** The mint's published offer (GET /v1/credit/offer), on whichever network: it names the network, as a piped offer does. */
  async offer(): Promise<PeerAnswer> {
    return this.call('/v1/credit/offer', undefined, undefined, false);
  }

  /** Send one of the user's messages to its route; the answer, on our network. */
  async send(message: Record<string, unknown>): Promise<PeerAnswer> {
    const type = String(message.type);
    const path = MINT_ROUTES[type];
    if (path === undefined) throw new Error(`no mint service route for ${type}`);
    const { stringifyMessage } = await import('../../lib/json.ts');
    const contract = typeof message.contract_id === 'string' ? message.contract_id : undefined;
    // What stays pending when no answer came, and the one command that sends it again.
    const resend = type === 'credit/update-request'
      ? `the payment stays pending: send it again with "offchain sign-update --role user --resend --contract ${contract} --peer ${this.base.href.replace(/\/$/, '')}" (the same request; the mint answers it once)`
      : 'the request stays pending: run the same command again (the same request is sent; the mint answers it once)';
    return this.call(path, stringifyMessage(message), contract, true, resend);
  }

  private async call(path: string, body?: string, contract?: string, sameNetwork = true, resend?: string): Promise<PeerAnswer> {
    const { callPeer } = await import('../../lib/cli/peer.ts');
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const { value } = await callPeer(this.base, path, {
      ...(body === undefined ? {} : { body }),
      ...(contract === undefined ? {} : { contract }),
      ...this.retry,
      ...(resend === undefined ? {} : { resend }),
      onRetry: (why, waitMs) => this.term.warn(`${this.base.origin}${path}: ${why}; sending the same message again in ${(waitMs / 1000).toFixed(1)} s`),
    });
    const env = readEnvelope(value);
    if (sameNetwork && env.network !== this.network) throw new RefusedError('E_NETWORK_MISMATCH', `the service at ${this.base.origin} answered for ${env.network}, not ${this.network}: is --peer the right mint?`);
    return { type: env.type, value };
  }
}

/**
 * `sign-update --role user --amount N --peer URL`: the payment's request sent, its receipt
 * applied. A request refused E_NONCE_ELSEWHERE — a PostgreSQL mint whose process that issued
 * the nonce is gone (docs/postgres.md, "The restore rule") — is abandoned through the same
 * service, which answers what it signed at that state (applied: the payment is made) or burns
 * that nonce and issues a fresh one; then the same payment is signed once more, against the
 * fresh nonce. A second E_NONCE_ELSEWHERE is the command's error. Each step is the piped
 * recovery's own (credit abandon, then sign-update again), so a run stopped half-way — its
 * abandon sent, the answer lost — takes up that abandon when it is run again.
 */
export async function payThrough(peer: MintPeer, ctx: UserContext, book: ContractBook<UserContractRecord>, id: string, given: bigint | 'resend', sink: TokenSink | undefined, term: Terminal): Promise<Record<string, unknown>> {
  const { updateRequest, applyReceipt, pendingAmount, resendRequest } = await import('../../lib/credit/user-update.ts');
  const { abandonRequest } = await import('../../lib/credit/abandon.ts');
  const { decodeMessage } = await import('../../lib/message.ts');
  const { ReceiptSchema } = await import('../../lib/credit/schemas.ts');
  const { applyAbandonAnswer } = await import('./answers.ts');
  const { load } = await import('../../lib/credit/user.ts');
  const applied = (answer: PeerAnswer) => book.exclusive(() => applyReceipt(ctx, decodeMessage(ReceiptSchema, answer.value), sink));
  const record = await book.get(id);
  // Asked before anything is signed: the receipt's token must have somewhere to go.
  if (record?.ecash && !sink) throw new UsageError('E_USAGE', 'this contract takes its credit as ecash: pass --token-out FILE (a new 0600 file; "-" for standard output) to keep the payment\'s token');
  const p = record?.pending;
  // --resend: the payment pending, its recorded request sent as is (resendRequest: never a new one).
  const amount = given === 'resend' ? pendingAmount(record ?? (await load(ctx, id)).record) : given;
  const amountSat = Number(amount);
  if (p?.kind === 'update' && p.abandon !== undefined && p.cumulative_sat === record!.confirmed.cumulative_sat + amountSat) {
    term.info(`offchain: state ${p.state} of contract ${id} is being abandoned: asking ${peer.base.origin} for its answer, then paying ${amountSat} sat again`);
  } else {
    const request = await book.exclusive(() => (given === 'resend' ? resendRequest(ctx, id) : updateRequest(ctx, id, amount)));
    let answer: PeerAnswer;
    try {
      answer = await peer.send(request);
    } catch (e) {
      if (!isOffchainError(e) || e.code !== 'E_NONCE_ELSEWHERE') throw e;
      term.info(`offchain: the mint process that issued the nonce of state ${String(request.state)} is gone (E_NONCE_ELSEWHERE): abandoning that request through ${peer.base.origin}, then paying ${amountSat} sat again`);
      return abandonAndPayAgain();
    }
    return applied(answer);
  }
  return abandonAndPayAgain();

  async function abandonAndPayAgain(): Promise<Record<string, unknown>> {
    const abandon = await book.exclusive(() => abandonRequest(ctx, id));
    const answer = await peer.send(abandon);
    const result = await book.exclusive(() => applyAbandonAnswer(ctx, answer.type, answer.value, sink));
    // The mint had signed that state (its answer lost): this payment is made.
    if (answer.type !== 'credit/abandoned') return result;
    const again = await book.exclusive(() => updateRequest(ctx, id, amount));
    return applied(await peer.send(again));
  }
}

/**
 * `close-credit --start --peer` and `rollover --expiry … --peer`, as `payThrough` for a
 * payment: `run` (the command's own steps against the service) refused E_NONCE_ELSEWHERE is
 * abandoned through the same service — its answer applied: what the mint signed at that state
 * (the close or rollover it made, returned as the command's result), or a fresh nonce — and
 * then `run` once more, against the fresh nonce. A second E_NONCE_ELSEWHERE is the command's
 * error. A run stopped after its abandon was sent (the contract's pending `kind` carries it)
 * takes that abandon up first when it is run again.
 */
export async function absorbingElsewhere(peer: MintPeer, ctx: UserContext, book: ContractBook<UserContractRecord>, id: string, kind: 'close' | 'rollover', term: Terminal, run: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const { abandonRequest } = await import('../../lib/credit/abandon.ts');
  const { applyAbandonAnswer } = await import('./answers.ts');
  const abandonThenRun = async (): Promise<Record<string, unknown>> => {
    const abandon = await book.exclusive(() => abandonRequest(ctx, id));
    const answer = await peer.send(abandon);
    const result = await book.exclusive(() => applyAbandonAnswer(ctx, answer.type, answer.value, undefined));
    // The mint had made that close or rollover (its answer lost): the command is done.
    if (answer.type !== 'credit/abandoned') return result;
    return run();
  };
  const p = (await book.get(id))?.pending;
  if (p?.kind === kind && p.abandon !== undefined) {
    term.info(`offchain: the ${kind} of contract ${id} (state ${p.state}) is being abandoned: asking ${peer.base.origin} for its answer, then the ${kind} again`);
    return abandonThenRun();
  }
  try {
    return await run();
  } catch (e) {
    const state = (await book.get(id))?.pending?.state;
    if (!isOffchainError(e) || e.code !== 'E_NONCE_ELSEWHERE') throw e;
    term.info(`offchain: the mint process that issued the nonce of state ${String(state)} is gone (E_NONCE_ELSEWHERE): abandoning that ${kind} through ${peer.base.origin}, then the ${kind} again`);
    return abandonThenRun();
  }
}

/**
 * For the commands' --help examples: `serve mint` started in the background on the demo mint
 * of $D (fixtures/credit/open-demo.sh) at tip `tip`, its URL in $URL once it listens. In braces,
 * so that `&` backgrounds the service alone, not the `&&` list before it (whose subshell a
 * `kill %1` would end, leaving the service running); the example ends with `kill %1; wait`.
 */
export function exampleService(tip: number, dir = '$D/mint'): string {
  return `{ <%= config.bin %> serve mint --key-env MINT_KEY --state-dir ${dir} --tip-height ${tip} --confirmations 1 --listen 127.0.0.1:0 > $D/listening 2> $D/mint.log & } && ` +
    'until [ -s $D/listening ] || ! kill -0 %1 2> /dev/null; do sleep 0.2; done; URL=$(sed -n \'s/.*"public":"\\([^"]*\\)".*/\\1/p\' $D/listening); ';
}

/** How each --peer example ends: the service stopped (SIGTERM: it drains and exits 0), and waited for. */
export const EXAMPLE_STOP = '; kill %1; wait';

/** The demo contract, as the credit commands' other examples open it. */
export const EXAMPLE_DEMO = 'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ';
