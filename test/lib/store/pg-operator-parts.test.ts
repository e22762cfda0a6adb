/**
 * The parts of the operator's PostgreSQL store that need no server: the rollback witness
 * (refuses a version below the highest seen, only ever rises, racing writers on one host
 * never lower it), the TLS modes a URL's sslmode maps to, and the coded errors a failed
 * connection or login becomes (never carrying the password).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tempDir } from '../../helpers.ts';
import { versionWitness } from '../../state.ts';
import { pgConfig, storeError } from '../../../src/lib/store/pg/client.ts';
import { resolvePgTarget } from '../../../src/lib/store/pg/connect.ts';

const target = (url: string, env: Record<string, string> = {}) => resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, HOME: '/nonexistent', ...env })!;

describe('the rollback witness', () => {
  it('refuses a version below the highest seen (E_STORE_ROLLED_BACK, exit 1 as in the mint store); equal or above passes', async () => {
    const d = tempDir();
    try {
      const w = versionWitness(join(d.path, 'w'));
      await w.check('c1', 1, 'db'); // nothing seen yet
      await w.advance('c1', 5);
      await w.check('c1', 5, 'db');
      await w.check('c1', 6, 'db');
      await expect(w.check('c1', 4, 'postgres://u@h/db')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK', exitCode: 1 });
      await w.check('c2', 1, 'db'); // per coin
    } finally {
      d.cleanup();
    }
  });

  it('only rises: a lower advance, and racing advances, leave the highest', async () => {
    const d = tempDir();
    try {
      const w = versionWitness(join(d.path, 'w'));
      await w.advance('c', 7);
      await w.advance('c', 3);
      await expect(w.check('c', 6, 'db')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
      const other = versionWitness(join(d.path, 'w'));
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? w : other).advance('c', 8 + ((i * 7) % 20))));
      await w.check('c', 27, 'db');
      await expect(w.check('c', 26, 'db')).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
    } finally {
      d.cleanup();
    }
  });
});

describe('connecting', () => {
  it('maps sslmode to TLS: disable (a local server\'s default) plain, require unchecked, verify-full checked; prefer refused', () => {
    expect(pgConfig(target('postgres://u@localhost:1/db'), 'x').ssl).toBe(false);
    expect(pgConfig(target('postgres://u@h:1/db?sslmode=disable'), 'x').ssl).toBe(false);
    expect(pgConfig(target('postgres://u@h:1/db?sslmode=require'), 'x').ssl).toEqual({ rejectUnauthorized: false });
    expect(pgConfig(target('postgres://u@h:1/db?sslmode=verify-full&sslrootcert=system'), 'x').ssl).toEqual({ rejectUnauthorized: true });
    expect(() => pgConfig(target('postgres://u@h:1/db?sslmode=prefer'), 'x')).toThrow(expect.objectContaining({ code: 'E_STORE_URL', exitCode: 2 }));
    const c = pgConfig(target('postgres://u@h:1/db?sslmode=disable&application_name=op1&connect_timeout=3', { OFFCHAIN_STORE_PASSWORD: 'pw' }), 'x');
    expect(c).toMatchObject({ host: 'h', port: 1, database: 'db', user: 'u', password: 'pw', application_name: 'op1', connectionTimeoutMillis: 3000 });
  });

  it('a failed login is E_STORE_AUTH (2), anything else E_STORE_UNREACHABLE (1); the password is never in the message', () => {
    const t = target('postgres://u:sekrit-pw@h:1/db?sslmode=disable');
    const auth = storeError(Object.assign(new Error('password authentication failed for user "u"'), { code: '28P01' }), t);
    expect({ code: auth.code, exit: auth.exitCode }).toEqual({ code: 'E_STORE_AUTH', exit: 2 });
    const down = storeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), t);
    expect({ code: down.code, exit: down.exitCode }).toEqual({ code: 'E_STORE_UNREACHABLE', exit: 1 });
    for (const e of [auth, down]) expect(e.message).not.toContain('sekrit-pw');
    expect(down.message).toContain('postgres://u@h:1/db?sslmode=disable');
  });
});
