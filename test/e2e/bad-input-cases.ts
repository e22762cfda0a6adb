/**
 * The bad-input run's table (issue 28): what a new user following the README and docs/
 * group by group gets wrong, with the code and exit code BRIEF §2 and docs/cli.md assign —
 * not what the code happens to do. Paths are relative to the case's own directory (which
 * links `fixtures`); state templates are named in `state` (bad-input.test.ts copies them).
 *
 * Two parts: a matrix of the input faults every message-reading command must meet the
 * same way (missing, a directory, empty, not JSON, a pretty-printed message broken on a
 * later line, another step's message, truncated, oversized), and cases written one by one
 * for each group's own flags (bad hex, numbers, heights, amounts, networks, keys, state
 * directories, standard output, a node that is not there, fees).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import type { Case, Kind } from './bad-input-run.ts';

const fx = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8');
const key = (p: string) => fx(p).trim();

export const KEYS = {
  MINT_KEY: key('keys/mint.key'),
  USER_KEY: key('keys/user.key'),
  ALICE_KEY: key('keys/alice.key'),
  BOB_KEY: key('keys/bob.key'),
  OPERATOR_KEY: key('keys/mint.key'),
  DELAYED: key('bolt3/local-delayed.key'),
  BOB_FUNDING: key('bolt3/remote-funding.key'),
  REVOCATION_KEY: key('htlc/revocation.key'),
  /** Alice's revocation_basepoint secret in the bolt3 fixtures (the same scalar as her htlc_basepoint's). */
  ALICE_REVOCATION: key('bolt3/local-htlc.key'),
};

const ALICE = key('keys/alice.pub');
const BOB = key('keys/bob.pub');
const POINT = key('ptlc/payment-point.hex');
const HASH = key('htlc/payment-hash.hex');
const COIN = key('statechain/coin-id');
const OUTPOINT = `${'5f'.repeat(32)}:0`;
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const MAINNET_TO = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
const CHANNEL = '8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0';
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
/** A port nothing listens on: a node that is not there. */
export const NO_NODE = 'http://127.0.0.1:1';
/** Credentials for the node, so a command goes as far as connecting (without, it stops at the missing cookie: E_RPC_COOKIE). */
const RPC = { OFFCHAIN_RPC_USER: 'offchain', OFFCHAIN_RPC_PASSWORD: 'not-a-secret' };
/** More than the 32 MiB any input may be (a sparse file: nothing is written to disk). */
const HUGE = { size: 33 * 1024 * 1024 };

/** A pretty-printed message with the comma at the end of one of its later lines removed: [text, the line the parser stops at]. */
export function brokenPretty(text: string): [string, number] {
  const lines = text.split('\n');
  // The last line ending in a comma that is followed by another member: the error is deep in the document.
  let i = lines.length - 1;
  while (i > 2 && !/,$/.test(lines[i]!)) i--;
  if (i <= 2) throw new Error('no comma to remove');
  lines[i] = lines[i]!.replace(/,$/, '');
  return [lines.join('\n'), i + 2];
}

/** The first 60% of a message: what a pipe cut short delivers. */
const truncated = (text: string) => text.slice(0, Math.floor(text.length * 0.6));

type MessageCommand = {
  group: string;
  label: string;
  args: string[];
  /** A message this command takes (its fixture). */
  valid: string;
  /** A message of another step or party (its fixture). */
  wrong: string;
  wrongKind?: Kind;
  state?: string[];
  env?: Record<string, string>;
  /** The command also reads --in as a PSBT (so unknown text is E_UNKNOWN_FORMAT, not a JSON error). */
  oversized?: boolean;
};

const env = (...names: (keyof typeof KEYS)[]) => Object.fromEntries(names.map((n) => [n, KEYS[n]]));
const mintSide = ['--key-env', 'MINT_KEY', '--state-dir', 'mint'];
const userSide = ['--key-env', 'USER_KEY', '--state-dir', 'user'];

