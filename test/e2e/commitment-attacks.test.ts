/**
 * The `commitment` commands attacked through the CLI as documented (review of issue 21's
 * rewrite): findings where the command line itself matters — what a step remembers
 * between runs, which flags a step takes. Each test FAILS on the code as reviewed; the
 * library-level findings are in test/lib/bolt3/party-attacks.test.ts.
 *
 * Two parties, each its own state directory, the fixture channel (fixtures/bolt3/alice-*,
 * bob-*); a refusal must exit 4 with nothing on stdout and not a byte of either state
 * directory changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, fileSnapshot } from '../helpers.ts';
import { run, type Run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { p2wshOf, parseTx } from '../lib/bolt3/independent-p2wsh.ts';
import { serializeSegwit } from '../lib/bolt3/two-parties.ts';

const fx = (name: string) => join(ROOT, 'fixtures/bolt3', name);
const key = (name: string) => readFileSync(fx(name), 'utf8').trim();
const ENV = { A_FUNDING: key('local-funding.key'), A_HTLC: key('local-htlc.key'), B_FUNDING: key('remote-funding.key'), B_HTLC: key('remote-htlc.key') };
const CHANNEL_ID = '8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0';
type Who = 'alice' | 'bob';

const roots: { cleanup: () => void }[] = [];
afterAll(() => roots.forEach((d) => d.cleanup()));

/**
 * Two parties with their channel recorded (`commitment points` + `commitment init`), or with
 * `'exchanged'`, after commitments 0 and 1 signed both ways in BOLT 2's order (0 revoked by
 * both). Each stage is made once per file in a template root, by the same built bundle's main in
 * this process (in-process.ts: these are the steps every test stands on, not the attacks;
 * test/e2e/commitment.test.ts runs that exchange through processes); every test gets its own copy,
 * and its own steps run as processes.
 */
const templates: Partial<Record<'init' | 'exchanged', string>> = {};
beforeAll(async () => {
  const p = partiesIn();
  const here = (r: Promise<Run>) => r.then(ok);
  const points = {
    alice: await here(runInProcess(['commitment', 'points', '--channel', fx('alice-channel.json'), '--seed-file', p.seeds.alice])),
    bob: await here(runInProcess(['commitment', 'points', '--channel', fx('bob-channel.json'), '--seed-file', p.seeds.bob])),
  };
  await here(p.stepHere('alice', 'init', points.bob, '--channel', fx('alice-channel.json')));
  await here(p.stepHere('bob', 'init', points.alice, '--channel', fx('bob-channel.json')));
  templates.init = p.root;
  const x = partiesIn(p.root);
  for (const n of [0, 1]) {
    const bobAnswer = await here(x.stepHere('bob', 'receive-sigs', await here(x.stepHere('alice', 'sign', undefined, '--state', x.stateFile('alice', n))), '--state', x.stateFile('bob', n)));
    if (n > 0) await here(x.stepHere('alice', 'receive-revocation', bobAnswer));
    const aliceAnswer = await here(x.stepHere('alice', 'receive-sigs', await here(x.stepHere('bob', 'sign', undefined, '--state', x.stateFile('bob', n))), '--state', x.stateFile('alice', n)));
    if (n > 0) await here(x.stepHere('bob', 'receive-revocation', aliceAnswer));
  }
  templates.exchanged = x.root;
});

/** The parties in a new root, a copy of the stage's template. */
function parties(stage: 'init' | 'exchanged' = 'init'): ReturnType<typeof partiesIn> {
  const from = templates[stage];
  if (!from) throw new Error(`the ${stage} template was not made (beforeAll failed?)`);
  return partiesIn(from);
}

