/**
 * The IoT device and its Lightning gateway (BRIEF §3.8, seed 004, issue 27): the
 * device's funds sit in a credit contract (device = user, gateway = mint: a 2-of-2
 * MuSig2 one-way channel, src/lib/credit/); each Lightning payment is ONE taproot HTLC
 * output inside the next state (src/lib/htlc/, kind `taproot`): claimed by the gateway
 * with the invoice's preimage, refunded to the device after its CLTV. This module
 * reuses the credit contract's terms, state transactions (buildState with its optional
 * HTLC output), mint-side rules (checkState with the HTLC) and MuSig2 moves (the device
 * signs with DeterministicSign against the gateway's announced nonce; the gateway
 * completes with its single-use stored nonce). Nothing here copies credit code.
 *
 * Invariants (who can take how much, when):
 * - The gateway never gets more than its SETTLED amount plus the one in-flight HTLC,
 *   and the HTLC only with the preimage: every state the device signs pays the gateway
 *   exactly the device's own record of settled payments (each one backed by a preimage
 *   the device holds as proof of payment), plus at most one HTLC output whose claim
 *   leaf needs the gateway's key AND the preimage of the invoice's payment hash.
 * - The device can always get back everything not settled: by the fail path (the next
 *   state without the HTLC, the amount back in its change), or on chain, from any state
 *   the gateway broadcasts, by its change output plus the HTLC's refund leaf after the
 *   HTLC's CLTV; if the gateway broadcasts nothing, by the contract's refund after the
 *   channel's expiry (everything, settled included).
 * - Settled grows only by settle: settle requires sha256(preimage) = payment hash,
 *   checked by the device before it signs; fail leaves settled unchanged.
 * - At most one HTLC in flight: neither side signs a state with an HTLC while the
 *   previous one is neither settled nor failed.
 * - One payment per hash per device: a payment hash is carried by the states of one channel
 *   of the device only (in flight, failed or settled there), and settled at most once
 *   (device.ts pay and settle, against every other channel of the state directory).
 * - The HTLC's CLTV leaves the gateway time to claim on chain: at least the invoice's
 *   min_final_cltv_expiry_delta plus the gateway's Lightning budget plus its claim
 *   margin from the tip, and at or before the channel's expiry less the claim margin
 *   (a state confirmed after the channel expiry can lose to the refund).
 * - Single-use: each gateway nonce signs one state number of one contract (credit
 *   NoncePort); the device needs no nonce state (DeterministicSign).
 * - The device acts only on the gateway's own word: gateway/settle, gateway/fail and
 *   gateway/receipt carry the gateway key's signature over every member
 *   (credit/answer-signature.ts), checked before anything else (E_RECEIPT_FORGED). A
 *   relay cannot invent a fail for a payment the gateway paid (the device would sign the
 *   fail state, then refuse the real settle: the gateway left to claim on chain), nor
 *   swap a next nonce (the channel stuck with the gateway).
 *
 * State table (n = the last confirmed state; S = settled; A = HTLC amount):
 *
 *   device            message          gateway                       gateway may broadcast
 *   idle (n, S)   --device/pay n+1-->  in-flight (n+1: S + HTLC A)  n+1: S, HTLC A (claim needs preimage)
 *                 <--gateway/settle--  has preimage                  same, and claims A
 *   settling      --device/settle n+2> idle (n+2: S + A)             n+2: S + A
 *                 <--gateway/fail----  failed
 *   failing       --device/fail n+2--> idle (n+2: S)                 n+2: S (or n+1; A still needs the preimage)
 *                 <--gateway/receipt-
 *   idle (n+2, ·)
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, toHex } from '../bytes.ts';
import { htlcOutput, type HtlcOutput } from '../htlc/htlc.ts';
import type { CreditContract } from '../credit/terms.ts';
import type { StateHtlc } from '../credit/transactions.ts';
import type { InFlightJson } from '../credit/ports.ts';

/** The HTLC of a payment in flight: payer = device (user), recipient = gateway (mint). */
export function paymentHtlc(c: CreditContract, paymentHash: Uint8Array, expiryHeight: number): HtlcOutput {
  return htlcOutput({ kind: 'taproot', paymentHash, payer: c.userPubkey, recipient: c.mintPubkey, locktime: expiryHeight });
}

export function stateHtlc(c: CreditContract, h: InFlightJson): StateHtlc {
  return { script: paymentHtlc(c, hexBytes(h.payment_hash), h.expiry_height).scriptPubKey, amount: BigInt(h.amount_sat) };
}

export function preimageMatches(preimage: Uint8Array, paymentHash: Uint8Array): boolean {
  return preimage.length === 32 && equalBytes(sha256(preimage), paymentHash);
}

export function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

export { toHex };
