/**
 * decode-openassets through the built CLI: coloring with ancestors from a file, the
 * undecided answer naming its missing ancestor, a PSBT's unsigned transaction, the
 * streaming mode going on past a bad line, the utilities, and malformed input → exit 3
 * with nothing on stdout. Expected asset IDs and addresses come from the vector files.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { ROOT } from '../helpers.ts';
import { run } from './cli.ts';
import { spawnedFirst } from './in-process.ts';
import { scenario } from '../lib/openassets/build.ts';

const F = 'fixtures/openassets';
const seed = JSON.parse(readFileSync(join(ROOT, 'test/vectors/openassets/seed_example.json'), 'utf8'));
const ASSET = seed.asset_id.computed_if_issuer_script_is_p2pkh_of_colored_address; // AcuRVsoa81hoLHmVTNXrRD8KpTqUXeqwgH
const json = (s: string) => JSON.parse(s);

/**
 * Each case refused with its exit code and exactly its code on the one stderr line, stdout empty:
 * the first case of each exit code as a process, the others by the same built bundle in this
 * process (in-process.ts spawnedFirst).
 */
async function refusedEach(cases: [string[], number, string][]): Promise<void> {
  const runs = await spawnedFirst(cases.map(([args, status]) => ({ args, key: `exit ${status}` })));
  expect(runs.filter((r) => r.how === 'spawned')).toHaveLength(new Set(cases.map(([, status]) => status)).size);
  runs.forEach((r, i) => {
    const [args, status, code] = cases[i]!;
    expect(r.status, args.join(' ')).toBe(status);
    expect(r.stdout).toBe('');
    // Exactly this code, on the one stderr line (a prefix such as 'E_' would match any code).
    expect(/^offchain: error (E_[A-Z0-9_]+): \S[^\n]*\n?$/.exec(r.stderr)?.[1], r.stderr).toBe(code);
  });
}

describe('decode-openassets (built CLI)', () => {
  const s = scenario();
  it('colors the fixture transfer from --prev: 15 and 5 units of the seed asset', () => {
    const r = run(['decode-openassets', '--network', 'mainnet', '--in', `${F}/transfer.hex`, '--prev', `${F}/ancestors.jsonl`]);
    expect(r.status, r.stderr).toBe(0);
    const m = json(r.stdout);
    expect(m).toMatchObject({ type: 'openassets/decoded', status: 'colored', txid: s.transfer.txid });
    expect(m.outputs.map((o: any) => [o.type, o.asset_id, o.asset_quantity])).toEqual([['marker', null, '0'], ['transfer', ASSET, '15'], ['transfer', ASSET, '5'], ['transfer', null, '0']]);
    expect(m.outputs[2].colored_address).toBe(seed.colored_address.given);
    expect(m.outputs[2].address).toBe(seed.colored_address.bitcoin_address);
  });
  it('the issuance shows the seed marker: 20 units, u=https://cpr.sm/FoykwrH6UY', () => {
    const r = run(['decode-openassets', '--network', 'mainnet', '--tx', s.issuance.hex, '--prev', `${F}/ancestors.jsonl`]);
    const m = json(r.stdout);
    expect(m.marker).toMatchObject({ output: 1, asset_quantities: ['20'], asset_definition_url: 'https://cpr.sm/FoykwrH6UY' });
    expect(m.outputs[0]).toMatchObject({ type: 'issuance', asset_id: ASSET, asset_quantity: '20' });
  });
  it('without ancestors: undecided, naming exactly the missing transaction (exit 0)', () => {
    const r = run(['decode-openassets', '--network', 'mainnet', '--in', `${F}/issuance.hex`]);
    expect(r.status).toBe(0);
    expect(json(r.stdout)).toMatchObject({ status: 'undecided', missing_ancestors: [s.funding.txid] });
  });
  it('reads a PSBT\'s unsigned transaction', () => {
    const tx = Transaction.fromRaw(Buffer.from(s.transfer.hex, 'hex'), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    const r = run(['decode-openassets', '--network', 'mainnet', '--prev', `${F}/ancestors.jsonl`], { input: base64.encode(tx.toPSBT()) });
    expect(r.status, r.stderr).toBe(0);
    expect(json(r.stdout)).toMatchObject({ status: 'colored', txid: s.transfer.txid });
  });
  it('stream: earlier lines color later ones; a bad line is reported with its number and the stream goes on', () => {
    const lines = readFileSync(join(ROOT, F, 'chain.jsonl'), 'utf8').trim().split('\n');
    const input = [lines[0], 'zz-not-hex', lines[1], '{"nope":1}', lines[2]].join('\n') + '\n';
    const r = run(['decode-openassets', '--network', 'mainnet', '--stream'], { input });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n').map(json);
    expect(out.map((o) => [o.type, o.line])).toEqual([['openassets/decoded', 1], ['openassets/error', 2], ['openassets/decoded', 3], ['openassets/error', 4], ['openassets/decoded', 5]]);
    expect(out[1]).toMatchObject({ code: 'E_OA_BAD_TX', exit_code: 3 });
    expect(out[3]).toMatchObject({ code: 'E_OA_NO_TX', exit_code: 3 });
    expect(out[4].outputs[1]).toMatchObject({ asset_id: ASSET, asset_quantity: '15' });
  });
  it('stream: CRLF line ends, blank lines (counted, not answered) and a last line without a newline', () => {
    const lines = readFileSync(join(ROOT, F, 'chain.jsonl'), 'utf8').trim().split('\n');
    const r = run(['decode-openassets', '--network', 'mainnet', '--stream'], { input: `${lines[0]}\r\n\r\n${lines[1]}` });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => [json(l).line, json(l).status])).toEqual([[1, 'uncolored'], [3, 'colored']]);
  });
  it('utilities: asset ID of a script, colored address both ways (vector values)', () => {
    const v = json(readFileSync(join(ROOT, 'test/vectors/openassets/asset_id_address_vectors.json'), 'utf8'));
    const a = v.asset_id_from_script[1];
    expect(json(run(['decode-openassets', '--network', 'testnet', '--asset-id-of', a.script]).stdout).asset_id).toBe(a.expected);
    const o = v.oa_address[0];
    expect(json(run(['decode-openassets', '--network', 'mainnet', '--colored-address', o.address]).stdout).colored_address).toBe(o.expected_oa_address);
    expect(json(run(['decode-openassets', '--network', 'mainnet', '--bitcoin-address', o.expected_oa_address]).stdout).address).toBe(o.address);
  });
  it('refusals: malformed bytes exit 3, a wrong-network address exit 4, conflicting modes exit 2; stdout empty', async () => {
    const cases: [string[], number, string][] = [
      [['decode-openassets', '--tx', '0200000001'], 3, 'E_OA_BAD_TX'],
      [['decode-openassets', '--tx', s.transfer.hex + '00'], 3, 'E_OA_BAD_TX'],
      [['decode-openassets', '--tx', 'xyz'], 3, 'E_OA_BAD_TX'],
      [['decode-openassets', '--network', 'testnet', '--colored-address', '16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM'], 4, 'E_NETWORK_MISMATCH'],
      [['decode-openassets', '--network', 'mainnet', '--bitcoin-address', '16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM'], 3, 'E_OA_BAD_ADDRESS'],
      [['decode-openassets', '--asset-id-of', '00', '--tx', s.transfer.hex], 2, 'E_USAGE'],
    ];
    await refusedEach(cases);
  });
});

