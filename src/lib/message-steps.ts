/**
 * Where each message goes next: the party and the command that reads it, or that it is
 * a result for people and scripts. A message piped to the wrong command is refused with
 * E_WRONG_MESSAGE naming its own next step (src/lib/message.ts), so the operator learns
 * where it belongs, not only that it does not belong here.
 *
 * Credit and statechain messages carry their own `next` field in words; their types are
 * listed here too where a command reads them by type. A test keeps every registered
 * message type of the other groups in this table (test/lib/message-steps.test.ts).
 */
const RESULT = 'a result for people and scripts: no command reads it';

export const NEXT_STEP: Readonly<Record<string, string>> = {
  'key/public': 'a public key to give the other party (musig init --participants, htlc/ptlc create)',
  'psbt/updated': 'the other party or the next BIP-174 role: offchain musig nonce/sign, psbt combine, psbt finalize, psbt analyze',
  'psbt/decoded': RESULT,
  'psbt/analysis': RESULT,
  'psbt/extracted': 'bitcoin-cli sendrawtransaction (its hex field)',
  'device/pay': 'the gateway: offchain gateway pay',
  'gateway/job': 'the gateway\'s Lightning node: pay its invoice (lightning-cli pay), then offchain gateway settle --preimage-file or gateway fail',
  'gateway/settle': 'the device: offchain device settle',
  'gateway/fail': 'the device: offchain device fail',
  'device/settle': 'the gateway: offchain gateway complete',
  'device/fail': 'the gateway: offchain gateway complete',
  'gateway/receipt': 'the device: offchain device receipt',
  'device/htlc-refund': 'bitcoin-cli sendrawtransaction (its hex field), once final',
  'htlc/created': 'the recipient or payer who spends it: offchain htlc claim / htlc refund --htlc FILE',
  'htlc/spend': 'bitcoin-cli sendrawtransaction, or offchain package check (a TRUC child)',
  'htlc/decoded': RESULT,
  'htlc/watched': RESULT, // the record is in the state directory: offchain watch reads that
  'ptlc/created': 'the payee: offchain ptlc presign; the payer: offchain ptlc refund, ptlc extract --ptlc FILE',
  'ptlc/presign': 'the payee: offchain ptlc claim; the payer: offchain ptlc extract',
  'ptlc/spend': 'bitcoin-cli sendrawtransaction',
  'ptlc/extracted': RESULT,
  'ptlc/watched': RESULT,
  'ptlc/lock': 'the hop it was made for: offchain ptlc lock-check, then ptlc lock-secret',
  'ptlc/locks': 'the sender, who hands each hop its ptlc/lock',
  'ptlc/lock-secret': 'the hop upstream, which settles with it (offchain ptlc lock-secret)',
  'route/request': 'the sender: offchain route plan',
  'route/plan': 'each forwarding node: offchain route check; the sender: offchain onion-build, ptlc lock-plan',
  'onion/route': 'the sender: offchain onion-build (the recipient: onion-blind)',
  'onion/packet': 'the first hop: offchain onion-peel',
  'onion/peeled': 'the next hop (its packet): offchain onion-peel; a failing hop: onion-error create',
  'onion/secrets': 'the sender keeps it for offchain onion-error unwrap --secrets FILE',
  'onion/error': 'the hop upstream: offchain onion-error wrap; the sender: onion-error unwrap',
  'onion/failure': RESULT,
  'onion/blind': 'the recipient: offchain onion-blind',
  'onion/blinded-path': 'the payer: offchain onion-build (its blinded_path)',
  'bolt3/commitment-request': 'the party that broadcast the commitment: offchain commitment sweep',
  'bolt3/sweep': 'bitcoin-cli sendrawtransaction (each transaction)',
  'bolt3/per-commitment-point': 'the peer, in its commitment init',
  'bolt3/channel': 'kept by its party: every offchain commitment step reads it with --channel FILE',
  'bolt3/channel-state': 'its own party: offchain commitment sign --state FILE',
  'bolt3/channel-points': 'the peer: offchain commitment init (its input)',
  'bolt3/channel-opened': RESULT,
  'bolt3/commitment-signed': 'the peer: offchain commitment receive-sigs',
  'bolt3/revoke-and-ack': 'the peer: offchain commitment receive-revocation',
  'bolt3/commitment-held': RESULT,
  'bolt3/revocation-received': RESULT,
  'bolt3/holder-commitment': 'bitcoin-cli sendrawtransaction (a force close), or a wallet adding a fee input to its PSBTs',
  'bolt3/penalties': 'bitcoin-cli sendrawtransaction (each justice transaction)',
  'bolt3/shutdown': 'the peer: offchain commitment close',
  'bolt3/closing-signed': 'the peer: offchain commitment close',
  'bolt3/closing-tx': 'bitcoin-cli sendrawtransaction',
  'bolt3/channels': RESULT,
  'bolt3/tower-justice': 'a watchtower: put the file in the directory of offchain watch --tower DIR',
  'bolt3/claims': 'bitcoin-cli sendrawtransaction (each claim, once its timelock has passed)',
  'openassets/decoded': RESULT,
  'openassets/error': RESULT,
  'openassets/asset-id': RESULT,
  'openassets/address': RESULT,
  'colu/decoded': RESULT,
  'counterparty/decoded': RESULT,
  'counterparty/unpacked': RESULT,
  'package/checked': RESULT,
  'package/child': 'your wallet: bitcoin-cli walletprocesspsbt (signs the child), then offchain package submit with the parent',
  'package/submitted': RESULT,
  'watch/report': RESULT,
  'serve/info': RESULT,
  'invoice/bolt11': 'the payer: offchain route plan --invoice, htlc create --invoice (the string is verified again there)',
  'invoice/offer': 'the payer, who asks the issuer for an invoice (lightning-cli fetchinvoice)',
  'invoice/request': 'the offer\'s issuer, who answers with an invoice',
  'invoice/bolt12': 'the payer, who pays it through the offer\'s blinded paths (lightning-cli pay)',
};

/** "a" or "an" before a message type, as it is read aloud (an onion/packet, a psbt/updated). */
export const article = (type: string) => (/^[aeio]/.test(type) ? 'an' : 'a');

/** " — a X is for …", or "" for a type without an entry. */
export function nextStepHint(type: string): string {
  const step = NEXT_STEP[type];
  return step ? ` — ${article(type)} ${type} is for ${step}` : '';
}
