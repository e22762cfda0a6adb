/**
 * A statechain coin driven through the built CLI, each party a child process with its
 * own key and state directory, each step's stdout piped into the next party's stdin.
 * Offline by default (--tip-height, --confirmations); the regtest suite passes a
 * node's flags instead. Shared by the e2e and regtest tests.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Address, NETWORK, OutScript, Transaction } from '@scure/btc-signer';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from '../helpers.ts';
import { run, type Run } from './cli.ts';
import { runAsync } from './process.ts';
import { bytesOf, hexOf } from '../independent/tx.ts';
import { networkDir, records, stateDigest } from '../state.ts';

const REGTEST = { ...NETWORK, bech32: 'bcrt' };

const fixtureKey = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
export const KEYS: Record<string, string> = {
  OPERATOR_KEY: fixtureKey('mint'),
  ALICE_KEY: fixtureKey('alice'),
  BOB_KEY: fixtureKey('bob'),
  CAROL_KEY: '55'.repeat(32),
  DAVE_KEY: '66'.repeat(32),
};

/** The fixture operator's authentication key (fixtures/statechain/operator.pub): every role pins it at its first step. */
export const OPERATOR_PUB = readFileSync(join(ROOT, 'fixtures', 'statechain', 'operator.pub'), 'utf8').trim();

export const ok = (r: Run): string => {
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

export const refused = (r: Run, code: string, status = 4) =>
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status, stdout: '', code });

export type Flow = {
  dir: string;
  /** Run `args` as `who` (its key env name and state dir), feeding `input`. */
  as(who: string, args: string[], input?: string): Run;
  /** The same, without blocking this worker's event loop (for long flows: vitest's IPC waits at most 60 s). */
  asAsync(who: string, args: string[], input?: string): Promise<Run>;
  chain: () => string[];
};

/**
 * The chain flags for one command: statechain-deposit refuses --confirmations (its old
 * meaning was the terms' floor, now --min-confirmations; no deposit step reads the
 * assertion), so it is not passed there.
 */
export function chainFor(args: string[], chain: string[]): string[] {
  if (args[0] !== 'statechain-deposit') return chain;
  const i = chain.indexOf('--confirmations');
  return i === -1 ? chain : [...chain.slice(0, i), ...chain.slice(i + 2)];
}

/** A party's argv for `args`: its key's variable, its own state directory under `dir`, the chain flags. */
export const partyArgs = (dir: string, chain: () => string[], who: string, args: string[]) => [...args, '--key-env', who, '--state-dir', join(dir, who), ...chainFor(args, chain())];

export function flow(dir: string, chain: () => string[], env: Record<string, string> = {}): Flow {
  return {
    dir,
    chain,
    as: (who, args, input) => run(partyArgs(dir, chain, who, args), { input, env: { ...KEYS, ...env } }),
    asAsync: (who, args, input) => runAsync(partyArgs(dir, chain, who, args), { input, env: { ...KEYS, ...env } }),
  };
}

/** The operator's terms used in tests: small numbers so regtest can mine past them. */
export const TERMS = ['--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '6'];
/** The same with an anchor (zero-fee v3 backups with a P2A): the only terms a pair takes without --allow-unanchored. */
export const ANCHORED_TERMS = ['--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--anchor', '--backup-fee', '0', '--margin', '6'];

/** Deposit steps 1–5; `funding(address)` returns the unsigned funding tx hex. */
export function depositThrough(f: Flow, owner: string, funding: (address: string) => string, terms: string[] = TERMS) {
  const request = ok(f.as(owner, ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
  const offer = ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...terms], request));
  const { coin_id: coinId, statement } = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
  const fundingFile = join(f.dir, `${coinId}.funding.hex`);
  writeFileSync(fundingFile, funding(statement.address));
  // Offline, the funding is given as the wallet's PSBT would be: each input with its witness_utxo (a raw transaction is refused).
  const psbtFile = join(f.dir, `${coinId}.funding.psbt`);
  writeFileSync(psbtFile, fundingPsbt(readFileSync(fundingFile, 'utf8')));
  const backupReq = ok(f.as(owner, ['statechain-deposit', '--funding', psbtFile], offer));
  const cosigned = ok(f.as('OPERATOR_KEY', ['statechain-deposit'], backupReq));
  const coin = JSON.parse(ok(f.as(owner, ['statechain-deposit'], cosigned))) as CoinView;
  return { coinId, coin, request, offer, backupReq, cosigned, fundingFile };
}

export type CoinView = { coin_id: string; outpoint: string; amount_sat: number; backups: string[]; latest_locktime: number; statement: { aggregate: string; address: string } };

