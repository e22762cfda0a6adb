/**
 * What the credit protocol needs from the outside world, as interfaces: durable
 * records, the single-use nonce store, the chain, randomness. src/lib/store implements
 * the storage ones on disk; tests can pass in-memory ones. Keeping these out of the
 * protocol modules keeps those pure and the disk rules in one place.
 */
import type { ChainSource } from '../chain/types.ts';
import type { KeyPair } from '../keys/keys.ts';
import type { Network } from '../network.ts';
import type { RandomSource } from '../random.ts';
import type { CreditTermsJson } from './codec.ts';
import type { MintKeyset } from '../ecash/nut01.ts';
import type { BlindSignatureJson, BlindedMessageJson, EcashOfferJson } from './ecash.ts';
import type { EcashSigner } from './ecash-signer.ts';
import type { NextKeysetJson } from './ecash-keysets.ts';
import type { NoncePort } from '../musig/nonce-port.ts';

export interface RecordPort<R> {
  get(id: string): Promise<R | undefined>;
  /** Atomic and durable before it returns. */
  put(record: R): Promise<void>;
  list(): Promise<R[]>;
}

/** What a funding outpoint ("txid:vout") carries: one contract, opened, or the next contract of a proposed rollover. */
export type FundingBinding = { contract_id: string; kind: 'open' | 'rollover'; from_contract_id?: string };

/**
 * The mint's index from funding outpoint to contract: the mint co-signs a refund for
 * an outpoint at most once, so one outpoint carries one contract.
 */
export interface FundingIndexPort {
  fundingOwner(outpoint: string): Promise<FundingBinding | undefined>;
  /** Refuses (E_FUNDING_IN_USE) an outpoint bound to another contract. */
  bindFunding(outpoint: string, binding: FundingBinding): Promise<void>;
}

/** The mint's contract records, with what bounds the state unfunded opens can take up. */
export interface MintRecordPort extends RecordPort<MintContractRecord> {
  /** `nonce`: the mint nonce the request names, a hint a store may read with the record (src/lib/store/mint-store-port.ts). */
  get(id: string, nonce?: Uint8Array): Promise<MintContractRecord | undefined>;
  /** Up to `limit` open contracts never paid nor seen funded, opened before `height`, oldest first. */
  unfundedOpens(openedBefore: number, limit: number): Promise<MintContractRecord[]>;
  remove(id: string): Promise<void>;
}

export type MintPolicy = {
  mint_pubkey: string;
  payout_address: string;
  min_fee_rate: number;
  safety_margin_blocks: number;
  min_confirmations: number;
  min_expiry_blocks: number;
  max_expiry_blocks: number;
  default_expiry_blocks: number;
  ecash?: EcashOfferJson;
};

/**
 * The mint's record of every blinded message it signed: B_ (hex) is the primary key, so
 * a B_ is signed for one (contract, state) only — a database constraint, not just a check.
 */
export interface BlindSignaturePort {
  /** Who B_ was signed for, if anyone. */
  blindSignatureOwner(B_: string): Promise<{ contract_id: string; state: number } | undefined>;
  /** Inside the open step; refuses (E_BLINDED_MESSAGE_REUSED) a B_ already recorded. Each row keeps the C_ its receipt carried (restore answers only that). */
  recordBlindSignatures(contractId: string, state: number, rows: { B_: string; keyset_id: string; amount: number; C_: string }[]): Promise<void>;
  /** Per keyset: all ecash ever signed. */
  ecashIssuance(): Promise<{ keyset_id: string; issued_sat: number; signatures: number }[]>;
  /** The rows of the blinded messages among `B_s` (exact hex) that were signed; read-only (NUT-09 restore). */
  signedBlindedMessages(B_s: string[]): Promise<SignedBlindedMessage[]>;
}

/**
 * One blinded message the mint signed: for whom, under which keyset, for what amount, and
 * the C_ it answered (null in a row written before rows kept it, or by an older toolkit).
 */
export type SignedBlindedMessage = { B_: string; contract_id: string; state: number; keyset_id: string; amount: number; C_: string | null };

export type NextNonceJson = { state: number; pubnonce: string };

export type ReceiptJson = {
  type: 'credit/receipt';
  version: 1;
  network: Network;
  contract_id: string;
  state: number;
  amount_sat: number;
  cumulative_sat: number;
  txid: string;
  next_nonce: NextNonceJson;
  signatures?: BlindSignatureJson[];
  /** The ecash mint's active keyset, when these signatures are under an older one: the next payment's outputs use it. */
  next_keyset?: NextKeysetJson;
  /** The mint key's BIP-340 signature over every other member (answer-signature.ts); absent only in a receipt an older toolkit stored. */
  mint_signature?: string;
};

