/**
 * One vocabulary (docs/cli.md, issue 28 item 3), enforced over the command table
 * (src/cli.ts COMMANDS: every command's flags) and through the built CLI:
 *
 *   - one fee-rate flag, `--fee-rate`, in sat/vB; its limits `--max-fee-rate`/`--min-fee-rate`
 *     in sat/vB; BOLT 3's per-kw rate is the one documented exception, named so;
 *   - one confirmations flag for "assert N confirmations offline" and one for the policy floor;
 *   - one role flag, `--role`;
 *   - every height flag that takes a relative value spells it `+N`;
 *   - a bad flag value exits 2 (usage), whatever parser refused it;
 *   - one code per situation: "this key is not a party" is E_KEY_MISMATCH, "the node refused
 *     what we submitted" is E_BROADCAST_REJECTED.
 *
 * Each remaining exception is listed below, with what it should become, so that the list
 * only shrinks: today only BOLT 3's --feerate-per-kw, the documented exception. Renamed
 * flags keep their old spellings as deprecated aliases (test/e2e/renamed-flags.test.ts).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, loadCommands } from '../../src/cli.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { run } from './cli.ts';
import { fixture } from './fixtures.ts';
import { runInProcess } from './in-process.ts';

await loadCommands(); // every class: its flags and aliases are read below

type FlagDef = { description?: string; options?: readonly string[]; type?: string; hidden?: boolean; aliases?: string[]; deprecateAliases?: boolean };
const flagsOf = (id: string): Record<string, FlagDef> => {
  const c = COMMANDS[id as keyof typeof COMMANDS] as unknown as { flags?: Record<string, FlagDef>; baseFlags?: Record<string, FlagDef> };
  return { ...c.baseFlags, ...c.flags };
};
const every: [string, string, FlagDef][] = Object.keys(COMMANDS).flatMap((id) => Object.entries(flagsOf(id)).map(([f, d]) => [id, f, d] as [string, string, FlagDef]));
const all = every.filter(([, , d]) => !retired(d));

/** `command --flag` pairs that break a rule today, each with what it should become. Only shrinks. */
const EXCEPTIONS: Record<string, Record<string, string>> = {
  'fee rate': {
    // BOLT 3 fixes the commitment's fee in sat per 1000 weight: the documented exception, named for its unit.
    'commitment:claim --feerate-per-kw': 'BOLT 3 unit (documented exception)',
    'commitment:penalty --feerate-per-kw': 'BOLT 3 unit (documented exception)',
    'commitment:sweep --feerate-per-kw': 'BOLT 3 unit (documented exception)',
    'htlc:create --feerate-per-kw': 'BOLT 3 unit (documented exception)',
  },
};
/**
 * Absolute fees, in sat: not rates, and not exceptions — the protocol fixes an amount (BOLT 2's
 * closing fee_satoshis; the statechain terms' backup_fee_sat, which every backup pays whatever
 * its size). A flag here says "sat"; a new absolute fee must be added here, as a decision.
 */
const ABSOLUTE_FEES = ['fee-sat', 'backup-fee', 'max-backup-fee'];
/**
 * A flag spelling retired on one command for a deprecation period because its meaning moved
 * (statechain-deposit --confirmations was the terms' floor): hidden, refused or ignored, its
 * description starting "retired here:" and naming the flag to use. Not a rule's subject.
 */
function retired(d: FlagDef): boolean {
  return d.hidden === true && /^retired here: /.test(d.description ?? '');
}
const excepted = (rule: string, id: string, flag: string) => `${id} --${flag}` in (EXCEPTIONS[rule] ?? {});

