/**
 * The ecash mint's own answers, for the commands that check the credit mint's keysets
 * against it (`credit ecash check`, `credit ecash follow`, `--publish`): its GET
 * /v1/keysets and GET /v1/keys, read from its URL or from files holding saved answers.
 * Only operator commands read them; no signing step ever talks to the ecash mint.
 */
import { MalformedInputError, OffchainError, UsageError } from '../../lib/errors.ts';
import type { LiveMint } from '../../lib/credit/ecash-answers.ts';

const TIMEOUT_MS = 10_000;

async function getJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (e) {
    throw new OffchainError('E_ECASH_MINT_UNREACHABLE', `GET ${url} failed (${(e as Error).message}): is the ecash mint running there?`);
  }
  if (!res.ok) throw new OffchainError('E_ECASH_MINT_UNREACHABLE', `GET ${url} answered HTTP ${res.status}: not a Cashu mint's endpoint?`);
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedInputError('E_BAD_KEYSET', `GET ${url} did not answer JSON`);
  }
}

/**
 * --ecash-keysets URL (the mint's base URL: /v1/keysets and /v1/keys are read) or
 * --ecash-keysets FILE --ecash-keys FILE (saved answers); undefined when neither is given.
 */
export async function readEcashLive(
  keysets: string | undefined,
  keys: string | undefined,
  readDocument: (path: string, flag: string) => Promise<unknown>,
): Promise<LiveMint | undefined> {
  const { readKeysAnswer, readKeysetsAnswer } = await import('../../lib/credit/ecash-answers.ts');
  if (keysets === undefined) {
    if (keys !== undefined) throw new UsageError('E_USAGE', '--ecash-keys goes with --ecash-keysets FILE (the mint\'s /v1/keysets answer)');
    return undefined;
  }
  if (/^https?:\/\//i.test(keysets)) {
    if (keys !== undefined) throw new UsageError('E_USAGE', 'with --ecash-keysets URL the keys are read from the mint: drop --ecash-keys');
    let parsed: URL;
    try {
      parsed = new URL(keysets);
    } catch {
      throw new UsageError('E_USAGE', `--ecash-keysets ${keysets} is not a URL`);
    }
    // A password on argv is readable by every user of the machine (ps), and would be printed as the source.
    if (parsed.password || parsed.username) throw new UsageError('E_SECRET_ON_ARGV', '--ecash-keysets carries credentials, which every user of this machine can read in the process list: the mint\'s /v1/keysets and /v1/keys are public, give its URL without them');
    const base = keysets.replace(/\/+$/, '');
    const [ks, k] = await Promise.all([getJson(`${base}/v1/keysets`), getJson(`${base}/v1/keys`)]);
    return { source: base, keysets: readKeysetsAnswer(ks, `${base}/v1/keysets`), keys: readKeysAnswer(k, `${base}/v1/keys`) };
  }
  if (keys === undefined) throw new UsageError('E_USAGE', '--ecash-keysets FILE needs --ecash-keys FILE: the mint\'s /v1/keys answer, with the keys of its active keysets');
  return {
    source: `${keysets} and ${keys}`,
    keysets: readKeysetsAnswer(await readDocument(keysets, '--ecash-keysets'), keysets),
    keys: readKeysAnswer(await readDocument(keys, '--ecash-keys'), keys),
  };
}
