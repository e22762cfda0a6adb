/**
 * A one-shot command's CPU said part by part (issue 73 item 4: start-up, curve, store, HTTP), from
 * the V8 CPU profile of its process (`node --cpu-prof`). Each sample is given to the part of the
 * deepest frame on its stack that belongs to one (the bundles' frames are mapped back to their
 * source file through dist/offchain.cjs.map and dist/device-pay.cjs.map): a sample in noble under btc-signer's PSBT reader is
 * curve, one in fs.openSync under the store is store, one compiling node:http for the client is
 * start-up (module loading). Whatever no part claims is "protocol" when it is our own or
 * btc-signer's code (messages, PSBTs, the device's checks) and "other" otherwise. The samples V8
 * files under "(garbage collector)" and "(program)" (native code it cannot attribute: compiling,
 * the runtime) are their own parts; "(idle)" is the process waiting (for the gateway, a disk), wall
 * time that is no CPU. A profile covers the main thread from shortly after Node starts: Node's own
 * bootstrap before it, and V8's helper threads, are not in it (the process's CPU from `times` is).
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';

export const PARTS = ['start-up', 'curve', 'store', 'HTTP', 'protocol', 'GC', 'V8/native', 'other', 'idle'] as const;
export type Part = (typeof PARTS)[number];

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type Profile = { nodes: { id: number; callFrame: CallFrame; children?: number[] }[]; samples: number[]; timeDeltas: number[] };

/** The part a source file (a bundle frame mapped to its source, or Node's own module) belongs to, if any. */
const RULES: [RegExp, Part][] = [
  // The curve and hashes: noble, our MuSig2 engine and its backends (koffi → the system's libsecp256k1).
  [/node_modules\/(@noble\/|koffi|@koromix\/koffi|secp256k1|tiny-secp256k1)|src\/lib\/(musig\/|curve\.ts|keys\/)/, 'curve'],
  // The store: SQLite through better-sqlite3, our store layer, and the files it opens.
  [/node_modules\/better-sqlite3|src\/lib\/store\//, 'store'],
  // HTTP: the client (src/lib/cli/peer.ts) and Node's http, net and dns.
  [/src\/lib\/cli\/peer\.ts|^node:(_http_|http|net|dns|internal\/(http|net|dns|dgram|stream_base_commons|streams\/))/, 'HTTP'],
  // Start-up: Node's loaders and compiler of its own modules, bin/run.js (the bundle and its code cache), oclif, the CLI layer.
  [/^node:(vm|internal\/(modules|bootstrap|vm|main|process\/pre_execution))|bin\/run\.js$|node_modules\/(@oclif\/|semver|lilconfig|ansis|debug|ejs|wrap-ansi|string-width|strip-ansi|widest-line|indent-string|clean-stack|cli-spinners|supports-color|has-flag|wordwrap|js-yaml|tinyglobby|minimatch)|src\/(cli\.ts|lib\/cli\/|fast-toll\/)/, 'start-up'],
  [/node_modules\/(@scure\/|micro-packed|@sinclair\/typebox)|src\//, 'protocol'],
];

/** The milliseconds of each part in one profile. */
export function cpuParts(profileFile: string, bundleMaps: ReadonlyMap<string, SourceMap>): Record<Part, number> {
  const p = JSON.parse(readFileSync(profileFile, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const partOfNode = new Map<number, Part | null>();
  const frameSource = (cf: CallFrame): string => {
    const bundleMap = /\/dist\/([\w-]+\.cjs)$/.exec(cf.url)?.[1];
    const map = bundleMap === undefined ? undefined : bundleMaps.get(bundleMap);
    if (map) return (map.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string }).originalSource ?? cf.url;
    return cf.url;
  };
  const ownPart = (cf: CallFrame): Part | null => {
    if (cf.functionName === '(garbage collector)') return 'GC';
    if (cf.functionName === '(program)') return 'V8/native';
    if (cf.functionName === '(idle)') return 'idle';
    const source = frameSource(cf);
    return RULES.find(([re]) => re.test(source))?.[1] ?? null;
  };
  /** The part of a stack: its deepest frame that belongs to one. */
  const partOf = (id: number): Part => {
    const path: number[] = [];
    let found: Part | null = null;
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const cached = partOfNode.get(x);
      if (cached !== undefined) {
        found = cached;
        break;
      }
      path.push(x);
      const own = ownPart(byId.get(x)!.callFrame);
      if (own) {
        found = own;
        break;
      }
    }
    for (const x of path) partOfNode.set(x, found);
    return found ?? 'other';
  };
  const parts = Object.fromEntries(PARTS.map((k) => [k, 0])) as Record<Part, number>;
  p.samples.forEach((id, i) => (parts[partOf(id)] += (p.timeDeltas[i] ?? 0) / 1000));
  return parts;
}

/** The bundles' source maps (the build writes them beside dist/offchain.cjs and dist/device-pay.cjs), by file name; those it finds. */
export function bundleSourceMaps(distDir: string): Map<string, SourceMap> {
  const maps = new Map<string, SourceMap>();
  for (const name of ['offchain.cjs', 'device-pay.cjs']) {
    try {
      maps.set(name, new SourceMap(JSON.parse(readFileSync(join(distDir, `${name}.map`), 'utf8'))));
    } catch {
      // no map: its frames count by their own file name
    }
  }
  return maps;
}
