/**
 * The Nutshell harness itself, without Nutshell: start.sh launches the mint in the background
 * and waits for it; a start.sh that fails or is killed at its limit must not leave that mint
 * running on the machine (two runs at once, CI under load: each leaked mint is a Python
 * process holding a port and a core's share until the machine restarts).
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { running, tempDir } from '../helpers.ts';
import { startScript } from './nutshell.ts';

it('a start.sh killed at its limit takes the mint it launched in the background with it, and says it was killed', async () => {
  const dir = tempDir('offchain-nutshell-harness-');
  try {
    const script = join(dir.path, 'start.sh');
    const mintPid = join(dir.path, 'mint.pid');
    // As start.sh does: the "mint" in the background (nohup, its output to a log), then a wait that never ends.
    writeFileSync(script, `#!/usr/bin/env bash\necho "start.sh: waiting for the mint" >&2\nnohup sleep 600 >/dev/null 2>&1 </dev/null &\necho $! > ${JSON.stringify(mintPid)}\nwhile true; do sleep 0.2; done\n`);
    chmodSync(script, 0o755);
    const err = await startScript(script, [], process.env, 1_500).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/^killed at its 1\.5 s limit .*start\.sh: waiting for the mint$/s);
    const pid = Number(readFileSync(mintPid, 'utf8'));
    let left = running(pid);
    for (let i = 0; left && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = running(pid);
    }
    if (left) process.kill(pid, 'SIGKILL');
    expect(left, `the background "mint" (pid ${pid}) is still running`).toBe(false);
  } finally {
    dir.cleanup();
  }
});

it('a start.sh that succeeds returns its stdout (the mint pid it prints last)', async () => {
  const dir = tempDir('offchain-nutshell-harness-');
  try {
    const script = join(dir.path, 'start.sh');
    writeFileSync(script, '#!/usr/bin/env bash\necho "start.sh: up" >&2\necho 12345\n');
    await expect(startScript(script, [], process.env, 10_000)).resolves.toBe('12345\n');
  } finally {
    dir.cleanup();
  }
});
