/**
 * JSON Schemas of the statechain messages (docs/statechain.md shows each with a fixture).
 * The additive signer's nonces and partial signatures travel in the JSON (this protocol's
 * key is not a BIP-327 KeyAgg key, so BIP-373's PSBT fields do not apply):
 * `owner_pubnonce` / `operator_pubnonce` are two compressed points (66 bytes), a partial
 * signature is a 32-byte scalar. Every request to the operator carries the requester's
 * BIP-340 signature over the request itself (`*_sig`, seal.ts `signBody`).
 *
 * The operator's `statement` is its signed view of the coin (shares, terms, backups it
 * signed, pending transfer): the receiver checks the backup chain against it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Hex, Sats, Txid, messageSchema } from '../message.ts';
import { SubmittedTx } from '../truc/schemas.ts';

const Pubkey = (who: string) => Hex(`${who}: 33-byte compressed public key`, 33);
const Sig = (who: string) => Hex(`${who}: BIP-340 signature over this message without the signature field`, 64);
const CoinId = Hex('the coin\'s id, chosen by the operator at deposit', 16);
const TransferId = Hex('the transfer\'s id, chosen by the sender', 16);
const Height = (d: string) => Type.Integer({ minimum: 1, maximum: 499_999_999, description: d });
const Pubnonce = (who: string) => Hex(`${who}'s public nonce: two compressed points`, 66);
const Psig = (who: string) => Hex(`${who}'s partial signature`, 32);
const TxHex = (d: string) => Hex(d);

export const TermsSchema = Type.Object(
  {
    interval: Type.Integer({ minimum: 2, maximum: 100_000, description: 'blocks between consecutive owners\' backup locktimes' }),
    initial_lock: Type.Integer({ minimum: 1, maximum: 100_000, description: 'the first backup\'s locktime is the tip at deposit plus this' }),
    confirmations: Type.Integer({ minimum: 1, maximum: 100_000, description: 'confirmations the deposit needs before the coin moves' }),
    backup_fee_sat: Sats('fee every backup pays'),
    margin: Type.Integer({ minimum: 0, maximum: 100_000, description: 'no backup locktime may be within this many blocks of the tip' }),
    anchor: Type.Optional(Type.Literal(true, { description: 'backups pay zero fee and carry a 0-sat keyless pay-to-anchor output (OP_1 <4e73>): whoever holds one bumps it with a TRUC child (package child). Absent: one output, the fixed backup_fee_sat (coins made before issue 24)' })),
  },
  { additionalProperties: false },
);

export const BackupRecordSchema = Type.Object(
  {
    n: Type.Integer({ minimum: 1, description: 'backup number, 1 = the depositor\'s' }),
    txid: Txid,
    locktime: Height('the backup\'s nLockTime'),
    owner_share: Pubkey('the share whose BIP-86 P2TR the backup pays'),
    script: Type.Optional(Hex('where the backup pays instead, chosen by that owner (e.g. a channel\'s funding output)')),
  },
  { additionalProperties: false },
);

export const StatementSchema = Type.Object(
  {
    coin_id: CoinId,
    network: Type.String(),
    status: Type.Union([Type.Literal('deposit'), Type.Literal('active'), Type.Literal('transferring'), Type.Literal('withdrawn')]),
    operator_auth: Pubkey('the operator\'s authentication key'),
    operator_share: Pubkey('S, the operator\'s current share'),
    owner_auth: Pubkey('the current owner\'s authentication key'),
    owner_share: Pubkey('O, the current owner\'s share'),
    owner_auth_b: Type.Optional(Pubkey('a pair\'s second part (B): its authentication key, whose signature the operator requires too for what only the pair may ask (a transfer, a withdrawal)')),
    aggregate: Pubkey('P = O + S (fixed for the coin\'s life)'),
    address: Type.String({ description: 'the coin\'s key-path-only P2TR address' }),
    terms: TermsSchema,
    outpoint: Type.Union([Type.Null(), Type.String({ pattern: '^[0-9a-f]{64}:[0-9]{1,10}$' })]),
    amount_sat: Type.Union([Type.Null(), Sats('the deposit output\'s amount')]),
    count: Type.Integer({ minimum: 0, description: 'how many backups the operator has signed for this coin' }),
    backups: Type.Array(BackupRecordSchema),
    transfer: Type.Union([
      Type.Null(),
      Type.Object(
        {
          transfer_id: TransferId,
          receiver_auth: Pubkey('the receiver\'s authentication key'),
          receiver_share: Pubkey('O₂, the receiver\'s new share'),
          receiver_auth_b: Type.Optional(Pubkey('a pair receiving: its second part\'s authentication key (becomes owner_auth_b)')),
          x1_point: Pubkey('X₁ = x₁·G: t₁·G must equal O₁ + X₁'),
        },
        { additionalProperties: false },
      ),
    ]),
    operator_sig: Sig('the operator'),
  },
  { additionalProperties: false },
);
export type Statement = Static<typeof StatementSchema>;

export const DepositRequestSchema = messageSchema('statechain/deposit-request', 'Owner → operator: a new coin is wanted; the owner\'s share and authentication key.', {
  owner_auth: Pubkey('the owner\'s authentication key'),
  owner_share: Pubkey('O, the owner\'s share'),
  owner_sig: Sig('the owner'),
});

export const DepositOfferSchema = messageSchema('statechain/deposit-offer', 'Operator → owner: the coin id, the operator\'s share with its proof of possession, the address and terms.', {
  coin_id: CoinId,
  operator_pop: Hex('the operator\'s proof of possession of S for this coin', 64),
  statement: StatementSchema,
});

export const DepositBackupSchema = messageSchema('statechain/deposit-backup', 'Owner → operator: the owner\'s proof of possession, the (unsigned) funding and the first backup to co-sign, before any coin is sent.', {
  coin_id: CoinId,
  owner_pop: Hex('the owner\'s proof of possession of O for this coin', 64),
  funding_tx: TxHex('the deposit transaction without witnesses (its txid is the outpoint\'s)'),
  outpoint: Type.String({ pattern: '^[0-9a-f]{64}:[0-9]{1,10}$' }),
  amount_sat: Sats('the deposit output\'s amount'),
  backup_tx: TxHex('backup 1, unsigned'),
  owner_pubnonce: Pubnonce('the owner'),
  owner_sig: Sig('the owner'),
});

export const DepositCosignedSchema = messageSchema('statechain/deposit-cosigned', 'Operator → owner: its half of backup 1\'s signature and its statement; the owner finishes the backup, then funds the coin.', {
  coin_id: CoinId,
  backup_txid: Txid,
  owner_pubnonce: Pubnonce('the owner'),
  operator_pubnonce: Pubnonce('the operator'),
  operator_psig: Psig('the operator'),
  statement: StatementSchema,
});

export const CoinSchema = messageSchema('statechain/coin', 'An owner\'s public view of its coin: the operator\'s statement and the signed backup chain (no secret).', {
  coin_id: CoinId,
  address: Type.String(),
  outpoint: Type.String({ pattern: '^[0-9a-f]{64}:[0-9]{1,10}$' }),
  amount_sat: Sats('the deposit output\'s amount'),
  owner_share: Pubkey('this owner\'s share'),
  statement: StatementSchema,
  backups: Type.Array(TxHex('a signed backup, in order (backup 1 first)')),
  latest_locktime: Height('the newest backup\'s locktime: it can be broadcast once the tip reaches it'),
  next: Type.String({ description: 'what to do next' }),
});

const JointParts = Type.Array(
  Type.Object({ share: Pubkey('a part of the joint share'), pop: Hex('that part\'s proof of possession for this coin', 64), auth: Pubkey('that part\'s authentication key') }, { additionalProperties: false }),
  { minItems: 2, maxItems: 2, description: 'a joint receiver (the two parties of a channel): receiver_share is the sum of the parts, each proven' },
);

export const TransferRequestSchema = messageSchema('statechain/transfer-request', 'Receiver → sender: the receiver\'s new share with its proof of possession, and its authentication key.', {
  coin_id: CoinId,
  receiver_auth: Pubkey('the receiver\'s authentication key'),
  receiver_share: Pubkey('O₂, the receiver\'s new share'),
  receiver_pop: Type.Optional(Hex('the receiver\'s proof of possession of O₂ for this coin (absent for a joint receiver)', 64)),
  receiver_parts: Type.Optional(JointParts),
  backup_script: Type.Optional(Hex('where the receiver\'s backup pays instead of O₂\'s P2TR (e.g. a channel\'s funding output)')),
  receiver_sig: Sig('the receiver'),
});

export const JointNonceSchema = messageSchema('statechain/joint-nonce', 'B → A, a pair sending its coin: the receiver\'s request, the backup B built from it, and B\'s nonce for it; signed by B.', {
  coin_id: CoinId,
  request: TransferRequestSchema,
  backup_txid: Txid,
  pubnonce: Pubnonce('B'),
  part_sig: Sig('B (its authentication key)'),
});

export const JointWithdrawNonceSchema = messageSchema('statechain/joint-withdraw-nonce', 'B → A, a pair withdrawing its coin: the withdrawal B built and B\'s nonce for it; signed by B.', {
  coin_id: CoinId,
  owner_share: Pubkey('O = A + B, the pair\'s share as B holds the coin: the consent counts only while the pair holds it under that share (not in a later round)'),
  tx: TxHex('the withdrawal, unsigned: A rebuilds it from its own --to and --fee-rate and must get these bytes'),
  pubnonce: Pubnonce('B'),
  part_sig: Sig('B (its authentication key)'),
});

export const TransferSignSchema = messageSchema('statechain/transfer-sign', 'Sender → operator: co-sign the receiver\'s backup (before any key rotation) and start the transfer.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  receiver_auth: Pubkey('the receiver\'s authentication key'),
  receiver_share: Pubkey('O₂'),
  receiver_pop: Type.Optional(Hex('the receiver\'s proof of possession of O₂ (absent for a joint receiver)', 64)),
  receiver_parts: Type.Optional(JointParts),
  locktime: Height('the receiver\'s backup\'s locktime: the previous minus the interval'),
  backup_tx: TxHex('the receiver\'s backup, unsigned'),
  backup_script: Type.Optional(Hex('where the receiver asked its backup to pay')),
  owner_pubnonce: Pubnonce('the sender'),
  a_pubnonce: Type.Optional(Hex('a pair sending: part A\'s public nonce (owner_pubnonce must be it plus part_b\'s, B\'s)', 66)),
  part_b: Type.Optional(JointNonceSchema),
  owner_sig: Sig('the sender (the current owner)'),
});

export const TransferCosignedSchema = messageSchema('statechain/transfer-cosigned', 'Operator → sender: its half of the receiver\'s backup signature, x₁ sealed to the sender, and its statement.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  backup_txid: Txid,
  owner_pubnonce: Pubnonce('the sender'),
  operator_pubnonce: Pubnonce('the operator'),
  operator_psig: Psig('the operator'),
  x1_sealed: Hex('x₁ sealed to the sender\'s authentication key'),
  statement: StatementSchema,
});

export const TransferPackageSchema = messageSchema('statechain/transfer-package', 'Sender → receiver: t₁, the whole backup chain, the operator\'s statement and the sender\'s binding signature, sealed to the receiver.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  receiver_auth: Pubkey('whom it is sealed to'),
  sealed: Hex('the sealed package (docs/statechain.md: its inner fields)'),
});

export const PackageInnerSchema = Type.Object(
  {
    statement: StatementSchema,
    funding_tx: TxHex('the deposit transaction (without witnesses)'),
    backups: Type.Array(TxHex('a signed backup, backup 1 first')),
    t1: Hex('t₁ = o₁ + x₁', 32),
    binding_sig: Sig('the sender, over {coin_id, outpoint, receiver_share, transfer_id}'),
  },
  { additionalProperties: false },
);
export type PackageInner = Static<typeof PackageInnerSchema>;

export const TransferAcceptSchema = messageSchema('statechain/transfer-accept', 'Receiver → operator: t₂ = t₁ − o₂ sealed to the operator, signed by the receiver for this coin and transfer.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  receiver_auth: Pubkey('the receiver\'s authentication key'),
  receiver_share: Pubkey('O₂'),
  t2_sealed: Hex('t₂ sealed to the operator'),
  receiver_sig: Sig('the receiver'),
});

export const TransferDoneSchema = messageSchema('statechain/transfer-done', 'Operator → receiver: the share is rotated; the statement names the receiver as owner.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  statement: StatementSchema,
});

export const JointPartSchema = messageSchema('statechain/joint-part', 'Second part of a joint receiver (B) → first part (A): B\'s part of the pair\'s new share, its proof of possession for this coin, and B\'s authentication key.', {
  coin_id: CoinId,
  share: Pubkey('B, B\'s part of the joint share O₂ = A + B'),
  pop: Hex('B\'s proof of possession of its part for this coin', 64),
  auth: Pubkey('B\'s authentication key: the handoff is sealed to it'),
  part_sig: Sig('B (its authentication key)'),
});

export const JointHandoffSchema = messageSchema('statechain/joint-handoff', 'A → B: the verified package with t₁ replaced by u = t₁ − a, sealed to B, and the pair\'s parts; signed by A.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  receiver_share: Pubkey('O₂ = A + B'),
  parts: JointParts,
  backup_script: Type.Optional(Hex('where the pair\'s backup pays (e.g. their channel\'s funding output)')),
  handoff: Hex('the package, t₁ replaced by u = t₁ − a, sealed to B'),
  part_sig: Sig('A (its authentication key)'),
});

export const JointT2Schema = messageSchema('statechain/joint-t2', 'B → A: t₂ = u − b sealed to the operator, for A to send with the pair\'s acceptance; signed by B.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  t2_sealed: Hex('t₂ sealed to the operator'),
  part_sig: Sig('B (its authentication key)'),
});


export const JointSignSchema = messageSchema('statechain/joint-sign', 'A → B, a pair sending its coin: the operator\'s answer, A\'s partial signature, a + x₁ sealed to B and A\'s binding signature for the receiver; signed by A.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  cosigned: TransferCosignedSchema,
  a_pubnonce: Pubnonce('A'),
  a_psig: Psig('A'),
  ax1_sealed: Hex('a + x₁ sealed to B: B adds b to make t₁'),
  binding_sig: Sig('A (the pair\'s authentication key), over {coin_id, outpoint, receiver_share, transfer_id}'),
  part_sig: Sig('A (its authentication key)'),
});

export const WithdrawRequestSchema = messageSchema('statechain/withdraw-request', 'Owner → operator: co-sign this spend of the coin; the operator signs nothing more for it afterwards.', {
  coin_id: CoinId,
  tx: TxHex('the withdrawal, unsigned: one input, the coin'),
  owner_pubnonce: Pubnonce('the owner'),
  a_pubnonce: Type.Optional(Hex('a pair withdrawing: part A\'s public nonce (owner_pubnonce must be it plus part_b\'s, B\'s)', 66)),
  part_b: Type.Optional(JointWithdrawNonceSchema),
  owner_sig: Sig('the owner'),
});

export const WithdrawCosignedSchema = messageSchema('statechain/withdraw-cosigned', 'Operator → owner: its half of the withdrawal\'s signature; the coin is closed at the operator.', {
  coin_id: CoinId,
  txid: Txid,
  owner_pubnonce: Pubnonce('the owner'),
  operator_pubnonce: Pubnonce('the operator'),
  operator_psig: Psig('the operator'),
  statement: StatementSchema,
});


export const JointWithdrawSignSchema = messageSchema('statechain/joint-withdraw-sign', 'A → B, a pair withdrawing its coin: the operator\'s answer and A\'s partial signature; signed by A.', {
  coin_id: CoinId,
  cosigned: WithdrawCosignedSchema,
  a_pubnonce: Pubnonce('A'),
  a_psig: Psig('A'),
  part_sig: Sig('A (its authentication key)'),
});

export const SpendSchema = messageSchema('statechain/spend', 'A signed spend of (or from) the coin, ready to broadcast: a withdrawal or a backup (with its CPFP child).', {
  coin_id: CoinId,
  kind: Type.Union([Type.Literal('withdrawal'), Type.Literal('backup')]),
  txid: Txid,
  hex: TxHex('the signed transaction'),
  child_hex: Type.Optional(TxHex('the CPFP child spending the backup\'s output (submit both as a package)')),
  broadcast: Type.Optional(Type.Union([
    Type.Object({ txid: Txid }, { additionalProperties: false, description: 'a lone transaction: the txid sendrawtransaction answered' }),
    Type.Object({
      package_msg: Type.Literal('success'),
      parent: SubmittedTx,
      child: SubmittedTx,
      replaced_transactions: Type.Array(Txid),
    }, { additionalProperties: false, description: 'backup + child: submitpackage\'s answer read as package submit reads it (each transaction by its wtxid), as in package/submitted' }),
  ], { description: 'what the node answered, with --broadcast' })),
});

export const VerifiedSchema = messageSchema('statechain/verified', 'The receiver\'s verification of a transfer package passed: what was checked and how many transfers remain.', {
  coin_id: CoinId,
  transfer_id: TransferId,
  outpoint: Type.String(),
  amount_sat: Sats('the coin'),
  confirmations: Type.Integer({ minimum: 0 }),
  backups: Type.Integer({ minimum: 1 }),
  latest_locktime: Height('the receiver\'s backup\'s locktime'),
  tip_height: Type.Integer({ minimum: 0 }),
  transfers_remaining: Type.Integer({ minimum: 0 }),
  backup_fee_sat: Sats('the fee every backup pays (the terms\'): a backup\'s output is the coin less this'),
  backup_value_sat: Sats('your backup\'s one output: what you get back unilaterally, before a CPFP child\'s own fee'),
  anchor: Type.Optional(Type.Literal(true, { description: 'the terms say anchor: every backup pays zero fee and carries a keyless pay-to-anchor, bumped at broadcast with package child (absent: an old-terms coin, whose pair backup cannot be bumped)' })),
  other_deposits: Type.Optional(Type.Array(
    Type.Object({ outpoint: Type.String(), amount_sat: Sats('its amount'), confirmations: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    { description: 'with a node: other confirmed outputs paying the coin\'s address — no backup covers them; withdraw them cooperatively' },
  )),
});

/**
 * What an owner hands a watchtower (`statechain tower-export`, read by `offchain watch --tower`):
 * nothing secret — the newest backup, already signed by both shares, pays only the owner; a
 * tower can get it mined (a TRUC child on its anchor, its own wallet's coins) and nothing else.
 */
