import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../../lib/cli/base-command.ts';
import { inputFlags } from '../../../lib/cli/flags.ts';
import { fromHex, toHex } from '../../../lib/bytes.ts';
import { RefusedError, UsageError } from '../../../lib/errors.ts';

export default class OnionErrorUnwrap extends OffchainCommand<typeof OnionErrorUnwrap> {
  static override summary = 'As the sender: unwrap a returned error onion with the stored shared secrets and say which hop failed and why.';
  static override description =
    'Reads onion/error and the onion/secrets file onion-build wrote (--secrets, mode 0600), peels one ammag layer per hop in route order until a hop\'s um HMAC verifies, ' +
    'and prints onion/failure: the hop index, its node id and the decoded failure. No HMAC verifying is refused: E_ONION_ERROR_UNATTRIBUTED (exit 4). ' +
    'Attribution data, when the error carries it, is checked hop by hop: the hold time each hop reported, and the first hop whose HMACs fail (the error was altered between it and the hop before it) — also named in the refusal when the error itself cannot be attributed.';
  static override examples = [
    { description: 'The fixture error, as the sender sees it', command: '<%= config.bin %> onion-error unwrap --in fixtures/onion/error.json --secrets fixtures/onion/secrets.json' },
    { description: 'An error with attribution data: each hop\'s hold time, checked', command: '<%= config.bin %> onion-error unwrap --in fixtures/onion/error-attributed.json --secrets fixtures/onion/secrets.json' },
  ];
  static override flags = {
    ...inputFlags,
    secrets: Flags.string({ description: 'the onion/secrets file onion-build --secrets-out wrote', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/error JSON message');
    const { readJsonFile } = await import('../../../topics/onion/read-json-file.ts');
    const { decodeMessage } = await import('../../../lib/message.ts');
    const { OnionErrorSchema, OnionSecretsSchema } = await import('../../../lib/onion/schemas.ts');
    const err = decodeMessage(OnionErrorSchema, doc.value);
    const secrets = decodeMessage(OnionSecretsSchema, readJsonFile(this.flags.secrets, '--secrets', true));
    const network = this.network(err.network);
    this.network(secrets.network);
    const { unwrapError } = await import('../../../lib/onion/error.ts');
    const { decodeFailure } = await import('../../../lib/onion/failure.ts');
    const { readAttribution } = await import('../../../lib/onion/attribution.ts');
    const sharedSecrets = secrets.shared_secrets.map((s, i) => fromHex(s, `shared_secrets[${i}]`, 32));
    const packet = fromHex(err.error_packet, 'error_packet');
    const attribution = err.attribution_data === undefined ? undefined : fromHex(err.attribution_data, 'attribution_data', 920);
    let r;
    try {
      r = unwrapError(sharedSecrets, packet);
    } catch (e) {
      // Unattributable by its own HMAC: the attribution data can still say where it broke.
      if (!(e instanceof RefusedError) || e.code !== 'E_ONION_ERROR_UNATTRIBUTED' || !attribution) throw e;
      const a = readAttribution(sharedSecrets, attribution, packet);
      const k = a.failedAt;
      const where =
        k === undefined
          ? 'its attribution data verifies at every hop'
          : `its attribution data breaks at hop ${k} (${secrets.node_ids[k] ?? '?'}): the error was altered between that hop and ${k === 0 ? 'this node' : `hop ${k - 1}`}`;
      throw new RefusedError(e.code, `${e.message}; ${where}`);
    }
    const message: Record<string, unknown> = {
      type: 'onion/failure',
      version: 1,
      network,
      hop: r.hop,
      node_id: secrets.node_ids[r.hop] ?? '',
      failure: decodeFailure(r.failureMessage),
      failure_message: toHex(r.failureMessage),
    };
    if (attribution) {
      const a = readAttribution(sharedSecrets.slice(0, r.hop + 1), attribution, packet);
      message.attribution = {
        hold_times: a.holdTimes.map((h) => ({ hop: h.hop, node_id: secrets.node_ids[h.hop] ?? '', hold_time: h.holdTime, hold_time_ms: h.holdTime * 100 })),
        ...(a.failedAt === undefined ? {} : { failed_at_hop: a.failedAt }),
      };
    }
    return { message };
  }
}
