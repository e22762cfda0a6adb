/**
 * A refusal is one stable error code in one exit-code class (src/lib/errors.ts). Tests
 * of library functions name both — `refusal(() => f(x), 'E_BAD_PUBKEY', 3)` — rather
 * than a message pattern or a bare `toThrow()`, which any other failure would satisfy.
 * The error comes back for checks of its message or detail.
 */
import { expect } from 'vitest';
import { OffchainError } from '../../src/lib/errors.ts';

export function refusal(fn: () => unknown, code: string, exitCode: number): OffchainError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`expected ${code} (exit ${exitCode}), but nothing was thrown`);
  expect(thrown, String(thrown)).toBeInstanceOf(OffchainError);
  const e = thrown as OffchainError;
  expect({ code: e.code, exitCode: e.exitCode }, e.message).toEqual({ code, exitCode });
  expect(e.message).not.toContain('\n');
  return e;
}

/** The same for a promise: it must reject with `code` in class `exitCode`. */
export async function refusalAsync(promise: Promise<unknown>, code: string, exitCode: number): Promise<OffchainError> {
  let thrown: unknown;
  await promise.then(
    () => undefined,
    (e: unknown) => (thrown = e ?? new Error('rejected with undefined')),
  );
  return refusal(() => {
    if (thrown !== undefined) throw thrown;
  }, code, exitCode);
}

/** The OffchainError `fn` throws (anything else is rethrown; no throw fails the test), for tests that check its code and detail themselves. */
export function thrown(fn: () => unknown): OffchainError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OffchainError) return e;
    throw e;
  }
  throw new Error('expected an error, the call succeeded');
}
