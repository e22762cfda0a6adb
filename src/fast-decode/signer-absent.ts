/**
 * @scure/btc-signer as the first `psbt decode` shortcut is built (./plain.ts; scripts/build.mjs
 * resolves every import of the package and its subpaths here): the names that reader's modules
 * import, each of which throws when touched — read, called or constructed — and counts the touch,
 * so that an answer made while it happened is thrown away (a throw alone may be swallowed: decode.ts
 * reads an unknown script's type inside a try). Never part of any other build; an import of a name
 * not listed here fails the build.
 */
let touches = 0;

/** How many times any name below was touched in this process. */
export function signerTouched(): number {
  return touches;
}

function absent(name: string): never {
  const refuse = (): never => {
    touches++;
    throw new Error(`@scure/btc-signer is not loaded in this bundle (${name})`);
  };
  return new Proxy(function absentExport() {} as object, { get: refuse, apply: refuse, construct: refuse, has: refuse, ownKeys: refuse, getPrototypeOf: refuse }) as never;
}

export const Address = absent('Address');
export const OutScript = absent('OutScript');
export const Script = absent('Script');
export const RawTx = absent('RawTx');
export const TaprootControlBlock = absent('TaprootControlBlock');
