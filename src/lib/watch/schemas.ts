/**
 * The JSON Schema of what `offchain watch` prints: `watch/report`, one round's decisions at one
 * tip (with --once; a long-running watcher logs each decision as a JSON line instead).
 */
import { Type } from '@sinclair/typebox';
import { Txid, messageSchema } from '../message.ts';

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });

const DecisionSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('credit-mint'), Type.Literal('credit-user'), Type.Literal('gateway'), Type.Literal('device'), Type.Literal('statechain-owner'), Type.Literal('statechain-joint'), Type.Literal('tower-statechain'), Type.Literal('tower-channel'), Type.Literal('htlc-payer'), Type.Literal('ptlc-payer'), Type.Literal('channel')], { description: 'whose deadline: the credit mint\'s exit, the credit user\'s refund, the gateway\'s HTLC claim, the device\'s HTLC refund, the statechain owner\'s backup or withdrawal, a pair\'s part\'s (its backup bumped from its anchor by the node\'s wallet), a keyless tower\'s anchored statechain backup held for its owner, a keyless tower\'s justice ladders on a revoked channel commitment (contract: its txid); a BOLT 2/3 channel party\'s penalty and sweep (docs/watch.md)' }),
    contract: Type.String({ pattern: '^(?:[0-9a-f]{32}){1,2}(?::[0-9]{1,10})?$', description: 'the contract: a credit contract\'s id (32 bytes), a statechain coin\'s (16 bytes), an HTLC\'s or a PTLC\'s funding outpoint, a channel\'s funding outpoint (TXID:VOUT)' }),
    action: Type.Union(['none', 'wait', 'exit', 'claim', 'refund', 'backup', 'penalty', 'sweep', 'rebid', 'rebroadcast', 'hold', 'done'].map((a) => Type.Literal(a)), { description: 'what the watcher did (docs/watch.md, "Actions")' }),
    deadline: Type.Integer({ minimum: 0, description: 'the last height that may mine the action (credit-mint: expiry; gateway: the HTLC\'s expiry); credit-user, device, htlc-payer, ptlc-payer: the height its refund is final from' }),
    blocks_left: Type.Integer({ description: 'deadline − tip' }),
    reason: Type.String(),
    fee_rate: Type.Optional(Type.Number({ description: 'the bid, sat/vB (of the package, for a CPFP exit)' })),
    shortfall: Type.Optional(Type.Union([Type.Literal('budget'), Type.Literal('wallet'), Type.Literal('deadline-passed')], { description: 'why the bid is short of the schedule' })),
    txid: Type.Optional(Txid),
    error: Type.Optional(Type.String({ description: 'the node\'s refusal of the action, "CODE: message" (taken again at the next block)' })),
  },
  { additionalProperties: false },
);

export const WatchReportSchema = messageSchema('watch/report', 'One round of offchain watch: the tip it evaluated, any reorganisation it saw, and its decision for every contract.', {
  dry_run: Type.Boolean({ description: 'nothing was sent or stored' }),
  tip: Type.Object({ height: Type.Integer({ minimum: 0 }), hash: Type.Optional(Hash) }, { additionalProperties: false, description: 'the tip evaluated (offline, --tip-height: no hash)' }),
  reorg: Type.Optional(Type.Object(
    {
      depth: Type.Integer({ minimum: 1, description: 'blocks of the earlier view no longer in the best chain' }),
      fork_height: Type.Optional(Type.Integer({ minimum: 0, description: 'the highest block both chains share' })),
      deep: Type.Boolean({ description: 'the fork is below every block the watcher kept: at least `depth` blocks' }),
      replaced: Type.Array(Hash, { description: 'the replaced blocks, lowest first' }),
    },
    { additionalProperties: false, description: 'the best chain is not an extension of the one the watcher evaluated last: every decision was taken again on the new one' },
  )),
  decisions: Type.Array(DecisionSchema, { description: 'soonest deadline first' }),
  failures: Type.Optional(Type.Array(
    Type.Object({ kind: Type.String({ description: 'the roles whose round failed: mint (credit mint and gateway), credit-user, device, statechain-owner, …' }), error: Type.String({ description: '"CODE: message"' }) }, { additionalProperties: false }),
    { description: 'kinds whose round failed as a whole (their store unreadable, a key not theirs): the other kinds acted; it is taken again 10 s later' },
  )),
  summary: Type.Object(
    {
      contracts: Type.Integer({ minimum: 0, description: 'contracts evaluated: the decisions' }),
      sent: Type.Integer({ minimum: 0, description: 'actions sent this round (exit, claim, refund, backup, penalty, sweep, rebid, rebroadcast)' }),
      pending: Type.Integer({ minimum: 0, description: 'contracts with an action under way: sent, held or waiting' }),
      shortfalls: Type.Integer({ minimum: 0, description: 'bids short of the schedule (budget, wallet, deadline passed)' }),
      errors: Type.Integer({ minimum: 0, description: 'decisions with an error, and failed kinds' }),
      nearest_deadline: Type.Optional(Type.Integer({ description: 'blocks to the nearest deadline of a contract not done, the contracts not read (idle) included' })),
      idle: Type.Optional(Type.Integer({ minimum: 1, description: 'contracts the round did not read: none can need anything at this tip (far from its deadline, nothing in flight: docs/watch.md, "Scale"); absent when none' })),
    },
    { additionalProperties: false },
  ),
});

export const WATCH_SCHEMAS = [WatchReportSchema];
