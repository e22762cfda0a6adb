import { Flags } from '@oclif/core';
import { existsSync } from 'node:fs';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError } from '../../lib/errors.ts';

export default class CommitmentReceive extends OffchainCommand<typeof CommitmentReceive> {
  static override summary = 'Store a per-commitment secret the counterparty revealed, checked against the ones stored (BOLT 3 compact storage).';
  static override description =
    'Reads bolt3/per-commitment-secret (commitment reveal\'s output) and inserts it into --store (created 0600 if absent, replaced atomically): ' +
    'it must be the next index after the last stored (E_PER_COMMITMENT_SECRET_ORDER) and derive every stored secret it covers ' +
    '(E_BAD_PER_COMMITMENT_SECRET: the peer has not revoked that commitment). Refused, the store is left unchanged. Prints the stored index ' +
    'and how many secrets the store keeps (at most 49); no secret is printed.';
  static override examples = [
    {
      description: 'Receive the secret of commitment 1 into a copy of the fixture store (which holds commitment 0\'s)',
      command:
        'sh -c \'S=$(mktemp) && cp fixtures/bolt3/secret-store-0.json "$S" && <%= config.bin %> commitment reveal --seed-file fixtures/bolt3/per-commitment-seed.hex --commitment-number 1 ' +
        '| <%= config.bin %> commitment receive --store "$S"; rm -f "$S"\'',
    },
  ];
  static override flags = {
    ...inputFlags,
    store: Flags.string({ description: 'the store of received secrets (bolt3/secret-store JSON, 0600)', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a bolt3/per-commitment-secret message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { PerCommitmentSecretSchema, SecretStoreSchema } = await import('../../lib/bolt3/schemas.ts');
    const { PerCommitmentSecretStore } = await import('../../lib/bolt3/secret-store.ts');
    const { fromHex, toHex } = await import('../../lib/bytes.ts');
    const { writeJsonAtomic } = await import('../../lib/store/atomic.ts');
    const m = decodeMessage(PerCommitmentSecretSchema, doc.value);
    const network = this.network(m.network);
    if (m.index !== 2 ** 48 - 1 - m.commitment_number) throw new MalformedInputError('E_BAD_COMMITMENT_INDEX', `index ${m.index} is not that of commitment ${m.commitment_number}`);
    const path = this.flags.store;
    let store = new PerCommitmentSecretStore();
    if (existsSync(path)) {
      const s = decodeMessage(SecretStoreSchema, await this.readFileDocument(path));
      if (s.network !== network) throw new MalformedInputError('E_NETWORK_MISMATCH', `${path} holds ${s.network} secrets, not ${network}`);
      store = PerCommitmentSecretStore.fromEntries(s.entries.map((e) => ({ index: e.index, secret: fromHex(e.secret, 'stored secret', 32) })));
    }
    store.insertSecret(m.index, fromHex(m.per_commitment_secret, 'per_commitment_secret', 32)); // throws before anything is written
    const entries = store.entries();
    await writeJsonAtomic(path, {
      type: 'bolt3/secret-store', version: 1, network, last_index: store.lastIndex,
      entries: entries.map((e) => ({ index: e.index, secret: toHex(e.secret) })),
    });
    return { message: { type: 'bolt3/secret-received', version: 1, network, store: path, commitment_number: m.commitment_number, index: m.index, stored: entries.length } };
  }
}
