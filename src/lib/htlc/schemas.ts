/**
 * JSON Schemas of the `htlc` messages. `htlc/created` describes one HTLC output (what
 * `htlc create` prints and what claim / refund / punish / cooperate read back: every
 * field is re-derived from the parameters and compared, so an edited message is
 * refused); `htlc/spend` is a spend of it, complete (a transaction to broadcast) or
 * waiting for another signature (a PSBT); `htlc/decoded` says what a script is.
 */
import { Type } from '@sinclair/typebox';
import { Base64Psbt, Hex, Sats, Txid, messageSchema } from '../message.ts';

const Pubkey = (who: string) => Hex(`${who}: 33-byte compressed public key`, 33);
const Locktime = (what: string) => Type.Integer({ minimum: 1, maximum: 0xffff_ffff, description: what });
const Kind = Type.Union(['seed', 'offered', 'received', 'taproot'].map((k) => Type.Literal(k)), {
  description: 'seed: the seed\'s P2WSH script; offered / received: BOLT 3 HTLC outputs; taproot: claim and refund leaves with a MuSig2 key path',
});
const Leaf = Type.Object(
  { script: Hex('tapscript'), control_block: Hex('BIP-341 control block spending this leaf'), leaf_hash: Hex('TapLeaf hash', 32) },
  { additionalProperties: false },
);

export const HtlcCreatedSchema = messageSchema('htlc/created', 'An HTLC output: fund `address`; keep this message to claim, refund or punish later.', {
  kind: Kind,
  address: Type.String({ description: 'the HTLC\'s address (P2WSH or P2TR)' }),
  script_pubkey: Hex('output script'),
  payment_hash: Hex('SHA-256 of the 32-byte payment preimage', 32),
  payment_hash160: Type.Optional(Hex('RIPEMD-160 of payment_hash: what a HASH160 script compares with', 20)),
  recipient: Pubkey('who claims with the preimage'),
  payer: Pubkey('who takes the coins back after the timeout'),
  locktime: Locktime('absolute timeout of the payer\'s path (BOLT 3: cltv_expiry): a height below 500000000, else a unix time'),
  amount_sat: Type.Optional(Sats('the amount the payer means to fund (checked against dust)')),
  witness_script: Type.Optional(Hex('P2WSH witness script')),
  size_check: Type.Optional(Type.Boolean({ description: 'seed: OP_SIZE 32 OP_EQUALVERIFY ahead of the hash check (false = the bare seed form)' })),
  revocation_pubkey: Type.Optional(Pubkey('BOLT 3 revocationpubkey')),
  local_htlc_pubkey: Type.Optional(Pubkey('BOLT 3 local_htlcpubkey (the commitment holder)')),
  remote_htlc_pubkey: Type.Optional(Pubkey('BOLT 3 remote_htlcpubkey')),
  anchors: Type.Optional(Type.Boolean({ description: 'BOLT 3 option_anchors: 1 OP_CHECKSEQUENCEVERIFY on the non-revocation paths' })),
  to_self_delay: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'BOLT 3: CSV delay of the second-stage output' })),
  local_delayed_pubkey: Type.Optional(Pubkey('BOLT 3 local_delayedpubkey (second-stage output)')),
  feerate_per_kw: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'BOLT 3: the commitment feerate, which fixes the HTLC transactions\' fee' })),
  internal_key: Type.Optional(Hex('taproot: x-only MuSig2 aggregate of payer and recipient (BIP-327 KeyAgg, sorted)', 32)),
  participants: Type.Optional(Type.Array(Pubkey('MuSig2 participant'), { minItems: 2, maxItems: 2 })),
  merkle_root: Type.Optional(Hex('taproot: script tree root', 32)),
  output_key: Type.Optional(Hex('taproot: x-only output key', 32)),
  leaves: Type.Optional(Type.Object({ claim: Leaf, refund: Leaf }, { additionalProperties: false })),
  descriptor: Type.Optional(Type.String({ description: 'BIP-380 output descriptor with checksum (taproot: miniscript leaves)' })),
});

const Path = Type.Union(['claim', 'refund', 'revoke', 'htlc-timeout', 'htlc-success', 'cooperative'].map((p) => Type.Literal(p)), {
  description: 'claim / refund / revoke: one-signer spends; htlc-timeout / htlc-success: BOLT 3 second stage (two signers); cooperative: taproot key path (MuSig2)',
});