/** Transfer steps 1–7 from `sender` to `receiver`. */
export function transferThrough(f: Flow, coinId: string, operatorPub: string, sender: string, receiver: string) {
  const request = ok(f.as(receiver, ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub]));
  const sign = ok(f.as(sender, ['statechain-transfer'], request));
  const cosigned = ok(f.as('OPERATOR_KEY', ['statechain-transfer'], sign));
  const pkg = ok(f.as(sender, ['statechain-transfer'], cosigned));
  const verified = JSON.parse(ok(f.as(receiver, ['statechain-verify'], pkg))) as { transfers_remaining: number; backups: number };
  const accept = ok(f.as(receiver, ['statechain-transfer'], pkg));
  const done = ok(f.as('OPERATOR_KEY', ['statechain-transfer'], accept));
  const coin = JSON.parse(ok(f.as(receiver, ['statechain-transfer'], done))) as CoinView;
  return { request, sign, cosigned, pkg, verified, accept, done, coin };
}

/** An unsigned funding transaction (test code, never broadcast) paying `amount` to `address` as output 1. */
export function fundingTo(address: string, amount: bigint): string {
  const tx = new Transaction({ version: 2, allowUnknownOutputs: true });
  tx.addInput({ txid: new Uint8Array(32).fill(0xab), index: 1 });
  tx.addOutput({ script: OutScript.encode(Address(REGTEST).decode('bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080')), amount: 50_000n });
  tx.addOutput({ script: OutScript.encode(Address(REGTEST).decode(address)), amount });
  return hexOf(tx.unsignedTx);
}

/** `hex` (unsigned) as a base64 PSBT whose inputs each spend a P2WPKH output of 60,000 sat (test values, never on chain). */
export function fundingPsbt(hex: string): string {
  const tx = Transaction.fromRaw(bytesOf(hex.trim()), { allowUnknownOutputs: true });
  const psbt = new Transaction({ version: tx.version, lockTime: tx.lockTime, allowUnknownOutputs: true });
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    psbt.addInput({ txid: input.txid!, index: input.index!, sequence: input.sequence, witnessUtxo: { script: Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(0x5c)]), amount: 60_000n + 100_000n } });
  }
  for (let i = 0; i < tx.outputsLength; i++) psbt.addOutput(tx.getOutput(i) as { script: Uint8Array; amount: bigint });
  expect(hexOf(psbt.unsignedTx)).toBe(hex.trim());
  return Buffer.from(psbt.toPSBT()).toString('base64');
}

/** Every file's bytes under `dir`, as latin1 text (one character a byte: binary files such as state.sqlite compare exactly), for "nothing written" checks. */
export function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, readFileSync(p, 'latin1'));
    }
  };
  walk(dir);
  return out;
}

/**
 * Every file under `dir` → SHA-256 of its bytes, but a state database (`state.sqlite`) → the digest
 * of its rows (test/state.ts stateDigest); its -wal and -shm are how SQLite keeps those rows (a running
 * service holds them open), not more state. For "nothing written" where a service has the database open.
 */
export function stateSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === 'state.sqlite') out[`rows:${relative(dir, p)}`] = stateDigest(d)!;
      else if (!name.startsWith('state.sqlite-')) out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** A party's statechain records in its state.sqlite (`<dir>/<who>/regtest`): the owner's documents by name (`coin-<coin>`, `joint-<coin>`, …), their shares opened with `who`'s key (KEYS). */
export function ownerDocs<T = Record<string, unknown>>(dir: string, who: string): Map<string, T> {
  return new Map(records<T>(networkDir(join(dir, who)), 'statechain', KEYS[who] !== undefined ? bytesOf(KEYS[who]!) : undefined).map((r) => [r.id, r.record]));
}

/** The operator's record of a coin (its share and x₁ opened with the operator's key, `who`'s in KEYS). */
export function operatorRecord<T = { share_secret: string; x1: string | null }>(dir: string, coinId: string, who = 'OPERATOR_KEY'): T {
  const r = records<T>(networkDir(join(dir, who)), 'statechain-operator', bytesOf(KEYS[who]!)).find((x) => x.id === coinId);
  if (r === undefined) throw new Error(`no operator record of ${coinId} in ${join(dir, who)}`);
  return r.record;
}

/** Every secret the parties under `dir` keep — each share (`share_secret`) and x₁ of the owners' documents and the operator's records, opened with their keys — as hex. */
export function storedSecrets(dir: string): string[] {
  const out: string[] = [];
  const collect = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'share_secret' || k === 'x1') && typeof x === 'string' && /^[0-9a-f]{64}$/.test(x)) out.push(x);
        else collect(x);
      }
    }
  };
  for (const who of readdirSync(dir)) {
    const net = networkDir(join(dir, who));
    if (!existsSync(join(net, 'state.sqlite'))) continue;
    for (const r of records(net, 'statechain', KEYS[who] !== undefined ? bytesOf(KEYS[who]!) : undefined)) collect(r.record);
    if (KEYS[who] !== undefined) for (const r of records(net, 'statechain-operator', bytesOf(KEYS[who]!))) collect(r.record);
  }
  return out;
}

