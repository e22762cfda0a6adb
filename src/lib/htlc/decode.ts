/**
 * `htlc decode`: which HTLC a script is, and its parameters. One script: the seed's
 * P2WSH form, a BOLT 3 offered / received HTLC script, or one taproot HTLC leaf. Both
 * taproot leaves with the address: the whole taproot HTLC, its MuSig2 participants
 * found by trying the two possible parities of each x-only leaf key against the address.
 *
 * Recognition is byte for byte (a look-alike is "not an HTLC"); hashes stay hashes —
 * a HASH160 script carries RIPEMD160(payment_hash), not the payment hash.
 */
import { equalBytes, toHex } from '../bytes.ts';
import { decodeAddress, scriptAddress } from '../address.ts';
import { MalformedInputError, UsageError } from '../errors.ts';
import type { Network } from '../network.ts';
import { decodeBolt3Script } from '../bolt3/script-decode.ts';
import { p2wsh } from '../bolt3/script.ts';
import { htlcOutput } from './htlc.ts';
import { decodeSeedHtlcScript, decodeTaprootHtlcLeaf } from './scripts.ts';

export function decodeHtlcScripts(scripts: readonly Uint8Array[], network: Network, address?: string): Record<string, unknown> {
  const base = { type: 'htlc/decoded', version: 1, network };
  const wanted = address === undefined ? undefined : decodeAddress(address, network, '--address');
  if (scripts.length === 1) {
    const ws = scripts[0]!;
    const withAddress = (fields: Record<string, unknown>) => {
      const spk = p2wsh(ws);
      return { ...base, ...fields, address: scriptAddress(spk, network), ...(wanted ? { address_matches: equalBytes(wanted, spk) } : {}) };
    };
    const seed = decodeSeedHtlcScript(ws);
    if (seed) {
      return withAddress({
        kind: 'seed',
        payment_hash160: toHex(seed.paymentHashRipemd160),
        recipient: toHex(seed.recipient),
        payer: toHex(seed.payer),
        locktime: seed.locktime,
        size_check: seed.sizeCheck,
      });
    }
    const b = decodeBolt3Script(ws);
    if (b && (b.kind === 'offered_htlc' || b.kind === 'received_htlc')) {
      return withAddress({
        kind: b.kind === 'offered_htlc' ? 'offered' : 'received',
        payment_hash160: toHex(b.paymentHashRipemd160),
        revocation_pubkey_hash160: toHex(b.revocationPubkeyHash),
        local_htlc_pubkey: toHex(b.localHtlcPubkey),
        remote_htlc_pubkey: toHex(b.remoteHtlcPubkey),
        anchors: b.csv === 1,
        ...(b.kind === 'received_htlc' ? { locktime: b.cltvExpiry } : {}),
      });
    }
    const leaf = decodeTaprootHtlcLeaf(ws);
    if (leaf?.leaf === 'claim') return { ...base, kind: 'taproot-claim-leaf', recipient: toHex(leaf.recipient), payment_hash: toHex(leaf.paymentHash) };
    if (leaf?.leaf === 'refund') return { ...base, kind: 'taproot-refund-leaf', payer: toHex(leaf.payer), locktime: leaf.locktime };
    throw new MalformedInputError('E_NOT_HTLC', 'the script is not an HTLC this tool knows (seed, BOLT 3 offered/received, taproot leaf)');
  }
  if (scripts.length === 2) {
    const leaves = scripts.map(decodeTaprootHtlcLeaf);
    const claim = leaves.find((l) => l?.leaf === 'claim');
    const refund = leaves.find((l) => l?.leaf === 'refund');
    if (!claim || claim.leaf !== 'claim' || !refund || refund.leaf !== 'refund') {
      throw new MalformedInputError('E_NOT_HTLC', 'two scripts must be a taproot HTLC\'s claim and refund leaves');
    }
    if (!wanted) throw new UsageError('E_USAGE', 'give --address with both leaves: the MuSig2 internal key is found from it');
    for (const rp of [2, 3]) {
      for (const pp of [2, 3]) {
        const recipient = Uint8Array.from([rp, ...claim.recipient]);
        const payer = Uint8Array.from([pp, ...refund.payer]);
        if (equalBytes(recipient, payer)) continue;
        const out = htlcOutput({ kind: 'taproot', paymentHash: claim.paymentHash, recipient, payer, locktime: refund.locktime });
        if (equalBytes(out.scriptPubKey, wanted)) {
          return {
            ...base,
            kind: 'taproot',
            address,
            address_matches: true,
            payment_hash: toHex(claim.paymentHash),
            recipient: toHex(recipient),
            payer: toHex(payer),
            locktime: refund.locktime,
            internal_key: toHex(out.taproot!.internalKey),
            participants: out.taproot!.participants.map(toHex),
          };
        }
      }
    }
    return {
      ...base,
      kind: 'taproot',
      address,
      address_matches: false,
      payment_hash: toHex(claim.paymentHash),
      recipient: toHex(claim.recipient),
      payer: toHex(refund.payer),
      locktime: refund.locktime,
    };
  }
  throw new UsageError('E_USAGE', 'give one script, or a taproot HTLC\'s two leaves');
}