describe('decode-openassets --protocol colu (built CLI)', () => {
  it('decodes the fixture\'s CC transfer as the cc-transaction vector says', () => {
    const v = (json(readFileSync(join(ROOT, 'test/vectors/colu/op_return_vectors.json'), 'utf8')).vectors as any[]).find((x) => x.op_return_data === '43430215030cc0030c212840');
    const r = run(['decode-openassets', '--network', 'mainnet', '--protocol', 'colu', '--in', `${F}/colu-transfer.hex`]);
    expect(r.status, r.stderr).toBe(0);
    const m = json(r.stdout);
    expect(m).toMatchObject({ type: 'colu/decoded', op_return_output: 0, payload: { type: v.decoded.type, protocol: v.decoded.protocol, version: v.decoded.version } });
    expect(m.payload.payments.map((p: any) => ({ ...p, amount: Number(p.amount) }))).toMatchObject(v.decoded.payments);
  });
  it('a transaction without a CC output says so (exit 0)', () => {
    const r = run(['decode-openassets', '--network', 'mainnet', '--protocol', 'colu', '--in', `${F}/transfer.hex`]);
    expect(r.status).toBe(0);
    expect(json(r.stdout).reason).toMatch(/no Colu/);
  });
});

describe('decode-counterparty (built CLI)', () => {
  const X = 'fixtures/openassets';
  const unpack = json(readFileSync(join(ROOT, 'test/vectors/counterparty/unpack_vectors.json'), 'utf8')).vectors as any[];
  it('the P2SH fixture (counterparty-core\'s test transaction) gives its broadcast', () => {
    const r = run(['decode-counterparty', '--network', 'testnet', '--in', `${X}/counterparty-p2sh-broadcast.hex`]);
    expect(r.status, r.stderr).toBe(0);
    const m = json(r.stdout);
    const g = json(readFileSync(join(ROOT, 'test/vectors/counterparty/gettxinfo_vectors.json'), 'utf8')).transactions.find((t: any) => t.name.startsWith('P2SH'));
    expect(m).toMatchObject({ type: 'counterparty/decoded', status: 'counterparty', encoding: ['p2sh'], data: g.expected.data });
    expect(m.message.message_type).toBe('broadcast');
  });
  it('OP_RETURN and multisig fixtures give the unpack vectors\' fields', () => {
    const es = unpack.find((v) => v.datahex.endsWith('fade0001'));
    const m1 = json(run(['decode-counterparty', '--network', 'testnet', '--in', `${X}/counterparty-opreturn-enhanced-send.hex`]).stdout);
    expect(m1).toMatchObject({ encoding: ['opreturn'], data: es.datahex, message: { message_type: 'enhanced_send', message_data: { address: es.message_data.address, memo: es.message_data.memo, quantity: es.message_data.quantity } } });
    const iss = unpack.find((v) => v.datahex.startsWith('14000000a25be34b66'));
    const m2 = json(run(['decode-counterparty', '--network', 'testnet', '--in', `${X}/counterparty-multisig-issuance.hex`]).stdout);
    expect(m2).toMatchObject({ encoding: ['multisig'], data: iss.datahex, message: { message_type: 'issuance', message_data: { asset: iss.message_data.asset, quantity: iss.message_data.quantity, description: iss.message_data.description } } });
  });
  it('--data unpacks a bare message; a transaction without data is an exit-0 answer', () => {
    const v = unpack.find((x) => x.datahex === '0000000000000000000000010000000005f5e100');
    const r = run(['decode-counterparty', '--network', 'testnet', '--data', v.datahex]);
    expect(r.status, r.stderr).toBe(0);
    expect(json(r.stdout)).toMatchObject({ type: 'counterparty/unpacked', message: { message_type: 'send', message_data: v.message_data } });
    const n = run(['decode-counterparty', '--network', 'mainnet', '--in', `${F}/transfer.hex`]);
    expect(n.status).toBe(0);
    expect(json(n.stdout)).toMatchObject({ status: 'not-counterparty' });
  });
  it('refusals: bad transaction bytes and bad payloads exit 3, --data with --tx exit 2; stdout empty, one line', async () => {
    const cases: [string[], number, string][] = [
      [['decode-counterparty', '--tx', '0200000001'], 3, 'E_OA_BAD_TX'],
      [['decode-counterparty', '--data', '00000000000000'], 3, 'E_XCP_MALFORMED'],
      [['decode-counterparty', '--data', 'zz'], 3, 'E_BAD_HEX'],
      [['decode-counterparty', '--data', '00', '--tx', '00'], 2, 'E_USAGE'],
    ];
    await refusedEach(cases);
  });
});