/** The parties in a new root: a copy of `from`, or (none given) with only their seeds. */
function partiesIn(from?: string) {
  const root = tempDir('offchain-e2e-attacks-');
  roots.push(root);
  if (from) cpSync(from, root.path, { recursive: true });
  const seed = (who: Who) => {
    const f = join(root.path, `${who}.seed`);
    copyFileSync(fx(`${who}.seed`), f);
    chmodSync(f, 0o600);
    return f;
  };
  const seeds = { alice: seed('alice'), bob: seed('bob') };
  const stateDir = (who: Who) => join(root.path, `${who}-state`);
  const as = (who: Who, verb: string, ...args: string[]) => {
    const k = who === 'alice' ? 'A' : 'B';
    const keys = verb === 'sign' || verb === 'finalize' ? ['--key-env', `${k}_FUNDING`, '--htlc-key-env', `${k}_HTLC`] : [];
    const seedFlag = ['receive-sigs', 'finalize', 'revoke', 'init'].includes(verb) ? ['--seed-file', seeds[who]] : [];
    return ['commitment', verb, ...args, ...seedFlag, '--state-dir', stateDir(who), ...keys];
  };
  const opts = (input: unknown) => ({ input: input === undefined ? '' : JSON.stringify(input), env: ENV });
  /** A step as a process (the tests' own steps). */
  const step = (who: Who, verb: string, input: unknown, ...args: string[]) => run(as(who, verb, ...args), opts(input));
  /** The same step in this process (the templates' steps). */
  const stepHere = (who: Who, verb: string, input: unknown, ...args: string[]) => runInProcess(as(who, verb, ...args), opts(input));
  /** A state file of commitment n: the fixture's state 1 under another number (no change of balances). */
  const stateFile = (who: Who, n: number) => {
    if (n <= 1) return fx(`${who}-state-${n}.json`);
    const f = join(root.path, `${who}-state-${n}.json`);
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(fx(`${who}-state-1.json`), 'utf8')), commitment_number: n }));
    return f;
  };
  return { step, stepHere, stateFile, stateDir, seeds, root: root.path };
}

const ok = (r: Run) => {
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};
const refused = (r: Run, code: string | RegExp) =>
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({
    status: 4, stdout: '', code: typeof code === 'string' ? code : expect.stringMatching(code),
  });

const snapshot = fileSnapshot;

describe('the commitment commands attacked through the CLI', () => {
  it('E1 a commitment completed for broadcast (finalize) is never revoked afterwards: receive-sigs for the next one is refused, nothing written', () => {
    // Commitments 0 and 1, both ways, in BOLT 2's order.
    const { step, stateFile, stateDir } = parties('exchanged');
    // Alice closes: she completes her commitment 1 and hands it to her node.
    const closing = ok(step('alice', 'finalize', undefined, '--channel-id', CHANNEL_ID));
    expect(closing).toMatchObject({ type: 'bolt3/holder-commitment', commitment_number: 1 });
    // Before it confirms, Bob sends his signatures on her commitment 2. Were she to answer,
    // the answer is the secret of the commitment she broadcast: Bob takes all of it with
    // `commitment penalty` once it confirms (BOLT 2: no revoke_and_ack after broadcasting).
    const before = snapshot(stateDir('alice'));
    const toAlice2 = ok(step('bob', 'sign', undefined, '--state', stateFile('bob', 2)));
    const answer = step('alice', 'receive-sigs', toAlice2, '--state', stateFile('alice', 2));
    // Refused by what her state holds now (a commitment out for broadcast): a state conflict, exit 5.
    expect({ status: answer.status, stdout: answer.stdout, code: /error (E_[A-Z0-9_]+):/.exec(answer.stderr)?.[1] }, answer.stderr).toEqual({ status: 5, stdout: '', code: 'E_CHANNEL_CLOSING' });
    expect(snapshot(stateDir('alice'))).toEqual(before);
  });

  it('E2 a statechain-funded channel: the HTLC timelock check applies to the commitment a party accepts and keeps, not only to the one it signs', () => {
    const { step, stateFile, stateDir } = parties();
    // Fixture HTLCs expire at 500–504; a funding backup locked to 400 with to_self_delay 144
    // cannot be on chain before 544. Alice refuses to SIGN such a commitment for Bob …
    refused(step('alice', 'sign', undefined, '--state', stateFile('alice', 0), '--funding-locktime', '400'), 'E_CHANNEL_TIMELOCK');
    // … but when Bob signs first, she accepts the same state for her own commitment (and,
    // at n > 0, revokes the one before it): the check must be on receive-sigs too.
    const toAlice = ok(step('bob', 'sign', undefined, '--state', stateFile('bob', 0)));
    const before = snapshot(stateDir('alice'));
    refused(step('alice', 'receive-sigs', toAlice, '--state', stateFile('alice', 0), '--funding-locktime', '400'), 'E_CHANNEL_TIMELOCK');
    expect(snapshot(stateDir('alice'))).toEqual(before);
  });

  it('E3 one per-commitment seed for two channels is refused at init: a secret revealed on one would revoke the same-numbered commitment of the other', () => {
    const { step, stateDir, root } = parties();
    // A second channel (another funding outpoint) with the same peer keys — or a sybil of Bob's.
    const other = (who: Who) => {
      const ch = JSON.parse(readFileSync(fx(`${who}-channel.json`), 'utf8'));
      const f = join(root, `${who}-channel-2.json`);
      writeFileSync(f, JSON.stringify({ ...ch, funding_txid: '11'.repeat(32), funding_vout: 1 }));
      return f;
    };
    const bobSeed2 = join(root, 'bob-2.seed');
    writeFileSync(bobSeed2, `${'22'.repeat(32)}\n`, { mode: 0o600 });
    const bobPoints2 = ok(run(['commitment', 'points', '--channel', other('bob'), '--seed-file', bobSeed2]));
    const before = snapshot(stateDir('alice'));
    // Alice's seed file is the one she already uses for the first channel.
    refused(step('alice', 'init', bobPoints2, '--channel', other('alice')), /^E_/);
    expect(snapshot(stateDir('alice'))).toEqual(before);
  });

  it('E4 (issue 37 F7) a peer whose basepoints and points are Alice\'s own is refused at init, nothing written: its commitment would be hers, and her signature on it a signature on her own', () => {
    const { stateDir, root } = parties();
    const ch = JSON.parse(readFileSync(fx('alice-channel.json'), 'utf8'));
    const mirror = join(root, 'alice-mirror-channel.json');
    writeFileSync(mirror, JSON.stringify({
      ...ch, funding_txid: '33'.repeat(32), remote_to_self_delay: ch.to_self_delay, remote_dust_limit_satoshis: ch.dust_limit_satoshis,
      remote: { ...ch.local, funding_pubkey: ch.remote.funding_pubkey },
    }));
    const seed = join(root, 'alice-mirror.seed');
    writeFileSync(seed, `${'33'.repeat(32)}\n`, { mode: 0o600 });
    // Her own points, as "the peer's" (with the peer's funding key).
    const points = { ...ok(run(['commitment', 'points', '--channel', mirror, '--seed-file', seed])), funding_pubkey: ch.remote.funding_pubkey };
    const before = snapshot(stateDir('alice'));
    refused(run(['commitment', 'init', '--channel', mirror, '--seed-file', seed, '--state-dir', stateDir('alice')], { input: JSON.stringify(points) }), 'E_PEER_KEY_REUSED');
    expect(snapshot(stateDir('alice'))).toEqual(before);
  });
});

