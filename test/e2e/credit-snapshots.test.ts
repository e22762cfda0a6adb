/**
 * CI snapshots of the credit protocol's messages (BRIEF §1, §2 "Determinism for tests"):
 * under OFFCHAIN_TEST_SEED one fixed lifecycle — offer, address, open-request,
 * open-accept, opened, update-request, receipt, balance, close-request, closed, exit,
 * contracts — run through the built CLI prints byte-identical messages to the files
 * under __snapshots__/credit-snapshots/, and a second run in fresh state directories
 * prints byte-identical output again.
 *
 * A snapshot cannot write itself: a missing file fails the run on every machine
 * (vitest.config.ts). A change to any of these files is a change to the wire format or
 * to a transaction: review it as such, then rewrite them on purpose with
 * `npm run test:update-snapshots` (which builds, then runs `vitest run --update`).
 *
 * A snapshot only says "the same as last time", so what a reviewer could not check by
 * eye is also computed here from the specs, independently of src/: the descriptor's
 * BIP-380 checksum, its BIP-390 key set and the address it means (BIP-327 KeyAgg and
 * BIP-341 TapTweak by @scure/btc-signer), and the balance's `spendable_sat` from the
 * BIP-141 weight of the state transaction the mint could broadcast.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bech32m, hex } from '@scure/base';
import { Transaction, p2tr } from '@scure/btc-signer';
import { keyAggExport, keyAggregate, sortKeys } from '@scure/btc-signer/musig2.js';
import { ROOT, tempDir } from '../helpers.ts';
import { pipeline, type Stage } from './cli.ts';
import { descsumCheck, descsumCreate } from '../independent/descriptor.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8').trim();
const MINT_KEY = fixture('keys/mint.key');
const USER_KEY = fixture('keys/user.key');
const FUNDING_PSBT = fixture('credit/funding.psbt');
const SEED = 'credit-snapshots';
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';

/** The messages of the fixed lifecycle, in protocol order, by snapshot name. */
const MESSAGES = [
  ['01-offer', 'credit/offer'],
  ['02-address', 'credit/address'],
  ['03-open-request', 'credit/open-request'],
  ['04-open-accept', 'credit/open-accept'],
  ['05-opened', 'credit/opened'],
  ['06-update-request', 'credit/update-request'],
  ['07-receipt', 'credit/receipt'],
  ['08-balance', 'credit/balance'],
  ['09-close-request', 'credit/close-request'],
  ['10-closed', 'credit/closed'],
  ['11-exit', 'credit/exit'],
  ['12-contracts', 'credit/contracts'],
] as const;

type Transcript = Map<string, string>;



/** BIP-390 `tr(musig(KEY,…))` with plain hex keys → its scriptPubKey: KeySort, KeyAgg, BIP-341 TapTweak (btc-signer). */
function musigTrScript(descriptor: string): { keys: string[]; script: string } {
  const m = /^tr\(musig\(((?:0[23][0-9a-f]{64},)*0[23][0-9a-f]{64})\)\)$/.exec(descriptor);
  if (!m) throw new Error(`not a key-path-only tr(musig(hex keys)) descriptor: ${descriptor}`);
  const keys = m[1]!.split(',');
  const internal = keyAggExport(keyAggregate(sortKeys(keys.map((k) => hex.decode(k)))));
  return { keys, script: hex.encode(p2tr(internal).script) };
}

/** The scriptPubKey of a segwit v1+ (bech32m) address: OP_n, push of the program. */
function segwitScript(address: string): Uint8Array {
  const { words } = bech32m.decode(address as `${string}1${string}`);
  const program = bech32m.fromWords(words.slice(1));
  return Uint8Array.from([0x50 + words[0]!, program.length, ...program]);
}

/**
 * BIP-141 virtual size of a transaction with one taproot key-path input (a 64-byte
 * SIGHASH_DEFAULT signature) paying `outputScripts`, counted field by field.
 */
