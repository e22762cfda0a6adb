/**
 * JSON Schemas of what the credit mint's operator reads: its unilateral exit
 * (credit/exit, with a device channel's HTLC claim), its contracts and what must be exited
 * now (credit/contracts), and a store migration (credit/store-migrated). The contract's
 * messages between the parties are schemas.ts.
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';
import { ContractId, Height, KeysetId, Payments } from './schemas-fields.ts';

export const ExitSchema = messageSchema('credit/exit', 'The mint\'s unilateral exit: its latest state, and a CPFP child paying for both.', {
  contract_id: ContractId,
  state: Type.Integer({ minimum: 1 }),
  cumulative_sat: Sats('what the state pays the mint'),
  deadline_height: Height('the state must be mined by this block (the refund is final after it)'),
  state_tx: Type.Object({ txid: Txid, hex: Hex('the fully signed state'), vsize: Type.Integer(), fee_sat: Sats('its own fee') }),
  child: Type.Object({
    txid: Txid,
    complete: Type.Boolean(),
    psbt: Base64Psbt,
    hex: Type.Optional(Hex('the signed child: the mint key signs its own payout; a wallet\'s payout is signed by the wallet (--child)')),
    vsize: Type.Integer({ description: 'the child\'s virtual size at its largest signed size, vB (what its fee is counted on)' }),
    fee_sat: Sats('the child\'s fee, paid out of the payout it spends'),
    replaces: Type.Optional(Type.Object({ txid: Txid, fee_sat: Sats('what it pays') }, { additionalProperties: false, description: 'with a node: a child of the state in its mempool that is not the mint\'s (the user\'s, on its change: a pin), which this child replaces — paying more than it, more than --fee-rate when needed, within the fee guard' })),
    package_fee_rate: Type.Number({ description: 'fee rate of state + child together, sat/vB' }),
  }),
  htlc_claim: Type.Optional(
    Type.Object(
      {
        payment_hash: Hex('the HTLC\'s payment hash', 32),
        vout: Type.Integer({ minimum: 0, description: 'the HTLC output of the state the child spends through its claim leaf' }),
        amount_sat: Sats('the HTLC output'),
      },
      { additionalProperties: false, description: 'gateway claim (a device channel): the child also claims this HTLC with the preimage' },
    ),
  ),
  broadcast: Type.Optional(Type.Union([
    Type.Object({ txid: Txid }, { additionalProperties: false, description: 'gateway claim --broadcast of a state already confirmed: the child alone (sendrawtransaction)' }),
    Type.Object(
      {
        package_msg: Type.String({ description: 'Core\'s submitpackage package_msg ("success")' }),
        tx_results: Type.Array(
          Type.Object(
            {
              txid: Txid,
              wtxid: Hex('witness txid', 32),
              vsize: Type.Optional(Type.Integer()),
              fees_sat: Type.Optional(Sats('base fee the node counted')),
              error: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, description: 'with --broadcast: what the node answered' },
    ),
  ])),
});

export const StoreMigratedSchema = messageSchema('credit/store-migrated', 'Operator: the mint\'s SQLite store was copied into an empty PostgreSQL database; the source refuses every use from now on.', {
  from: Type.String({ description: 'the SQLite mint directory migrated' }),
  to: Type.String({ description: 'the PostgreSQL store, its URL without a password' }),
  migration_id: Type.String({ pattern: '^[0-9a-f]{32}$', description: 'names this migration in both stores (a rerun finishes it)' }),
  contracts: Type.Integer({ minimum: 0 }),
  funding_outpoints: Type.Integer({ minimum: 0 }),
  blind_signatures: Type.Integer({ minimum: 0 }),
  documents: Type.Integer({ minimum: 0, description: 'the offer and other documents' }),
  nonces_consumed: Type.Integer({ minimum: 0, description: 'consumed nonces copied (their ids: never issued again)' }),
  nonces_burned: Type.Integer({ minimum: 0, description: 'unused secret nonces burned, not copied: each one\'s user recovers with credit abandon' }),
  resumed: Type.Boolean({ description: 'an earlier run had already copied: an interrupted one, which this run finished, or a finished one (nothing was left to do; `next` says so)' }),
  next: Type.String(),
});

export const ContractsSchema = messageSchema('credit/contracts', 'The mint\'s contracts, with what must be exited now.', {
  tip_height: Type.Integer({ minimum: 0 }),
  ecash_outstanding: Type.Optional(Type.Array(Type.Object({ keyset_id: KeysetId, issued_sat: Sats('all ecash the credit mint ever signed under this keyset, over every contract'), signatures: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }))),
  contracts: Type.Array(
    Type.Object({
      contract_id: ContractId,
      status: Type.String({ description: 'open, closing, rolling-over, exiting (exit-credit marked it), or once confirmed closed, rolled-over, exited; past expiry, with a node: refunding (the user\'s refund in its mempool or under the required confirmations), refunded' }),
      capacity_sat: Sats('locked'),
      cumulative_sat: Sats('paid to the mint in its latest state'),
      state: Type.Integer({ minimum: 0 }),
      expiry_height: Height('expiry'),
      blocks_to_expiry: Type.Integer(),
      settlement: Type.Optional(
        Type.Object({
          kind: Type.Union([Type.Literal('close'), Type.Literal('rollover')]),
          txid: Txid,
          confirmations: Type.Optional(Type.Integer({ minimum: 0, description: 'asked of the node; absent offline or when unknown' })),
        }),
      ),
      exit: Type.Optional(
        Type.Object({
          state: Type.Integer({ minimum: 1, description: 'the state the mint exits with (exit-credit marked the contract: it signs nothing more of it)' }),
          txid: Txid,
          confirmations: Type.Optional(Type.Integer({ minimum: 0, description: 'asked of the node; absent offline or when unknown' })),
        }),
      ),
      refund: Type.Optional(
        Type.Object({
          txid: Txid,
          confirmations: Type.Integer({ minimum: 0, description: 'the user\'s refund as the node knows it (0: in its mempool); absent when it does not, offline, or before expiry' }),
        }),
      ),
      must_exit: Type.Boolean({ description: 'a signed state, no confirmed settlement, exit or refund, within the safety margin: broadcast the latest state now (exit-credit)' }),
      next: Type.String({ description: 'what the operator does now for this contract, in words' }),
      ecash_issued_sat: Type.Optional(Sats('ecash the mint signed under this contract (equals cumulative_sat when every payment carried outputs)')),
      payments: Type.Optional(Payments('a gateway\'s channel: the payment in flight and the last one decided, as its record keeps them (its Lightning node\'s listpays holds the rest)')),
    }),
  ),
});