/** The mint's record of one contract: only JSON-native values (it is stored as JSON). */
export type MintContractRecord = {
  contract_id: string;
  network: Network;
  contract: CreditTermsJson;
  status: 'open' | 'closing' | 'rolling-over';
  /** The state number the outstanding mint nonce is for. */
  next_state: number;
  /** The latest fully signed state: what the mint exits with. Never sent to the user. */
  latest?: { state: number; cumulative_sat: number; txid: string; hex: string; receipt: ReceiptJson };
  /** The open-accept, returned again if the same open-request is retried. */
  open_accept: Record<string, unknown>;
  /** The tip when the mint accepted the open (absent for contracts opened by a rollover or before this field). */
  opened_at_height?: number;
  /** Set once the mint saw the funding output on chain (so it never expires the open). */
  funding_seen?: true;
  /** A rollover whose new refund the mint co-signed (round 1), awaiting the user's signature. */
  proposed_rollover?: { state: number; txid: string; new_contract_id: string; new_contract: CreditTermsJson; response: Record<string, unknown> };
  /**
   * Set by the mint's exit (exit-credit): it exits with this state, so it signs nothing more for the contract.
   * `attempts`: each run that froze it or sent its package since; a failed broadcast takes back its
   * own, and the freeze goes with the last of them only (an exit from before has none: it stays).
   */
  exiting?: { state: number; txid: string; attempts?: string[] };
  /** Set once the mint signs a close or rollover: the contract is frozen from then on. */
  settlement?: { kind: 'close' | 'rollover'; state: number; txid: string; response: Record<string, unknown>; new_contract_id?: string };
  /** Ecash signed under this contract (sum of the amounts of its blind signatures). */
  ecash_issued_sat?: number;
  /** The last abandon the mint answered (its nonce burned, a fresh one issued): answered again if retried. */
  abandoned?: { state: number; pubnonce: string; response: Record<string, unknown> };
  /** Set once the contract serves as an IoT device's channel (docs/device-gateway.md): the gateway's record of it. */
  gateway?: GatewayChannel;
};

export type MintContext = {
  network: Network;
  mint: KeyPair;
  policy: MintPolicy;
  records: MintRecordPort;
  funding: FundingIndexPort;
  nonces: NoncePort;
  chain: ChainSource;
  random: RandomSource;
  /**
   * When the mint issues ecash (its offer names a keyset): the active keyset's private keys
   * (as the step began), the keysets it may sign under (read again at each request: a
   * rotation followed reaches a running stream), and where signatures are recorded.
   */
  ecash?: { keyset: MintKeyset; signer: EcashSigner; signatures: BlindSignaturePort };
};

export type UserContractRecord = {
  contract_id: string;
  network: Network;
  contract: CreditTermsJson;
  status: 'opening' | 'open' | 'closing' | 'closed' | 'rolling-over' | 'rolled-over';
  funding_psbt: string;
  refund?: { txid: string; hex: string };
  /** The mint nonce to sign the next state against. */
  mint_nonce?: NextNonceJson;
  /** The last state the mint acknowledged with a receipt. */
  confirmed: { state: number; cumulative_sat: number };
  /**
   * Signed and sent, not yet acknowledged: resent as is until a receipt arrives. Once the
   * user abandons it, `abandon` holds the signed credit/abandon sent to the mint; the
   * pending request is kept until the mint answers (it may have signed it).
   */
  pending?: {
    kind: 'update' | 'close' | 'rollover'; state: number; cumulative_sat: number; txid: string; request: Record<string, unknown>; new_contract_id?: string;
    abandon?: Record<string, unknown>;
  };
  /** The offer's expiry window, kept so a rollover's --expiry is checked before anything is written. */
  expiry_window?: { min_blocks: number; max_blocks: number };
  /**
   * Rollover transactions of this contract abandoned after their round 1 was sent: the
   * mint may have co-signed a refund spending their output, so a later rollover must
   * have another txid (the mint binds an outpoint to one contract).
   */
  abandoned_rollovers?: string[];
  /** The cooperative close, once completed: what a repeated `credit/closed` must match. */
  closed?: { txid: string; hex: string };
  /** For rollover: the contract this one replaces. */
  previous_contract_id?: string;
  /** While opening: the open-request, sent again unchanged if the open is retried. */
  open_request?: Record<string, unknown>;
  /**
   * From an ecash offer: the keyset to verify the mint's signatures against, the NUT-13
   * counter (next index; advanced before a request leaves, never reused), the ecash
   * received so far, the pending request's outputs (their counters), and the last paid
   * request's (so its receipt fed again writes its token again).
   */
  ecash?: EcashOfferJson & {
    counter: number; issued_sat: number; pending_outputs?: { counter: number; outputs: BlindedMessageJson[] }; last_outputs?: { state: number; counter: number; outputs: BlindedMessageJson[] };
    /** The keyset a receipt's next_keyset replaced (ecash.ts, adoptKeyset): the last receipt, or an unpaid payment's outputs, are checked under it. */
    previous_keyset?: Pick<EcashOfferJson, 'keyset_id' | 'unit' | 'input_fee_ppk' | 'final_expiry' | 'keys'>;
    /** A state the mint signed without ecash for these outputs (settled by abandon; claimed by restore: ecash-claim.ts). */
    unpaid?: { state: number; amount_sat: number; counter: number; outputs: BlindedMessageJson[] };
  };
  /** Set once the contract serves as this device's Lightning-gateway channel (docs/device-gateway.md). */
  device?: DeviceChannel;
};

