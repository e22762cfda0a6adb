/**
 * The operator routes' request bodies (serve gateway's /v1/operator/settle|fail|claim, serve
 * mint's /v1/operator/exit) as JSON Schemas: a JSON object of the one-shot command's flags,
 * named with underscores — strings, and its switches as booleans. Checked before the step
 * (./routes-plugin.ts): any other field, or another type, is E_MALFORMED_REQUEST (exit 2,
 * 400) — a misspelt "dry_run" must not become a real exit.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { MalformedInputError } from '../../lib/errors.ts';

/** --contract: 64 lowercase hex digits. */
const contract_id = Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'the contract (--contract); omitted: the only one open' }));
const fee_rate = Type.String({ description: 'sat/vB, as --fee-rate' });
const to = Type.Optional(Type.String({ description: 'where the exit pays (--to)' }));
const broadcast = Type.Optional(Type.Boolean({ description: '--broadcast' }));
const dry_run = Type.Optional(Type.Boolean({ description: '--dry-run: decide and print, freeze nothing' }));
const preimage = Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'the payment\'s preimage, 64 hex digits' });

const body = <T extends Parameters<typeof Type.Object>[0]>(title: string, fields: T) => Type.Object(fields, { title, additionalProperties: false });

/** POST /v1/operator/exit: `credit exit`'s flags (no --child: the route signs with the mint key only). */
export const ExitBody = body('credit exit', { contract_id, fee_rate, to, broadcast, dry_run });
/** POST /v1/operator/settle: `gateway settle --preimage-file`. */
export const SettleBody = body('gateway settle', { contract_id, preimage });
/** POST /v1/operator/fail: `gateway fail --payment-hash` (read as its flag is: the same refusal for a bad hash). */
export const FailBody = body('gateway fail', { contract_id, payment_hash: Type.String({ description: '--payment-hash' }) });
/** POST /v1/operator/claim: `gateway claim`. */
export const ClaimBody = body('gateway claim', { contract_id, fee_rate, to, preimage: Type.Optional(preimage), broadcast, dry_run });

export type OperatorBody<S extends TObject> = Static<S>;

/** --broadcast and --dry-run as the body gives them (each false when left out); both true is refused. */
export function exitSwitches(b: { broadcast?: boolean; dry_run?: boolean }): { broadcast: boolean; dryRun: boolean } {
  if (b.broadcast && b.dry_run) throw new MalformedInputError('E_MALFORMED_REQUEST', 'broadcast and dry_run exclude each other');
  return { broadcast: b.broadcast === true, dryRun: b.dry_run === true };
}
