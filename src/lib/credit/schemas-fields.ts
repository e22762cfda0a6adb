/**
 * The fields the credit contract's messages share (schemas.ts and its families):
 * keys, contract id, heights, fee rates, state numbers, the mint's next nonce, and the
 * NUT-00/01/02 pieces of the ecash ones. Field builders only: no message here.
 */
import { Type } from '@sinclair/typebox';
import { Hex } from '../message.ts';

export const Pubkey = (who: string) => Hex(`${who}'s 33-byte compressed public key`, 33);
export const ContractId = Hex('contract id: SHA-256 over every term (docs/credit.md)', 32);
export const Address = (what: string) => Type.String({ minLength: 14, maxLength: 90, description: what });
export const FeeRate = (what: string) => Type.Number({ minimum: 0.1, maximum: 100_000, description: `${what}, sat/vB` });
export const Height = (what: string) => Type.Integer({ minimum: 1, maximum: 499_999_999, description: what });
export const StateNumber = Type.Integer({ minimum: 1, description: 'state number: 1 for the first payment, +1 for each next step' });
export const NextNonce = Type.Object(
  { state: StateNumber, pubnonce: Hex('the mint\'s BIP-327 public nonce for that state, bound to this contract and state number', 66) },
  { additionalProperties: false, description: 'the mint nonce the user signs the next state against (BIP-327 DeterministicSign)' },
);
/**
 * The signature on an answer that moves the other party's record (answer-signature.ts): optional in the
 * schema so that one missing is refused by the protocol (E_RECEIPT_FORGED, exit 4), not as malformed.
 */
export const AnswerSignature = (who: 'mint' | 'gateway') => Type.Optional(Hex(
  `BIP-340 signature by the ${who}'s contract key over the tagged hash "offchain/credit/v1/answer" of this message's canonical JSON line without this member (at every depth type, version and network first, every other key in code-point order; no whitespace; a newline at the end); the receiver refuses the message without it or with another (E_RECEIPT_FORGED)`,
  64,
));

export const KEYSET_ID = '00[0-9a-f]{14}|01[0-9a-f]{64}';
export const KeysetId = Type.String({ pattern: `^(${KEYSET_ID})$`, description: 'NUT-02 keyset id: version 01 (33 bytes, Nutshell 0.20), or 00 (8 bytes, a keyset made by Nutshell ≤ 0.19)' });
/** A keyset id as a token carries it: full, or in a V4 token the short form of a version-01 id, its first 8 bytes (NUT-00). */
export const TokenKeysetId = (description: string) => Type.String({ pattern: `^(${KEYSET_ID}|01[0-9a-f]{14})$`, description });
export const InputFeePpk = Type.Integer({ minimum: 0, maximum: 2 ** 32, description: 'NUT-02 input_fee_ppk: what the ecash mint charges to spend one proof of the keyset, in parts per thousand of its unit' });
export const FinalExpiry = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'NUT-02 final_expiry: unix seconds after which the ecash mint may drop the keyset; null (or 0) for none' });
export const EcashAmount = Type.Integer({ minimum: 1, maximum: 2 ** 52, description: 'a power of two, in the keyset\'s unit (sat)' });
export const PointHex = (what: string) => Hex(`${what}: a compressed secp256k1 point`, 33);
export const KeysByAmount = Type.Record(Type.String({ pattern: '^[1-9][0-9]{0,19}$' }), PointHex('the key for this amount'), { description: 'NUT-01 keys: amount (decimal string) → public key' });

/** Each payment of a device channel (channel-payments.ts): the proof of payment a person can read. */
export const Payments = (whose: string) => Type.Array(
  Type.Object({
    payment_hash: Hex('the invoice\'s payment hash', 32),
    outcome: Type.Union([Type.Literal('paid'), Type.Literal('failed'), Type.Literal('pending')], { description: 'paid (the preimage is known), failed (the amount came back), or pending (in flight)' }),
    amount_sat: Type.Optional(Type.Integer({ minimum: 0, description: 'what the HTLC carried: the invoice amount rounded up to a satoshi, plus the gateway\'s fee' })),
    fee_sat: Type.Optional(Type.Integer({ minimum: 0, description: 'the gateway\'s fee within amount_sat' })),
    invoice_amount_msat: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'the invoice\'s amount, millisatoshis' })),
    preimage: Type.Optional(Hex('paid only: SHA-256(preimage) = payment_hash, the proof of payment', 32)),
    state: Type.Optional(Type.Integer({ minimum: 1, description: 'the state that carried the payment\'s HTLC' })),
  }, { additionalProperties: false }),
  { description: `${whose}, oldest first` },
);