/** The user's records: an abandoned open (never answered, never funded) is removed whole. */
export interface UserRecordPort extends RecordPort<UserContractRecord> {
  remove(id: string): Promise<void>;
}

export type UserContext = {
  network: Network;
  user: KeyPair;
  records: UserRecordPort;
  nonces: NoncePort;
  chain: ChainSource;
  random: RandomSource;
  /** The wallet seed (NUT-13) for contracts that take ecash; never stored. */
  walletSeed?: Uint8Array;
};

// ——— a contract used as a payment channel with one HTLC in flight (the IoT device ↔ gateway of src/lib/device/ is built on it) ———

/** One payment in flight (JSON-native). amount_sat = invoice amount (rounded up) + gateway fee. */
export type InFlightJson = {
  state: number;
  payment_hash: string;
  amount_sat: number;
  fee_sat: number;
  invoice_amount_msat: string;
  expiry_height: number;
  invoice: string;
};

/** The device's record of its channel: what it agreed, never the gateway's word for it. */
export type DeviceChannel = {
  network: Network;
  contract_id: string;
  contract: CreditTermsJson;
  /** The last state the gateway acknowledged. */
  state: number;
  settled_sat: number;
  /** The gateway's nonce for the next state to sign. */
  gateway_nonce?: NextNonceJson;
  /** `abandon`: the credit/abandon sent for it (a device/pay the gateway refused), until the gateway answers. */
  in_flight?: InFlightJson & { request: Record<string, unknown>; abandon?: Record<string, unknown> };
  /** Signed and sent (settle or fail), not yet acknowledged by a receipt: resent as is. */
  pending?: { kind: 'settle' | 'fail'; state: number; settled_sat: number; payment_hash: string; request: Record<string, unknown> };
  /**
   * Failed payments, kept: the gateway may still broadcast the state that held one, and
   * the device then takes its HTLC back after the expiry (onchain.ts deviceRefund).
   */
  failed?: (InFlightJson & { txid: string; settled_sat: number })[];
  /** Proofs of payment: every preimage the device paid for. */
  paid: { payment_hash: string; preimage: string; amount_sat: number; state: number; fee_sat?: number; invoice_amount_msat?: string }[];
  /** Spending so far today (UTC day), for the policy's daily limit. */
  day: { date: string; spent_msat: string };
};

/** The gateway's record of a channel. */
export type GatewayChannel = {
  network: Network;
  contract_id: string;
  contract: CreditTermsJson;
  /** The state number the outstanding gateway nonce is for. */
  next_state: number;
  settled_sat: number;
  /** The latest fully signed state: what the gateway exits with. */
  latest?: { state: number; settled_sat: number; txid: string; hex: string; htlc?: { payment_hash: string; amount_sat: number; expiry_height: number } };
  /** `attempted`: this gateway asked its Lightning node to pay the job (written before the `pay` call). */
  in_flight?: InFlightJson & { preimage?: string; failed?: true; job?: Record<string, unknown>; attempted?: true; answer?: Record<string, unknown> };
  /** The last receipt, answered again if the same request is retried. */
  receipt?: Record<string, unknown>;
  /** The last payment decided and completed: its gateway/settle or gateway/fail, for the operator's view (GET /v1/operator/payments/HASH) and a resent device/pay. */
  decided?: { payment_hash: string; answer: Record<string, unknown>; amount_sat?: number; fee_sat?: number; invoice_amount_msat?: string; state?: number };
};
