/**
 * The credit commands' ecash inputs and outputs: the mint's ecash seed (from the environment
 * or a 0600 file, never argv) and the keyset settings the operator named, the running ecash
 * mint's answers to check them against, the user's NUT-13 wallet seed, and where a receipt's
 * token goes (--token-out). Flags in, values out: the keysets themselves are
 * src/lib/credit/ecash-keysets.ts, the blind signatures src/lib/ecash/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import type { Terminal } from '../../lib/cli/terminal.ts';
import type { MintContractRecord, MintPolicy } from '../../lib/credit/ports.ts';
import type { NamedSettings } from '../../lib/credit/ecash-keysets.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';

type EcashFlags = {
  'ecash-seed-env'?: string; 'ecash-seed-file'?: string; 'ecash-path'?: string; 'ecash-input-fee-ppk'?: number; 'ecash-unit'?: string;
  'ecash-id-version'?: string; 'ecash-amounts'?: number; 'ecash-keysets'?: string; 'ecash-keys'?: string;
  'wallet-seed-env'?: string; 'wallet-seed-file'?: string; 'token-out'?: string;
};

/** The ecash seed from --ecash-seed-env/--ecash-seed-file; undefined when none is given and it is not `required`. */
export async function ecashSeed(f: EcashFlags, required: boolean): Promise<string | undefined> {
  let seed: string | undefined;
  if (f['ecash-seed-env'] !== undefined && f['ecash-seed-file'] !== undefined) throw new UsageError('E_USAGE', 'give the ecash seed once: --ecash-seed-env or --ecash-seed-file');
  if (f['ecash-seed-env'] !== undefined) {
    seed = process.env[f['ecash-seed-env']];
    if (!seed) throw new UsageError('E_NO_ECASH_SEED', `the environment variable ${f['ecash-seed-env']} (--ecash-seed-env) is not set`);
  } else if (f['ecash-seed-file'] !== undefined) {
    const { readSecretText } = await import('../../lib/cli/secret-file.ts');
    seed = readSecretText(f['ecash-seed-file'], '--ecash-seed-file').replace(/\r?\n$/, '');
    if (!seed) throw new UsageError('E_NO_ECASH_SEED', `--ecash-seed-file ${f['ecash-seed-file']} is empty`);
  }
  if (seed === undefined && required) throw new UsageError('E_NO_ECASH_SEED', 'this mint issues ecash: pass its seed with --ecash-seed-env NAME or --ecash-seed-file FILE');
  return seed;
}

/**
 * The keysets this mint issues under (kept since --publish, moved on by "credit ecash
 * follow"), read again at each request; for a store published before keysets were kept,
 * its offer's keyset at --ecash-path.
 */
export async function ecashSigner(f: EcashFlags, store: MintStorePort<MintContractRecord>, offer: NonNullable<MintPolicy['ecash']>, seed: string) {
  const { ECASH_KEYSETS_DOC, legacyKeysetsDoc } = await import('../../lib/credit/ecash-keysets.ts');
  const { EcashSigner } = await import('../../lib/credit/ecash-signer.ts');
  const path = f['ecash-path'];
  const stored = await store.readDoc<import('../../lib/credit/ecash-keysets.ts').EcashKeysetsDoc>(ECASH_KEYSETS_DOC);
  const activePath = stored?.keysets.find((k) => k.id === stored.active)?.path;
  if (stored && path !== undefined && path !== activePath) throw new UsageError('E_USAGE', `--ecash-path is kept with each keyset since --publish (the active one is at ${activePath}): drop it`);
  const legacy = stored ? undefined : legacyKeysetsDoc(offer, path ?? "m/0'/0'/0'");
  // The store's stamp (SQLite's): the document is read again only once something was written to the store.
  return new EcashSigner(seed, async () => legacy ?? (await store.readDoc(ECASH_KEYSETS_DOC))!, undefined, legacy || !store.docStamp ? undefined : () => store.docStamp!());
}

/** The ecash mint's settings the operator named (--ecash-path, --ecash-input-fee-ppk, …); what is absent stays undefined. */
export function ecashNamed(f: EcashFlags): NamedSettings {
  return {
    ...(f['ecash-path'] !== undefined ? { path: f['ecash-path'] } : {}),
    ...(f['ecash-input-fee-ppk'] !== undefined ? { input_fee_ppk: f['ecash-input-fee-ppk'] } : {}),
    ...(f['ecash-unit'] !== undefined ? { unit: f['ecash-unit'] } : {}),
    ...(f['ecash-id-version'] !== undefined ? { id_version: f['ecash-id-version'] as '00' | '01' } : {}),
    ...(f['ecash-amounts'] !== undefined ? { amounts: f['ecash-amounts'] } : {}),
  };
}