export const TowerBackupSchema = messageSchema('statechain/tower-backup', 'Owner → its watchtower: the owner\'s newest anchored backup (signed), its locktime, the deadline before the previous owner\'s backup is final, and the older backups\' txids (what the tower may outrun). No secret.', {
  coin_id: CoinId,
  outpoint: Type.String({ pattern: '^[0-9a-f]{64}:[0-9]{1,10}$', description: 'the coin: the deposit output every backup spends' }),
  amount_sat: Sats('the coin\'s amount (the backup\'s input)'),
  backup: Type.Object(
    {
      n: Type.Integer({ minimum: 2, description: 'its number in the coin\'s chain (1 is the depositor\'s: no older backup, no deadline)' }),
      txid: Txid,
      locktime: Height('Lₙ: final (accepted to a mempool) once the tip reaches it'),
      hex: TxHex('the signed backup: version 3, zero fee, its output to the owner\'s share and a 0-sat keyless pay-to-anchor (OP_1 <4e73>)'),
    },
    { additionalProperties: false },
  ),
  previous: Type.Object(
    { txid: Txid, locktime: Height('Lₙ₋₁: the previous owner\'s backup is final from this tip on') },
    { additionalProperties: false, description: 'the backup before it (the previous owner\'s): the one to get ahead of' },
  ),
  deadline: Type.Integer({ minimum: 0, description: 'Lₙ₋₁ − 1: the last block that mines the backup before the previous owner\'s can enter any mempool' }),
  older_txids: Type.Array(Txid, { minItems: 1, description: 'every older backup of the coin, backup 1 first: the spenders a tower may replace in a mempool (any other spender — a later owner\'s backup, the withdrawal — is never replaced)' }),
  next: Type.String(),
});

