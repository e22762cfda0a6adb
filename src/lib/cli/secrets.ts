/**
 * Where a secret key may come from, in order: `--key-file FILE`, the environment
 * variable named by `--key-env` (default OFFCHAIN_KEY), or a hidden interactive prompt
 * on a terminal (./prompt-terminal.ts says which, and never in a pipe). Never argv (visible in `ps`), never echoed,
 * never written into an output. A key file readable by group or others is refused,
 * as ssh refuses such identity files.
 */
import { readFileSync, statSync } from 'node:fs';
import { InterruptedError, UsageError, RefusedError } from '../errors.ts';
import { parseSecretKey, keyPair, type KeyPair } from '../keys/keys.ts';
import { flagValues } from './flags.ts';
import type { Network } from '../network.ts';
import type { PromptTerminal } from './prompt-terminal.ts';

export const DEFAULT_KEY_ENV = 'OFFCHAIN_KEY';

export type SecretSource = {
  keyFile: string | undefined;
  /** The flag that named `keyFile`, for messages (default `--key-file`). */
  keyFileFlag?: string;
  keyEnv: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Whether a person can be asked; a function is asked only when no file or variable gave the key. */
  interactive: boolean | (() => boolean);
  network: Network;
  /** Used only when interactive; returns what the user typed. */
  prompt: (question: string) => Promise<string>;
};

export async function loadKeyPair(src: SecretSource): Promise<KeyPair> {
  if (src.keyFile !== undefined) {
    const flag = src.keyFileFlag ?? '--key-file';
    let st;
    try {
      st = statSync(src.keyFile);
    } catch (e) {
      throw new UsageError('E_KEY_FILE', `cannot read ${flag} ${src.keyFile}: ${(e as NodeJS.ErrnoException).code}`);
    }
    // Before the mode check: "chmod 600" is no advice for a directory.
    // (A pipe is fine: `--key-file <(pass show mint)`.)
    if (st.isDirectory()) throw new UsageError('E_KEY_FILE', `cannot read ${flag} ${src.keyFile}: it is a directory; give the file holding the key`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new RefusedError(
        'E_KEY_FILE_PERMISSIONS',
        `${flag} ${src.keyFile} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${src.keyFile}`,
      );
    }
    const text = readFileSync(src.keyFile, 'utf8');
    // A key that is no key is a bad value of the flag that named it: exit 2 (docs/cli.md).
    return keyPair(flagValues(() => parseSecretKey(text, src.network, `${flag} ${src.keyFile}`)));
  }
  const envName = src.keyEnv ?? DEFAULT_KEY_ENV;
  const fromEnv = src.env[envName];
  if (fromEnv !== undefined && fromEnv !== '') {
    return keyPair(flagValues(() => parseSecretKey(fromEnv, src.network, `the environment variable ${envName}`)));
  }
  if (src.keyEnv !== undefined) {
    throw new UsageError('E_NO_KEY', `the environment variable ${src.keyEnv} named by --key-env is not set`);
  }
  if (typeof src.interactive === 'function' ? src.interactive() : src.interactive) {
    // An empty entry (Enter pressed too soon) asks again; Ctrl-C ends it (exit 130).
    for (let question = 'Secret key (hex or WIF, hidden):'; ; question = 'Nothing was entered. Secret key (hex or WIF, hidden):') {
      const typed = (await src.prompt(question)).trim();
      if (typed !== '') return keyPair(parseSecretKey(typed, src.network, 'the key typed at the prompt'));
    }
  }
  throw new UsageError('E_NO_KEY', `this command needs a secret key: pass --key-file FILE or set ${DEFAULT_KEY_ENV} (never on the command line)`);
}

/**
 * A hidden prompt on `terminal` (never on stdout, which stays clean for the result).
 * Loaded lazily: inquirer is heavy.
 */
export async function hiddenPrompt(question: string, terminal: PromptTerminal): Promise<string> {
  const { default: inquirer } = await import('inquirer');
  // The streams go to createPromptModule: prompt()'s second argument is initial answers, and
  // a prompt given { output } there was drawn on stdout.
  const prompt = inquirer.createPromptModule({ input: terminal.input, output: terminal.output });
  try {
    const answers = await prompt<{ secret: string }>([{ type: 'password', name: 'secret', message: question, mask: undefined }]);
    return answers.secret;
  } catch (e) {
    // inquirer rejects with ExitPromptError when the user presses Ctrl-C.
    if (e instanceof Error && e.name === 'ExitPromptError') throw new InterruptedError('interrupted at the key prompt; nothing was done');
    throw e;
  }
}
