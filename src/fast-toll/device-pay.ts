/**
 * `offchain device pay` without oclif's start-up: the device's toll (`device pay --peer`, one
 * process a payment) is the command a device runs most, and of its ~210 ms of start-up CPU most
 * was loading the whole CLI's bundle and oclif's configuration (issue 73 item 4). This is the
 * entry of dist/device-pay.cjs, which bin/run.js tries first: the same command class
 * (src/commands/device/pay.ts) run through the same base command — the same flag definitions
 * and parser (oclif's), settings, key, store, protocol, output and error lines — with
 * `@oclif/core` resolved to ./oclif-lite.ts, which leaves out oclif's Config, command table,
 * help and plugins.
 *
 * It takes `device pay …` with no configuration file (or an empty one: a file's keys are
 * checked against every command's flags, which only the full CLI holds), and without --help,
 * -h, --print-config or --debug (before a `--`). Anything else goes back to the full CLI
 * (`{ done: false }`) before anything is read or written. test/e2e/fast-device-pay.test.ts
 * holds the two paths to the same output, exit codes and state.
 */
import { homedir } from 'node:os';
import DevicePay from '../commands/device/pay.ts';
import { readConfigFile } from '../lib/cli/config-file.ts';
import { flushOutput } from '../lib/cli/flush-output.ts';
import type { LiteConfig } from './oclif-lite.ts';

export type FastResult = { done: boolean };

const HANDED_ON = new Set(['--help', '-h', '--print-config', '--debug']);

export async function main(argv: readonly string[]): Promise<FastResult> {
  if (argv[0] !== 'device' || argv[1] !== 'pay') return { done: false };
  const words = argv.slice(2);
  const end = words.indexOf('--');
  if ((end === -1 ? words : words.slice(0, end)).some((w) => HANDED_ON.has(w.split('=')[0]!))) return { done: false };
  if (!noConfiguration(words)) return { done: false };
  const id = 'device:pay';
  DevicePay.id = id;
  DevicePay.aliases = [];
  const config: LiteConfig = { bin: 'offchain', commands: [{ id, flags: { ...DevicePay.baseFlags, ...DevicePay.flags } }] };
  const command = new DevicePay(words, config as unknown as ConstructorParameters<typeof DevicePay>[1]);
  await command.run(); // lib/cli/base-command.ts: every failure is its one coded line and exit code
  await flushOutput();
  return { done: true };
}

/** No configuration file, or one that sets nothing; undefined when it cannot be read (the full CLI says why). */
function noConfiguration(words: readonly string[]): boolean {
  try {
    return (readConfigFile(words, process.env, homedir())?.lines.length ?? 0) === 0;
  } catch {
    return false;
  }
}
