/**
 * JSON Schema of `package check`'s answer: a `package/checked` message says that a
 * 1-parent-1-child TRUC package passed every rule of src/lib/truc/check.ts, with what
 * each rule measured (sigop-adjusted sizes, fees, dust and P2A outputs) and the policy
 * numbers it was checked against. A refusal prints no message (exit 4, one coded line).
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';

const Vout = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });
const SatPerKvb = (what: string) => Type.Integer({ minimum: 0, description: `${what}, sat per 1,000 vB (Core's unit)` });

const CheckedTx = (who: string) => Type.Object(
  {
    txid: Txid,
    wtxid: Hex('witness transaction id (display byte order)', 32),
    version: Type.Literal(3, { description: 'TRUC (BIP-431)' }),
    vsize: Type.Integer({ minimum: 1, description: `${who}'s virtual size, sigop-adjusted as Core's policy measures it (max(weight, 20 × sigop cost) / 4, rounded up)` }),
    sigop_cost: Type.Integer({ minimum: 0, description: 'Core\'s GetTransactionSigOpCost' }),
    fee_sat: Sats(`what the ${who} pays: its inputs minus its outputs`),
    dust_outputs: Type.Array(Vout, { maxItems: 1, description: 'outputs below the dust threshold (at most one, only in a zero-fee parent, and spent by the child)' }),
    p2a_outputs: Type.Array(Vout, { description: 'pay-to-anchor outputs (OP_1 <4e73>)' }),
  },
  { additionalProperties: false },
);

export const PackageCheckedSchema = messageSchema('package/checked', 'A 1-parent-1-child TRUC package that passed every rule a node would apply (docs/truc.md).', {
  parent: CheckedTx('parent'),
  child: CheckedTx('child'),
  package: Type.Object(
    {
      fee_sat: Sats('parent fee + child fee'),
      vsize: Type.Integer({ minimum: 1, description: 'parent vsize + child vsize' }),
      feerate_sat_per_kvb: SatPerKvb('the package feerate, rounded down'),
    },
    { additionalProperties: false },
  ),
  spent_parent_outputs: Type.Array(Vout, { minItems: 1, description: 'the parent outputs the child spends, in the child\'s input order' }),
  policy: Type.Object(
    {
      min_relay_fee_rate: SatPerKvb('minrelaytxfee'),
      mempool_min_fee_rate: SatPerKvb('mempoolminfee above minrelaytxfee (0: not given)'),
      max_fee_rate: SatPerKvb('maxfeerate each transaction is held to (0: none)'),
      dust_relay_fee_rate: SatPerKvb('dustrelayfee'),
    },
    { additionalProperties: false, description: 'the node\'s numbers the package was checked against' },
  ),
});

const Wtxid = Hex('witness transaction id (display byte order)', 32);

export const PackageChildSchema = messageSchema('package/child', 'An unsigned TRUC child that bumps its parent from the caller\'s wallet, the package (parent + child at its largest signed size) checked by every rule of package check (docs/truc.md). Sign "psbt" with bitcoin-cli walletprocesspsbt, then package submit.', {
  parent: Type.Object(
    {
      txid: Txid,
      wtxid: Wtxid,
      hex: Hex('the parent, signed, as given'),
      vsize: Type.Integer({ minimum: 1, description: 'sigop-adjusted virtual size' }),
      fee_sat: Sats('what the parent pays by itself (0 for a zero-fee parent)'),
      prevouts: Type.Array(Type.String({ pattern: '^[0-9a-f]{64}:[0-9]+:[0-9]+:([0-9a-f]{2})+$' }), { description: 'every input of the parent as the child was built on it, TXID:VOUT:AMOUNT:SCRIPT (--prevout\'s form): package submit and package child --replaces read them from this message (a node without -txindex cannot show an input spent in its mempool), and with a node vouch for them again' }),
      inputs_on_trust: Type.Array(Type.String({ pattern: '^[0-9a-f]{64}:[0-9]+$' }), { description: 'the parent\'s inputs (txid:vout) whose amounts were taken from the caller\'s files (--prevout, a PSBT\'s witness_utxo) because no node was asked; empty when the node vouched for every one. fee_sat, and so the child\'s fee, is only as true as they are' }),
    },
    { additionalProperties: false },
  ),
  child: Type.Object(
    {
      txid: Txid,
      vsize_max: Type.Integer({ minimum: 1, maximum: 1000, description: 'the child\'s virtual size with the largest signatures its inputs can carry (it is this or less once signed)' }),
      fee_sat: Sats('what the child pays'),
      spends_parent_outputs: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, description: 'the parent outputs it spends (anchors, or the caller\'s own)' }),
      inputs_on_trust: Type.Array(Type.String({ pattern: '^[0-9a-f]{64}:[0-9]+$' }), { description: 'the wallet PSBT\'s coins (txid:vout) whose amounts were taken from its witness_utxo because no node was asked; empty when the node holds every one unspent and confirmed as described. The child\'s change, and so its fee, is only as true as they are' }),
    },
    { additionalProperties: false },
  ),
  package: Type.Object(
    {
      fee_sat: Sats('parent fee + child fee'),
      vsize_max: Type.Integer({ minimum: 1, description: 'parent vsize + child vsize_max' }),
      fee_rate: Type.Number({ exclusiveMinimum: 0, description: 'the --fee-rate asked for, sat/vB: fee_sat ≥ fee_rate × vsize_max' }),
    },
    { additionalProperties: false },
  ),
  replaces: Type.Optional(Type.Object(
    { txid: Txid, fee_sat: Sats('the earlier child\'s fee, which this one exceeds by at least the incremental relay fee on its own size') },
    { additionalProperties: false, description: 'the earlier child of the same parent this one is to replace (TRUC sibling eviction)' },
  )),
  psbt: Base64Psbt,
  next: Type.String({ description: 'what to run next' }),
});

export const SubmittedTx = Type.Object(
  {
    txid: Txid,
    wtxid: Wtxid,
    vsize: Type.Optional(Type.Integer({ minimum: 1, description: 'as the node measured it' })),
    fees_sat: Type.Optional(Sats('the transaction\'s own fee, as the node reports it')),
    other_wtxid: Type.Optional(Hex('the wtxid of the transaction with the same txid the node already held', 32)),
  },
  { additionalProperties: false },
);

export const PackageSubmittedSchema = messageSchema('package/submitted', 'A TRUC package the node accepted (submitpackage: package_msg "success"), each transaction\'s answer read by its wtxid.', {
  package_msg: Type.Literal('success'),
  parent: SubmittedTx,
  child: SubmittedTx,
  replaced_transactions: Type.Array(Txid, { description: 'what the node evicted for it: an earlier child of the parent (sibling eviction) or a conflicting spend' }),
});

export const TRUC_SCHEMAS = [PackageCheckedSchema, PackageChildSchema, PackageSubmittedSchema];
