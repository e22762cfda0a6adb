/**
 * JSON Schema of `package check`'s answer: a `package/checked` message says that a
 * 1-parent-1-child TRUC package passed every rule of src/lib/truc/check.ts, with what
 * each rule measured (sigop-adjusted sizes, fees, dust and P2A outputs) and the policy
 * numbers it was checked against. A refusal prints no message (exit 4, one coded line).
 */
import { Type } from '@sinclair/typebox';
import { Hex, Sats, Txid, messageSchema } from '../message.ts';

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

export const TRUC_SCHEMAS = [PackageCheckedSchema];