export const StoreMigratedSchema = messageSchema('statechain/store-migrated', 'Operator: its coins\' records moved from --state-dir into PostgreSQL, each file copy of a share erased.', {
  from: Type.String({ description: 'the operator\'s statechain directory migrated' }),
  to: Type.String({ description: 'the PostgreSQL store, its URL without a password' }),
  coins: Type.Array(CoinId, { description: 'the coins moved by this run (a rerun moves only what is left)' }),
  next: Type.String(),
});

export const CoinsSchema = messageSchema('statechain/coins', 'The owner\'s coins (statechain list), soonest deadline first, with what the chain says and what must be done now.', {
  tip_height: Type.Integer({ minimum: 0 }),
  coins: Type.Array(
    Type.Object(
      {
        coin_id: CoinId,
        outpoint: Type.Union([Type.Null(), Type.String({ pattern: '^[0-9a-f]{64}:[0-9]{1,10}$' })], { description: 'the deposit output (null: not funded yet)' }),
        amount_sat: Type.Union([Type.Null(), Sats('the deposit output\'s amount')]),
        status: Type.String({
          description: 'the record\'s word (active, sending, withdrawing, depositing, receiving, transferred: handed on, withdrawal-signed: signed, not seen on chain), and with a node the chain\'s: exiting / exited (your backup in the mempool / mined), ' +
            'withdrawal-sent / withdrawn, contested / lost (a previous owner\'s backup in the mempool / mined), transferred (a later owner\'s spend), spent-unknown, unfunded',
        }),
        record_status: Type.Union(['depositing', 'active', 'sending', 'sent', 'receiving', 'withdrawing', 'withdrawn'].map((s) => Type.Literal(s)), { description: 'the owner record\'s own status' }),
        backup: Type.Optional(Type.Integer({ minimum: 1, description: 'your backup\'s number (1: the depositor\'s); absent: none of them is yours yet' })),
        backups: Type.Integer({ minimum: 0, description: 'backups the operator\'s statement lists' }),
        locktime: Type.Optional(Height('your backup\'s nLockTime: final (may enter a mempool) once the tip reaches it')),
        blocks_to_final: Type.Optional(Type.Integer({ description: 'locktime − tip (0 or less: final now)' })),
        previous_locktime: Type.Optional(Height('the previous owner\'s backup\'s nLockTime (absent for backup 1)')),
        blocks_to_previous_final: Type.Optional(Type.Integer({ description: 'previous_locktime − tip: blocks before the previous owner\'s backup is final' })),
        deadline_height: Type.Optional(Type.Integer({ minimum: 0, description: 'previous_locktime − 1: the last block that mines your backup before the previous owner\'s can enter any mempool' })),
        chain: Type.Optional(Type.Union([
          Type.Object({ funding: Type.Literal('unspent') }, { additionalProperties: false }),
          Type.Object({ funding: Type.Literal('not-on-chain') }, { additionalProperties: false }),
          Type.Object(
            {
              funding: Type.Literal('spent'),
              spent_by: Type.Union(['own-backup', 'previous-backup', 'later-backup', 'withdrawal', 'unknown'].map((s) => Type.Literal(s))),
              txid: Type.Optional(Txid),
              confirmations: Type.Optional(Type.Integer({ minimum: 0, description: '0: in the mempool' })),
            },
            { additionalProperties: false },
          ),
        ], { description: 'with a node: what spends the deposit output, asked as offchain watch asks it; absent offline' })),
        joint: Type.Optional(Type.Literal(true, { description: 'a pair\'s coin (O = A + B): this part\'s joint-<coin> record; its backup is bumped from its anchor by a wallet\'s coin' })),
        withdrawal_pending: Type.Optional(Type.Union([Type.Literal('unknown'), Type.Literal('mempool')], { description: 'with a node: the signed withdrawal, unmined before the backup\'s window, as offchain watch sees it — unknown to the node (it must be sent: must_act), or in its mempool (the watcher bumps it while the schedule asks more than it pays)' })),
        must_act: Type.Boolean({ description: 'your backup must be on its way now (offchain watch sends it): its window open, neither it nor the withdrawal mined, the coin unspent or a previous owner\'s backup only in the mempool; or the signed withdrawal is unknown to the node (withdrawal_pending unknown)' }),
        next: Type.String({ description: 'what the owner does now for this coin, in words' }),
      },
      { additionalProperties: false },
    ),
  ),
});

export const STATECHAIN_SCHEMAS = [
  DepositRequestSchema, DepositOfferSchema, DepositBackupSchema, DepositCosignedSchema, CoinSchema,
  TransferRequestSchema, TransferSignSchema, TransferCosignedSchema, TransferPackageSchema, TransferAcceptSchema, TransferDoneSchema,
  JointPartSchema, JointHandoffSchema, JointT2Schema, JointNonceSchema, JointSignSchema, JointWithdrawNonceSchema, JointWithdrawSignSchema,
  WithdrawRequestSchema, WithdrawCosignedSchema, SpendSchema, VerifiedSchema, StoreMigratedSchema, TowerBackupSchema, CoinsSchema,
];
