/**
 * The end of a run, after the command wrote its answer: oclif's flush (it waits for standard
 * output to drain), and a write error met there or as a late event said in one coded line
 * (E_OUTPUT_WRITE, exit 1) — unless the command already reported its failure or the reader left
 * (EPIPE, quiet). Shared by the full CLI (src/cli.ts) and `device pay`'s bundle (src/fast-toll/).
 */
import { flush } from '@oclif/core';
import { BrokenPipe, outputFailure } from './output.ts';
import type { OffchainError } from '../errors.ts';
import { reportError } from './error-line.ts';

export async function flushOutput(): Promise<void> {
  try {
    await flush();
  } catch (e) {
    reportOutputFailure(e);
  }
}

export function reportOutputFailure(e: unknown): void {
  const failure = outputFailure(e);
  if (failure instanceof BrokenPipe || (process.exitCode !== undefined && process.exitCode !== 0)) return;
  const coded = failure as OffchainError;
  reportError(coded.code, coded.message, coded.exitCode);
  process.exitCode = coded.exitCode;
}
