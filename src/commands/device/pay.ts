import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, termsFlag, tollExample } from '../../topics/device/command.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { chainFlags, keyFlags, peerFlags, stateFlags } from '../../lib/cli/flags.ts';
import { inputFrom, readInputBytes, textLines } from '../../lib/cli/input.ts';
import { ExitCode, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { DevicePolicy } from '../../lib/device/policy.ts';
import type { GatewayTermsFile } from '../../topics/device/command.ts';

export default class DevicePay extends DeviceCommand<typeof DevicePay> {
  static override summary = 'The device pays a Lightning invoice through its gateway: the next channel state, carrying one HTLC, signed.';
  static override description = `  device  --invoice FILE|-  → device/pay (state n+1: the gateway's settled amount, an HTLC of invoice + fee, the change)

Verifies the BOLT 11 invoice (signature, network, amount, expiry at --now) and applies the device's --policy
(allowed payees, per-payment and daily limits, the gateway's fee and CLTV budget from --terms) before signing;
each refusal exits 4 and writes nothing. One payment in flight at a time. One payment per hash per device: a hash
settled on any channel of --state-dir is E_ALREADY_PAID, one in flight or failed on another channel
E_PAYMENT_ON_OTHER_CHANNEL (that channel's gateway could claim it too). The device's record is kept with the
credit contract under --state-dir (the contract is the device's channel from its first payment on; credit
sign-update is refused on it from then).

With --peer URL (a gateway's "offchain serve gateway" with a Lightning node) the whole toll runs in this one
invocation: device/pay to URL/v1/gateway/pay, its gateway/settle or gateway/fail applied (as "device settle" or
"device fail"), that state to URL/v1/gateway/complete, its receipt applied (as "device receipt"); it prints the
credit/balance "device receipt" prints. Each step is written before the next message leaves, as in the pipes, so
running the same command again after a crash resumes where it stopped. Each request is sent again (the same bytes)
while the gateway does not answer — a refused or dropped connection, a timeout, 503 — with backoff, for --peer-timeout
seconds (default 60: a restarted gateway is back within it); then E_PEER_UNREACHABLE (exit 1), or E_PAYMENT_PENDING
(exit 5) for a payment its node has not decided yet. The payment stays in flight: "device pay --resend --peer URL"
sends it again as recorded (no invoice, policy or terms needed: nothing is newly signed). A payment the gateway
failed on Lightning is E_PAYMENT_FAILED (exit 4) once its receipt is applied and stored: nothing was paid.

With --stream (and --peer) one process pays the invoices read from standard input, one per line, each as the
one-shot pays one, in order: a device that pays many tolls starts once (a one-shot's start-up is most of its
CPU). Each toll writes one line: its credit/balance, or a credit/error line (line, code, exit_code, message) for
an invoice refused or failed with the channel idle again (exit 3 or 4: nothing in flight). Any other error —
the gateway unreachable or the payment undecided (a payment left in flight), the store, the node — ends the
stream with that error as the one-shot would end; "device pay --resend --peer URL" then finishes the payment.
The stream ends, exit 0, at the end of its input.`;
  static override examples = [
    {
      description: 'A toll of 2500 sat through a freshly opened demo channel (fixed clock and tip)',
      command: tollExample(1),
    },
    {
      description: 'The whole toll against a gateway service (offchain serve gateway --lightning-rpc …): pay, settle, receipt in one process',
      command: '<%= config.bin %> device pay --peer http://gateway.example:8339 --invoice toll.bolt11 --policy device.json --terms terms.json --key-env USER_KEY --state-dir ~/device',
    },
    {
      description: 'A device that pays many tolls: one process, the invoices one per line as they come (a FIFO here), one line out per toll',
      command: 'mkfifo tolls; <%= config.bin %> device pay --stream --peer http://gateway.example:8339 --policy device.json --terms terms.json --key-env USER_KEY --state-dir ~/device < tolls >> receipts.jsonl &  cat toll.bolt11 > tolls',
    },
  ];
  static override flags = {
    invoice: Flags.string({ description: 'the BOLT 11 invoice to pay: a file, or - for standard input (required without --resend)', helpValue: 'FILE|-', exclusive: ['resend'] }),
    policy: Flags.string({ description: 'the device\'s spending policy (JSON), e.g. fixtures/policies/device.json (required without --resend)', helpValue: 'FILE' }),
    terms: { ...termsFlag.terms, required: false },
    resend: Flags.boolean({ description: 'the payment in flight again, exactly as recorded (its device/pay, or the settle or fail signed since): nothing newly signed; with --peer the rest of the toll runs', exclusive: ['invoice'] }),
    stream: Flags.boolean({ description: 'with --peer: pay the invoices on standard input, one per line, in this one process; one line out per toll (its credit/balance, or credit/error for one refused)' }),
    now: Flags.integer({ description: 'judge the invoice\'s expiry and the day\'s limit at this time, unix seconds (default: the clock)', helpValue: 'T', min: 0 }),
    ...keyFlags,
    ...stateFlags,
    ...contractFlag,
    ...chainFlags,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const network = this.network();
    const base = f.peer === undefined ? undefined : (await import('../../lib/cli/peer.ts')).peerUrl(f.peer);
    if (f.stream) {
      // Checked here, not by oclif's `exclusive`: its usage line would render the three as a nested group.
      if (f.invoice !== undefined || f.resend) throw new UsageError('E_USAGE', `--stream reads its invoices on standard input: drop ${f.resend ? '--resend' : '--invoice'} (one payment: device pay --invoice FILE, or --resend)`);
      if (!base) throw new UsageError('E_USAGE', '--stream pays each invoice through a gateway service: pass its --peer URL');
      return this.tollStream(network, base, await this.devicePolicy(), await this.gatewayTerms());
    }
    if (f.resend) {
      const message = await this.inFlightMessage(network, f.contract);
      return { message: base ? await this.tollThrough(base, message) : message };
    }
    if (f.invoice === undefined) throw new UsageError('E_USAGE', 'pass the invoice to pay with --invoice FILE (or --resend: the payment in flight, as recorded)');
    const policy = await this.devicePolicy();
    const terms = await this.gatewayTerms();
    const invoice = new TextDecoder().decode(await readInputBytes(inputFrom(f.invoice === '-' ? undefined : f.invoice, '--invoice'))).trim();
    return { message: await this.payInvoice(network, base, invoice, policy, terms) };
  }

  /** One invoice paid: the device/pay signed (or, with --peer, the toll run through the gateway: its credit/balance). */
  private async payInvoice(network: Network, base: URL | undefined, invoice: string, policy: DevicePolicy, terms: GatewayTermsFile): Promise<Record<string, unknown>> {
    const f = this.flags;
    const tip = (await (await this.chain(network)).tip()).height;
    const now = f.now ?? Math.floor(Date.now() / 1000);
    const { pay } = await import('../../lib/device/device.ts');
    // --peer after a crash between the device's settle/fail and the gateway's receipt: that state again (device.ts keeps it as `pending`).
    const pending = base ? await this.pendingFor(network, f.contract, invoice) : undefined;
    const message = pending ?? await this.deviceStep(network, f.contract, (d, key, others) => {
      const s = pay(d, key, { invoice, policy, gateway: terms, now, tip, others });
      return { record: s.record, out: s.message };
    });
    return base ? this.tollThrough(base, message) : message; // topics/device/command.ts
  }

  /**
   * --stream: each line of standard input an invoice, paid as the one-shot pays one, one line out
   * per toll. A toll refused or failed with nothing left in flight (exit 3 or 4: the store says the
   * channel is idle) is its credit/error line and the stream goes on; any other error ends it, as it
   * ends the one-shot, after the lines already written.
   */
  private async tollStream(network: Network, base: URL, policy: DevicePolicy, terms: GatewayTermsFile): Promise<void> {
    const { describeError } = await import('../../lib/cli/describe-error.ts');
    const { writeOutput } = await import('../../lib/cli/output.ts');
    const { stringifyLine } = await import('../../lib/json.ts');
    const { setBasePointWindow } = await import('../../lib/curve.ts');
    setBasePointWindow(8);
    this.term.info(`offchain: the device pays the invoices on standard input through ${base.origin}, on the ${await this.useFastestBackend()} secp256k1 backend`);
    this.claimStdin('--stream');
    const lines = textLines(inputFrom(undefined, '--stream'), { what: 'an invoice line', noInput: 'pipe the invoices to pay on standard input, one per line' });
    try {
      for await (const { line, text } of lines) {
        let answer: Record<string, unknown>;
        try {
          answer = await this.payInvoice(network, base, text.trim(), policy, terms);
        } catch (e) {
          const { code, message, exitCode } = describeError(e);
          if ((exitCode !== ExitCode.malformed && exitCode !== ExitCode.refused) || !(await this.channelIdle(network))) throw e;
          answer = { type: 'credit/error', version: 1, network, line, code, exit_code: exitCode, message };
        }
        // Each line handed to the kernel before the next toll starts: a reader gone (EPIPE, its
        // quiet exit) or a failed write ends the stream between tolls, never inside one.
        await writeOutput(stringifyLine(answer));
      }
    } catch (e) {
      process.stdin.destroy(); // an open standard input would keep the process alive
      throw e;
    }
  }

  /** Whether the device's channel (--contract, or the only open one) has nothing in flight: false when that cannot be read. */
  private async channelIdle(network: Network): Promise<boolean> {
    try {
      const { book } = await this.userView(network);
      const rec = await book.get(this.flags.contract ?? (await this.pickContract(book, ['open'])));
      // A channel that never paid has no device record yet: nothing of it is in flight.
      return rec !== undefined && !rec.device?.in_flight && !rec.device?.pending;
    } catch {
      return false;
    }
  }
}
