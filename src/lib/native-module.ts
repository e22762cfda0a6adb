/**
 * A native module that does not load, said as what it is: E_NATIVE_MODULE with the one command
 * that fixes it — never taken for a damaged state, a wrong key or a bug. Two causes are told
 * apart: a binary that this Node cannot load (built for another Node.js ABI, another platform,
 * or a damaged file: `npm rebuild <package>`), and a package that is not installed at all (an
 * optional dependency left out: `npm install <package>`).
 */
import { OffchainError } from './errors.ts';

/** dlopen's and Node's words for a binary this process cannot load. */
const FOREIGN_BINARY = /NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF header|ERR_DLOPEN_FAILED|wrong ELF class|undefined symbol|Module did not self-register/;

function textOf(e: unknown): string {
  return e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` : String(e);
}

/** A binary this Node cannot load, or none there for this platform (a `.node` file not found). */
function isForeignBinary(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'MODULE_NOT_FOUND' && /\.node'/.test(String((e as Error).message))) return true;
  return FOREIGN_BINARY.test(textOf(e));
}

/** The package itself missing: require's MODULE_NOT_FOUND or import()'s ERR_MODULE_NOT_FOUND naming it (not one of its own dependencies). */
function isMissingPackage(e: unknown, pkg: string): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  const first = String((e as Error).message).split('\n')[0]!;
  const name = pkg.split('/')[0]!;
  return first.includes(`'${name}'`) || first.includes(`'${name}/`);
}

/**
 * What went wrong loading `pkg`, in one line, with the command that fixes it; undefined when the
 * error is not a loading failure (it then passes through as it is).
 */
export function nativeModuleProblem(e: unknown, pkg: string, fix = `npm rebuild ${pkg.split('/')[0]}`): string | undefined {
  const first = String((e as Error)?.message ?? e).split('\n')[0]!.trim();
  const name = pkg.split('/')[0]!;
  if (isMissingPackage(e, pkg)) return `${name} is not installed (${first}) — run "npm install ${name}" in the toolkit's folder`;
  if (isForeignBinary(e)) return `${name}'s native module cannot be loaded by Node.js ${process.version} (${first}) — run "${fix}" in the toolkit's folder (it was built for another Node.js, or is damaged)`;
  return undefined;
}

/** E_NATIVE_MODULE (exit 1) for a module a command cannot do without (the SQLite driver); `fix`: the command that puts its binary right. */
export function nativeModuleError(e: unknown, pkg: string, what: string, fix?: string): OffchainError | undefined {
  const problem = nativeModuleProblem(e, pkg, fix);
  return problem === undefined ? undefined : new OffchainError('E_NATIVE_MODULE', `${what}: ${problem}`, 1);
}