/** The running ecash mint's answers (--ecash-keysets URL, or --ecash-keysets FILE --ecash-keys FILE), if given. */
export async function ecashLive(f: EcashFlags, readDocument: (path: string, flag: string) => Promise<unknown>) {
  const { readEcashLive } = await import('./ecash-live.ts');
  return readEcashLive(f['ecash-keysets'], f['ecash-keys'], readDocument);
}

/**
 * The keyset the credit mint issues under, from the seed and the named settings, checked
 * against the running mint's answers when given (E_ECASH_KEYSET_MISMATCH names the
 * setting that differs); undefined when no seed is given and it is not `required`.
 */
export async function ecashKeyset(f: EcashFlags, required: boolean, readDocument: (path: string, flag: string) => Promise<unknown>) {
  const seed = await ecashSeed(f, required);
  const named = ecashNamed(f);
  const live = await ecashLive(f, readDocument);
  if (seed === undefined) {
    if (live || Object.keys(named).length) throw new UsageError('E_NO_ECASH_SEED', 'the ecash settings need the ecash mint\'s seed: pass it with --ecash-seed-env NAME or --ecash-seed-file FILE');
    return undefined;
  }
  const { publishedKeysets, settleKeyset } = await import('../../lib/credit/ecash-reproduce.ts');
  const { deriveMintKeyset } = await import('../../lib/ecash/nut01.ts');
  let keyset = settleKeyset(seed, named, live);
  // With the mint's answers: its newest active keyset at a higher index (a restart with the next index) is the one issued under.
  if (live) {
    const issuing = publishedKeysets(seed, keyset, undefined, live).keyset;
    if (issuing.id !== keyset.id) keyset = deriveMintKeyset(seed, issuing, issuing.id);
  }
  return { seed, live, keyset };
}

/**
 * Where a receipt's token goes (--token-out): a new 0600 file, never overwriting another
 * token (the same token again is fine: a rerun), or with "-" standard output alone, the
 * balance then on standard error. `result` turns the step's balance into the output.
 */
export function tokenSink(f: EcashFlags, term: Terminal) {
  const out = f['token-out'];
  let printed: string | undefined;
  const sink = out === undefined ? undefined : out === '-'
    ? { path: '-', write: async (token: string) => void (printed = token) }
    : { path: out, write: (token: string) => writeTokenFile(out, token) };
  return {
    sink,
    result: (message: Record<string, unknown>): CommandResult => {
      if (printed === undefined) return { message };
      term.info(JSON.stringify(message));
      return { text: printed };
    },
  };
}

/** The user's wallet seed (hex, 16–64 bytes) from --wallet-seed-env/--wallet-seed-file, if given. */
export async function walletSeed(f: EcashFlags): Promise<Uint8Array | undefined> {
  if (f['wallet-seed-env'] !== undefined && f['wallet-seed-file'] !== undefined) throw new UsageError('E_USAGE', 'give the wallet seed once: --wallet-seed-env or --wallet-seed-file');
  let hex: string | undefined;
  if (f['wallet-seed-env'] !== undefined) {
    hex = process.env[f['wallet-seed-env']];
    if (!hex) throw new UsageError('E_NO_WALLET_SEED', `the environment variable ${f['wallet-seed-env']} (--wallet-seed-env) is not set`);
  } else if (f['wallet-seed-file'] !== undefined) {
    const { readSecretText } = await import('../../lib/cli/secret-file.ts');
    hex = readSecretText(f['wallet-seed-file'], '--wallet-seed-file');
  }
  if (hex === undefined) return undefined;
  const { fromHex } = await import('../../lib/bytes.ts');
  const t = hex.trim();
  if (!/^([0-9a-fA-F]{2}){16,64}$/.test(t)) throw new UsageError('E_BAD_WALLET_SEED', 'the wallet seed must be 16–64 bytes as hex (e.g. a BIP-39 seed)');
  return fromHex(t.toLowerCase(), 'wallet seed');
}

async function writeTokenFile(path: string, token: string): Promise<void> {
  if (existsSync(path)) {
    let old = '';
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      // unreadable: refused below
    }
    if (old.trim() === token) return;
    throw new RefusedError('E_TOKEN_OUT_EXISTS', `--token-out ${path} already exists and holds something else (another token?): name a new file`);
  }
  // A new 0600 file, whole or not at all, never over another (a race to the same name loses: E_FILE_EXISTS).
  const { writeNewFile } = await import('../../lib/store/exclusive.ts');
  writeNewFile(path, token + '\n', 0o600);
}
