/**
 * Which process wrote a lock or a step's record, and whether it still runs (by its start
 * time, so a reused pid is not taken for it). Shared by the lock (lock.ts), the one-shot
 * steps' crash recovery (step-recovery.ts) and the nonce files (nonce-files.ts); its own file so
 * that the lock and the steps, which use each other, do not import each other.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Enough to tell, on this host, whether a process is still the one that wrote a file. */
export interface ProcessIdentity {
  hostname: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); null off Linux. */
  procStart: string | null;
  bootId: string | null;
}

let self: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  self ??= { hostname: hostname(), pid: process.pid, procStart: procStat(process.pid)?.start ?? null, bootId: readBootId() };
  return self;
}

/**
 * True only when we are sure `owner` no longer runs. Anything uncertain (other host,
 * EPERM, no /proc) counts as alive: a false "alive" costs a timeout, a false "gone"
 * breaks mutual exclusion.
 */
export function processIsGone(owner: ProcessIdentity): boolean {
  const me = currentProcess();
  if (owner.hostname !== me.hostname) return false;
  if (owner.bootId !== null && me.bootId !== null && owner.bootId !== me.bootId) return true;
  // kill(0) or a negative pid would signal whole process groups.
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  const now = procStat(owner.pid);
  if (now === null) return false;
  return now.state === 'Z' || (owner.procStart !== null && now.start !== owner.procStart);
}

function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const start = fields[19];
    return state !== undefined && start !== undefined ? { state, start } : null;
  } catch {
    return null;
  }
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}
