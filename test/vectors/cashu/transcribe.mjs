import { readFileSync, writeFileSync } from 'node:fs';
const md = (f) => readFileSync(f, 'utf8');
const src = (file) => ({ repository: 'https://github.com/cashubtc/nuts', commit: '3ddb1ae767b50859a0f346947479451027404dae', path: `tests/${file}`, license: 'MIT (LICENSE beside this file)' });
// NUT-00
const t0 = md('00-tests.md');
const grab = (re, s) => [...s.matchAll(re)].map((m) => m.slice(1));
const htc = grab(/Message: ([0-9a-f]{64})\nPoint:\s+([0-9a-f]{66})/g, t0).map(([message, point]) => ({ message, point }));
const blinded = grab(/x:\s+([0-9a-f]{64}).*\nr:\s+([0-9a-f]{64}).*\nB_: ([0-9a-f]{66})/g, t0).map(([x, r, B_]) => ({ x, r, B_ }));
const sigs = grab(/mint private key: ([0-9a-f]{64})\nB_: ([0-9a-f]{66})\nC_: ([0-9a-f]{66})/g, t0).map(([k, B_, C_]) => ({ k, B_, C_ }));
const blocks = grab(/```(?:json|shell)?\n([\s\S]*?)```/g, t0).map(([b]) => b);
const v3json = JSON.parse(blocks.find((b) => b.includes('"token"')));
const tokensA = [...t0.matchAll(/^(c?a?s?s?huA\S+|eyJ\S+|casshuA\S+)$/gm)].map((m) => m[1]);
const v3serialized = tokensA[0];
const v3invalid = [{ why: 'incorrect prefix (casshuA)', token: tokensA[1] }, { why: 'no prefix', token: tokensA[2] }];
const v3valid = tokensA.slice(3);
const tokensB = [...t0.matchAll(/^(cashuB\S+)$/gm)].map((m) => m[1]);
const raw = /`h'([0-9a-f]+)'`/.exec(t0)[1];
const cborJson = (b) => JSON.parse(b.replace(/h'([0-9a-f]*)'/g, '"h:$1"').replace(/,(\s*[}\]])/g, '$1'));
const v4blocks = blocks.filter((b) => b.includes('"t":'));
const v4 = [
  { name: 'single keyset', token: cborJson(v4blocks[0]), encoded: tokensB[0] },
  { name: 'multiple keysets', token: cborJson(v4blocks[1]), encoded: tokensB[1] },
];
writeFileSync('nut00.json', JSON.stringify({ source: src('00-tests.md'), note: 'bytes values in V4 tokens are written "h:<hex>" (upstream shows them as h\'<hex>\')', hash_to_curve: htc, blinded_messages: blinded, blind_signatures: sigs,
  token_v3: { json: v3json, serialized: v3serialized, invalid: v3invalid, valid_with_and_without_padding: v3valid }, token_v4: v4, token_v4_raw: { token: cborJson(v4blocks[2]), raw_hex: raw } }, null, 2) + '\n');
// NUT-01
const t1 = md('01-tests.md');
const b1 = grab(/```json\n([\s\S]*?)```/g, t1).map(([b]) => JSON.parse(b));
writeFileSync('nut01.json', JSON.stringify({ source: src('01-tests.md'), invalid: [{ why: 'key 1 is missing a byte', keys: b1[0] }, { why: 'key 2 is not compressed', keys: b1[1] }], valid: b1.slice(2) }, null, 2) + '\n');
// NUT-02
const t2 = md('02-tests.md');
const [v1part, v2part] = t2.split('## Version 2');
const ids1 = grab(/Keyset id: `([0-9a-f]+)`\n\n```json\n([\s\S]*?)```/g, v1part).map(([id, k]) => ({ id, keys: JSON.parse(k) }));
const ids2 = v2part.split('### Vector').slice(1).map((s) => {
  const g = (re) => re.exec(s)?.[1];
  return { id: g(/Keyset id: `([0-9a-f]+)`/), unit: g(/Unit: `(\w+)`/), input_fee_ppk: Number(g(/Input fee ppk: `(\d+)`/)), final_expiry: g(/Final expiry: `(\d+)`/) ? Number(g(/Final expiry: `(\d+)`/)) : null, keys: JSON.parse(g(/```json\n([\s\S]*?)```/)) };
});
writeFileSync('nut02.json', JSON.stringify({ source: src('02-tests.md'), v00: ids1, v01: ids2 }, null, 2) + '\n');
// NUT-12
const t12 = md('12-tests.md');
const q = (re) => re.exec(t12)[1];
const jsons = grab(/```json\n([\s\S]*?)```/g, t12).map(([b]) => JSON.parse(b));
writeFileSync('nut12.json', JSON.stringify({ source: src('12-tests.md'),
  hash_e: { R1: q(/R1: "(\w+)"/), R2: q(/R2: "(\w+)"/), K: q(/K: "(\w+)"/), C_: q(/C_: "(\w+)"\n```/), hash: q(/hash\(R1, R2, K, C_\): "(\w+)"/) },
  deterministic_nonce: { a: q(/a:\s+(\w{64})/), A: q(/A:\s+(\w{66})/), B_: q(/B_: (\w{66})/), C_: q(/C_: (\w{66})/), e: q(/e: (\w{64})/), s: q(/s: (\w{64})/) },
  blind_signature: { A: q(/valid\*\* DLEQ proof.\n\n```shell\nA: "(\w+)"/), B_: q(/B_: "(\w+)"/), blind_signature: jsons[0] },
  proof: { A: q(/`Proof` with a \*\*valid\*\* DLEQ proof.\n\n```shell\nA: "(\w+)"/), proof: jsons[1] } }, null, 2) + '\n');
// NUT-13
const t13 = md('13-tests.md');
const j13 = grab(/```json\n([\s\S]*?)```/g, t13).map(([b]) => JSON.parse(b));
const five = (o, p) => [0, 1, 2, 3, 4].map((i) => o[`${p}_${i}`]);
writeFileSync('nut13.json', JSON.stringify({ source: src('13-tests.md'), keyset_id_int: j13[0],
  v00: { mnemonic: j13[1].mnemonic, keyset_id: '009a1f293253e41e', secrets: five(j13[2], 'secret'), r: five(j13[3], 'r'), paths: five(j13[4], 'derivation_path') },
  v01: { mnemonic: j13[5].mnemonic, keyset_id: '015ba18a8adcd02e715a58358eb618da4a4b3791151a4bee5e968bb88406ccf76a', secrets: five(j13[6], 'secret'), r: five(j13[7], 'r') } }, null, 2) + '\n');
