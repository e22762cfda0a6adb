/**
 * Every file holding a secret (a preimage, a per-commitment seed or secret, an adaptor
 * secret, a PTLC lock record) is read only when its owner alone can read it — the rule
 * `--key-file` follows — and refused before a byte is read otherwise.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers.ts';
import { readHexSecretFile, requirePrivateFile } from '../../../src/lib/cli/secret-file.ts';
import { refusal } from '../../setup/refusal.ts';

describe.skipIf(process.platform === 'win32')('secret files are 0600', () => {
  it('a file group or others may read is refused (E_SECRET_FILE_PERMISSIONS, exit 4) naming the flag and the fix; 0600 and 0400 are read', () => {
    const dir = tempDir('offchain-secret-file-');
    try {
      const file = join(dir.path, 'preimage.hex');
      writeFileSync(file, '11'.repeat(32) + '\n');
      for (const mode of [0o644, 0o640, 0o604, 0o660, 0o666, 0o620]) {
        chmodSync(file, mode);
        const e = refusal(() => readHexSecretFile(file, '--preimage-file', { length: 32 }), 'E_SECRET_FILE_PERMISSIONS', 4);
        expect(e.message).toContain('--preimage-file');
        expect(e.message).toContain(`chmod 600 ${file}`);
        refusal(() => requirePrivateFile(file, '--lock'), 'E_SECRET_FILE_PERMISSIONS', 4);
      }
      for (const mode of [0o600, 0o400]) {
        chmodSync(file, mode);
        expect(readHexSecretFile(file, '--seed-file', { length: 32 })).toEqual(new Uint8Array(32).fill(0x11));
      }
      mkdirSync(join(dir.path, 'd'), { mode: 0o700 });
      refusal(() => readHexSecretFile(join(dir.path, 'd'), '--secret-file'), 'E_INPUT_FILE', 2);
      refusal(() => readHexSecretFile(join(dir.path, 'missing'), '--secret-file'), 'E_INPUT_FILE', 2);
      // Not a directory: a device says what it is (was "it is a directory").
      const dev = refusal(() => requirePrivateFile('/dev/null', '--store-password-file'), 'E_INPUT_FILE', 2);
      expect(dev.message).toBe('cannot read --store-password-file /dev/null: it is not a regular file (a character device)');
      expect(refusal(() => requirePrivateFile(join(dir.path, 'd'), '--store-password-file'), 'E_INPUT_FILE', 2).message).toMatch(/it is a directory, not a file$/);
    } finally {
      dir.cleanup();
    }
  });
});
