/**
 * One connection to the PostgreSQL store a `PgTarget` names (connect.ts), and the coded
 * errors a command meets on the way: E_STORE_UNREACHABLE (exit 1: the server is down, the
 * network, a timeout), E_STORE_AUTH (exit 2: the password or the role is wrong), E_STORE_URL
 * (exit 2: no such database) — the same codes and exits as the mint's store. Every
 * message names the URL redacted, never the password.
 *
 * TLS follows libpq's sslmode words: `disable` (or none given) plain TCP; `require` TLS
 * without checking the certificate; `verify-ca` / `verify-full` TLS checked against the
 * system CAs or the file `sslrootcert` names. `prefer`/`allow` are not offered: a store
 * holding key shares should say which it means.
 */
import { readFileSync } from 'node:fs';
import type { Client, ClientConfig } from 'pg';
import { OffchainError, UsageError } from '../../errors.ts';
import type { PgTarget } from './connect.ts';

const AUTH_CODES = new Set(['28P01', '28000']);

export function pgConfig(target: PgTarget, applicationName: string): ClientConfig {
  const mode = target.options['sslmode'] ?? 'disable';
  let ssl: ClientConfig['ssl'];
  if (mode === 'disable') ssl = false;
  else if (mode === 'require') ssl = { rejectUnauthorized: false };
  else if (mode === 'verify-ca' || mode === 'verify-full') {
    const root = target.options['sslrootcert'];
    ssl = {
      rejectUnauthorized: true,
      ...(root ? { ca: readFileSync(root, 'utf8') } : {}),
      ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  } else throw new UsageError('E_STORE_URL', `sslmode=${mode} is not offered: use disable, require, verify-ca or verify-full`);
  return {
    host: target.host,
    port: target.port,
    database: target.database,
    ...(target.user !== undefined ? { user: target.user } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    application_name: target.options['application_name'] ?? applicationName,
    connectionTimeoutMillis: Number(target.options['connect_timeout'] ?? 10) * 1000,
    ssl,
  };
}

/** A coded error for a failure to reach or log in to the store. */
export function storeError(e: unknown, target: PgTarget): OffchainError {
  if (e instanceof OffchainError) return e;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const text = e instanceof Error ? e.message : String(e);
  if (code === '3D000') return new UsageError('E_STORE_URL', `the store ${target.url} has no database ${JSON.stringify(target.database)}: create it first (createdb)`, { store: target.url });
  if (AUTH_CODES.has(code)) {
    return new UsageError('E_STORE_AUTH', `the store at ${target.url} refused the login (${text}); check the role, the database and OFFCHAIN_STORE_PASSWORD / --store-password-file`, { store: target.url, sqlstate: code });
  }
  return new OffchainError('E_STORE_UNREACHABLE', `cannot reach the store at ${target.url} (${code || 'no answer'}: ${text}); check that the server runs and the URL, then run the step again — nothing was written`, 1, { store: target.url, ...(code ? { errno: code } : {}) });
}

export async function connectPg(target: PgTarget, applicationName: string): Promise<Client> {
  const { default: pg } = await import('pg');
  const client = new pg.Client(pgConfig(target, applicationName));
  // A connection lost while idle must not crash the process: the next query fails, coded.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw storeError(e, target);
  }
  return client;
}