describe('issue 37 review (held, kept as regression): commitment penalty refusing a cheater\'s transactions through the CLI', () => {
  it('E5 an --htlc-tx whose HTLC input is not paired with its second stage (E_NOT_SECOND_STAGE), two offline that spend one HTLC output (E_SECOND_STAGE_CONFLICT): exit 4, nothing on stdout, not a byte of the state directory changed', () => {
    const { stateDir, root } = parties('exchanged'); // commitments 0 and 1 both ways
    const revoked = 'fe5636b3df52ae43e998cab0edf5af7f71e213ed649fcf5d967e54b379fbaa6a'; // Bob's commitment 0
    const penalty = (...extra: string[]) => run(['commitment', 'penalty', '--channel-id', CHANNEL_ID, '--txid', revoked, '--key-env', 'A_HTLC', '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--feerate-per-kw', '2500', '--state-dir', stateDir('alice'), ...extra], { env: ENV });
    const honest = ok(penalty()) as { transactions: { hex: string; inputs: { kind: string; vout: number }[] }[] };
    // The second-stage script: to_local's, read from the witness of its justice transaction.
    const toLocal = honest.transactions.find((t) => t.inputs[0]!.kind === 'to_local')!;
    const secondStage = p2wshOf(parseTx(toLocal.hex).inputs[0]!.witness[2]!);
    const htlcVout = honest.transactions.find((t) => t.inputs[0]!.kind === 'received_htlc')!.inputs[0]!.vout;
    const spend = (coin: number, script: Uint8Array) => {
      const file = join(root, `cheat-${coin}-${script.length}.hex`);
      const input = (txid: string, vout: number) => ({ txid, vout, scriptSig: new Uint8Array(0), sequence: 0, witness: [new Uint8Array(72)], outpoint: Uint8Array.from([...Buffer.from(txid, 'hex').reverse(), vout, 0, 0, 0]) });
      writeFileSync(file, serializeSegwit({ version: 2, lockTime: 0, inputs: [input(revoked, htlcVout), input('77'.repeat(32), coin)], outputs: [{ amount: 1_000n, script }] }));
      return file;
    };
    const before = snapshot(stateDir('alice'));
    refused(penalty('--htlc-tx', spend(0, Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9)))), 'E_NOT_SECOND_STAGE');
    refused(penalty('--htlc-tx', spend(1, secondStage), '--htlc-tx', spend(2, secondStage)), 'E_SECOND_STAGE_CONFLICT');
    expect(snapshot(stateDir('alice'))).toEqual(before);
  });
});
