/**
 * Who owns the tables a store adopts. A writer keeps its state only in relations owned by
 * its own role or a role it is a member of — not merely one whose privileges it has: a
 * superuser has every role's, and would adopt anything. On PostgreSQL 14 and older any role
 * may create tables in `public` by default: one that pre-created a store's tables would own
 * them (read every row, put rows back, add triggers, disable the store's own), so
 * `CREATE … IF NOT EXISTS` must never silently adopt them. Used by the mint's store
 * (mint-store.ts `checkOwners`) and the statechain operator's (operator-store.ts).
 */
import type pg from 'pg';
import { RefusedError } from '../../errors.ts';

/** A table of a store's schema is another role's. Exit 4; nothing written. */
export class StoreOwnerError extends RefusedError {}

/**
 * Of `relations` (names resolved on the search path) and `functions` (signatures, e.g.
 * `f()`), which exist, and the first one that exists and is not this role's (or a role it is
 * a member of). `present` lists what exists.
 */
export async function ownership(client: pg.Client, relations: readonly string[], functions: readonly string[]): Promise<{ missing: string[]; foreign?: { name: string; owner: string; me: string } }> {
  const rows = (await client.query<{ name: string; present: boolean; owner: string | null; mine: boolean; me: string }>(
    `WITH RECURSIVE mine(oid) AS (
       SELECT oid FROM pg_roles WHERE rolname = current_user
       UNION SELECT m.roleid FROM pg_auth_members m JOIN mine ON m.member = mine.oid),
     objects AS (
       SELECT r.name, c.relowner AS owner FROM unnest($1::text[]) AS r(name) LEFT JOIN pg_class c ON c.oid = to_regclass(r.name)
       UNION ALL
       SELECT f.name, p.proowner FROM unnest($2::text[]) AS f(name) LEFT JOIN pg_proc p ON p.oid = to_regprocedure(f.name))
     SELECT name, owner IS NOT NULL AS present, pg_get_userbyid(owner) AS owner, owner IN (SELECT oid FROM mine) AS mine, current_user::text AS me FROM objects`,
    [[...relations], [...functions]],
  )).rows;
  const f = rows.find((r) => r.present && !r.mine);
  return { missing: rows.filter((r) => !r.present).map((r) => r.name), ...(f ? { foreign: { name: f.name, owner: f.owner ?? '?', me: f.me } } : {}) };
}

/** The refusal for `foreign` (from `ownership`) in the store at `url`, whose state is `whose` ("the mint's"). */
export function foreignOwnerError(foreign: { name: string; owner: string; me: string }, url: string, whose: string): StoreOwnerError {
  const { name, owner, me } = foreign;
  return new StoreOwnerError(
    'E_STORE_TABLE_OWNER',
    `${name} in the store ${url} is owned by the role ${owner}, not by ${me} (nor a role ${me} is a member of): another role created it — on PostgreSQL 14 and older any role may create tables in the public schema — and could read, rewind or alter ${whose} state there; nothing was written. Drop it (as its owner or a superuser) and revoke CREATE on the schema from PUBLIC, or use a database of ${whose} own (docs/deployment.md)`,
  );
}
