/**
 * One connection to the PostgreSQL store a `PgTarget` names (connect.ts, which resolves every
 * setting as libpq does), and the coded errors a command meets on the way:
 * E_STORE_UNREACHABLE (exit 1: the server is down, the network, a timeout), E_STORE_AUTH
 * (exit 2: the password or the role is wrong, or none was given), E_STORE_URL (exit 2: no such
 * database), E_STORE_TLS (exit 4: the server did not prove it is the one named — its
 * certificate does not chain to the root certificate given, or names another host — or it
 * offers no TLS where TLS was asked for) — the same codes and exits as the mint's store. Every
 * message names the URL redacted, never the password.
 *
 * TLS follows libpq's sslmode words as connect.ts resolved them: `disable` plain TCP;
 * `require` TLS without checking the certificate; `verify-ca` the chain checked against the
 * root certificates (not the host name); `verify-full` the chain and the host name.
 */
import type { Client, ClientConfig } from 'pg';
import { OffchainError, RefusedError, UsageError } from '../../errors.ts';
import type { PgTarget } from './connect.ts';
import { noPassword } from './pgpass.ts';

const AUTH_CODES = new Set(['28P01', '28000']);

/** node's TLS failures that mean "not the server named" (certificate chain or host name). */
const TLS_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|ERR_TLS_CERT_ALTNAME_FORMAT|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_(HAS_EXPIRED|NOT_YET_VALID|SIGNATURE_FAILURE|UNTRUSTED|REJECTED|REVOKED|CHAIN_TOO_LONG)|INVALID_CA|HOSTNAME_MISMATCH)$/;

export function pgConfig(target: PgTarget, applicationName: string): ClientConfig {
  const t = target.tls;
  let ssl: ClientConfig['ssl'];
  if (t.mode === 'disable') ssl = false;
  else if (t.mode === 'require') ssl = { rejectUnauthorized: false, ...(t.cert !== undefined ? { cert: t.cert, key: t.key } : {}) };
  else {
    ssl = {
      rejectUnauthorized: true,
      ...(t.ca !== undefined && t.ca !== 'system' ? { ca: t.ca } : {}),
      ...(t.cert !== undefined ? { cert: t.cert, key: t.key } : {}),
      ...(t.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  const lookup = target.lookupPassword;
  return {
    host: target.host,
    port: target.port,
    database: target.database,
    ...(target.user !== undefined ? { user: target.user } : {}),
    // Every value explicit: node-postgres would otherwise read PGPASSWORD, ~/.pgpass and
    // PGSSLMODE by its own rules (the last not libpq's).
    password: target.password ?? (async () => {
      const found = lookup?.();
      if (found === undefined) throw noPassword(target);
      return found;
    }),
    application_name: target.options['application_name'] ?? applicationName,
    connectionTimeoutMillis: Number(target.options['connect_timeout'] ?? 10) * 1000,
    ...(target.options['options'] !== undefined ? { options: target.options['options'] } : {}),
    ssl,
  };
}

/** A coded error for a failure to reach or log in to the store. */
export function storeError(e: unknown, target: PgTarget): OffchainError {
  if (e instanceof OffchainError) return e;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  // The driver's own words, first line, with the password scrubbed should it ever appear.
  const raw = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
  const text = target.password ? raw.split(target.password).join('***') : raw;
  if (TLS_CODES.test(code) || /does not support SSL/i.test(text)) {
    return new RefusedError('E_STORE_TLS', `the store at ${target.url} (${target.host}:${target.port}) did not pass the TLS check (${code || text}): its certificate must chain to the root certificate given (sslrootcert / PGSSLROOTCERT) and, with sslmode=verify-full, name the host you connect to; nothing was sent`, { store: target.url, ...(code ? { errno: code } : {}) });
  }
  if (code === '3D000') return new UsageError('E_STORE_URL', `the store ${target.url} has no database ${JSON.stringify(target.database)}: create it first (createdb)`, { store: target.url });
  if (AUTH_CODES.has(code)) {
    return new UsageError('E_STORE_AUTH', `the store at ${target.url} refused the login (${text}); check the role, the database and OFFCHAIN_STORE_PASSWORD / --store-password-file`, { store: target.url, sqlstate: code });
  }
  const endpoint = target.host.startsWith('/') ? `socket ${target.host}/.s.PGSQL.${target.port}` : `${target.host}:${target.port}`;
  return new OffchainError('E_STORE_UNREACHABLE', `cannot reach the store at ${target.url} (${endpoint}; ${code || 'no answer'}: ${text}); check that the server runs and the URL, then run the step again — nothing was written`, 1, { store: target.url, ...(code ? { errno: code } : {}) });
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