describe('the command table follows docs/cli.md', () => {
  it('covers every command and its flags', () => {
    expect(Object.keys(COMMANDS).length).toBeGreaterThan(50);
    expect(all.length).toBeGreaterThan(400);
  });

  it('fee rates: --fee-rate (sat/vB), its limits --max-/--min-fee-rate (sat/vB), node policy fees (sat/vB); nothing else', () => {
    const POLICY = new Set(['min-relay-fee', 'mempool-min-fee', 'dust-relay-fee']);
    const bad: string[] = [];
    for (const [id, f, d] of all) {
      if (!/fee.?rate|feerate|fee$|fee-sat/.test(f) || ABSOLUTE_FEES.includes(f)) continue;
      if (excepted('fee rate', id, f)) continue;
      const ok = (['fee-rate', 'max-fee-rate', 'min-fee-rate'].includes(f) || POLICY.has(f)) && /sat\/vB/.test(d.description ?? '');
      if (!ok) bad.push(`${id} --${f}: ${d.description}`);
    }
    expect(bad).toEqual([]);
  });

  it('absolute fees are in sat and say so (listed: not a rate, not an exception)', () => {
    const seen = all.filter(([, f]) => ABSOLUTE_FEES.includes(f));
    expect(new Set(seen.map(([, f]) => f))).toEqual(new Set(ABSOLUTE_FEES));
    for (const [id, f, d] of seen) expect(d.description, `${id} --${f}`).toMatch(/\bsat\b(?!\/)/);
  });

  it('confirmations: --confirmations (assert, offline) and --min-confirmations (a floor); nothing else', () => {
    const bad = all.filter(([id, f]) => /confirm/.test(f) && !excepted('confirmations', id, f) && !['confirmations', 'min-confirmations'].includes(f)).map(([id, f]) => `${id} --${f}`);
    expect(bad).toEqual([]);
    // Each means one thing: --confirmations asserts (offline), --min-confirmations is a floor.
    for (const [id, f, d] of all) {
      if (excepted('confirmations', id, f)) continue;
      if (f === 'confirmations') expect(d.description, id).toMatch(/assert/);
      if (f === 'min-confirmations') expect(d.description, id).toMatch(/refuse|required|fewer/);
    }
  });

  it('role: the one flag choosing which party runs a step is --role', () => {
    const bad = all.filter(([, f, d]) => f !== 'role' && (/\b(role|party|side)$/.test(f) || (d.options ?? []).some((o) => ['user', 'mint', 'payer', 'payee', 'operator', 'owner'].includes(o)))).map(([id, f]) => `${id} --${f}`);
    expect(bad).toEqual([]);
    for (const [id, f, d] of all) if (f === 'role') expect(d.options?.length, id).toBeGreaterThanOrEqual(2);
  });

  it('heights given relative to the tip are spelled +N (expiry, timeouts)', () => {
    const bad: string[] = [];
    for (const [id, f, d] of all) {
      if (!/^(expiry|locktime|initial-lock)$/.test(f) || excepted('relative +N', id, f)) continue;
      if (id === 'htlc:claim' && f === 'locktime') continue; // anti-fee-sniping nLockTime: absolute by nature, at or below the tip
      if (!/\+N|\+BLOCKS/.test(d.description ?? '')) bad.push(`${id} --${f}: ${d.description}`);
    }
    expect(bad).toEqual([]);
  });

  it('every command is reachable as `topic verb`; the older names (the design card\'s among them) are plain aliases of it', () => {
    // One command of no topic: `watch` keeps the deadlines of every topic's contracts (docs/cli.md, "Commands").
    expect(Object.keys(COMMANDS).filter((id) => !id.includes(':'))).toEqual(['watch']);
    const aliases = Object.entries(COMMANDS).flatMap(([id, c]) => ((c as { aliases?: string[] }).aliases ?? []).map((a) => `${a} → ${id}`));
    expect(aliases.sort()).toEqual([
      'close-credit → credit:close',
      'decode-counterparty → counterparty:decode',
      'decode-openassets → openassets:decode',
      'exit-credit → credit:exit',
      'onion-blind → onion:blind',
      'onion-build → onion:build',
      'onion-error:create → onion:error:create',
      'onion-error:unwrap → onion:error:unwrap',
      'onion-error:wrap → onion:error:wrap',
      'onion-peel → onion:peel',
      'open-credit → credit:open',
      'refund-credit → credit:refund',
      'rollover → credit:rollover',
      'sign-update → credit:sign-update',
      'statechain-backup → statechain:backup',
      'statechain-deposit → statechain:deposit',
      'statechain-transfer → statechain:transfer',
      'statechain-verify → statechain:verify',
      'statechain-withdraw → statechain:withdraw',
    ]);
    // Plain aliases: no deprecation warning, and no alias is another command's id.
    for (const c of Object.values(COMMANDS)) expect((c as { deprecateAliases?: boolean }).deprecateAliases).toBeUndefined();
    for (const a of aliases) expect(Object.keys(COMMANDS)).not.toContain(a.split(' → ')[0]);
  });

  it('every topic (a command group) has its own description in package.json, not a command\'s summary', () => {
    const topics = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { oclif: { topics: Record<string, { description: string }> } }).oclif.topics;
    const groups = [...new Set(Object.keys(COMMANDS).filter((id) => id.includes(':')).map((id) => id.split(':')[0]!))].sort();
    expect(groups.filter((g) => !topics[g]?.description)).toEqual([]);
    for (const g of groups) expect(topics[g]!.description.length, g).toBeGreaterThan(20);
  });

  it('a renamed flag keeps its old spelling as a deprecated alias (a warning names the new one), clashing with no flag of its command', () => {
    const renamed = every.filter(([, , d]) => (d.aliases ?? []).length > 0);
    expect(renamed.map(([id, f, d]) => `${id} --${f} ← --${d.aliases!.join(', --')}`).sort()).toEqual([
      'credit:open --confirmations ← --funding-confirmations',
      'credit:rollover --confirmations ← --funding-confirmations',
      'credit:sign-update --confirmations ← --funding-confirmations',
      'gateway:complete --confirmations ← --funding-confirmations',
      'gateway:pay --confirmations ← --funding-confirmations',
      'serve:gateway --confirmations ← --funding-confirmations',
      'serve:statechain --confirmations ← --deposit-confirmations',
      'statechain:backup --confirmations ← --deposit-confirmations',
      'statechain:transfer --confirmations ← --deposit-confirmations',
      'statechain:verify --confirmations ← --deposit-confirmations',
      'statechain:withdraw --confirmations ← --deposit-confirmations',
    ]);
    for (const [id, f, d] of renamed) {
      expect(d.deprecateAliases, `${id} --${f}`).toBe(true);
      for (const a of d.aliases!) expect(Object.keys(flagsOf(id)), `${id} --${a}`).not.toContain(a);
    }
    // A retired spelling names what to use instead.
    for (const [id, f, d] of every.filter(([, , d]) => retired(d))) expect(d.description, `${id} --${f}`).toMatch(/--[a-z]/);
  });

  it('every exception listed still exists (a fixed one must leave the list)', () => {
    const present = new Set(every.map(([id, f]) => `${id} --${f}`));
    const stale = Object.values(EXCEPTIONS).flatMap((m) => Object.keys(m)).filter((k) => !present.has(k));
    expect(stale).toEqual([]);
  });
});

