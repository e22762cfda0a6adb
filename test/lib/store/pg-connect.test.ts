/**
 * Naming a PostgreSQL store (src/lib/store/pg/connect.ts): the password never from argv,
 * from the environment or a 0600 file instead, and a URL printed only redacted.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePgTarget } from '../../../src/lib/store/pg/connect.ts';
import { redactUrl } from '../../../src/lib/store/pg/url.ts';
import { readSecretText } from '../../../src/lib/cli/secret-file.ts';
import { tempDir } from '../../helpers.ts';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return `${(e as { code?: string }).code} ${(e as { exitCode?: number }).exitCode}`;
  }
  return 'no error';
};

describe('resolvePgTarget', () => {
  it('no --store and no OFFCHAIN_STORE_URL: the embedded store (undefined)', () => {
    expect(resolvePgTarget({}, {})).toBeUndefined();
    expect(resolvePgTarget({ store: '' }, { OFFCHAIN_STORE_URL: ' ' })).toBeUndefined();
  });

  it('parses host, port, database, user and query options; the password from OFFCHAIN_STORE_PASSWORD', () => {
    const t = resolvePgTarget({ store: 'postgresql://mint@db.example:6543/offchain?sslmode=require' }, { OFFCHAIN_STORE_PASSWORD: 's3cret', HOME: '/nonexistent' })!;
    expect(t).toMatchObject({ host: 'db.example', port: 6543, database: 'offchain', user: 'mint', password: 's3cret', tls: { mode: 'require' } });
    expect(t.url).not.toContain('s3cret');
    expect(resolvePgTarget({ store: 'postgres://h/d?sslmode=disable' }, {})).toMatchObject({ host: 'h', port: 5432, database: 'd' });
  });

  it('refuses a password in --store (argv) with E_SECRET_ON_ARGV, exit 2, without echoing it', () => {
    let msg = '';
    try {
      resolvePgTarget({ store: 'postgres://mint:hunter2@h/d' }, {});
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(code(() => resolvePgTarget({ store: 'postgres://mint:hunter2@h/d' }, {}))).toBe('E_SECRET_ON_ARGV 2');
    expect(msg).not.toContain('hunter2');
  });

  it('accepts a password in OFFCHAIN_STORE_URL (the environment is not argv)', () => {
    expect(resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://mint:p%40ss@localhost:1/d' })).toMatchObject({ password: 'p@ss', user: 'mint' });
  });

  it('reads the password from a 0600 file, and refuses a file others can read', () => {
    const dir = tempDir();
    const f = join(dir.path, 'pw');
    writeFileSync(f, 'from-file\n');
    chmodSync(f, 0o600);
    expect(resolvePgTarget({ store: 'postgres://u@localhost/d', passwordFile: f }, { OFFCHAIN_STORE_PASSWORD: 'env' }, readSecretText)!.password).toBe('from-file');
    chmodSync(f, 0o644);
    expect(code(() => resolvePgTarget({ store: 'postgres://u@localhost/d', passwordFile: f }, {}, readSecretText))).toBe('E_SECRET_FILE_PERMISSIONS 4');
    dir.cleanup();
  });

  it('E_STORE_URL (exit 2) for what is not a postgres URL; no database named is the user\'s (libpq)', () => {
    expect(code(() => resolvePgTarget({ store: 'mysql://h/d' }, {}))).toBe('E_STORE_URL 2');
    expect(resolvePgTarget({ store: 'postgres://op@localhost' }, {})).toMatchObject({ user: 'op', database: 'op' });
    expect(code(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://[::1' }))).toBe('E_STORE_URL 2');
  });

  it('redactUrl hides the password and nothing else', () => {
    expect(redactUrl('postgres://u:pw@h:5/d')).toBe('postgres://u:***@h:5/d');
    expect(redactUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
  });
});
