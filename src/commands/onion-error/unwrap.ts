import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';

export default class OnionErrorUnwrap extends OffchainCommand<typeof OnionErrorUnwrap> {
  static override summary = 'As the sender: unwrap a returned error onion with the stored shared secrets and say which hop failed and why.';
  static override description =
    'Reads onion/error and the onion/secrets file onion-build wrote (--secrets, mode 0600), peels one ammag layer per hop in route order until a hop\'s um HMAC verifies, ' +
    'and prints onion/failure: the hop index, its node id and the decoded failure. No HMAC verifying is refused: E_ONION_ERROR_UNATTRIBUTED (exit 4).';
  static override examples = [
    { description: 'The fixture error, as the sender sees it', command: 'chmod 600 fixtures/onion/secrets.json; <%= config.bin %> onion-error unwrap --in fixtures/onion/error.json --secrets fixtures/onion/secrets.json' },
  ];
  static override flags = {
    ...inputFlags,
    secrets: Flags.string({ description: 'the onion/secrets file onion-build --secrets-out wrote', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/error JSON message');
    const { readJsonFile } = await import('../../lib/onion/cli-support.ts');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { OnionErrorSchema, OnionSecretsSchema } = await import('../../lib/onion/schemas.ts');
    const err = decodeMessage(OnionErrorSchema, doc.value);
    const secrets = decodeMessage(OnionSecretsSchema, readJsonFile(this.flags.secrets, '--secrets', true));
    const network = this.network(err.network);
    this.network(secrets.network);
    const { unwrapError } = await import('../../lib/onion/error.ts');
    const { decodeFailure } = await import('../../lib/onion/failure.ts');
    const r = unwrapError(secrets.shared_secrets.map((s, i) => fromHex(s, `shared_secrets[${i}]`, 32)), fromHex(err.error_packet, 'error_packet'));
    return { message: { type: 'onion/failure', version: 1, network, hop: r.hop, node_id: secrets.node_ids[r.hop] ?? '', failure: decodeFailure(r.failureMessage), failure_message: toHex(r.failureMessage) } };
  }
}
