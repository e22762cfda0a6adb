import { Flags } from '@oclif/core';
import { join } from 'node:path';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { flagValue } from '../../lib/cli/flags.ts';

export default class PtlcLockPlan extends OffchainCommand<typeof PtlcLockPlan> {
  static override summary = 'The sender\'s decorrelated locks for a multi-hop PTLC payment: a different lock point on every hop.';
  static override description =
    'From the payee\'s payment point Z and the number of intermediate hops, draws y₀…yₙ and writes one ptlc/lock record per party ' +
    '(sender lock-0.json, hops lock-1…, payee lock-N.json; each holds its y, mode 0600) into --out-dir, to deliver privately. Prints only the ' +
    'public lock points: hop i locks its outgoing PTLC to R, its incoming one is L. See docs/ptlc.md.';
  static override examples = [
    {
      description: 'Locks for the seed\'s route (Bob, Carol, Diana forwarding to Eric)',
      command: 'D=$(mktemp -d); mkdir -m 700 $D/route-locks && <%= config.bin %> ptlc lock-plan --payment-point $(cat fixtures/ptlc/payment-point.hex) --route fixtures/route/seed-plan.json --out-dir $D/route-locks',
    },
    {
      description: 'Locks for a payment through two hops to the payee of the fixture PTLC',
      command: 'D=$(mktemp -d); mkdir -m 700 $D/locks && <%= config.bin %> ptlc lock-plan --payment-point $(cat fixtures/ptlc/payment-point.hex) --hops 2 --out-dir $D/locks',
    },
  ];
  static override flags = {
    'payment-point': Flags.string({ description: 'the payee\'s Z = z·G (33-byte compressed)', helpValue: 'HEX', required: true }),
    hops: Flags.integer({ description: 'intermediate hops between sender and payee', min: 0, max: 26, exactlyOne: ['hops', 'route'] }),
    route: Flags.string({ description: 'a route/plan (route plan): its hops and payee get the locks, in order, with their node ids ("-": standard input)', helpValue: 'FILE' }),
    'out-dir': Flags.string({ description: 'existing directory for the lock records (one new 0600 file each)', helpValue: 'DIR', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { parsePublicKey } = await import('../../lib/keys/keys.ts');
    const { planLocks } = await import('../../lib/ptlc/multi-hop.ts');
    const { writeNewFile } = await import('../../lib/store/exclusive.ts');
    const { stringifyMessage } = await import('../../lib/json.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const Z = flagValue(() => parsePublicKey(this.flags['payment-point'], '--payment-point'));
    let nodeIds: (string | undefined)[] = [];
    if (this.flags.route !== undefined) {
      const { decodeMessage } = await import('../../lib/message.ts');
      const { RoutePlanSchema } = await import('../../lib/route/schemas.ts');
      const route = decodeMessage(RoutePlanSchema, await this.readFileDocument(this.flags.route));
      this.network(route.network);
      nodeIds = [undefined, ...route.hops.map((h) => h.node_id)]; // the sender, then hop 1 … the payee
    }
    const hops = this.flags.route !== undefined ? nodeIds.length - 2 : this.flags.hops!;
    const records = planLocks(Z, hops, this.random);
    const files: string[] = [];
    for (const r of records) {
      const file = join(this.flags['out-dir'], `lock-${r.index}.json`);
      writeNewFile(file, stringifyMessage({ type: 'ptlc/lock', version: 1, network, role: r.role, index: r.index, L: toHex(r.L), R: toHex(r.R), y: toHex(r.y) }), 0o600);
      files.push(file);
    }
    return {
      message: {
        type: 'ptlc/locks', version: 1, network, payment_point: toHex(Z),
        locks: records.map((r) => ({ role: r.role, index: r.index, ...(nodeIds[r.index] ? { node_id: nodeIds[r.index] } : {}), L: toHex(r.L), R: toHex(r.R) })), files,
      },
    };
  }
}