/** Every message-reading command a newcomer meets in the README and docs/, group by group. */
const MESSAGE_COMMANDS: MessageCommand[] = [
  { group: 'route', label: 'route plan', args: ['route', 'plan'], valid: 'route/seed-request.json', wrong: 'onion/route.json', oversized: true },
  { group: 'route', label: 'route check', args: ['route', 'check'], valid: 'route/seed-plan.json', wrong: 'route/seed-request.json', wrongKind: 'wrong step' },
  { group: 'onion', label: 'onion-build', args: ['onion-build', '--session-key-file', 'fixtures/onion/session.key'], valid: 'onion/route.json', wrong: 'onion/packet.json', wrongKind: 'wrong step' },
  { group: 'onion', label: 'onion-peel', args: ['onion-peel', '--key-file', 'fixtures/onion/hop1.key'], valid: 'onion/packet.json', wrong: 'onion/route.json', wrongKind: 'wrong party' },
  { group: 'onion', label: 'onion-blind', args: ['onion-blind'], valid: 'onion/blind.json', wrong: 'onion/blinded-path.json' },
  { group: 'onion-error', label: 'onion-error wrap', args: ['onion-error', 'wrap', '--onion', 'fixtures/onion/peeled.json', '--key-file', 'fixtures/onion/hop2.key'], valid: 'onion/error-hop3.json', wrong: 'onion/failure.json' },
  { group: 'onion-error', label: 'onion-error unwrap', args: ['onion-error', 'unwrap', '--secrets', 'fixtures/onion/secrets.json'], valid: 'onion/error.json', wrong: 'onion/packet.json' },
  { group: 'htlc', label: 'htlc claim', args: ['htlc', 'claim', '--key-env', 'BOB_KEY', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2'], valid: 'htlc/seed.json', wrong: 'htlc/seed-decoded.json', wrongKind: 'wrong step', env: env('BOB_KEY') },
  { group: 'htlc', label: 'htlc refund', args: ['htlc', 'refund', '--key-env', 'ALICE_KEY', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', '--tip-height', '1100'], valid: 'htlc/seed.json', wrong: 'ptlc/created.json', env: env('ALICE_KEY') },
  { group: 'htlc', label: 'htlc cooperate', args: ['htlc', 'cooperate', '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2'], valid: 'htlc/taproot.json', wrong: 'htlc/seed-decoded.json', wrongKind: 'wrong step' },
  { group: 'htlc', label: 'htlc punish', args: ['htlc', 'punish', '--key-env', 'REVOCATION_KEY', '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2'], valid: 'htlc/offered.json', wrong: 'htlc/seed-decoded.json', wrongKind: 'wrong step', env: env('REVOCATION_KEY') },
  { group: 'htlc', label: 'htlc watch-add', args: ['htlc', 'watch-add', '--outpoint', OUTPOINT, '--to', TO, '--state-dir', 'payer'], valid: 'htlc/seed.json', wrong: 'ptlc/created.json' },
  { group: 'ptlc', label: 'ptlc watch-add', args: ['ptlc', 'watch-add', '--outpoint', OUTPOINT, '--to', TO, '--state-dir', 'payer'], valid: 'ptlc/created.json', wrong: 'ptlc/presigned.json', wrongKind: 'wrong step' },
  { group: 'ptlc', label: 'ptlc claim', args: ['ptlc', 'claim', '--secret-file', 'fixtures/ptlc/secret.hex'], valid: 'ptlc/presigned.json', wrong: 'ptlc/created.json', wrongKind: 'wrong step' },
  { group: 'ptlc', label: 'ptlc refund', args: ['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', '--tip-height', '1100'], valid: 'ptlc/created.json', wrong: 'ptlc/presigned.json', wrongKind: 'wrong step', env: env('ALICE_KEY') },
  { group: 'ptlc', label: 'ptlc presign', args: ['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', 'ptlc-bob', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2'], valid: 'ptlc/created.json', wrong: 'htlc/seed.json', env: env('BOB_KEY') },
  { group: 'commitment', label: 'commitment sweep', args: ['commitment', 'sweep', '--key-env', 'DELAYED', '--htlc-txid', '54f2a8cbb8c3cd8a5f19d79d8fe9021b5d29db12be4e1538b1b4d6cb9d205d7c', '--to', TO, '--feerate-per-kw', '2500'], valid: 'bolt3/appendix-c-request.json', wrong: 'bolt3/alice-channel.json', env: env('DELAYED') },
  { group: 'commitment', label: 'commitment init', args: ['commitment', 'init', '--channel', 'fixtures/bolt3/bob-channel.json', '--seed-file', 'fixtures/bolt3/bob.seed', '--state-dir', 'bolt3'], valid: 'bolt3/alice-points.json', wrong: 'bolt3/alice-signed-0.json', wrongKind: 'wrong step' },
  { group: 'commitment', label: 'commitment close (the shutdown received)', args: ['commitment', 'close', '--seed-file', 'fixtures/bolt3/bob.seed', '--to', REFUND, '--key-env', 'BOB_FUNDING', '--state-dir', 'bolt3'], valid: 'bolt3/alice-shutdown.json', wrong: 'bolt3/alice-points.json', wrongKind: 'wrong step', state: ['bolt3-bob'], env: env('BOB_FUNDING') },
  { group: 'musig', label: 'musig nonce', args: ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', 'alice-state'], valid: 'psbt/musig-keypath-init.json', wrong: 'credit/offer.json', env: env('ALICE_KEY') },
  { group: 'musig', label: 'musig sign', args: ['musig', 'sign', '--deterministic', '--key-env', 'BOB_KEY'], valid: 'psbt/musig-keypath-nonces.json', wrong: 'messages/psbt-decoded.json', env: env('BOB_KEY') },
  { group: 'credit', label: 'open-credit --role mint (the open request)', args: ['open-credit', '--role', 'mint', ...mintSide, '--tip-height', '1000'], valid: 'credit/open-request.json', wrong: 'credit/open-accept.json', wrongKind: 'wrong party', state: ['credit'], env: env('MINT_KEY') },
  { group: 'credit', label: 'sign-update --role mint', args: ['sign-update', '--role', 'mint', ...mintSide, '--tip-height', '1001', '--confirmations', '1'], valid: 'credit/update-request.json', wrong: 'credit/receipt.json', wrongKind: 'wrong party', state: ['credit'], env: env('MINT_KEY'), oversized: true },
  { group: 'credit', label: 'sign-update --role user (the receipt)', args: ['sign-update', '--role', 'user', ...userSide], valid: 'credit/receipt.json', wrong: 'credit/update-request.json', wrongKind: 'wrong party', state: ['credit'], env: env('USER_KEY') },
  { group: 'credit', label: 'close-credit --role mint', args: ['close-credit', '--role', 'mint', ...mintSide], valid: 'credit/close-request.json', wrong: 'credit/rollover-request.json', wrongKind: 'wrong step', state: ['credit'], env: env('MINT_KEY') },
  { group: 'credit', label: 'rollover --role mint', args: ['rollover', '--role', 'mint', ...mintSide, '--tip-height', '1002'], valid: 'credit/rollover-request.json', wrong: 'credit/rollover-accept.json', wrongKind: 'wrong party', state: ['credit'], env: env('MINT_KEY') },
  { group: 'credit', label: 'credit abandon --role mint', args: ['credit', 'abandon', '--role', 'mint', ...mintSide], valid: 'credit/abandon.json', wrong: 'credit/abandoned.json', wrongKind: 'wrong party', state: ['credit'], env: env('MINT_KEY') },
  { group: 'device', label: 'gateway pay', args: ['gateway', 'pay', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', '--confirmations', '1', ...mintSide], valid: 'device/pay.json', wrong: 'device/job.json', wrongKind: 'wrong party', state: ['device'], env: env('MINT_KEY') },
  { group: 'device', label: 'device settle', args: ['device', 'settle', ...userSide], valid: 'device/gateway-settle.json', wrong: 'device/device-settle.json', wrongKind: 'wrong party', state: ['device'], env: env('USER_KEY') },
  { group: 'device', label: 'gateway complete', args: ['gateway', 'complete', '--tip-height', '1000', '--confirmations', '1', ...mintSide], valid: 'device/device-settle.json', wrong: 'device/gateway-settle.json', wrongKind: 'wrong party', state: ['device'], env: env('MINT_KEY') },
  { group: 'device', label: 'device receipt', args: ['device', 'receipt', ...userSide], valid: 'device/receipt.json', wrong: 'device/pay.json', wrongKind: 'wrong party', state: ['device'], env: env('USER_KEY') },
  { group: 'statechain', label: 'statechain-deposit (the operator)', args: ['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc-operator', '--tip-height', '200'], valid: 'statechain/deposit-request.json', wrong: 'statechain/transfer-request.json', wrongKind: 'wrong step', env: env('OPERATOR_KEY') },
  { group: 'statechain', label: 'statechain-deposit (the depositor, cosigned)', args: ['statechain-deposit', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-alice'], valid: 'statechain/deposit-cosigned.json', wrong: 'statechain/withdraw-request.json', wrongKind: 'wrong step', state: ['sc-alice-depositing'], env: env('ALICE_KEY') },
  { group: 'statechain', label: 'statechain-verify', args: ['statechain-verify', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '200', '--confirmations', '3'], valid: 'statechain/transfer-package.json', wrong: 'statechain/transfer-request.json', wrongKind: 'wrong step', state: ['sc-bob-receiving'], env: env('BOB_KEY') },
  { group: 'statechain', label: 'statechain-withdraw (the operator)', args: ['statechain-withdraw', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc-operator'], valid: 'statechain/withdraw-request.json', wrong: 'statechain/withdrawal.json', wrongKind: 'wrong step', state: ['sc-operator'], env: env('OPERATOR_KEY') },
];

function matrix(m: MessageCommand, index: number): Case[] {
  const valid = fx(m.valid);
  const [broken, line] = brokenPretty(valid);
  const base = { group: m.group, state: m.state, env: m.env };
  const cases: Case[] = [
    { ...base, kind: 'missing file', name: `${m.label}: --in a missing file`, args: [...m.args, '--in', 'no-such.json'], code: 'E_INPUT_FILE', exit: 2, says: '--in no-such.json' },
    { ...base, kind: 'directory', name: `${m.label}: --in a directory`, args: [...m.args, '--in', 'a-dir'], files: { 'a-dir': { dir: true } }, code: 'E_INPUT_FILE', exit: 2, says: '--in a-dir' },
    { ...base, kind: 'empty', name: `${m.label}: empty standard input`, args: m.args, input: '', code: 'E_EMPTY_INPUT', exit: 3 },
    { ...base, kind: 'not JSON', name: `${m.label}: text that is no message`, args: m.args, input: 'hello, mint\n', code: /^(E_UNKNOWN_FORMAT|E_MALFORMED_JSON)$/, exit: 3 },
    { ...base, kind: 'broken pretty JSON', name: `${m.label}: a pretty-printed message missing a comma on line ${line}`, args: [...m.args, '--in', 'msg.json'], files: { 'msg.json': broken }, code: 'E_MALFORMED_JSON', exit: 3, says: `line ${line}, column` },
    { ...base, kind: m.wrongKind ?? 'wrong message', name: `${m.label}: ${m.wrong} (another ${m.wrongKind === 'wrong party' ? "party's" : 'step\'s'} message)`, args: [...m.args, '--in', `fixtures/${m.wrong}`], code: 'E_WRONG_MESSAGE', exit: 3 },
    { ...base, kind: 'truncated', name: `${m.label}: the message cut short`, args: m.args, input: truncated(valid), code: 'E_MALFORMED_JSON', exit: 3 },
  ];
  if (m.oversized) cases.push({ ...base, kind: 'oversized', name: `${m.label}: --in a 33 MiB file`, args: [...m.args, '--in', 'huge.json'], files: { 'huge.json': HUGE }, code: 'E_INPUT_TOO_LARGE', exit: 3 });
  // Every command meets another step's or party's message; the other faults rotate over
  // the commands (each fault still meets a dozen commands), to keep the run short.
  const wrong = cases[5]!;
  const others = [cases[0]!, cases[1]!, cases[2]!, cases[3]!, cases[4]!, cases[6]!];
  return [wrong, others[(2 * index) % 6]!, others[(2 * index + 1) % 6]!, ...cases.slice(7)];
}

const c = (group: string, kind: Kind, name: string, args: string[], code: string | RegExp, exit: number, more: Partial<Case> = {}): Case => ({ group, kind, name, args, code, exit, ...more });

/** The fixture deposit-request with the last byte of its owner signature changed. */
function forgedDepositRequest(): string {
  const m = JSON.parse(fx('statechain/deposit-request.json')) as { owner_sig: string };
  return JSON.stringify({ ...m, owner_sig: m.owner_sig.slice(0, -2) + (m.owner_sig.endsWith('00') ? '01' : '00') });
}

const PSBT = 'fixtures/psbt/musig-keypath-unsigned.psbt';
const unsigned = fx('psbt/musig-keypath-unsigned.psbt').trim();

const SPECIFIC: Case[] = [
  // ——— psbt ———
  c('psbt', 'missing file', 'psbt decode --in a missing file', ['psbt', 'decode', '--in', 'nope.psbt'], 'E_INPUT_FILE', 2),
  c('psbt', 'not JSON', 'psbt decode: text that is neither JSON nor a PSBT', ['psbt', 'decode'], 'E_UNKNOWN_FORMAT', 3, { input: 'hello world\n' }),
  c('psbt', 'truncated', 'psbt decode: a base64 PSBT cut short', ['psbt', 'decode'], 'E_MALFORMED_PSBT', 3, { input: unsigned.slice(0, 60) }),
  c('psbt', 'bad hex', 'psbt decode: a hex PSBT with an odd number of digits', ['psbt', 'decode'], 'E_MALFORMED_PSBT', 3, { input: '70736274ff0' }),
  c('psbt', 'empty', 'psbt decode: empty input', ['psbt', 'decode'], 'E_EMPTY_INPUT', 3, { input: '' }),
  c('psbt', 'oversized', 'psbt decode: a 33 MiB file', ['psbt', 'decode', '--in', 'huge.psbt'], 'E_INPUT_TOO_LARGE', 3, { files: { 'huge.psbt': HUGE } }),
  c('psbt', 'oversized', 'psbt analyze: 33 MiB on standard input', ['psbt', 'analyze'], 'E_INPUT_TOO_LARGE', 3, { input: 'A'.repeat(33 * 1024 * 1024) }),
  c('psbt', 'stdout', 'psbt decode > /dev/full', ['psbt', 'decode', '--in', PSBT], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('psbt', 'stdout', 'psbt decode (full CLI) > /dev/full', ['psbt', 'decode', '--in', PSBT], 'E_OUTPUT_WRITE', 1, { stdout: 'full', env: { OFFCHAIN_FAST_PATHS: '0' } }),
  // issue 41: a message given as an argument gets a hint, and no echoed value comes back whole (secret: the value must not appear)
  c('psbt', 'unknown flag', 'psbt analyze PSBT (as an argument, as bitcoin-cli decodepsbt takes it)', ['psbt', 'analyze', unsigned], 'E_USAGE', 2, { says: /read from standard input or --in FILE.*\(\d+ bytes\)|\(\d+ bytes\).*standard input or --in/, secret: unsigned }),
  c('psbt', 'oversized', 'psbt analyze --network with a 100 kB value (cut short in the error)', ['psbt', 'analyze', '--network', `x${'y'.repeat(100_000)}`, '--in', PSBT], 'E_USAGE', 2, { says: /… \(1000\d\d bytes\) to be one of/, secret: 'y'.repeat(200) }),
  c('psbt', 'stdout', 'psbt extract --hex > /dev/full', ['psbt', 'extract', '--hex', '--in', 'fixtures/psbt/musig-keypath-final.psbt'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('psbt', 'wrong message', 'psbt decode: a JSON message with no PSBT', ['psbt', 'decode', '--in', 'fixtures/route/seed-request.json'], /^(E_NO_PSBT|E_WRONG_MESSAGE)$/, 3),
  c('psbt', 'protocol', 'psbt extract: a PSBT nobody signed', ['psbt', 'extract', '--in', PSBT], /^E_/, 4),
  c('psbt', 'protocol', 'psbt combine: two different transactions', ['psbt', 'combine', '--in', PSBT, '--in', 'fixtures/truc/parent.psbt'], /^E_/, 4),
  c('psbt', 'unknown flag', 'psbt decode --inn (a typo)', ['psbt', 'decode', '--inn', PSBT], 'E_USAGE', 2, { says: '--in' }),
  c('psbt', 'wrong network', 'psbt decode --network nowhere', ['psbt', 'decode', '--network', 'nowhere', '--in', PSBT], 'E_USAGE', 2),
  c('psbt', 'wrong network', 'psbt analyze: a regtest psbt/updated message with --network mainnet', ['psbt', 'analyze', '--network', 'mainnet', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_NETWORK_MISMATCH', 4),

  // ——— musig ———
  c('musig', 'bad hex', 'musig init --participant zz', ['musig', 'init', '--participant', 'zz', '--participant', BOB, '--in', PSBT], 'E_BAD_HEX', 2),
  c('musig', 'missing flag', 'musig init without --participant', ['musig', 'init', '--in', PSBT], 'E_USAGE', 2),
  c('musig', 'out of range', 'musig init with one --participant (a flag, not the input: 2)', ['musig', 'init', '--participant', ALICE, '--in', PSBT], 'E_MUSIG_PARTICIPANTS', 2, { says: 'two' }),
  c('musig', 'out of range', 'musig init with the same --participant twice', ['musig', 'init', '--participant', ALICE, '--participant', ALICE, '--in', PSBT], 'E_MUSIG_PARTICIPANTS', 2),
  c('musig', 'bad number', 'musig init --input -1', ['musig', 'init', '--participant', ALICE, '--participant', BOB, '--input', '-1', '--in', PSBT], 'E_USAGE', 2),
  c('musig', 'out of range', 'musig init --input 7 (the PSBT has one input)', ['musig', 'init', '--participant', ALICE, '--participant', BOB, '--input', '7', '--in', PSBT], /^E_/, 2),
  c('musig', 'secret', 'musig nonce --key-env naming an unset variable', ['musig', 'nonce', '--key-env', 'NO_SUCH_VAR', '--state-dir', 'alice-state', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_NO_KEY', 2),
  c('musig', 'secret', 'musig nonce --key-file readable by others (0644)', ['musig', 'nonce', '--key-file', 'k', '--state-dir', 'alice-state', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_KEY_FILE_PERMISSIONS', 4, { files: { k: { text: KEYS.ALICE_KEY, mode: 0o644 } } }),
  c('musig', 'secret', 'musig nonce --key-file a directory', ['musig', 'nonce', '--key-file', 'kd', '--state-dir', 'alice-state', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_KEY_FILE', 2, { files: { kd: { dir: true } } }),
  c('musig', 'secret', 'musig nonce --key HEX on the command line (no such flag; the key is not echoed)', ['musig', 'nonce', '--key', KEYS.ALICE_KEY, '--state-dir', 'alice-state', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_USAGE', 2, { secret: KEYS.ALICE_KEY }),
  c('musig', 'secret', 'musig nonce: a key that is not hex or WIF in the variable (not echoed)', ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', 'alice-state', '--in', 'fixtures/psbt/musig-keypath-init.json'], /^E_(BAD_SECRET_KEY|KEY_FILE)$/, 2, { env: { ALICE_KEY: 'secret-but-not-a-key-xyzzy' }, secret: 'xyzzy' }),
  c('musig', 'state dir', 'musig nonce --state-dir a file', ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', 'a-file', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_STATE_NOT_DIR', 2, { env: env('ALICE_KEY'), files: { 'a-file': 'x' } }),
  c('musig', 'state dir', 'musig nonce --state-dir under a file', ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', 'a-file/sub', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_STATE_NOT_DIR', 2, { env: env('ALICE_KEY'), files: { 'a-file': 'x' } }),
  c('musig', 'protocol', 'musig nonce with a key that is not a participant', ['musig', 'nonce', '--key-env', 'MINT_KEY', '--state-dir', 'mint-state', '--in', 'fixtures/psbt/musig-keypath-init.json'], 'E_KEY_MISMATCH', 4, { env: env('MINT_KEY') }),
  c('musig', 'wrong step', 'musig sign: a PSBT with no nonces yet', ['musig', 'sign', '--key-env', 'BOB_KEY', '--deterministic', '--in', 'fixtures/psbt/musig-keypath-init.json'], /^E_/, 4, { env: env('BOB_KEY') }),
  c('musig', 'state dir', 'musig sign --state-dir alcie (mistyped: nothing created; the nonce is unknown there)', ['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', 'alcie', '--in', 'fixtures/psbt/musig-keypath-nonces.json'], 'E_NONCE_UNKNOWN', 5, { env: env('ALICE_KEY'), says: /not issued from this state directory.*start a new round with `offchain musig nonce`/ }),

  // ——— key ———
  c('key', 'bad number', 'key new --format nope', ['key', 'new', '--format', 'nope'], 'E_USAGE', 2),
  c('key', 'state dir', 'key new --out into a missing directory', ['key', 'new', '--out', 'no-dir/k.key'], /^E_/, 2),
  c('key', 'protocol', 'key new --out an existing file (never overwritten)', ['key', 'new', '--out', 'k.key'], /^E_/, 4, { files: { 'k.key': { text: 'keep me\n', mode: 0o600 } } }),
  c('key', 'secret', 'key show --key-file missing', ['key', 'show', '--key-file', 'nope.key'], 'E_KEY_FILE', 2),
  c('key', 'secret', 'key show --key-file 0644', ['key', 'show', '--key-file', 'k'], 'E_KEY_FILE_PERMISSIONS', 4, { files: { k: { text: KEYS.ALICE_KEY, mode: 0o644 } } }),
  c('key', 'secret', 'key show: an empty key variable', ['key', 'show', '--key-env', 'K'], /^E_/, 2, { env: { K: '' } }),
  c('key', 'bad hex', 'key show: a key of 31 bytes (not echoed)', ['key', 'show', '--key-env', 'K'], /^E_/, 2, { env: { K: 'ab'.repeat(31) }, secret: 'ab'.repeat(31) }),
  c('key', 'out of range', 'key show: the key 0 (out of range)', ['key', 'show', '--key-env', 'K'], /^E_/, 2, { env: { K: '00'.repeat(32) } }),
  c('key', 'stdout', 'key show > /dev/full', ['key', 'show', '--key-env', 'ALICE_KEY'], 'E_OUTPUT_WRITE', 1, { stdout: 'full', env: env('ALICE_KEY') }),

  // ——— help, autocomplete, the command line itself ———
  c('help', 'help', 'an unknown command', ['nosuch'], 'E_UNKNOWN_COMMAND', 2),
  c('help', 'help', 'a mistyped command (credit lst)', ['credit', 'lst'], 'E_UNKNOWN_COMMAND', 2, { says: 'credit list' }),
  c('help', 'help', 'help of an unknown command', ['help', 'nosuch'], 'E_UNKNOWN_COMMAND', 2),
  c('help', 'help', 'autocomplete fish', ['autocomplete', 'fish'], 'E_USAGE', 2),
  c('help', 'stdout', 'psbt decode --help > /dev/full', ['psbt', 'decode', '--help'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('help', 'stdout', 'help credit list > /dev/full', ['help', 'credit', 'list'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('help', 'unknown flag', 'route plan --fee-rat 2 (a typo)', ['route', 'plan', '--fee-rat', '2', '--in', 'fixtures/route/seed-request.json'], 'E_USAGE', 2),
  c('help', 'missing flag', 'a flag with no value at the end (route plan --in)', ['route', 'plan', '--in'], 'E_USAGE', 2),

  // ——— route ———
  c('route', 'stdout', 'route plan > /dev/full', ['route', 'plan', '--in', 'fixtures/route/seed-request.json'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('route', 'bad hex', 'route check --node-id zz', ['route', 'check', '--in', 'fixtures/route/seed-plan.json', '--node-id', 'zz', '--policy', 'fixtures/route/bob.policy'], 'E_BAD_HEX', 2),
  c('route', 'missing file', 'route check --policy a missing file', ['route', 'check', '--in', 'fixtures/route/seed-plan.json', '--node-id', BOB, '--policy', 'nope.policy'], /^(E_INPUT_FILE|E_USAGE)$/, 2),
  c('route', 'wrong network', 'route plan: a regtest request with --network mainnet', ['route', 'plan', '--network', 'mainnet', '--in', 'fixtures/route/seed-request.json'], 'E_NETWORK_MISMATCH', 4),
  c('route', 'missing flag', 'route plan --invoice without --payee', ['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', '1795488100'], 'E_USAGE', 2),
  c('route', 'bad number', 'route plan --max-cltv many', ['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', key('invoice/regtest.payee'), '--max-cltv', 'many', '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', '1795488100'], 'E_USAGE', 2),
  c('route', 'protocol', 'route plan --invoice long expired (--now in 2040)', ['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', key('invoice/regtest.payee'), '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', '2200000000'], 'E_INVOICE_EXPIRED', 4),
  c('route', 'bad hex', 'route plan --payee zz', ['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', 'zz', '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', '1795488100'], /^(E_BAD_HEX|E_USAGE)$/, 2),
  c('route', 'out of range', 'route plan --tip-height -1', ['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', key('invoice/regtest.payee'), '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '-1', '--now', '1795488100'], 'E_USAGE', 2),

  // ——— onion ———
  c('onion', 'secret', 'onion-build --session-key-file readable by others', ['onion-build', '--in', 'fixtures/onion/route.json', '--session-key-file', 'sk'], 'E_KEY_FILE_PERMISSIONS', 4, { files: { sk: { text: key('onion/session.key'), mode: 0o644 } } }),
  c('onion', 'missing file', 'onion-build --session-key-file missing', ['onion-build', '--in', 'fixtures/onion/route.json', '--session-key-file', 'nope.key'], /^(E_INPUT_FILE|E_KEY_FILE)$/, 2, { says: '--session-key-file' }),
  c('onion', 'bad hex', 'onion-build --payment-hash zz', ['onion-build', '--in', 'fixtures/route/seed-plan.json', '--session-key-file', 'fixtures/onion/session.key', '--payment-hash', 'zz'], 'E_BAD_HEX', 2),
  c('onion', 'protocol', "onion-peel with another hop's key", ['onion-peel', '--in', 'fixtures/onion/packet.json', '--key-file', 'fixtures/onion/hop2.key'], /^E_/, 4),
  c('onion', 'bad hex', 'onion-peel --path-key zz', ['onion-peel', '--in', 'fixtures/onion/packet.json', '--key-file', 'fixtures/onion/hop1.key', '--path-key', 'zz'], 'E_BAD_HEX', 2),
  c('onion', 'bad hex', 'onion-peel --path-key 33 bytes that are not a point', ['onion-peel', '--in', 'fixtures/onion/blinded-packet.json', '--key-file', 'fixtures/onion/hop2.key', '--path-key', 'ff'.repeat(33)], 'E_ONION_PATH_KEY', 2, { says: '--path-key' }),
  c('onion', 'wrong step', 'onion-peel given a final onion/peeled (the onion ends at this hop)', ['onion-peel', '--key-file', 'fixtures/onion/hop3.key'], 'E_ONION_FINAL', 2, {
    input: JSON.stringify({ type: 'onion/peeled', version: 1, network: 'regtest', associated_data: '42'.repeat(32), final: true, payload: { amt_to_forward: '14000', outgoing_cltv_value: 1400 }, payload_hex: '020236b004020578', unknown_even_types: [] }),
  }),
  c('onion', 'stdout', 'onion-peel > /dev/full', ['onion-peel', '--in', 'fixtures/onion/packet.json', '--key-file', 'fixtures/onion/hop1.key'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('onion', 'wrong network', 'onion-build: a regtest route with --network signet', ['onion-build', '--network', 'signet', '--in', 'fixtures/onion/route.json', '--session-key-file', 'fixtures/onion/session.key'], 'E_NETWORK_MISMATCH', 4),

  // ——— onion-error ———
  c('onion-error', 'bad number', 'onion-error create --failure nope', ['onion-error', 'create', '--onion', 'fixtures/onion/at-hop3.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'nope'], 'E_ONION_FAILURE_NAME', 2),
  c('onion-error', 'bad number', 'onion-error create --field without =', ['onion-error', 'create', '--onion', 'fixtures/onion/at-hop3.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'incorrect_or_unknown_payment_details', '--field', 'htlc_msat'], /^E_/, 2),
  c('onion-error', 'bad number', 'onion-error create --field htlc_msat=lots', ['onion-error', 'create', '--onion', 'fixtures/onion/at-hop3.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'incorrect_or_unknown_payment_details', '--field', 'htlc_msat=lots', '--field', 'height=800000'], /^E_/, 2),
  c('onion-error', 'out of range', 'onion-error create --hold-time -1', ['onion-error', 'create', '--onion', 'fixtures/onion/at-hop3.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'incorrect_or_unknown_payment_details', '--field', 'htlc_msat=14000', '--field', 'height=800000', '--hold-time', '-1'], 'E_USAGE', 2),
  c('onion-error', 'missing file', 'onion-error create --onion missing', ['onion-error', 'create', '--onion', 'nope.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'incorrect_or_unknown_payment_details'], 'E_INPUT_FILE', 2, { says: '--onion' }),
  c('onion-error', 'missing file', 'onion-error unwrap --secrets missing', ['onion-error', 'unwrap', '--in', 'fixtures/onion/error.json', '--secrets', 'nope.json'], 'E_INPUT_FILE', 2, { says: '--secrets' }),
  c('onion-error', 'secret', 'onion-error unwrap --secrets readable by others', ['onion-error', 'unwrap', '--in', 'fixtures/onion/error.json', '--secrets', 's.json'], 'E_SECRET_FILE_PERMISSIONS', 4, { files: { 's.json': { text: fx('onion/secrets.json'), mode: 0o644 } } }),
  c('onion-error', 'wrong message', 'onion-error wrap --onion a route (not a peeled onion)', ['onion-error', 'wrap', '--in', 'fixtures/onion/error-hop3.json', '--onion', 'fixtures/onion/route.json', '--key-file', 'fixtures/onion/hop2.key'], 'E_WRONG_MESSAGE', 3),

  // ——— htlc ———
  c('htlc', 'bad hex', 'htlc create --payer zz', ['htlc', 'create', '--kind', 'seed', '--payer', 'zz', '--recipient', BOB, '--locktime', '1100', '--amount', '50000', '--payment-hash', HASH], 'E_BAD_HEX', 2),
  c('htlc', 'bad hex', 'htlc create --recipient not a key', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', '02aa', '--locktime', '1100', '--amount', '50000', '--payment-hash', HASH], 'E_BAD_PUBKEY', 2),
  c('htlc', 'bad hex', 'htlc create --payment-hash of 31 bytes', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '50000', '--payment-hash', 'ab'.repeat(31)], /^(E_BAD_HEX|E_BAD_LENGTH|E_USAGE)$/, 2),
  c('htlc', 'bad number', 'htlc create --kind nope', ['htlc', 'create', '--kind', 'nope', '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '50000', '--payment-hash', HASH], 'E_USAGE', 2),
  c('htlc', 'out of range', 'htlc create --amount 0 (below dust: a safety rule)', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '0', '--payment-hash', HASH], 'E_DUST_AMOUNT', 4),
  c('htlc', 'bad number', 'htlc create --amount 1.5', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '1.5', '--payment-hash', HASH], /^(E_USAGE|E_BAD_AMOUNT)$/, 2),
  c('htlc', 'out of range', 'htlc create --amount above 21 million BTC', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '2100000000000001', '--payment-hash', HASH], /^(E_USAGE|E_BAD_AMOUNT)$/, 2),
  c('htlc', 'out of range', 'htlc create --locktime -5', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', '-5', '--amount', '50000', '--payment-hash', HASH], 'E_USAGE', 2),
  c('htlc', 'out of range', 'htlc create --locktime +144 without a tip', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--recipient', BOB, '--locktime', '+144', '--amount', '50000', '--payment-hash', HASH], /^(E_CHAIN_UNKNOWN|E_USAGE)$/, 2),
  c('htlc', 'missing flag', 'htlc create without --recipient', ['htlc', 'create', '--kind', 'seed', '--payer', ALICE, '--locktime', '1100', '--amount', '50000', '--payment-hash', HASH], 'E_USAGE', 2),
  c('htlc', 'wrong party', 'htlc claim with the payer\'s key', ['htlc', 'claim', '--key-env', 'ALICE_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2'], 'E_KEY_MISMATCH', 4, { env: env('ALICE_KEY') }),
  c('htlc', 'secret', 'htlc claim --preimage-file readable by others', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'p.hex', '--to', TO, '--fee-rate', '2'], 'E_SECRET_FILE_PERMISSIONS', 4, { env: env('BOB_KEY'), files: { 'p.hex': { text: key('htlc/preimage.hex'), mode: 0o644 } } }),
  c('htlc', 'protocol', 'htlc claim with the wrong preimage', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'p.hex', '--to', TO, '--fee-rate', '2'], 'E_PREIMAGE_MISMATCH', 4, { env: env('BOB_KEY'), files: { 'p.hex': { text: '11'.repeat(32), mode: 0o600 } } }),
  c('htlc', 'fee', 'htlc claim --fee-rate 300 (most of the coin)', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '300'], 'E_FEE_TOO_HIGH', 4, { env: env('BOB_KEY') }),
  c('htlc', 'fee', 'htlc refund --fee-rate 1000000000', ['htlc', 'refund', '--key-env', 'ALICE_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '1000000000', '--tip-height', '1100'], 'E_USAGE', 2, { env: env('ALICE_KEY') }),
  c('htlc', 'bad number', 'htlc claim --fee-rate -2', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '-2'], 'E_USAGE', 2, { env: env('BOB_KEY') }),
  c('htlc', 'bad number', 'htlc claim --outpoint without :vout', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', '5f'.repeat(32), '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2'], 'E_USAGE', 2, { env: env('BOB_KEY') }),
  c('htlc', 'bad number', 'htlc claim --to not an address', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', 'nowhere', '--fee-rate', '2'], /^(E_BAD_ADDRESS|E_USAGE)$/, 2, { env: env('BOB_KEY') }),
  c('htlc', 'wrong network', 'htlc claim --to a mainnet address on regtest', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', MAINNET_TO, '--fee-rate', '2'], 'E_NETWORK_MISMATCH', 4, { env: env('BOB_KEY') }),
  c('htlc', 'missing file', 'htlc claim --htlc a missing file', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--htlc', 'nope.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2'], 'E_INPUT_FILE', 2, { env: env('BOB_KEY'), says: '--htlc' }),
  c('htlc', 'protocol', 'htlc refund before its locktime', ['htlc', 'refund', '--key-env', 'ALICE_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', '--tip-height', '1000'], /^E_/, 4, { env: env('ALICE_KEY') }),
  c('htlc', 'wrong step', 'htlc claim: a spend already complete', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed-claim.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2'], 'E_ALREADY_COMPLETE', 4, { env: env('BOB_KEY') }),
  c('htlc', 'missing flag', "htlc cooperate: another party's spend without --htlc (your own copy)", ['htlc', 'cooperate', '--in', 'fixtures/htlc/taproot-cooperate.json', '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2'], 'E_USAGE', 2, { says: '--htlc' }),
  c('htlc', 'protocol', 'htlc claim --htlc another HTLC than the input', ['htlc', 'claim', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--htlc', 'fixtures/htlc/taproot.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2'], 'E_HTLC_MISMATCH', 4, { env: env('BOB_KEY') }),
  c('htlc', 'protocol', 'htlc cooperate on a seed HTLC (no key path)', ['htlc', 'cooperate', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--amount', '50000', '--to', TO, '--fee-rate', '2'], 'E_NO_KEY_PATH', 4),
  c('htlc', 'no node', 'htlc refund --rpc-url to a closed port', ['htlc', 'refund', '--key-env', 'ALICE_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', '--rpc-url', NO_NODE], 'E_RPC_UNREACHABLE', 1, { env: { ...env('ALICE_KEY'), ...RPC } }),
  c('htlc', 'bad hex', 'htlc decode --script zz (the input, given inline)', ['htlc', 'decode', '--script', 'zz'], 'E_BAD_HEX', 3),
  c('htlc', 'bad hex', 'htlc decode: a script that is not hex on standard input', ['htlc', 'decode'], /^(E_BAD_HEX|E_UNKNOWN_FORMAT|E_NOT_HTLC)$/, 3, { input: 'not a script\n' }),
  c('htlc', 'empty', 'htlc decode: empty standard input', ['htlc', 'decode'], 'E_EMPTY_INPUT', 3, { input: '' }),
  c('htlc', 'wrong network', 'htlc claim: a regtest HTLC with --network mainnet', ['htlc', 'claim', '--network', 'mainnet', '--key-env', 'BOB_KEY', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', MAINNET_TO, '--fee-rate', '2'], 'E_NETWORK_MISMATCH', 4, { env: env('BOB_KEY') }),

  // ——— ptlc ———
  c('ptlc', 'bad hex', 'ptlc create --payer zz', ['ptlc', 'create', '--payer', 'zz', '--payee', BOB, '--point', POINT, '--locktime', '1100', '--amount', '50000'], 'E_BAD_HEX', 2),
  c('ptlc', 'bad number', 'ptlc create --amount lots', ['ptlc', 'create', '--payer', ALICE, '--payee', BOB, '--point', POINT, '--locktime', '1100', '--amount', 'lots'], /^(E_USAGE|E_BAD_AMOUNT)$/, 2),
  c('ptlc', 'out of range', 'ptlc create --locktime 0', ['ptlc', 'create', '--payer', ALICE, '--payee', BOB, '--point', POINT, '--locktime', '0', '--amount', '50000'], 'E_USAGE', 2),
  c('ptlc', 'secret', 'ptlc create --secret-out an existing file (never overwritten)', ['ptlc', 'create', '--payer', ALICE, '--payee', BOB, '--locktime', '1100', '--secret-out', 's.hex', '--amount', '50000'], /^E_/, 4, { files: { 's.hex': { text: 'keep\n', mode: 0o600 } } }),
  c('ptlc', 'bad number', 'ptlc lock-plan --hops -1', ['ptlc', 'lock-plan', '--payment-point', POINT, '--hops', '-1', '--out-dir', 'locks'], 'E_USAGE', 2, { files: { locks: { dir: true } } }),
  c('ptlc', 'out of range', 'ptlc lock-plan --hops 1000', ['ptlc', 'lock-plan', '--payment-point', POINT, '--hops', '1000', '--out-dir', 'locks'], /^(E_USAGE|E_ROUTE_TOO_LONG)$/, 2, { files: { locks: { dir: true } } }),
  c('ptlc', 'missing file', 'ptlc lock-plan --route missing', ['ptlc', 'lock-plan', '--payment-point', POINT, '--route', 'nope.json', '--out-dir', 'locks'], 'E_INPUT_FILE', 2, { files: { locks: { dir: true } }, says: '--route' }),
  c('ptlc', 'secret', 'ptlc lock-check --lock readable by others', ['ptlc', 'lock-check', '--lock', 'l.json'], 'E_SECRET_FILE_PERMISSIONS', 4, { files: { 'l.json': { text: fx('ptlc/lock-1.json'), mode: 0o644 } } }),
  c('ptlc', 'wrong message', 'ptlc lock-check --lock a ptlc/created message', ['ptlc', 'lock-check', '--lock', 'l.json'], 'E_WRONG_MESSAGE', 3, { files: { 'l.json': { text: fx('ptlc/created.json'), mode: 0o600 } } }),
  c('ptlc', 'protocol', 'ptlc claim with the wrong secret', ['ptlc', 'claim', '--in', 'fixtures/ptlc/presigned.json', '--secret-file', 's.hex'], /^E_/, 4, { files: { 's.hex': { text: '11'.repeat(32), mode: 0o600 } } }),
  c('ptlc', 'missing file', 'ptlc extract --claim-tx missing', ['ptlc', 'extract', '--in', 'fixtures/ptlc/presigned.json', '--ptlc', 'fixtures/ptlc/created.json', '--claim-tx', 'nope.hex', '--secret-out', 't.hex'], 'E_INPUT_FILE', 2, { says: '--claim-tx' }),
  c('htlc', 'bad hex', 'htlc watch-add --outpoint zz:0', ['htlc', 'watch-add', '--in', 'fixtures/htlc/seed.json', '--outpoint', 'zz:0', '--to', TO, '--state-dir', 'payer'], 'E_USAGE', 2),
  c('htlc', 'missing flag', 'htlc watch-add without --to', ['htlc', 'watch-add', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--state-dir', 'payer'], 'E_USAGE', 2),
  c('htlc', 'wrong network', 'htlc watch-add --to a mainnet address', ['htlc', 'watch-add', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--to', MAINNET_TO, '--state-dir', 'payer'], 'E_NETWORK_MISMATCH', 4),
  c('htlc', 'out of range', 'htlc watch-add --amount 0', ['htlc', 'watch-add', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--amount', '0', '--to', TO, '--state-dir', 'payer'], 'E_USAGE', 2),
  c('htlc', 'protocol', 'htlc watch-add of a BOLT 3 offered HTLC (a commitment\'s, not a payer\'s)', ['htlc', 'watch-add', '--in', 'fixtures/htlc/offered.json', '--outpoint', OUTPOINT, '--to', TO, '--state-dir', 'payer'], 'E_SECOND_STAGE', 4),
  c('htlc', 'no node', 'htlc watch-add --rpc-url to a closed port', ['htlc', 'watch-add', '--in', 'fixtures/htlc/seed.json', '--outpoint', OUTPOINT, '--to', TO, '--state-dir', 'payer', '--rpc-url', NO_NODE], 'E_RPC_UNREACHABLE', 1, { env: RPC }),
  c('ptlc', 'bad hex', 'ptlc watch-add --outpoint without a vout', ['ptlc', 'watch-add', '--in', 'fixtures/ptlc/created.json', '--outpoint', '5f'.repeat(32), '--to', TO, '--state-dir', 'payer'], 'E_USAGE', 2),
  c('ptlc', 'state dir', 'ptlc watch-add --state-dir under a file', ['ptlc', 'watch-add', '--key-env', 'ALICE_KEY', '--in', 'fixtures/ptlc/created.json', '--outpoint', OUTPOINT, '--to', TO, '--state-dir', 'f/payer'], 'E_STATE_NOT_DIR', 2, { files: { f: 'a file\n' }, env: env('ALICE_KEY') }),
  c('ptlc', 'bad hex', 'ptlc extract --claim-tx not a transaction', ['ptlc', 'extract', '--in', 'fixtures/ptlc/presigned.json', '--ptlc', 'fixtures/ptlc/created.json', '--claim-tx', 'c.hex', '--secret-out', 't.hex'], /^E_/, 3, { files: { 'c.hex': 'zz-not-hex\n' } }),
  c('ptlc', 'bad hex', 'ptlc presign --outpoint zz:0', ['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', 'ptlc-bob', '--in', 'fixtures/ptlc/created.json', '--outpoint', 'zz:0', '--to', TO, '--fee-rate', '2'], /^(E_USAGE|E_BAD_HEX)$/, 2, { env: env('BOB_KEY') }),
  c('ptlc', 'wrong party', "ptlc presign with the payer's key", ['ptlc', 'presign', '--key-env', 'ALICE_KEY', '--state-dir', 'ptlc-alice', '--in', 'fixtures/ptlc/created.json', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2'], 'E_KEY_MISMATCH', 4, { env: env('ALICE_KEY') }),
  c('ptlc', 'fee', 'ptlc refund --fee-rate 5000 (more than the coin)', ['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--in', 'fixtures/ptlc/created.json', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '5000', '--tip-height', '1100'], /^E_(FEE_TOO_HIGH|DUST_OUTPUT)$/, 4, { env: env('ALICE_KEY') }),
  c('ptlc', 'no node', 'ptlc refund --rpc-url to a closed port', ['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--in', 'fixtures/ptlc/created.json', '--outpoint', OUTPOINT, '--to', TO, '--fee-rate', '2', '--rpc-url', NO_NODE], 'E_RPC_UNREACHABLE', 1, { env: { ...env('ALICE_KEY'), ...RPC } }),

  // ——— commitment ———
  c('commitment', 'out of range', 'commitment point --commitment-number -1', ['commitment', 'point', '--seed-file', 'fixtures/bolt3/per-commitment-seed.hex', '--commitment-number', '-1'], 'E_USAGE', 2),
  c('commitment', 'out of range', 'commitment point --commitment-number 2^48', ['commitment', 'point', '--seed-file', 's', '--commitment-number', '281474976710656'], 'E_USAGE', 2, { files: { s: { text: key('bolt3/per-commitment-seed.hex'), mode: 0o600 } } }),
  c('commitment', 'secret', 'commitment point --seed-file readable by others', ['commitment', 'point', '--seed-file', 's', '--commitment-number', '42'], 'E_SECRET_FILE_PERMISSIONS', 4, { files: { s: { text: key('bolt3/per-commitment-seed.hex'), mode: 0o644 } } }),
  c('commitment', 'missing file', 'commitment init --channel missing', ['commitment', 'init', '--channel', 'nope.json', '--seed-file', 'fixtures/bolt3/bob.seed', '--state-dir', 'bolt3', '--in', 'fixtures/bolt3/alice-points.json'], 'E_INPUT_FILE', 2, { says: '--channel' }),
  c('commitment', 'wrong message', 'commitment init --channel a channel-points message', ['commitment', 'init', '--channel', 'fixtures/bolt3/bob-points.json', '--seed-file', 'fixtures/bolt3/bob.seed', '--state-dir', 'bolt3', '--in', 'fixtures/bolt3/alice-points.json'], 'E_WRONG_MESSAGE', 3),
  c('commitment', 'state dir', 'commitment claim on a channel this state dir does not hold', ['commitment', 'claim', '--channel-id', `${'11'.repeat(32)}:0`, '--txid', '22'.repeat(32), '--htlc-key-env', 'DELAYED', '--to', TO, '--feerate-per-kw', '2500', '--state-dir', 'bolt3'], 'E_UNKNOWN_CHANNEL', 5, { env: env('DELAYED'), state: ['bolt3-alice'] }),
  c('commitment', 'bad number', 'commitment close --channel-id without :vout', ['commitment', 'close', '--start', '--channel-id', CHANNEL.split(':')[0]!, '--seed-file', 'fixtures/bolt3/alice.seed', '--to', TO, '--fee-sat', '1500', '--state-dir', 'bolt3'], /^(E_USAGE|E_BAD_CHANNEL_ID)$/, 2, { state: ['bolt3-alice'] }),
  c('commitment', 'fee', 'commitment close --fee-sat more than the channel', ['commitment', 'close', '--start', '--channel-id', CHANNEL, '--seed-file', 'fixtures/bolt3/alice.seed', '--to', TO, '--fee-sat', '999999999', '--state-dir', 'bolt3'], /^E_/, 4, { state: ['bolt3-alice'] }),
  c('commitment', 'wrong message', 'commitment sign --state a channel message', ['commitment', 'sign', '--state', 'fixtures/bolt3/alice-channel.json', '--key-env', 'DELAYED', '--htlc-key-env', 'DELAYED', '--state-dir', 'bolt3'], 'E_WRONG_MESSAGE', 3, { env: env('DELAYED'), state: ['bolt3-alice'] }),
  c('commitment', 'state dir', 'commitment list on a mistyped --state-dir', ['commitment', 'list', '--tip-height', '500', '--state-dir', 'bolt3-typo'], 'E_NO_STATE', 2, { state: ['bolt3-alice'] }),
  c('commitment', 'out of range', 'commitment list --tip-height -5', ['commitment', 'list', '--tip-height', '-5', '--state-dir', 'bolt3'], 'E_USAGE', 2, { state: ['bolt3-alice'] }),
  c('commitment', 'no node', 'commitment list --rpc-url to a closed port', ['commitment', 'list', '--rpc-url', NO_NODE, '--state-dir', 'bolt3'], 'E_RPC_UNREACHABLE', 1, { state: ['bolt3-alice'], env: RPC }),
  c('commitment', 'stdout', 'commitment list > /dev/full', ['commitment', 'list', '--tip-height', '500', '--state-dir', 'bolt3'], 'E_OUTPUT_WRITE', 1, { state: ['bolt3-alice'], stdout: 'full' }),
  c('commitment', 'state dir', 'commitment revoke on a mistyped --state-dir', ['commitment', 'revoke', '--channel-id', CHANNEL, '--seed-file', 'fixtures/bolt3/bob.seed', '--state-dir', 'bolt3-typo'], /^(E_UNKNOWN_CHANNEL|E_NO_STATE)$/, 5),
  c('commitment', 'wrong party', "commitment close: Bob given the closing-signed meant for Alice", ['commitment', 'close', '--seed-file', 'fixtures/bolt3/bob.seed', '--to', REFUND, '--key-env', 'BOB_FUNDING', '--state-dir', 'bolt3', '--in', 'fixtures/bolt3/bob-closing-signed.json'], 'E_NO_SHUTDOWN', 4, { state: ['bolt3-bob'], env: env('BOB_FUNDING') }),
  c('commitment', 'no node', 'commitment penalty --rpc-url to a closed port', ['commitment', 'penalty', '--channel-id', CHANNEL, '--txid', 'fe5636b3df52ae43e998cab0edf5af7f71e213ed649fcf5d967e54b379fbaa6a', '--key-env', 'DELAYED', '--to', TO, '--feerate-per-kw', '2500', '--state-dir', 'bolt3', '--rpc-url', NO_NODE], /^(E_RPC_UNREACHABLE|E_NO_REVOCATION|E_UNKNOWN_TXID)$/, 1, { env: { ...env('DELAYED'), ...RPC }, state: ['bolt3-alice'] }),
  c('commitment', 'bad hex', 'commitment penalty --txid zz (a flag: exit 2, not 3)', ['commitment', 'penalty', '--channel-id', CHANNEL, '--txid', 'zz', '--key-env', 'DELAYED', '--to', TO, '--feerate-per-kw', '2500', '--state-dir', 'bolt3'], 'E_BAD_TXID', 2, { env: env('DELAYED'), state: ['bolt3-alice'], says: '--txid' }),
  c('commitment', 'bad hex', 'commitment claim --txid zz (a flag: exit 2, not 3)', ['commitment', 'claim', '--channel-id', CHANNEL, '--txid', 'zz', '--htlc-key-env', 'DELAYED', '--to', TO, '--feerate-per-kw', '2500', '--state-dir', 'bolt3'], 'E_BAD_TXID', 2, { env: env('DELAYED'), state: ['bolt3-alice'], says: '--txid' }),
  c('commitment', 'bad number', 'commitment penalty --outputs 1,x (not an output index)', ['commitment', 'penalty', '--channel-id', CHANNEL, '--txid', 'fe5636b3df52ae43e998cab0edf5af7f71e213ed649fcf5d967e54b379fbaa6a', '--outputs', '1,x', '--key-env', 'DELAYED', '--to', TO, '--feerate-per-kw', '2500', '--state-dir', 'bolt3'], 'E_BAD_VOUT', 2, { env: env('DELAYED'), state: ['bolt3-alice'], says: '--outputs' }),
  // The keyless tower's channel half (commitment tower-export → offchain watch --tower DIR).
  c('commitment', 'bad number', 'commitment tower-export --min-fee-rate 0 (a ladder starts above zero)', ['commitment', 'tower-export', '--channel-id', CHANNEL, '--key-env', 'DELAYED', '--sweep-to', TO, '--max-fee-rate', '50', '--min-fee-rate', '0', '--state-dir', 'bolt3'], 'E_USAGE', 2, { env: env('DELAYED'), state: ['bolt3-alice'], says: '--min-fee-rate' }),
  c('commitment', 'protocol', 'commitment tower-export --from a commitment the peer has not revoked (nothing a tower could punish)', ['commitment', 'tower-export', '--channel-id', CHANNEL, '--key-env', 'DELAYED', '--sweep-to', TO, '--max-fee-rate', '50', '--from', '1000000', '--state-dir', 'bolt3'], 'E_NOTHING_REVOKED', 4, { env: env('DELAYED'), state: ['bolt3-alice'] }),
  c('commitment', 'missing flag', 'commitment tower-export without --max-fee-rate (the ladder\'s top)', ['commitment', 'tower-export', '--channel-id', CHANNEL, '--key-env', 'DELAYED', '--sweep-to', TO, '--state-dir', 'bolt3'], 'E_USAGE', 2, { env: env('DELAYED'), state: ['bolt3-alice'], says: 'max-fee-rate' }),

  // ——— invoice ———
  c('invoice', 'not JSON', 'invoice decode: not an invoice', ['invoice', 'decode', 'lnbcrt1garbage'], /^E_(INVOICE|BOLT12)_[A-Z0-9_]+$/, 3),
  c('invoice', 'oversized', 'invoice decode: 8,000 characters', ['invoice', 'decode'], 'E_INVOICE_TOO_LONG', 3, { input: `lnbcrt1${'q'.repeat(8000)}` }),
  c('invoice', 'missing file', 'invoice decode inv.bolt11 (a file named where the invoice goes)', ['invoice', 'decode', 'inv.bolt11'], 'E_USAGE', 2, { says: 'is a file: pass its contents (< inv.bolt11 or --in inv.bolt11)', files: { 'inv.bolt11': fx('device/toll.bolt11') } }),
  c('invoice', 'oversized', 'invoice decode: a 120,000-character offer', ['invoice', 'decode'], 'E_BOLT12_TOO_LONG', 3, { input: `lno1${'q'.repeat(120_000)}` }),
  c('invoice', 'truncated', 'invoice decode: an invoice cut short', ['invoice', 'decode', '--now', '1795488100'], /^E_INVOICE_[A-Z0-9_]+$/, 3, { input: key('invoice/regtest.bolt11').slice(0, 120) }),
  c('invoice', 'empty', 'invoice decode: empty standard input', ['invoice', 'decode'], 'E_EMPTY_INPUT', 3, { input: '' }),
  c('invoice', 'bad number', 'invoice decode --now yesterday', ['invoice', 'decode', '--now', 'yesterday', '--in', 'fixtures/invoice/regtest.bolt11'], 'E_USAGE', 2),
  c('invoice', 'wrong network', 'invoice decode: a regtest invoice with --network mainnet', ['invoice', 'decode', '--network', 'mainnet', '--now', '1795488100', '--in', 'fixtures/invoice/regtest.bolt11'], 'E_NETWORK_MISMATCH', 4),
  c('invoice', 'missing file', 'invoice decode --in missing', ['invoice', 'decode', '--in', 'nope.bolt11'], 'E_INPUT_FILE', 2),
  c('invoice', 'missing file', 'htlc create --invoice missing', ['htlc', 'create', '--kind', 'seed', '--invoice', 'nope.bolt11', '--payee', key('invoice/regtest.payee'), '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '50000'], 'E_INPUT_FILE', 2, { says: '--invoice' }),
  c('invoice', 'protocol', 'htlc create --invoice signed by another key than --payee', ['htlc', 'create', '--kind', 'seed', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', BOB, '--now', '1795488100', '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '50000'], 'E_INVOICE_PAYEE', 4),

  // ——— Open Assets, Colu, Counterparty decoders ———
  c('openassets', 'bad hex', 'decode-openassets: a transaction that is not hex', ['decode-openassets', '--network', 'mainnet'], /^E_[A-Z_]+$/, 3, { input: 'zz-not-a-transaction\n' }),
  c('openassets', 'truncated', 'decode-openassets: a transaction cut short', ['decode-openassets', '--network', 'mainnet'], /^E_[A-Z_]+$/, 3, { input: fx('openassets/transfer.hex').trim().slice(0, 101) }),
  c('openassets', 'empty', 'decode-openassets: empty standard input', ['decode-openassets', '--network', 'mainnet'], 'E_EMPTY_INPUT', 3, { input: '' }),
  c('openassets', 'missing file', 'decode-openassets --prev missing', ['decode-openassets', '--network', 'mainnet', '--in', 'fixtures/openassets/transfer.hex', '--prev', 'nope.jsonl'], 'E_INPUT_FILE', 2, { says: '--prev' }),
  c('openassets', 'bad hex', 'decode-openassets --asset-id-of zz (the input, given inline)', ['decode-openassets', '--network', 'mainnet', '--asset-id-of', 'zz'], 'E_BAD_HEX', 3),
  c('openassets', 'bad number', 'decode-openassets --bitcoin-address nonsense (the input, given inline)', ['decode-openassets', '--network', 'mainnet', '--bitcoin-address', 'nonsense'], 'E_OA_BAD_ADDRESS', 3),
  c('openassets', 'bad number', 'decode-openassets --cache-size -1', ['decode-openassets', '--network', 'mainnet', '--stream', '--cache-size', '-1', '--in', 'fixtures/openassets/chain.jsonl'], 'E_USAGE', 2),
  c('openassets', 'bad number', 'decode-openassets --protocol nope', ['decode-openassets', '--network', 'mainnet', '--protocol', 'nope', '--in', 'fixtures/openassets/transfer.hex'], 'E_USAGE', 2),
  c('openassets', 'no node', 'decode-openassets --stream: a node that is not there, met on line 2 (only whole lines before the error)', ['decode-openassets', '--network', 'mainnet', '--stream', '--rpc-url', NO_NODE], 'E_RPC_UNREACHABLE', 1, { input: `${fx('openassets/chain.jsonl').split('\n')[0]}\n{"tx":"${fx('openassets/transfer.hex').trim()}"}\n`, stream: true, env: RPC }),
  c('openassets', 'no node', 'decode-openassets --rpc-url to a closed port (ancestors asked of it)', ['decode-openassets', '--network', 'mainnet', '--in', 'fixtures/openassets/transfer.hex', '--rpc-url', NO_NODE], 'E_RPC_UNREACHABLE', 1, { env: RPC }),
  c('openassets', 'no node', 'decode-openassets --rpc-url with no credentials (no cookie, no user)', ['decode-openassets', '--network', 'mainnet', '--in', 'fixtures/openassets/transfer.hex', '--rpc-url', NO_NODE], 'E_RPC_COOKIE', 2),
  c('openassets', 'stdout', 'decode-openassets --stream > /dev/full', ['decode-openassets', '--network', 'mainnet', '--stream', '--in', 'fixtures/openassets/chain.jsonl'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),
  c('counterparty', 'bad hex', 'decode-counterparty --data zz (the input, given inline)', ['decode-counterparty', '--network', 'testnet', '--data', 'zz'], 'E_BAD_HEX', 3),
  c('counterparty', 'truncated', 'decode-counterparty: a transaction cut short', ['decode-counterparty', '--network', 'testnet'], /^E_[A-Z_]+$/, 3, { input: fx('openassets/counterparty-p2sh-broadcast.hex').trim().slice(0, 121) }),
  c('counterparty', 'empty', 'decode-counterparty: empty standard input', ['decode-counterparty', '--network', 'testnet'], 'E_EMPTY_INPUT', 3, { input: '' }),
  c('counterparty', 'directory', 'decode-counterparty --in a directory', ['decode-counterparty', '--network', 'testnet', '--in', 'd'], 'E_INPUT_FILE', 2, { files: { d: { dir: true } } }),
  c('counterparty', 'oversized', 'decode-counterparty --in a 33 MiB file', ['decode-counterparty', '--network', 'testnet', '--in', 'huge.hex'], 'E_INPUT_TOO_LARGE', 3, { files: { 'huge.hex': HUGE } }),

  // ——— package (TRUC) ———
  c('package', 'missing file', 'package check --parent missing', ['package', 'check', '--parent', 'nope.psbt', '--child', 'fixtures/truc/child.hex'], 'E_INPUT_FILE', 2, { says: '--parent' }),
  c('package', 'bad hex', 'package check --child not a transaction', ['package', 'check', '--parent', 'fixtures/truc/parent.psbt', '--child', 'c.hex'], /^E_[A-Z_]+$/, 3, { files: { 'c.hex': 'hello\n' } }),
  c('package', 'bad number', 'package check --mempool-min-fee -1', ['package', 'check', '--parent', 'fixtures/truc/parent.psbt', '--child', 'fixtures/truc/child.hex', '--mempool-min-fee', '-1'], 'E_USAGE', 2),
  c('package', 'fee', 'package child --fee-rate 100000', ['package', 'child', '--parent', 'fixtures/truc/parent.psbt', '--wallet-psbt', 'fixtures/truc/walletcreatefundedpsbt.answer', '--fee-rate', '100000'], /^E_(FEE_TOO_HIGH|WALLET_PSBT_SHORT)$/, 4),
  c('package', 'wrong message', 'package child --wallet-psbt a route request', ['package', 'child', '--parent', 'fixtures/truc/parent.psbt', '--wallet-psbt', 'fixtures/route/seed-request.json', '--fee-rate', '5'], /^E_(WRONG_MESSAGE|MALFORMED_PSBT)$/, 3),
  c('package', 'no node', 'package submit --rpc-url to a closed port', ['package', 'submit', '--parent', 'fixtures/truc/parent.psbt', '--child', 'fixtures/truc/child.hex', '--rpc-url', NO_NODE], 'E_RPC_UNREACHABLE', 1, { env: RPC }),
  c('package', 'no node', 'package submit with no node and no --dry-run', ['package', 'submit', '--parent', 'fixtures/truc/parent.psbt', '--child', 'fixtures/truc/child.hex'], 'E_CHAIN_OFFLINE', 2),
  c('package', 'stdout', 'package check > /dev/full', ['package', 'check', '--parent', 'fixtures/truc/parent.psbt', '--child', 'fixtures/truc/child.hex'], 'E_OUTPUT_WRITE', 1, { stdout: 'full' }),

  // ——— credit (a contract opened and one payment made: state template "credit") ———
  c('credit', 'out of range', 'credit list --tip-height -5', ['credit', 'list', '--tip-height', '-5', ...mintSide], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'bad number', 'credit list --expiring-within soon', ['credit', 'list', '--tip-height', '1000', '--expiring-within', 'soon', ...mintSide], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'out of range', 'credit list --expiring-within -5', ['credit', 'list', '--tip-height', '1000', '--expiring-within', '-5', ...mintSide], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY'), says: '--expiring-within' }),
  c('credit', 'wrong party', "sign-update --role mint with the user's key (another key than the mint's: a refusal)", ['sign-update', '--role', 'mint', '--key-env', 'USER_KEY', '--state-dir', 'mint', '--tip-height', '1001', '--confirmations', '1', '--in', 'fixtures/credit/update-request.json'], 'E_WRONG_KEY', 4, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'state dir', 'credit list --state-dir mistyped', ['credit', 'list', '--tip-height', '1000', '--state-dir', 'mnt'], 'E_NO_MINT_POLICY', 2, { state: ['credit'] }),
  c('credit', 'state dir', 'credit list --state-dir a file', ['credit', 'list', '--tip-height', '1000', '--state-dir', 'offer.json'], 'E_STATE_NOT_DIR', 2, { state: ['credit'] }),
  c('credit', 'state dir', 'credit list on the mint dir with --network testnet (nothing there)', ['credit', 'list', '--network', 'testnet', '--tip-height', '1000', ...mintSide], 'E_NO_MINT_POLICY', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'stdout', 'credit list > /dev/full', ['credit', 'list', '--tip-height', '1000', ...mintSide], 'E_OUTPUT_WRITE', 1, { state: ['credit'], env: env('MINT_KEY'), stdout: 'full' }),
  c('credit', 'bad number', 'sign-update --role user --amount 0', ['sign-update', '--role', 'user', '--amount', '0', ...userSide], /^(E_USAGE|E_BAD_AMOUNT)$/, 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'bad number', 'sign-update --role user --amount -5', ['sign-update', '--role', 'user', '--amount', '-5', ...userSide], /^(E_USAGE|E_BAD_AMOUNT)$/, 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'bad number', 'sign-update --role user --amount 1.5', ['sign-update', '--role', 'user', '--amount', '1.5', ...userSide], /^(E_USAGE|E_BAD_AMOUNT)$/, 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'out of range', 'sign-update --role user --amount more than the contract holds', ['sign-update', '--role', 'user', '--amount', '90000000', ...userSide], /^E_[A-Z_]+$/, 4, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'bad hex', 'sign-update --role user --contract zz', ['sign-update', '--role', 'user', '--amount', '1000', '--contract', 'zz', ...userSide], /^(E_USAGE|E_BAD_HEX)$/, 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'missing flag', 'sign-update without --role', ['sign-update', '--amount', '1000', ...userSide], 'E_USAGE', 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'bad number', 'sign-update --role payer (not a role)', ['sign-update', '--role', 'payer', '--amount', '1000', ...userSide], 'E_USAGE', 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'wrong party', "sign-update --role user with the mint's key", ['sign-update', '--role', 'user', '--amount', '1000', '--key-env', 'MINT_KEY', '--state-dir', 'user'], 'E_KEY_MISMATCH', 4, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'wrong network', 'sign-update --role mint: a regtest request with --network testnet', ['sign-update', '--role', 'mint', '--network', 'testnet', ...mintSide, '--tip-height', '1001', '--confirmations', '1', '--in', 'fixtures/credit/update-request.json'], /^(E_NETWORK_MISMATCH|E_NO_MINT_POLICY)$/, 4, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'out of range', 'sign-update --role mint --tip-height -1', ['sign-update', '--role', 'mint', ...mintSide, '--tip-height', '-1', '--confirmations', '1', '--in', 'fixtures/credit/update-request.json'], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'secret', 'sign-update --role user --key-file readable by others', ['sign-update', '--role', 'user', '--amount', '1000', '--key-file', 'k', '--state-dir', 'user'], 'E_KEY_FILE_PERMISSIONS', 4, { state: ['credit'], files: { k: { text: KEYS.USER_KEY, mode: 0o644 } } }),
  c('credit', 'secret', 'sign-update --role user with no key at all', ['sign-update', '--role', 'user', '--amount', '1000', '--state-dir', 'user'], 'E_NO_KEY', 2, { state: ['credit'] }),
  c('credit', 'no node', 'exit-credit --broadcast --rpc-url to a closed port (nothing frozen)', ['exit-credit', '--fee-rate', '10', '--broadcast', '--rpc-url', NO_NODE, ...mintSide], 'E_RPC_UNREACHABLE', 1, { state: ['credit'], env: { ...env('MINT_KEY'), ...RPC } }),
  c('credit', 'no node', 'exit-credit --broadcast with no node (nothing frozen)', ['exit-credit', '--fee-rate', '10', '--broadcast', ...mintSide], 'E_CHAIN_OFFLINE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'fee', 'exit-credit --fee-rate 100000', ['exit-credit', '--fee-rate', '100000', ...mintSide], 'E_FEE_TOO_HIGH', 4, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'bad number', 'exit-credit --fee-rate ten', ['exit-credit', '--fee-rate', 'ten', ...mintSide], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'bad number', 'exit-credit --max-fee-share 2', ['exit-credit', '--fee-rate', '10', '--max-fee-share', '2', ...mintSide], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'missing file', 'exit-credit --child missing', ['exit-credit', '--fee-rate', '10', '--child', 'nope.psbt', ...mintSide], 'E_INPUT_FILE', 2, { state: ['credit'], env: env('MINT_KEY'), says: '--child' }),
  c('credit', 'no node', 'watch without a node (acting needs one; offline only --once --dry-run)', ['watch', ...mintSide, '--tip-height', '5300'], 'E_CHAIN_OFFLINE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'no node', 'watch --once --dry-run --rpc-url to a closed port', ['watch', '--once', '--dry-run', '--rpc-url', NO_NODE, ...mintSide], 'E_RPC_UNREACHABLE', 1, { state: ['credit'], env: { ...env('MINT_KEY'), ...RPC } }),
  c('credit', 'bad number', 'watch --interval 0', ['watch', '--interval', '0', ...mintSide, '--tip-height', '5300'], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'bad number', 'watch --max-fee-share 2', ['watch', '--once', '--dry-run', '--max-fee-share', '2', ...mintSide, '--tip-height', '5300'], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  c('credit', 'bad number', 'watch --zmq-hashblock that is no ZMQ endpoint (an HTTP URL)', ['watch', '--zmq-hashblock', 'http://127.0.0.1:28332', ...mintSide, '--tip-height', '5300'], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY'), says: '--zmq-hashblock' }),
  c('credit', 'bad number', 'watch --operator-listen on a public address (no authentication)', ['watch', '--operator-listen', '0.0.0.0:9339', ...mintSide, '--tip-height', '5300'], 'E_USAGE', 2, { state: ['credit'], env: env('MINT_KEY') }),
  // A state directory holding a channel (Alice's): the watcher needs her revocation_basepoint secret and --sweep-to, checked before anything is decided.
  c('commitment', 'missing flag', 'watch --once --dry-run on a channel party\'s directory without --revocation-key-env/--revocation-key-file', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--sweep-to', TO, '--tip-height', '900'], 'E_NO_KEY', 2, { state: ['bolt3-alice'], says: '--revocation-key-env' }),
  c('commitment', 'secret', 'watch --revocation-key-env naming an unset variable', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'NO_SUCH_VAR', '--sweep-to', TO, '--tip-height', '900'], 'E_NO_KEY', 2, { state: ['bolt3-alice'], says: '--revocation-key-env' }),
  c('commitment', 'wrong party', 'watch --revocation-key-env with a key that is not the channel\'s revocation basepoint secret', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'DELAYED', '--sweep-to', TO, '--tip-height', '900'], 'E_WRONG_KEY', 4, { state: ['bolt3-alice'], env: env('DELAYED'), secret: KEYS.DELAYED }),
  c('commitment', 'secret', 'watch --revocation-key-file readable by others (0644)', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-file', 'k', '--sweep-to', TO, '--tip-height', '900'], 'E_KEY_FILE_PERMISSIONS', 4, { state: ['bolt3-alice'], files: { k: { text: KEYS.ALICE_REVOCATION, mode: 0o644 } }, secret: KEYS.ALICE_REVOCATION }),
  c('commitment', 'secret', 'watch --revocation-key HEX on the command line (no such flag; the key is not echoed)', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key', KEYS.ALICE_REVOCATION, '--sweep-to', TO, '--tip-height', '900'], 'E_USAGE', 2, { state: ['bolt3-alice'], secret: KEYS.ALICE_REVOCATION }),
  c('commitment', 'wrong party', 'watch --delayed-key-env with a key that is not the channel\'s delayed_payment_basepoint secret', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--delayed-key-env', 'ALICE_REVOCATION', '--sweep-to', TO, '--tip-height', '900'], 'E_WRONG_KEY', 4, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), secret: KEYS.ALICE_REVOCATION, says: '--delayed-key-env' }),
  c('commitment', 'secret', 'watch --delayed-key-env naming an unset variable', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--delayed-key-env', 'NO_SUCH_VAR', '--sweep-to', TO, '--tip-height', '900'], 'E_NO_KEY', 2, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), says: '--delayed-key-env' }),
  c('commitment', 'wrong party', 'watch --htlc-key-env with a key that is not the channel\'s htlc_basepoint secret', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--htlc-key-env', 'DELAYED', '--sweep-to', TO, '--tip-height', '900'], 'E_WRONG_KEY', 4, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION', 'DELAYED'), secret: KEYS.DELAYED, says: '--htlc-key-env' }),
  c('commitment', 'missing flag', 'watch --preimage-file without the htlc_basepoint secret that claims with it', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--preimage-file', 'p', '--sweep-to', TO, '--tip-height', '900'], 'E_USAGE', 2, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), files: { p: { text: '11'.repeat(32), mode: 0o600 } }, says: '--htlc-key-env' }),
  c('commitment', 'wrong party', 'watch --funding-key-env with a key that is not the channel\'s funding key', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--funding-key-env', 'DELAYED', '--seed-file', 'seed', '--sweep-to', TO, '--tip-height', '900'], 'E_WRONG_KEY', 4, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION', 'DELAYED'), files: { seed: { text: '11'.repeat(32), mode: 0o600 } }, secret: KEYS.DELAYED, says: '--funding-key-env' }),
  c('commitment', 'missing flag', 'watch --funding-key-env without --seed-file (both sign the commitment that goes on chain)', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--funding-key-env', 'ALICE_REVOCATION', '--sweep-to', TO, '--tip-height', '900'], 'E_USAGE', 2, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), says: '--seed-file' }),
  c('commitment', 'missing flag', 'watch on a channel party\'s directory without --sweep-to (where the penalties pay)', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--tip-height', '900'], 'E_USAGE', 2, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), says: '--sweep-to' }),
  c('commitment', 'wrong network', 'watch --sweep-to a mainnet address on regtest', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--sweep-to', MAINNET_TO, '--tip-height', '900'], 'E_NETWORK_MISMATCH', 4, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), says: '--sweep-to' }),
  c('commitment', 'bad hex', 'watch --sweep-to that is no address', ['watch', '--once', '--dry-run', '--state-dir', 'bolt3', '--revocation-key-env', 'ALICE_REVOCATION', '--sweep-to', 'not-an-address', '--tip-height', '900'], 'E_BAD_ADDRESS', 2, { state: ['bolt3-alice'], env: env('ALICE_REVOCATION'), says: '--sweep-to' }),
  c('credit', 'wrong party', "watch --once --dry-run with the user's key on the mint's directory", ['watch', '--once', '--dry-run', '--key-env', 'USER_KEY', '--state-dir', 'mint', '--tip-height', '5300'], 'E_WRONG_KEY', 4, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'bad number', 'open-credit --role mint --publish --payout-address nonsense', ['open-credit', '--role', 'mint', '--publish', '--payout-address', 'nonsense', '--key-env', 'MINT_KEY', '--state-dir', 'new-mint'], /^(E_BAD_ADDRESS|E_USAGE)$/, 2, { env: env('MINT_KEY') }),
  c('credit', 'wrong network', 'open-credit --role mint --publish --payout-address a mainnet address', ['open-credit', '--role', 'mint', '--publish', '--payout-address', MAINNET_TO, '--key-env', 'MINT_KEY', '--state-dir', 'new-mint'], 'E_NETWORK_MISMATCH', 4, { env: env('MINT_KEY') }),
  c('credit', 'bad number', 'open-credit --role mint --publish --min-fee-rate -1', ['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--min-fee-rate', '-1', '--key-env', 'MINT_KEY', '--state-dir', 'new-mint'], 'E_USAGE', 2, { env: env('MINT_KEY') }),
  c('credit', 'missing file', 'open-credit --role user --offer missing', ['open-credit', '--role', 'user', '--offer', 'nope.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND, '--in', 'fixtures/credit/funding.psbt'], 'E_INPUT_FILE', 2, { env: env('USER_KEY'), says: '--offer' }),
  c('credit', 'wrong message', 'open-credit --role user --offer an open request', ['open-credit', '--role', 'user', '--offer', 'fixtures/credit/open-request.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND, '--in', 'fixtures/credit/funding.psbt'], 'E_WRONG_MESSAGE', 3, { env: env('USER_KEY') }),
  c('credit', 'out of range', 'open-credit --role user --expiry 600000000 (a time, not a height)', ['open-credit', '--role', 'user', '--offer', 'fixtures/credit/offer.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '600000000', '--refund-address', REFUND, '--in', 'fixtures/credit/funding.psbt'], 'E_USAGE', 2, { env: env('USER_KEY') }),
  c('credit', 'bad number', 'open-credit --role user --expiry +soon', ['open-credit', '--role', 'user', '--offer', 'fixtures/credit/offer.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '+soon', '--refund-address', REFUND, '--in', 'fixtures/credit/funding.psbt'], 'E_USAGE', 2, { env: env('USER_KEY') }),
  // The offer's range is told as a usage error (exit 2: "--expiry +432 … +12960"), a value to change on the command line.
  c('credit', 'out of range', 'open-credit --role user --expiry +10 (below the offer\'s minimum)', ['open-credit', '--role', 'user', '--offer', 'fixtures/credit/offer.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '+10', '--refund-address', REFUND, '--in', 'fixtures/credit/funding.psbt'], 'E_EXPIRY_TOO_SOON', 2, { env: env('USER_KEY') }),
  c('credit', 'wrong network', 'open-credit --role user: a regtest offer with --network signet', ['open-credit', '--role', 'user', '--network', 'signet', '--offer', 'fixtures/credit/offer.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND, '--in', 'fixtures/credit/funding.psbt'], 'E_NETWORK_MISMATCH', 4, { env: env('USER_KEY') }),
  c('credit', 'bad hex', 'open-credit --role user: a funding PSBT that is garbage', ['open-credit', '--role', 'user', '--offer', 'fixtures/credit/offer.json', '--key-env', 'USER_KEY', '--state-dir', 'new-user', '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND], /^E_(MALFORMED_PSBT|UNKNOWN_FORMAT)$/, 3, { env: env('USER_KEY'), input: 'cHNidP8BAJ!!!!\n' }),
  c('credit', 'protocol', 'refund-credit before the contract expires', ['refund-credit', '--tip-height', '1000', ...userSide], /^E_[A-Z_]+$/, 4, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'state dir', 'refund-credit on the mint\'s directory', ['refund-credit', '--tip-height', '5320', '--key-env', 'USER_KEY', '--state-dir', 'mint'], 'E_NO_STATE', 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'missing file', 'credit token decode --keyset missing', ['credit', 'token', 'decode', '--keyset', 'nope.json', '--in', 'fixtures/credit/token.txt'], 'E_INPUT_FILE', 2, { says: '--keyset' }),
  c('credit', 'not JSON', 'credit token decode: not a token', ['credit', 'token', 'decode', '--keyset', 'fixtures/credit/keyset.json'], /^E_[A-Z_]+$/, 3, { input: 'cashuBnotatoken\n' }),
  c('credit', 'secret', 'credit keyset --ecash-seed-env unset', ['credit', 'keyset', '--ecash-seed-env', 'NO_SUCH_SEED'], 'E_NO_ECASH_SEED', 2),
  c('credit', 'not JSON', 'credit ecash restore: outputs not a list', ['credit', 'ecash', 'restore', '--state-dir', 'mint', '--ecash-seed-env', 'S'], 'E_MALFORMED_MESSAGE', 3, { state: ['credit'], env: { S: fx('credit/ecash-seed.txt').trim() }, input: '{"outputs":{}}\n' }),
  c('credit', 'wrong step', 'credit ecash claim --start with no unpaid payment', ['credit', 'ecash', 'claim', '--start', ...userSide], 'E_USAGE', 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'wrong message', 'credit ecash claim fed a receipt', ['credit', 'ecash', 'claim', ...userSide, '--in', 'fixtures/credit/receipt.json'], 'E_WRONG_MESSAGE', 3, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'state dir', 'credit ecash restore on a mistyped --state-dir', ['credit', 'ecash', 'restore', '--state-dir', 'mnt', '--ecash-seed-env', 'S', '--in', 'fixtures/credit/restore-request.json'], 'E_NO_MINT_POLICY', 2, { state: ['credit'], env: { S: fx('credit/ecash-seed.txt').trim() } }),
  c('credit', 'bad number', "credit keyset --ecash-path m/x'", ['credit', 'keyset', '--ecash-seed-env', 'S', '--ecash-path', "m/x'"], 'E_USAGE', 2, { env: { S: fx('credit/ecash-seed.txt').trim() } }),
  c('credit', 'missing flag', 'credit ecash check without the mint (--ecash-keysets)', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S'], 'E_USAGE', 2, { env: { S: fx('credit/ecash-seed.txt').trim() }, says: '--ecash-keysets' }),
  c('credit', 'missing flag', 'credit ecash check --ecash-keysets FILE without --ecash-keys', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-keysets', 'fixtures/credit/nutshell/keysets.json'], 'E_USAGE', 2, { env: { S: fx('credit/ecash-seed.txt').trim() }, says: '--ecash-keys' }),
  c('credit', 'missing file', 'credit ecash check --ecash-keysets missing', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-keysets', 'nope.json', '--ecash-keys', 'fixtures/credit/nutshell/keys.json'], 'E_INPUT_FILE', 2, { env: { S: fx('credit/ecash-seed.txt').trim() }, says: '--ecash-keysets' }),
  c('credit', 'wrong message', 'credit ecash check --ecash-keysets an offer (not a /v1/keysets answer)', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-keysets', 'fixtures/credit/offer.json', '--ecash-keys', 'fixtures/credit/nutshell/keys.json'], 'E_BAD_KEYSET', 3, { env: { S: fx('credit/ecash-seed.txt').trim() } }),
  c('credit', 'protocol', 'credit ecash check against a mint whose fee is not --ecash-input-fee-ppk', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-input-fee-ppk', '0', '--ecash-keysets', 'fixtures/credit/nutshell/keysets.json', '--ecash-keys', 'fixtures/credit/nutshell/keys.json'], 'E_ECASH_KEYSET_MISMATCH', 4, { env: { S: fx('credit/ecash-seed.txt').trim() }, says: 'fee: ' }),
  c('credit', 'secret', 'credit ecash check with another seed than the mint\'s', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-keysets', 'fixtures/credit/nutshell/keysets.json', '--ecash-keys', 'fixtures/credit/nutshell/keys.json'], 'E_ECASH_KEYSET_MISMATCH', 4, { env: { S: 'not the mint seed' }, says: 'seed: ', secret: 'not the mint seed' }),
  c('credit', 'bad number', 'credit keyset --ecash-id-version 02', ['credit', 'keyset', '--ecash-seed-env', 'S', '--ecash-id-version', '02'], 'E_USAGE', 2, { env: { S: fx('credit/ecash-seed.txt').trim() } }),
  c('credit', 'secret', 'credit ecash check --ecash-keysets a URL with a password', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-keysets', 'http://op:hunter2secret@127.0.0.1:9'], 'E_SECRET_ON_ARGV', 2, { env: { S: fx('credit/ecash-seed.txt').trim() }, secret: 'hunter2secret' }),
  c('credit', 'no node', 'credit ecash check --ecash-keysets a URL nothing answers', ['credit', 'ecash', 'check', '--ecash-seed-env', 'S', '--ecash-keysets', 'http://127.0.0.1:9'], 'E_ECASH_MINT_UNREACHABLE', 1, { env: { S: fx('credit/ecash-seed.txt').trim() } }),
  c('credit', 'protocol', 'credit ecash follow on a mint whose offer issues no ecash', ['credit', 'ecash', 'follow', '--ecash-seed-env', 'S', '--ecash-keysets', 'fixtures/credit/nutshell/rotated-keysets.json', '--ecash-keys', 'fixtures/credit/nutshell/rotated-keys.json', ...mintSide], 'E_NO_ECASH', 4, { state: ['credit'], env: { ...env('MINT_KEY'), S: fx('credit/ecash-seed.txt').trim() } }),
  c('credit', 'wrong step', 'rollover --role user --expiry +4320 without --tip-height (offline: no tip)', ['rollover', '--role', 'user', '--expiry', '+4320', ...userSide], 'E_CHAIN_UNKNOWN', 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'fee', 'rollover --role user --fee-rate 1000000', ['rollover', '--role', 'user', '--expiry', '+4320', '--tip-height', '1002', '--fee-rate', '1000000', ...userSide], 'E_USAGE', 2, { state: ['credit'], env: env('USER_KEY') }),
  c('credit', 'state dir', 'close-credit --role user --start on a mistyped --state-dir', ['close-credit', '--role', 'user', '--start', '--key-env', 'USER_KEY', '--state-dir', 'usr'], 'E_NO_STATE', 2, { state: ['credit'], env: env('USER_KEY') }),

  // ——— device / gateway (a fresh credit contract: state template "device") ———
  c('device', 'missing file', 'device pay --invoice missing', ['device', 'pay', '--invoice', 'nope.bolt11', '--policy', 'fixtures/policies/device.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', ...userSide], 'E_INPUT_FILE', 2, { state: ['device'], env: env('USER_KEY'), says: '--invoice' }),
  c('device', 'missing file', 'device pay --policy missing', ['device', 'pay', '--invoice', 'fixtures/device/toll.bolt11', '--policy', 'nope.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', ...userSide], 'E_INPUT_FILE', 2, { state: ['device'], env: env('USER_KEY'), says: '--policy' }),
  c('device', 'broken pretty JSON', 'device pay --policy broken JSON', ['device', 'pay', '--invoice', 'fixtures/device/toll.bolt11', '--policy', 'p.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', ...userSide], 'E_MALFORMED_JSON', 3, { state: ['device'], env: env('USER_KEY'), says: '--policy p.json', files: { 'p.json': brokenPretty(fx('policies/device.json'))[0] } }),
  c('device', 'bad number', 'device pay --now later', ['device', 'pay', '--invoice', 'fixtures/device/toll.bolt11', '--policy', 'fixtures/policies/device.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', 'later', '--tip-height', '1000', ...userSide], 'E_USAGE', 2, { state: ['device'], env: env('USER_KEY') }),
  c('device', 'wrong network', 'device pay --network testnet (the contract is on regtest)', ['device', 'pay', '--network', 'testnet', '--invoice', 'fixtures/device/toll.bolt11', '--policy', 'fixtures/policies/device.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', ...userSide], /^(E_NETWORK_MISMATCH|E_NO_STATE)$/, 2, { state: ['device'], env: env('USER_KEY') }),
  c('device', 'wrong step', 'device pay of another invoice while a payment is in flight (one HTLC at a time; the same invoice resends its device/pay)', ['device', 'pay', '--invoice', 'fixtures/invoice/regtest.bolt11', '--policy', 'fixtures/policies/device.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', ...userSide], 'E_HTLC_IN_FLIGHT', 4, { state: ['device'], env: env('USER_KEY') }),
  c('device', 'bad hex', 'gateway fail --payment-hash zz', ['gateway', 'fail', '--payment-hash', 'zz', ...mintSide], /^(E_BAD_HEX|E_USAGE)$/, 2, { state: ['device'], env: env('MINT_KEY') }),
  c('device', 'protocol', 'gateway fail: no payment in flight', ['gateway', 'fail', '--payment-hash', '72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793', ...mintSide], 'E_NO_PAYMENT_IN_FLIGHT', 4, { state: ['device'], env: env('MINT_KEY') }),
  c('device', 'secret', 'gateway settle --preimage-file readable by others', ['gateway', 'settle', '--preimage-file', 'p', ...mintSide], 'E_SECRET_FILE_PERMISSIONS', 4, { state: ['device'], env: env('MINT_KEY'), files: { p: { text: '01'.repeat(32), mode: 0o644 } } }),
  c('device', 'missing file', 'gateway settle --preimage-file missing', ['gateway', 'settle', '--preimage-file', 'nope', ...mintSide], 'E_INPUT_FILE', 2, { state: ['device'], env: env('MINT_KEY'), says: '--preimage-file' }),
  c('device', 'state dir', 'gateway pay on a mistyped --state-dir', ['gateway', 'pay', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', '--confirmations', '1', '--key-env', 'MINT_KEY', '--state-dir', 'mnt', '--in', 'fixtures/device/pay.json'], /^(E_NO_MINT_POLICY|E_NO_STATE)$/, 2, { state: ['device'], env: env('MINT_KEY') }),
  c('device', 'no node', 'gateway pay --rpc-url to a closed port', ['gateway', 'pay', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--rpc-url', NO_NODE, ...mintSide, '--in', 'pay.json'], 'E_RPC_UNREACHABLE', 1, { state: ['device'], env: { ...env('MINT_KEY'), ...RPC } }),

  // issue 41: the exit class docs/cli.md names (a malformed flag 2, a refusal 4), not what the code happened to do
  c('device', 'bad hex', 'device pay --contract xyz', ['device', 'pay', '--contract', 'xyz', '--invoice', 'fixtures/device/toll.bolt11', '--policy', 'fixtures/policies/device.json', '--terms', 'fixtures/policies/gateway-terms.json', '--now', '1800000000', '--tip-height', '1000', ...userSide], 'E_BAD_HEX', 2, { state: ['device'], env: env('USER_KEY'), says: '--contract' }),
  c('device', 'bad hex', 'device refund-htlc --payment-hash zz', ['device', 'refund-htlc', '--payment-hash', 'zz', '--fee-rate', '2', '--tip-height', '1000', ...userSide], 'E_BAD_HEX', 2, { state: ['device'], env: env('USER_KEY'), says: '--payment-hash' }),
  c('device', 'bad hex', 'device refund-htlc --payment-hash of 31 bytes', ['device', 'refund-htlc', '--payment-hash', 'ab'.repeat(31), '--fee-rate', '2', '--tip-height', '1000', ...userSide], 'E_BAD_LENGTH', 2, { state: ['device'], env: env('USER_KEY'), says: '--payment-hash' }),
  c('device', 'bad hex', 'device refund-htlc --state-txid 1234', ['device', 'refund-htlc', '--payment-hash', HASH, '--state-txid', '1234', '--fee-rate', '2', '--tip-height', '1000', ...userSide], 'E_BAD_LENGTH', 2, { state: ['device'], env: env('USER_KEY'), says: '--state-txid' }),
  // ——— statechain ———
  c('statechain', 'wrong party', "statechain-deposit: the operator given its own deposit-offer (the depositor's step 3)", ['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc-operator', '--in', 'fixtures/statechain/deposit-offer.json'], 'E_USAGE', 2, { env: env('OPERATOR_KEY'), says: '--funding' }),
  c('statechain', 'wrong party', "statechain-deposit: the depositor given its own deposit-request (the operator's step)", ['statechain-deposit', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-alice', '--in', 'fixtures/statechain/deposit-request.json'], 'E_KEY_MISMATCH', 4, { state: ['sc-alice-depositing'], env: env('ALICE_KEY') }),
  // The first request an operator gets, forged: refused before its state.sqlite is made (an operator's database is created by the offer it keeps, not by a refusal).
  c('statechain', 'protocol', "statechain-deposit (the operator): a deposit-request whose owner signature does not verify, on a fresh --state-dir (nothing created)", ['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc-operator', '--tip-height', '200'], 'E_BAD_REQUEST_SIG', 4, { env: env('OPERATOR_KEY'), input: forgedDepositRequest() }),
  c('statechain', 'bad hex', 'statechain-deposit --start --operator-key zz', ['statechain-deposit', '--start', '--operator-key', 'zz', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-alice'], 'E_BAD_HEX', 2, { env: env('ALICE_KEY') }),
  c('statechain', 'bad hex', 'statechain-deposit --start --operator-key not a key', ['statechain-deposit', '--start', '--operator-key', '02aa', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-alice'], 'E_BAD_PUBKEY', 2, { env: env('ALICE_KEY') }),
  c('statechain', 'missing flag', 'statechain-deposit --start without --operator-key', ['statechain-deposit', '--start', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-alice'], 'E_USAGE', 2, { env: env('ALICE_KEY') }),
  c('statechain', 'bad number', 'statechain-deposit --initial-lock -3 (the operator)', ['statechain-deposit', '--initial-lock', '-3', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc-operator', '--tip-height', '200', '--in', 'fixtures/statechain/deposit-request.json'], 'E_USAGE', 2, { env: env('OPERATOR_KEY') }),
  c('statechain', 'missing file', 'statechain-deposit --funding missing', ['statechain-deposit', '--funding', 'nope.psbt', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-alice', '--in', 'fixtures/statechain/deposit-offer.json'], 'E_INPUT_FILE', 2, { env: env('ALICE_KEY'), state: ['sc-alice-depositing'], says: '--funding' }),
  c('statechain', 'bad number', 'statechain-backup --coin not-a-coin', ['statechain-backup', '--coin', 'not-a-coin', '--to', TO, '--fee-rate', '5', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '290'], /^(E_USAGE|E_BAD_HEX|E_UNKNOWN_COIN)$/, 2, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'state dir', 'statechain-backup for a coin this directory does not hold', ['statechain-backup', '--coin', '00'.repeat(16), '--to', TO, '--fee-rate', '5', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '290'], /^(E_UNKNOWN_COIN|E_NO_STATE|E_NO_COIN)$/, 5, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'fee', 'statechain-backup --fee-rate 100000', ['statechain-backup', '--coin', COIN, '--to', TO, '--fee-rate', '100000', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '290'], 'E_FEE_TOO_HIGH', 4, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'state dir', 'statechain list on a mistyped --state-dir', ['statechain', 'list', '--tip-height', '285', '--state-dir', 'sc-bbo'], 'E_NO_STATE', 2, { state: ['sc-bob'] }),
  c('statechain', 'state dir', 'statechain list on Bob\'s directory with --network testnet (nothing there)', ['statechain', 'list', '--network', 'testnet', '--tip-height', '285', '--state-dir', 'sc-bob'], 'E_NO_STATE', 2, { state: ['sc-bob'] }),
  c('statechain', 'no node', 'statechain list --rpc-url to a closed port', ['statechain', 'list', '--rpc-url', NO_NODE, '--state-dir', 'sc-bob'], 'E_RPC_UNREACHABLE', 1, { state: ['sc-bob'], env: RPC }),
  c('statechain', 'no node', 'statechain list with both --rpc-url and --tip-height', ['statechain', 'list', '--rpc-url', NO_NODE, '--tip-height', '285', '--state-dir', 'sc-bob'], 'E_USAGE', 2, { state: ['sc-bob'], env: RPC }),
  c('statechain', 'no node', 'statechain-backup --broadcast --rpc-url to a closed port', ['statechain-backup', '--coin', COIN, '--to', TO, '--fee-rate', '5', '--broadcast', '--rpc-url', NO_NODE, '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_RPC_UNREACHABLE', 1, { state: ['sc-bob'], env: { ...env('BOB_KEY'), ...RPC } }),
  c('statechain', 'wrong step', 'statechain-withdraw step 1 with --broadcast (nothing to send yet)', ['statechain-withdraw', '--coin', COIN, '--to', TO, '--fee-rate', '2', '--broadcast', '--rpc-url', NO_NODE, '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_USAGE', 2, { state: ['sc-bob'], env: { ...env('BOB_KEY'), ...RPC } }),
  c('statechain', 'no node', 'statechain-withdraw --coin ID --broadcast with no node (no withdrawal signed)', ['statechain-withdraw', '--coin', COIN, '--broadcast', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], /^E_[A-Z_]+$/, 5, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'wrong party', "watch --once --dry-run with Alice's key on Bob's coins (a statechain owner's watcher)", ['watch', '--once', '--dry-run', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-bob', '--tip-height', '295'], 'E_WRONG_KEY', 4, { state: ['sc-bob'], env: env('ALICE_KEY') }),
  c('statechain', 'secret', "watch --once --dry-run on Bob's coins with no key", ['watch', '--once', '--dry-run', '--state-dir', 'sc-bob', '--tip-height', '295'], 'E_NO_KEY', 2, { state: ['sc-bob'] }),
  // The keyless watchtower (statechain tower-export → offchain watch --tower DIR): the fixture coin's terms have no anchor.
  c('statechain', 'protocol', 'statechain tower-export of a coin without an anchor (a tower could not bump its backup)', ['statechain', 'tower-export', '--coin', COIN, '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_BACKUP_UNBUMPABLE', 4, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'state dir', 'statechain tower-export of a coin this directory does not hold', ['statechain', 'tower-export', '--coin', '00'.repeat(16), '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_UNKNOWN_COIN', 5, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'missing flag', 'statechain tower-export without --coin', ['statechain', 'tower-export', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_USAGE', 2, { state: ['sc-bob'], env: env('BOB_KEY'), says: '--coin' }),
  c('statechain', 'secret', 'watch --tower with a key (a tower holds none)', ['watch', '--tower', 'tower', '--key-env', 'BOB_KEY', '--max-fee-rate', '5', '--once', '--dry-run', '--state-dir', 'tower-state', '--tip-height', '295'], 'E_USAGE', 2, { env: env('BOB_KEY'), files: { tower: { dir: true } }, says: '--key-env' }),
  c('statechain', 'missing flag', 'watch --tower without --max-fee-rate (the tower pays)', ['watch', '--tower', 'tower', '--once', '--dry-run', '--state-dir', 'tower-state', '--tip-height', '295'], 'E_USAGE', 2, { files: { tower: { dir: true } }, says: '--max-fee-rate' }),
  c('statechain', 'missing file', 'watch --tower on a directory that is not there', ['watch', '--tower', 'nope', '--max-fee-rate', '5', '--once', '--dry-run', '--state-dir', 'tower-state', '--tip-height', '295'], 'E_USAGE', 2, { says: '--tower' }),
  // A file in the directory that is not an export is skipped and said, never an error (test/lib/statechain/tower-forged.test.ts D): only a directory the tower cannot read is.
  c('statechain', 'missing file', 'watch --tower on a file, not a directory', ['watch', '--tower', 'tower', '--max-fee-rate', '5', '--once', '--dry-run', '--state-dir', 'tower-state', '--tip-height', '295'], 'E_USAGE', 2, { files: { tower: '{}' }, says: '--tower' }),
  c('statechain', 'unknown flag', 'watch --rpc-wallet without --tower or a channel party', ['watch', '--rpc-wallet', 'w', '--once', '--dry-run', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '295'], 'E_USAGE', 2, { state: ['sc-bob'], env: env('BOB_KEY'), says: '--tower' }),
  c('statechain', 'fee', 'statechain-withdraw --fee-rate 100000', ['statechain-withdraw', '--coin', COIN, '--to', TO, '--fee-rate', '100000', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], /^E_(FEE_TOO_HIGH|DUST|AMOUNT_TOO_SMALL)$/, 4, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'wrong network', 'statechain-withdraw --to a mainnet address', ['statechain-withdraw', '--coin', COIN, '--to', MAINNET_TO, '--fee-rate', '2', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_NETWORK_MISMATCH', 4, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'out of range', 'statechain-verify --tip-height -1', ['statechain-verify', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '-1', '--confirmations', '3', '--in', 'fixtures/statechain/transfer-package.json'], 'E_USAGE', 2, { state: ['sc-bob-receiving'], env: env('BOB_KEY') }),
  c('statechain', 'missing flag', 'statechain-verify offline without --confirmations', ['statechain-verify', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '200', '--in', 'fixtures/statechain/transfer-package.json'], 'E_CHAIN_UNKNOWN', 2, { state: ['sc-bob-receiving'], env: env('BOB_KEY'), says: '--confirmations' }),
  c('statechain', 'wrong party', "statechain-verify with Alice's key (not the receiver)", ['statechain-verify', '--key-env', 'ALICE_KEY', '--state-dir', 'sc-bob', '--tip-height', '200', '--confirmations', '3', '--in', 'fixtures/statechain/transfer-package.json'], /^E_(KEY_MISMATCH|UNDECRYPTABLE)$/, 4, { state: ['sc-bob-receiving'], env: env('ALICE_KEY') }),
  c('statechain', 'wrong network', 'statechain-verify: a regtest package with --network testnet', ['statechain-verify', '--network', 'testnet', '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob', '--tip-height', '200', '--confirmations', '3', '--in', 'fixtures/statechain/transfer-package.json'], /^(E_NETWORK_MISMATCH|E_NO_STATE)$/, 4, { state: ['sc-bob-receiving'], env: env('BOB_KEY') }),
  c('statechain', 'bad number', 'statechain-transfer --start --coin zz', ['statechain-transfer', '--start', '--coin', 'zz', '--operator-key', key('statechain/operator.pub'), '--key-env', 'BOB_KEY', '--state-dir', 'sc-bob'], 'E_USAGE', 2, { state: ['sc-bob'], env: env('BOB_KEY') }),
  c('statechain', 'state dir', 'statechain-withdraw on a --state-dir that is a file', ['statechain-withdraw', '--coin', COIN, '--to', TO, '--fee-rate', '2', '--key-env', 'BOB_KEY', '--state-dir', 'f'], 'E_STATE_NOT_DIR', 2, { env: env('BOB_KEY'), files: { f: 'x' } }),
  c('statechain', 'state dir', "statechain-withdraw, the operator's step, on a mistyped --state-dir (nothing created)", ['statechain-withdraw', '--key-env', 'OPERATOR_KEY', '--state-dir', 'sc-oprator', '--in', 'fixtures/statechain/withdraw-request.json'], 'E_UNKNOWN_COIN', 5, { state: ['sc-operator'], env: env('OPERATOR_KEY'), says: '--state-dir' }),
  c('statechain', 'state dir', 'statechain-deposit (operator) on /sys (cannot be written)', ['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', '/sys/offchain-bad-input', '--tip-height', '200', '--in', 'fixtures/statechain/deposit-request.json'], 'E_STATE_ACCESS', 2, { env: env('OPERATOR_KEY') }),
];

/** The whole run: the matrix over every message command, then each group's own cases. */
export const CASES: Case[] = [...MESSAGE_COMMANDS.flatMap(matrix), ...SPECIFIC];
