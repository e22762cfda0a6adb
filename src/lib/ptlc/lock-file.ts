/** A `ptlc/lock` record read back from its file (./multi-hop.ts says what it means). */
import { fromHex } from '../bytes.ts';
import { validatePublicKey } from '../keys/keys.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import type { LockRecord } from './multi-hop.ts';
import { PtlcLockSchema } from './schemas.ts';

export function readLock(value: unknown): { record: LockRecord; network: Network } {
  const m = decodeMessage(PtlcLockSchema, value);
  return {
    network: m.network,
    record: { role: m.role, index: m.index, L: validatePublicKey(fromHex(m.L, 'L', 33), 'L'), R: validatePublicKey(fromHex(m.R, 'R', 33), 'R'), y: fromHex(m.y, 'y', 32) },
  };
}