describe('one code per situation', () => {
  const src = join(ROOT, 'src');
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));
  const text = files(src).map((f) => readFileSync(f, 'utf8')).join('\n');

  it('"this key is not a party" is E_KEY_MISMATCH: the old MuSig2 spellings are gone', () => {
    expect(text).toContain("'E_KEY_MISMATCH'");
    expect(text).not.toContain("'E_NOT_A_PARTICIPANT'");
    // E_MUSIG_NOT_PARTICIPANT remains only for a PSBT carrying a contribution of a key that
    // is not a participant (a bad input, not our key): one InvalidContributionError.
    expect(text.match(/'E_MUSIG_NOT_PARTICIPANT'/g)?.length ?? 0).toBe(1);
    expect(text).toMatch(/InvalidContributionError\('E_MUSIG_NOT_PARTICIPANT'/);
  });

  it('a node refusing what we submitted is E_BROADCAST_REJECTED (exit 4), package or not: package submit and statechain-backup said E_PACKAGE_REJECTED', () => {
    expect(text).not.toContain("'E_PACKAGE_REJECTED'");
    // Both places that submit to a node and read its verdict: the credit exit's own (submitExit) and the TRUC package reader (package submit, statechain-backup).
    expect(readFileSync(join(src, 'lib/credit/exit.ts'), 'utf8')).toMatch(/RefusedError\('E_BROADCAST_REJECTED'/);
    expect(readFileSync(join(src, 'lib/truc/submit.ts'), 'utf8')).toMatch(/RefusedError\('E_BROADCAST_REJECTED'/);
  });

  it('an empty input is E_EMPTY_INPUT everywhere (Open Assets said E_OA_EMPTY)', () => {
    expect(text).not.toContain("'E_OA_EMPTY'");
    const r = run(['decode-openassets', '--network', 'mainnet'], { input: '  \n' });
    expect(r.stderr).toMatch(/^offchain: error E_EMPTY_INPUT: /);
    expect(r.status).toBe(3);
  });

  it('through the CLI: a non-participant\'s musig nonce and sign are E_KEY_MISMATCH, exit 4, nothing written', () => {
    const dir = tempDir('offchain-vocab-');
    try {
      const env = { MINT_KEY: fixture('keys/mint.key') };
      const state = join(dir.path, 'mint-state');
      const r = run(['musig', 'nonce', '--key-env', 'MINT_KEY', '--state-dir', state, '--in', 'fixtures/psbt/musig-keypath-init.json'], { env });
      expect(r.stderr).toMatch(/^offchain: error E_KEY_MISMATCH: this key \(023c72a[0-9a-f]+\) is not a participant of any MuSig2 input of this PSBT\n$/);
      expect(r.status).toBe(4);
      expect(r.stdout).toBe('');
      expect(() => statSync(state)).toThrow();
      const s = run(['musig', 'sign', '--key-env', 'MINT_KEY', '--state-dir', state, '--in', 'fixtures/psbt/musig-keypath-nonces.json'], { env });
      expect(s.stderr).toMatch(/^offchain: error E_KEY_MISMATCH: /);
      expect(s.status).toBe(4);
      expect(() => statSync(state)).toThrow();
    } finally {
      dir.cleanup();
    }
  });
});

describe('a bad flag value exits 2, whatever parser refused it', () => {
  const ALICE = fixture('keys/alice.pub');
  const BOB = fixture('keys/bob.pub');
  const POINT = fixture('ptlc/payment-point.hex');
  const CAROL = '023c72addb4fdf09af94f0c94d7fe92a386a7e70cf8a1d85916386bb2535c7b1b1';
  const POLICY = 'fee_base_msat=100000000,fee_proportional_millionths=0,cltv_expiry_delta=1';
  const cases: [string, string[], string][] = [
    // Each was exit 3 (E_BAD_HEX / E_BAD_PUBKEY, read as malformed input) or 4 before.
    ['--payment-point not hex', ['ptlc', 'lock-plan', '--payment-point', 'zz', '--hops', '2', '--out-dir', 'unused'], 'E_BAD_HEX'],
    ['--payment-point not a key', ['ptlc', 'lock-plan', '--payment-point', '02aa', '--hops', '2', '--out-dir', 'unused'], 'E_BAD_PUBKEY'],
    ['--payer not hex', ['ptlc', 'create', '--payer', 'zz', '--payee', BOB, '--point', POINT, '--locktime', '1100', '--amount', '50000'], 'E_BAD_HEX'],
    ['--payee not a key', ['ptlc', 'create', '--payer', ALICE, '--payee', '02aa', '--point', POINT, '--locktime', '1100', '--amount', '50000'], 'E_BAD_PUBKEY'],
    ['--path-key not hex', ['onion-peel', '--in', 'fixtures/onion/packet.json', '--key-file', 'fixtures/onion/hop1.key', '--path-key', 'zz'], 'E_BAD_HEX'],
    ['--node-id not hex', ['route', 'check', '--in', 'fixtures/route/seed-plan.json', '--node-id', 'zz', '--policy', POLICY], 'E_BAD_HEX'],
    ['--participant not hex', ['musig', 'init', '--participant', 'zz', '--participant', BOB, '--in', 'fixtures/psbt/musig-keypath-unsigned.psbt'], 'E_BAD_HEX'],
    ['--failure unknown', ['onion-error', 'create', '--onion', 'fixtures/onion/at-hop3.json', '--key-file', 'fixtures/onion/hop3.key', '--failure', 'nope'], 'E_ONION_FAILURE_NAME'],
    ['--payment-hash bad, with a route/plan', ['onion-build', '--in', 'fixtures/route/seed-plan.json', '--session-key-file', 'fixtures/onion/session.key', '--payment-hash', 'zz'], 'E_BAD_HEX'],
    // Was accepted and ignored (exit 0): a flag that does nothing for this input is refused.
    ['--payment-hash with an onion/route', ['onion-build', '--in', 'fixtures/onion/route.json', '--session-key-file', 'fixtures/onion/session.key', '--payment-hash', '00'.repeat(32)], 'E_USAGE'],
    // Were exit 3 (E_BAD_HEX read as malformed input) until the bad-input run (test/e2e/bad-input.test.ts).
    ['htlc create --payer not hex', ['htlc', 'create', '--kind', 'seed', '--payer', 'zz', '--recipient', BOB, '--locktime', '1100', '--amount', '50000', '--payment-hash', '00'.repeat(32)], 'E_BAD_HEX'],
    ['statechain-deposit --operator-key not hex', ['statechain-deposit', '--start', '--operator-key', 'zz', '--key-env', 'NO_SUCH_KEY_ENV'], 'E_BAD_HEX'],
    // oclif's own parsers: already exit 2.
    ['--hops not a number', ['ptlc', 'lock-plan', '--payment-point', POINT, '--hops', 'zz', '--out-dir', 'unused'], 'E_USAGE'],
    ['--format not an option', ['key', 'new', '--format', 'nope'], 'E_USAGE'],
    ['--locktime not a height', ['ptlc', 'create', '--payer', ALICE, '--payee', BOB, '--point', POINT, '--locktime', 'soon', '--amount', '50000'], 'E_USAGE'],
  ];
  // The first row through the built CLI as a process, the others the same bundle in this process (in-process.ts).
  it.each(cases)('%s', async (label, args, code) => {
    const r = label === cases[0]![0] ? run(args, { input: '' }) : await runInProcess(args, { input: '' });
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^offchain: error ${code}: `));
    expect(r.status, r.stderr).toBe(2);
  });
});
