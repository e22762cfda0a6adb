/**
 * The user's signature over a request's outputs (docs/ecash.md, "Outputs bound to the
 * payer"), made by test code from the documented digest — node:crypto's SHA-256 for the
 * tagged hash, the PSBT read by btc-signer — for end-to-end tests that play a user who
 * puts its own outputs (cashu-ts's, or reused ones) into a request and signs them, so
 * the mint answers by the rule under test rather than E_OUTPUTS_SIGNATURE.
 */
import { createHash } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Transaction } from '@scure/btc-signer';
import { base64, hex } from '@scure/base';
import { publicKeyOf } from '../independent/keys.ts';

type Output = { amount: number; id: string; B_: string };
type Request = { contract_id: string; state: number; amount_sat: number; cumulative_sat: number; psbt: string; outputs: Output[]; outputs_signature?: string };

export function outputsDigestByTestCode(req: Request, mintKeyHex: string): Uint8Array {
  const tx = Transaction.fromPSBT(base64.decode(req.psbt), { allowUnknownOutputs: true, allowUnknownVersion: true });
  const mintPubkey = hex.encode(publicKeyOf(hex.decode(mintKeyHex)));
  const nonce = tx.getInput(0).musig2PubNonce?.find(([k]) => hex.encode(k.participantPubkey) === mintPubkey)?.[1];
  if (!nonce) throw new Error('the request carries no mint nonce');
  const tag = createHash('sha256').update('offchain/credit/v1/outputs').digest();
  const h = createHash('sha256').update(tag).update(tag);
  const u = (n: number, len: number) => Buffer.from(BigInt(n).toString(16).padStart(len * 2, '0'), 'hex');
  h.update(Buffer.from(req.contract_id, 'hex')).update(u(req.state, 4)).update(Buffer.from(tx.id, 'hex')).update(nonce);
  h.update(u(req.amount_sat, 8)).update(u(req.cumulative_sat, 8)).update(u(req.outputs.length, 2));
  for (const o of req.outputs) h.update(u(o.amount, 8)).update(Buffer.from([o.id.length / 2])).update(Buffer.from(o.id, 'hex')).update(Buffer.from(o.B_, 'hex'));
  return new Uint8Array(h.digest());
}

/** `req` with its (changed) outputs signed by the user whose secret key is `userKeyHex`. */
export function signedOutputs<R extends Request>(req: R, userKeyHex: string, mintKeyHex: string): R {
  return { ...req, outputs_signature: hex.encode(schnorr.sign(outputsDigestByTestCode(req, mintKeyHex), hex.decode(userKeyHex), new Uint8Array(32))) };
}
