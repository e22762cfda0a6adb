/**
 * One error hierarchy for the whole toolkit. Every failure a user can meet carries a
 * stable machine code (`E_…`, never renamed once released) and the exit code class the
 * brief assigns; the CLI layer prints `code: message` on one line and exits with it.
 *
 * Library modules throw these; they never print or exit.
 */

/** Exit codes of the command-line contract (BRIEF §2). */
export const ExitCode = {
  ok: 0,
  general: 1,
  usage: 2,
  malformed: 3,
  refused: 4,
  state: 5,
  /** Interrupted by the user (Ctrl-C at a prompt): the shell's 128 + SIGINT. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class OffchainError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  /** Extra machine-readable detail (e.g. the culprit of a bad MuSig2 contribution). */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, exitCode: ExitCode = ExitCode.general, detail?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.detail = detail;
  }
}

/** The invocation itself is wrong: unknown flag, missing key file, conflicting options. Exit 2. */
export class UsageError extends OffchainError {
  constructor(code: string, message: string, detail?: Record<string, unknown>) {
    super(code, message, ExitCode.usage, detail);
  }
}

/** The input bytes do not parse or do not match the message schema. Exit 3. */
export class MalformedInputError extends OffchainError {
  constructor(code: string, message: string, detail?: Record<string, unknown>) {
    super(code, message, ExitCode.malformed, detail);
  }
}

/** Well-formed input that a protocol or safety rule forbids us to act on. Exit 4. */
export class RefusedError extends OffchainError {
  constructor(code: string, message: string, detail?: Record<string, unknown>) {
    super(code, message, ExitCode.refused, detail);
  }
}

/** Stored state forbids the step: nonce already used, lock held, stale state. Exit 5. */
export class StateConflictError extends OffchainError {
  constructor(code: string, message: string, detail?: Record<string, unknown>) {
    super(code, message, ExitCode.state, detail);
  }
}

/**
 * A MuSig2 participant sent something invalid (public nonce, partial signature, key).
 * Names the culprit by its public key so the operator knows whom to blame.
 */
export class InvalidContributionError extends RefusedError {
  readonly participant: string;
  constructor(code: string, participant: string, message: string) {
    super(code, message, { participant });
    this.participant = participant;
  }
}

/** The user pressed Ctrl-C at a prompt: nothing was done. Exit 130, as a shell reports SIGINT. */
export class InterruptedError extends OffchainError {
  constructor(message: string) {
    super('E_INTERRUPTED', message, ExitCode.interrupted);
  }
}

export function isOffchainError(e: unknown): e is OffchainError {
  return e instanceof OffchainError;
}