function keyPathSpendVsize(outputScripts: Uint8Array[]): number {
  const input = 32 + 4 + 1 + 4; // prevout, empty scriptSig, nSequence
  const outputs = outputScripts.reduce((n, s) => n + 8 + 1 + s.length, 0); // value, script length (< 0xfd), script
  const base = 4 + 1 + input + 1 + outputs + 4; // nVersion, #inputs, …, #outputs, …, nLockTime
  const witness = 2 + 1 + 1 + 64; // marker and flag, #items, signature length, signature
  return Math.ceil((base * 4 + witness) / 4);
}

describe('BIP-380 checksum, as written here, on BIP-380\'s own test vectors', () => {
  it('valid checksum: raw(deadbeef)#89f8spxm', () => {
    expect(descsumCheck('raw(deadbeef)#89f8spxm')).toBe(true);
    expect(descsumCreate('raw(deadbeef)')).toBe('raw(deadbeef)#89f8spxm');
  });
  it.each([
    ['missing checksum', 'raw(deadbeef)#'],
    ['too long checksum (9 chars)', 'raw(deadbeef)#89f8spxmx'],
    ['too short checksum (7 chars)', 'raw(deadbeef)#89f8spx'],
    ['error in payload', 'raw(deedbeef)#89f8spxm'],
    ['error in checksum', 'raw(deedbeef)##9f8spxm'],
    ['invalid characters in payload', 'raw(Ü)#00000000'],
  ])('%s: %s fails the check', (_name, descriptor) => {
    expect(descsumCheck(descriptor)).toBe(false);
  });
});

describe('BIP-390 tr(musig()) → scriptPubKey, as derived here, on BIP-390\'s own test vector', () => {
  // bitcoin/bips bip-0390.mediawiki, "Test Vectors", second valid descriptor (commit 19c46bd1887b3348d23659661e10a3c44c0af9e1).
  it('tr(musig(02f9…, 03df…, 0235…)) is 5120 79e6…2312', () => {
    const descriptor =
      'tr(musig(02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9,03dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659,023590a94e768f8e1815c2f24b4d80a8e3149316c3518ce7b7ad338368d038ca66))';
    expect(musigTrScript(descriptor).script).toBe('512079e6c3e628c9bfbce91de6b7fb28e2aec7713d377cf260ab599dcbc40e542312');
  });
});


/**
 * One run of the lifecycle in `root`: each step is one invocation reading the other
 * party's last message on stdin. Returns every printed message by snapshot name.
 */
