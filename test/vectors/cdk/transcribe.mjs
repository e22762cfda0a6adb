#!/usr/bin/env node
// Transcribe CDK's keyset-derivation test vectors to cdk.json without computing anything:
//   node transcribe.mjs /path/to/cdk-checkout
// It reads, with regular expressions, the unit tests mint_mod_generate_keyset_from_seed and
// mint_make_btc_remote_signer_keyset (crates/cdk-signatory/src/db_signatory.rs) and
// four_bytes_hash_currency_unit (crates/cashu/src/nuts/nut00/mod.rs). README.md says which commit.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
if (!root) throw new Error('usage: node transcribe.mjs CDK_CHECKOUT');
const signatory = readFileSync(join(root, 'crates/cdk-signatory/src/db_signatory.rs'), 'utf8');
const nut00 = readFileSync(join(root, 'crates/cashu/src/nuts/nut00/mod.rs'), 'utf8');

function body(text, name) {
  const start = text.indexOf(`fn ${name}()`);
  if (start < 0) throw new Error(`no fn ${name}`);
  const next = text.indexOf('#[test]', start);
  return text.slice(start, next < 0 ? undefined : next);
}
const seedOf = (b) => /hex::decode\("([0-9a-f]+)"\)/.exec(b)[1];
const pathOf = (b) => /derivation_path_from_unit\(CurrencyUnit::(\w+), (\d+)\)/.exec(b);
const pairs = (b) => [...b.matchAll(/\(\s*(?:Amount::from\()?([\d_]+)\)?,\s*(?:PublicKey::from_hex\(\s*)?"(0[23][0-9a-f]{64})"/g)].map((m) => [m[1].replace(/_/g, ''), m[2]]);

const two = body(signatory, 'mint_mod_generate_keyset_from_seed');
const sixtyFour = body(signatory, 'mint_make_btc_remote_signer_keyset');
const units = body(nut00, 'four_bytes_hash_currency_unit');
const out = {
  source: {
    repository: 'https://github.com/cashubtc/cdk',
    commit: process.env.CDK_COMMIT ?? 'see README.md',
    files: ['crates/cdk-signatory/src/db_signatory.rs', 'crates/cashu/src/nuts/nut00/mod.rs'],
    tests: ['mint_mod_generate_keyset_from_seed', 'mint_make_btc_remote_signer_keyset', 'four_bytes_hash_currency_unit'],
    license: 'MIT (upstream LICENSE-MIT)',
  },
  unit_index: [...units.matchAll(/CurrencyUnit::(\w+);\s*let index = unit.hashed_derivation_index\(\);\s*assert_eq!\(index, (\d+)\)/g)].map((m) => ({ unit: m[1].toLowerCase(), index: Number(m[2]) })),
  keysets: [two, sixtyFour].map((b) => {
    const p = pathOf(b);
    const id = /assert_eq!\(keyset\.id\.to_string\(\), "([0-9a-f]+)"/.exec(b);
    return {
      test: /fn (\w+)\(\)/.exec(b)[1],
      seed_hex: seedOf(b),
      unit: p[1].toLowerCase(),
      derivation_index: Number(p[2]),
      version: /KeySetVersion::Version0(\d)/.exec(b)[0].replace('KeySetVersion::Version', ''),
      ...(id ? { id: id[1] } : {}),
      keys: Object.fromEntries(pairs(b)),
    };
  }),
};
writeFileSync(new URL('./cdk.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.error(`cdk.json: ${out.unit_index.length} unit indices, keysets of ${out.keysets.map((k) => Object.keys(k.keys).length).join(' and ')} keys`);
