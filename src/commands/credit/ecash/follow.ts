import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand } from '../../../topics/credit/command.ts';
import { ecashSeedFlags } from '../../../topics/credit/flags.ts';
import { keyFlags, stateFlags } from '../../../lib/cli/flags.ts';
import { storeFlags } from '../../../lib/cli/store-flags.ts';
import { RefusedError, UsageError } from '../../../lib/errors.ts';

export default class CreditEcashFollow extends CreditCommand<typeof CreditEcashFollow> {
  static override summary = 'After the ecash mint rotated its keyset: reproduce the new active keyset and issue under it (no restart, no new contracts).';
  static override description =
    'Reads the ecash mint\'s GET /v1/keysets and /v1/keys (--ecash-keysets URL, or saved answers) and derives each new active keyset at ' +
    'the next indices of the active keyset\'s path (Nutshell\'s rotation: m/0\'/0\'/0\' → m/0\'/0\'/1\'), checking its keys and its id ' +
    '(with the unit, fee and final expiry the mint announces); the credit mint then issues under the active keyset at the highest ' +
    'index, as Nutshell itself does. Old keysets stay known: a contract told of no newer keyset yet is signed once more under the ' +
    'one it was told, and that receipt announces the new keyset (next_keyset) to the user. A running "sign-update --stream" picks ' +
    'the change up at its next request. A keyset the seed does not reproduce is refused (E_ECASH_KEYSET_MISMATCH, nothing written). ' +
    'Prints credit/ecash-keysets. Run it right after rotating (e.g. after "mint-cli next-keyset sat"), or from cron.';
  static override examples = [
    {
      description: 'A mint published against a fresh Nutshell, then that mint rotated to index 1 (saved answers)',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt); ' +
        '<%= config.bin %> open-credit --role mint --publish --key-env MINT_KEY --state-dir $D/mint --payout-address bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte ' +
        '--mint-url http://127.0.0.1:3338 --ecash-seed-env ECASH_SEED --ecash-keysets fixtures/credit/nutshell/keysets.json --ecash-keys fixtures/credit/nutshell/keys.json > $D/offer.json && ' +
        '<%= config.bin %> credit ecash follow --key-env MINT_KEY --state-dir $D/mint --ecash-seed-env ECASH_SEED --ecash-keysets fixtures/credit/nutshell/rotated-keysets.json --ecash-keys fixtures/credit/nutshell/rotated-keys.json',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...ecashSeedFlags,
    'ecash-keysets': Flags.string({ description: 'the running ecash mint: its URL (its /v1/keysets and /v1/keys are read), or a file with its /v1/keysets answer', helpValue: 'URL|FILE', helpGroup: 'ECASH', required: true }),
    'ecash-keys': Flags.string({ description: 'with --ecash-keysets FILE: a file with the mint\'s /v1/keys answer', helpValue: 'FILE', helpGroup: 'ECASH' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    if (this.flags['ecash-path'] !== undefined) throw new UsageError('E_USAGE', 'follow derives at the stored keysets\' path: drop --ecash-path');
    const seed = (await this.ecashSeed(true))!;
    const live = (await this.ecashLive())!;
    const { ECASH_KEYSETS_DOC } = await import('../../../lib/credit/ecash-keysets.ts');
    const { followKeysets } = await import('../../../lib/credit/ecash-reproduce.ts');
    const { ecashOffer } = await import('../../../lib/credit/ecash.ts');
    return {
      message: await this.withMintStore(network, async (ctx, store) => {
        if (!ctx.policy.ecash || !ctx.ecash) throw new RefusedError('E_NO_ECASH', 'this mint\'s offer issues no ecash: publish one with --mint-url and the ecash seed first');
        // As stored, its MAC not required: a document changed by a writer of the database (or never sealed) is what
        // follow repairs — every record re-marked from the mint's answers, each derived and checked at its use — and seals.
        const before = (await ctx.ecash.signer.refresh(false)).doc;
        const { doc, added } = followKeysets(seed, before, live);
        const changed = JSON.stringify(doc) !== JSON.stringify(before);
        if (changed) await store.writeDoc(ECASH_KEYSETS_DOC, doc);
        // New opens get the keyset issued under now (rewritten whenever it differs: a rerun repairs a crash between the two writes).
        const active = doc.keysets.find((k) => k.id === doc.active)!;
        if (ctx.policy.ecash.keyset_id !== active.id) {
          const offer = await store.readDoc<Record<string, unknown>>('offer');
          await store.writeDoc('offer', { ...offer, ecash: ecashOffer(active, ctx.policy.ecash.mint_url) });
        }
        return {
          type: 'credit/ecash-keysets', version: 1, network, source: live.source, active: doc.active, changed, added,
          keysets: doc.keysets.map(({ keys: _k, ...k }) => k),
        };
      }, { keysetsAsStored: true }),
    };
  }
}