async function lifecycle(root: string): Promise<Transcript> {
  const env = { OFFCHAIN_TEST_SEED: SEED };
  const mint = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', join(root, 'mint')], env: { ...env, MINT_KEY } });
  const user = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(root, 'user')], env: { ...env, USER_KEY } });
  const out: Transcript = new Map();
  const step = async (name: string, stages: Stage[], input = ''): Promise<string> => {
    const results = await pipeline(stages, input);
    results.forEach((r, i) => expect(r.status, `${name}, stage ${i}: ${r.stderr}`).toBe(0));
    const text = results.at(-1)!.stdout;
    out.set(name, text);
    return text;
  };
  const offerPath = join(root, 'offer.json');
  writeFileSync(offerPath, await step('01-offer', [mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)]));
  await step('02-address', [mint('open-credit', '--role', 'mint', '--publish'), user('open-credit', '--role', 'user')]);
  const request = await step(
    '03-open-request',
    [user('open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND)],
    FUNDING_PSBT,
  );
  const accept = await step('04-open-accept', [mint('open-credit', '--role', 'mint', '--tip-height', '1000')], request);
  await step('05-opened', [user('open-credit', '--role', 'user')], accept);
  const update = await step('06-update-request', [user('sign-update', '--role', 'user', '--amount', '25000')]);
  const receipt = await step('07-receipt', [mint('sign-update', '--role', 'mint', '--tip-height', '1001', '--confirmations', '1')], update);
  await step('08-balance', [user('sign-update', '--role', 'user')], receipt);
  const close = await step('09-close-request', [user('close-credit', '--role', 'user', '--start')]);
  const closed = await step('10-closed', [mint('close-credit', '--role', 'mint')], close);
  // The user checks the close and echoes it: the same bytes.
  const confirmed = await pipeline([user('close-credit', '--role', 'user')], closed);
  expect(confirmed[0]!.status, confirmed[0]!.stderr).toBe(0);
  expect(confirmed[0]!.stdout).toBe(closed);
  await step('11-exit', [mint('exit-credit', '--fee-rate', '2')]);
  await step('12-contracts', [mint('credit', 'list', '--tip-height', '1002')]);
  return out;
}

describe(`credit messages under OFFCHAIN_TEST_SEED=${SEED}`, () => {
  let dirs: { path: string; cleanup: () => void }[];
  let runs: Transcript[];

  beforeAll(async () => {
    dirs = [tempDir('offchain-credit-snap-a-'), tempDir('offchain-credit-snap-b-')];
    runs = await Promise.all(dirs.map((d) => lifecycle(d.path)));
  });
  afterAll(() => dirs.forEach((d) => d.cleanup()));

  it.each(MESSAGES)('%s (%s) is byte-identical to its snapshot', async (name, type) => {
    const text = runs[0]!.get(name)!;
    const msg = JSON.parse(text) as { type: string; version: number; network: string };
    expect([msg.type, msg.version, msg.network]).toEqual([type, 1, 'regtest']);
    expect(Object.keys(msg).slice(0, 3)).toEqual(['type', 'version', 'network']);
    expect(text.endsWith('}\n')).toBe(true);
    await expect(text).toMatchFileSnapshot(`./__snapshots__/credit-snapshots/${name}.json`);
  });

  it('02-address: the descriptor carries a valid BIP-380 checksum and means the address and output key printed beside it', () => {
    const address = JSON.parse(runs[0]!.get('02-address')!) as { address: string; descriptor: string; mint_pubkey: string; output_key: string; user_pubkey: string };
    expect(descsumCheck(address.descriptor), address.descriptor).toBe(true);
    const body = address.descriptor.slice(0, -9);
    expect(descsumCreate(body)).toBe(address.descriptor);
    const { keys, script } = musigTrScript(body);
    // BIP-390 aggregates the sorted set, whatever order it is written in: the two parties' keys, once each.
    expect([...keys].sort()).toEqual([address.mint_pubkey, address.user_pubkey].sort());
    expect(script).toBe(`5120${address.output_key}`);
    expect(hex.encode(segwitScript(address.address))).toBe(script);
    expect(address.address.startsWith('bcrt1p')).toBe(true);
  });

  it('08-balance: spendable_sat is the capacity less the fee of a change-less state and the cumulative amount', () => {
    const open = JSON.parse(runs[0]!.get('03-open-request')!) as { contract: { capacity_sat: number; fee_rate: number; payout_address: string } };
    const balance = JSON.parse(runs[0]!.get('08-balance')!) as { cumulative_sat: number; spendable_sat: number; state: number };
    // The most the mint can ever be owed is what a state paying only the mint leaves after
    // its fee at the contract's rate (src/lib/credit: maxCumulative); the user can still
    // pay the difference to what is already acknowledged.
    const fee = BigInt(Math.ceil(keyPathSpendVsize([segwitScript(open.contract.payout_address)]) * open.contract.fee_rate));
    expect(keyPathSpendVsize([segwitScript(open.contract.payout_address)])).toBe(111); // 94 base bytes × 4 + 68 witness bytes = 444 WU
    const spendable = BigInt(open.contract.capacity_sat) - fee - BigInt(balance.cumulative_sat);
    expect([balance.state, balance.cumulative_sat]).toEqual([1, 25_000]);
    expect(BigInt(balance.spendable_sat)).toBe(spendable);
  });

  it('10-closed and 11-exit: the transactions pay what the messages say, at the fee rates asked, from their own bytes', () => {
    const msg = <T>(name: string) => JSON.parse(runs[0]!.get(name)!) as T;
    const { contract } = msg<{ contract: { capacity_sat: number; fee_rate: number; funding: { txid: string; vout: number }; payout_address: string; change_address: string } }>('03-open-request');
    const receipt = msg<{ txid: string; cumulative_sat: number }>('07-receipt');
    const closed = msg<{ hex: string; txid: string; cumulative_sat: number }>('10-closed');
    const exit = msg<{ state_tx: { hex: string; txid: string; vsize: number; fee_sat: number }; child: { hex: string; txid: string; package_fee_rate: number } }>('11-exit');
    const payout = segwitScript(contract.payout_address);
    const change = segwitScript(contract.change_address);
    const tx = (h: string) => Transaction.fromRaw(hex.decode(h), { allowUnknownOutputs: true });
    const outputs = (t: Transaction) => Array.from({ length: t.outputsLength }, (_, i) => ({ script: hex.encode(t.getOutput(i).script!), amount: t.getOutput(i).amount! }));
    const spends = (t: Transaction) => Array.from({ length: t.inputsLength }, (_, i) => `${hex.encode(t.getInput(i).txid!)}:${t.getInput(i).index}`);
    const capacity = BigInt(contract.capacity_sat);
    const cumulative = BigInt(receipt.cumulative_sat);

    // The close, at the close-request's fee rate: the mint its cumulative amount, the user the rest less the fee.
    const close = tx(closed.hex);
    expect(close.id).toBe(closed.txid);
    expect(spends(close)).toEqual([`${contract.funding.txid}:${contract.funding.vout}`]);
    const closeFee = BigInt(Math.ceil(keyPathSpendVsize([payout, change]) * msg<{ fee_rate: number }>('09-close-request').fee_rate));
    expect(outputs(close)).toEqual([
      { script: hex.encode(payout), amount: cumulative },
      { script: hex.encode(change), amount: capacity - cumulative - closeFee },
    ]);

    // The state the mint exits with is the one the receipt acknowledged, at the contract's fee rate.
    const state = tx(exit.state_tx.hex);
    expect([state.id, exit.state_tx.txid]).toEqual([receipt.txid, receipt.txid]);
    expect(state.version).toBe(3);
    expect(spends(state)).toEqual([`${contract.funding.txid}:${contract.funding.vout}`]);
    const stateVsize = keyPathSpendVsize([payout, change]);
    const stateFee = BigInt(Math.ceil(stateVsize * contract.fee_rate));
    expect(outputs(state)).toEqual([
      { script: hex.encode(payout), amount: cumulative },
      { script: hex.encode(change), amount: capacity - cumulative - stateFee },
    ]);
    expect([exit.state_tx.vsize, exit.state_tx.fee_sat]).toEqual([stateVsize, Number(stateFee)]);

    // The CPFP child spends the mint's payout output back to the mint at --fee-rate 2 for the package.
    const child = tx(exit.child.hex);
    expect(child.id).toBe(exit.child.txid);
    expect(spends(child)).toEqual([`${state.id}:0`]);
    const childOut = outputs(child);
    expect(childOut.map((o) => o.script)).toEqual([hex.encode(payout)]);
    const childFee = cumulative - childOut[0]!.amount;
    const packageRate = Number(stateFee + childFee) / (stateVsize + keyPathSpendVsize([payout]));
    expect(packageRate).toBeGreaterThanOrEqual(2);
    expect(exit.child.package_fee_rate).toBe(Number(packageRate.toFixed(2)));
  });

  it('a second run in fresh state directories prints the same bytes at every step', () => {
    const [a, b] = runs as [Transcript, Transcript];
    expect([...b.keys()]).toEqual(MESSAGES.map(([name]) => name));
    for (const [name] of MESSAGES) expect(b.get(name), name).toBe(a.get(name));
  });
});