export const HtlcSpendSchema = messageSchema('htlc/spend', 'A spend of an HTLC: a transaction to broadcast when complete, else a PSBT for the next signer.', {
  kind: Kind,
  path: Path,
  complete: Type.Boolean({ description: 'true: `hex` is a fully signed transaction' }),
  txid: Txid,
  outpoint: Type.Object({ txid: Txid, vout: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }) }, { additionalProperties: false }),
  amount_sat: Sats('the HTLC output\'s amount'),
  fee_sat: Sats('fee paid'),
  locktime: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }),
  sequence: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }),
  hex: Type.Optional(Hex('the signed transaction (complete only)')),
  psbt: Type.Optional(Base64Psbt),
  missing: Type.Optional(Type.Array(Type.String(), { description: 'what the PSBT still needs: local_htlc / remote_htlc signatures, the preimage, MuSig2 rounds; anchors second stage: fee_input (the holder adds a wallet\'s coins), wallet_signatures (walletprocesspsbt)' })),
  htlc: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'the htlc/created message, carried along while signatures are missing' })),
  broadcast: Type.Optional(Type.Object({ txid: Txid }, { additionalProperties: false, description: 'gateway claim --broadcast of a state already confirmed: the node accepted the claim (sendrawtransaction)' })),
});

export const HtlcDecodedSchema = messageSchema('htlc/decoded', 'Which HTLC kind a script is, and its parameters.', {
  kind: Type.Union(['seed', 'offered', 'received', 'taproot-claim-leaf', 'taproot-refund-leaf', 'taproot'].map((k) => Type.Literal(k))),
  address: Type.Optional(Type.String({ description: 'the P2WSH address of the script, or the taproot address rebuilt from both leaves' })),
  address_matches: Type.Optional(Type.Boolean({ description: 'whether --address is this script\'s address' })),
  payment_hash: Type.Optional(Hex('SHA-256 payment hash (taproot leaves carry it)', 32)),
  payment_hash160: Type.Optional(Hex('RIPEMD-160 of the payment hash (HASH160 scripts carry only this)', 20)),
  recipient: Type.Optional(Hex('recipient key (33 bytes; x-only 32 bytes in a taproot leaf)')),
  payer: Type.Optional(Hex('payer key (33 bytes; x-only 32 bytes in a taproot leaf)')),
  locktime: Type.Optional(Type.Integer({ minimum: 1, maximum: 0xffff_ffff })),
  size_check: Type.Optional(Type.Boolean()),
  revocation_pubkey_hash160: Type.Optional(Hex('HASH160 of the revocation pubkey', 20)),
  local_htlc_pubkey: Type.Optional(Hex('', 33)),
  remote_htlc_pubkey: Type.Optional(Hex('', 33)),
  anchors: Type.Optional(Type.Boolean()),
  internal_key: Type.Optional(Hex('', 32)),
  participants: Type.Optional(Type.Array(Hex('', 33))),
});

/** The fields of `htlc/watched` and `ptlc/watched`: a payer's funded output, kept for `offchain watch` to refund (docs/watch.md). */
export const watchedFields = (what: string) => ({
  contract: Type.String({ pattern: '^[0-9a-f]{64}:[0-9]{1,10}$', description: `the ${what} as the watcher names it: its funding outpoint, TXID:VOUT` }),
  outpoint: Type.Object({ txid: Txid, vout: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }) }, { additionalProperties: false }),
  amount_sat: Sats('the funded output\'s amount'),
  address: Type.String({ description: `the ${what}'s address` }),
  locktime: Type.Integer({ minimum: 1, maximum: 499_999_999, description: 'the refund\'s locktime, a block height' }),
  refund_from_height: Type.Integer({ minimum: 1, description: 'the tip from which the refund is final and the watcher sends it' }),
  to: Type.String({ description: 'the address the refund pays' }),
});

export const HtlcWatchedSchema = messageSchema('htlc/watched', 'A payer\'s funded HTLC kept in the state directory: offchain watch over it refunds it once its locktime is final.', watchedFields('HTLC'));

export const HTLC_SCHEMAS = [HtlcCreatedSchema, HtlcSpendSchema, HtlcDecodedSchema, HtlcWatchedSchema];
