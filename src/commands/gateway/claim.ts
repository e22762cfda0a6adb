import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from '../../topics/device/command.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class GatewayClaim extends DeviceCommand<typeof GatewayClaim> {
  static override summary = 'The gateway\'s unilateral exit with the HTLC: its latest state plus one TRUC child that claims the HTLC with the preimage.';
  static override description = `  gateway  [--preimage-file FILE]  → credit/exit with htlc_claim (state_tx, child: the claim)

For a device that stops answering after the gateway paid its invoice: the gateway's latest state holds the payment's
HTLC; the child spends it through the claim leaf with the preimage \`gateway settle\` stored (or --preimage-file), and
the gateway's payout too when the payout address is its key's own, bringing the package to --fee-rate (exit-credit's
builder: nothing settled is needed). Submit both with bitcoin-cli submitpackage, or --broadcast with a node. With a
node, a state already mined (an earlier exit-credit) gets the claim alone (htlc/spend). The state must be mined by the channel's expiry and the claim before the HTLC's
expiry height, after which the device can refund it. With a node, a refund of the device already in the mempool at that
height (the state mined or not) is replaced: the claim alone (htlc/spend, "replaces": the refund's txid and fee) pays at
least what Bitcoin Core's replacement rules need (the refund's fee and its descendants', plus the incremental relay fee on
the claim's size, at a higher rate), more than --fee-rate when needed, within --max-fee-rate/--max-fee-share; --fee-rate
is the rate of state + claim, so with the state unconfirmed the claim pays for both. Its own earlier claim in the
mempool is replaced (bumped) only for a --fee-rate above what it pays (with the state, unconfirmed), else E_ALREADY_CLAIMED. The contract is frozen as by exit-credit (unless --dry-run); with
--broadcast only once the node accepted the package: a refused broadcast changes nothing. Refuses (exit 4) a latest
state without an HTLC (E_NO_HTLC: use exit-credit), no preimage (E_NO_PREIMAGE), a wrong one (E_WRONG_PREIMAGE).`;
  static override examples = [
    {
      description: 'A toll paid on Lightning, the device silent after gateway settle: the gateway exits and claims the HTLC at 2 sat/vB',
      command: `${tollExample(3)} > /dev/null && <%= config.bin %> gateway claim --fee-rate 2 --key-env MINT_KEY --state-dir $D/mint`,
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    'fee-rate': Flags.string({ description: 'target fee rate of state + child together, sat/vB (a claim replacing the device\'s refund in the mempool pays what the replacement needs, if more)', required: true, helpValue: 'SAT/VB' }),
    to: Flags.string({ description: 'where the child pays (default: the payout address)', helpValue: 'ADDRESS' }),
    'preimage-file': Flags.string({ description: 'file (mode 0600) holding the payment preimage (hex), when gateway settle did not store it', helpValue: 'FILE' }),
    broadcast: Flags.boolean({ description: 'submit state and child as a package to the node (needs --rpc-url) and print its answer under "broadcast"' }),
    'dry-run': Flags.boolean({ description: 'print the exit package without freezing the contract', exclusive: ['broadcast'] }),
    ...feeGuardFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const preimage = f['preimage-file'] === undefined ? undefined : readHexSecretFile(f['preimage-file'], '--preimage-file', { length: 32 });
    return { message: await this.gatewayClaim(this.network(), { feeRate: f['fee-rate'], to: f.to, preimage, broadcast: f.broadcast, dryRun: f['dry-run'] }) }; // topics/device/command.ts
  }
}