describe('decode-openassets --protocol colu --prev (built CLI): the asset flow', () => {
  it('colors a transfer from its ancestors; without them names the missing one', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { p2pkh, serializeTx } = await import('../lib/counterparty/encode.ts');
    const { parseRawTx } = await import('../../src/lib/tx/raw.ts');
    const b = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
    const F = serializeTx([{ txid: 'ab'.repeat(32), vout: 0 }], [{ value: 50_000, script: p2pkh('11'.repeat(20)) }]);
    const I = serializeTx([{ txid: parseRawTx(b(F)).txid, vout: 0 }], [{ value: 0, script: b('6a06434302050a60') }, { value: 600, script: p2pkh('22'.repeat(20)) }]);
    const T = serializeTx([{ txid: parseRawTx(b(I)).txid, vout: 1 }], [{ value: 600, script: p2pkh('33'.repeat(20)) }, { value: 600, script: p2pkh('44'.repeat(20)) }, { value: 0, script: b('6a084343021500030107') }]);
    const dir = mkdtempSync(join(tmpdir(), 'colu-e2e-'));
    writeFileSync(join(dir, 'prev.txt'), `${F}\n${I}\n`);
    const r = run(['decode-openassets', '--network', 'mainnet', '--protocol', 'colu', '--tx', T, '--prev', join(dir, 'prev.txt')]);
    expect(r.status, r.stderr).toBe(0);
    const m = json(r.stdout);
    expect(m.flow).toEqual({ status: 'colored', overflow: false });
    expect(m.outputs.map((o: any) => o.assets.map((a: any) => a.amount))).toEqual([['3'], ['7'], []]);
    writeFileSync(join(dir, 'only-funding.txt'), `${F}\n`);
    const u = json(run(['decode-openassets', '--network', 'mainnet', '--protocol', 'colu', '--tx', T, '--prev', join(dir, 'only-funding.txt')]).stdout);
    expect(u.flow).toEqual({ status: 'undecided', missing_ancestors: [parseRawTx(b(I)).txid] });
  });
});
