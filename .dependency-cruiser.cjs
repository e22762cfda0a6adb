/**
 * The architecture of offchain, as rules a tool checks (`npm run deps`, the first step of
 * `npm test`). docs/architecture.md draws it; STYLE.md says why. The layers, lowest first —
 * a module imports only its own layer or lower:
 *
 *   1 foundation   src/lib/{bytes,hash,errors,…}.ts: bytes, errors, messages, networks
 *   2 primitives   src/lib/{tx,psbt,taproot,musig,keys,chain,lightning}/: Bitcoin building blocks
 *   3 protocols    src/lib/{truc,htlc,bolt3,credit,device,…}/: pure protocol code, named after
 *                  the spec; each may use only the protocols PROTOCOLS below says it is built on
 *   4 store        src/lib/store/: disk and database state; implements the protocols' ports
 *   5 cli          src/lib/cli/: input, output, exit codes, shared flags, terminal — no protocol
 *   6 topics       src/topics/<topic>/: what one topic's commands share — its base class, flags,
 *                  and its roles' steps as tables (they touch stores, nodes and files)
 *   7 commands     src/commands/<topic>/<verb>.ts, src/cli.ts (the command list), src/fast-decode/,
 *                  src/fast-toll/ (`device pay`'s own bundle: a command list of one);
 *                  every file under src/commands/ is a command, as oclif has it
 *
 * Changing a rule here is changing the architecture: say why in the commit.
 *
 * Every import counts, whatever its kind: static, lazy `import()`, and `import type`
 * (tsPreCompilationDeps: true). A type import is knowledge of the module it names even
 * though the compiler erases it: `credit/ports.ts` importing the device's *types* is exactly
 * the "lower layer knows the one built on it" this file exists to stop, and with type
 * imports left out the tool would see neither that edge nor the store's use of the credit
 * ports. So cycles made only of type imports are cycles too.
 */
'use strict';

/** Layer 1. Pure helpers everyone may use; they import only each other. */
const FOUNDATION = '^src/lib/(bytes|hash|errors|json|network|constants|random|lru|curve|envelope|message|message-steps|address|descriptor|bigsize|settings|native-module)[.]ts$';
/**
 * The catalogue of every message's JSON Schema (npm run schemas, the schema tests): it lists
 * every protocol, so it sits above them all, and nothing in src/ may import it.
 */
const CATALOGUE = '^src/lib/schemas[.]ts$';
/** Layer 2. Transactions, PSBTs, taproot, MuSig2, keys, the chain source, a Lightning node's RPC. */
const PRIMITIVE_NAMES = ['tx', 'psbt', 'taproot', 'musig', 'keys', 'chain', 'lightning'];
const PRIMITIVES = `^src/lib/(${PRIMITIVE_NAMES.join('|')})/`;

/**
 * Layer 3, and the order inside it: each protocol names the protocols it is built on, and
 * imports no other (not transitively: a new edge is a line here, reviewed as a design
 * change). The graph must stay acyclic (checked below, when this file loads).
 */
const PROTOCOLS = {
  truc: [], // TRUC (v3) package policy, over tx/ and psbt/
  ecash: [], // Cashu NUTs: blind signatures, keysets, tokens
  onion: [], // BOLT 4: Sphinx packets, BigSize/TLV
  route: [], // BOLT 7 fees and CLTV deltas into BOLT 4 payloads
  openassets: [], // Open Assets (the raw-transaction reader it shares with Colu and Counterparty is tx/raw.ts)
  colu: [], // Colu payloads
  counterparty: [], // Counterparty messages
  invoice: [], // BOLT 11/12 invoices (their TLV streams use BOLT 1's BigSize: src/lib/bigsize.ts)
  statechain: ['truc', 'bolt3'], // statechain coins: backups are TRUC packages; a Lightning channel on a coin uses BOLT 3's funding-locktime check
  bolt3: ['truc'], // BOLT 3 transactions (a channel funded at a locktime: bolt3/funding-locktime.ts)
  htlc: ['bolt3', 'truc'], // HTLC contracts over BOLT 3's scripts and signatures
  ptlc: ['htlc'], // PTLCs: the HTLC's script tree with adaptor signatures
  credit: ['ecash', 'htlc', 'truc'], // the credit channel in front of a Cashu mint; an HTLC on a state; exits as TRUC packages
  device: ['credit', 'htlc', 'invoice'], // the IoT device and its gateway: a credit channel paying BOLT 11 invoices. Credit must not know it.
  serve: [], // the services' own message (serve/info), no protocol
  watch: [], // a watcher's view of the chain and each kind's deadline decisions (offchain watch), over tx/deadline-fee.ts; it reads the chain's facts as plain rows
};
const PROTOCOL_NAMES = Object.keys(PROTOCOLS);
const PROTOCOL_FOLDERS = `^src/lib/(${PROTOCOL_NAMES.join('|')})/`;

const STORE = '^src/lib/store/';
const CLI = '^src/lib/cli/';
const TOPICS = '^src/topics/';
const COMMANDS = '^src/(commands/|cli[.]ts$|fast-decode/|fast-toll/)';

// The protocol order must be a DAG: a cycle here would let two protocols import each other.
(function assertAcyclic() {
  const state = {};
  const visit = (p, path) => {
    if (!(p in PROTOCOLS)) throw new Error(`.dependency-cruiser.cjs: ${path.join(' → ')} names ${p}, which is not a protocol`);
    if (state[p] === 'done') return;
    if (state[p] === 'open') throw new Error(`.dependency-cruiser.cjs: the protocol order has a cycle: ${[...path, p].join(' → ')}`);
    state[p] = 'open';
    for (const q of PROTOCOLS[p]) visit(q, [...path, p]);
    state[p] = 'done';
  };
  for (const p of PROTOCOL_NAMES) visit(p, []);
})();

/** One rule per protocol: what it may import besides layers 1–2 and itself. */
const protocolRules = PROTOCOL_NAMES.map((p) => ({
  name: `protocol-${p}`,
  severity: 'error',
  comment:
    `src/lib/${p}/ imports only layers 1–2, itself` +
    (PROTOCOLS[p].length ? ` and the protocols it is built on (${PROTOCOLS[p].join(', ')})` : ' (it is built on no other protocol)') +
    '. Never the store (declare a port: an interface in the protocol, the store implements it), the CLI layer or commands, nor a protocol built on it.',
  from: { path: `^src/lib/${p}/` },
  to: {
    path: '^src/',
    pathNot: [FOUNDATION, PRIMITIVES, `^src/lib/(${[p, ...PROTOCOLS[p]].join('|')})/`],
  },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles, type imports and lazy import() included: two modules that import each other are one module ' +
        'split in two files. Move what both need into the lower one (or a third file both import).',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'foundation',
      severity: 'error',
      comment: 'Layer 1 (bytes, errors, messages, networks…) imports only layer 1: everything else is built on it.',
      from: { path: FOUNDATION },
      to: { path: '^src/', pathNot: FOUNDATION },
    },
    {
      name: 'catalogue-is-not-imported',
      severity: 'error',
      comment:
        'src/lib/schemas.ts lists every protocol\'s schemas for `npm run schemas` and the tests; anything in src/ importing it ' +
        'would depend on every protocol. Import the protocol\'s own schemas.ts instead.',
      from: { path: '^src/', pathNot: CATALOGUE },
      to: { path: CATALOGUE },
    },
    {
      name: 'primitives',
      severity: 'error',
      comment:
        'Layer 2 (tx, psbt, taproot, musig, keys, chain, lightning) imports only layers 1–2: no protocol, no store ' +
        '(a primitive that needs storage declares a port, e.g. musig/nonce-port.ts), no CLI.',
      from: { path: PRIMITIVES },
      to: { path: '^src/', pathNot: [FOUNDATION, PRIMITIVES] },
    },
    ...protocolRules,
    {
      name: 'store-through-ports',
      severity: 'error',
      comment:
        'The store implements the protocols\' ports: from a protocol it imports only the port file (src/lib/<protocol>/ports.ts ' +
        'or ports/), where the protocol declares the interfaces and the records they carry. Anything else (a role module, ' +
        'a codec) makes the store part of that protocol: put what the store needs in the port file. Never the CLI or commands.',
      from: { path: STORE },
      to: { path: '^src/', pathNot: [FOUNDATION, PRIMITIVES, STORE, `^src/lib/(${PROTOCOL_NAMES.join('|')})/ports([.]ts$|/)`] },
    },
    {
      name: 'cli-knows-no-protocol',
      severity: 'error',
      comment:
        'src/lib/cli/ is the protocol-free CLI layer (input, output, exit codes, flags every group shares, terminal, config): ' +
        'it imports layers 1–2 and generic store code. A topic\'s base class, shared flags and steps live in src/topics/<topic>/.',
      from: { path: CLI },
      to: { path: '^src/', pathNot: [FOUNDATION, PRIMITIVES, STORE, CLI] },
    },
    {
      name: 'cli-reaches-no-protocol',
      severity: 'error',
      comment:
        'Not through the store either: src/lib/cli/ may import generic store code (the PostgreSQL connection, atomic files, ' +
        'the nonce store) but no store that is one protocol\'s. Such a store reaches its protocol\'s port file (the only ' +
        'protocol files a store may import), so reaching a port file, directly or not, is knowing that protocol.',
      from: { path: CLI },
      to: { path: `^src/lib/(${PROTOCOL_NAMES.join('|')})/ports([.]ts$|/)`, reachable: true },
    },
    {
      name: 'command-is-a-leaf',
      severity: 'error',
      comment:
        'Nothing imports a command: what two commands share lives in src/topics/<topic>/ (or in src/lib/ when it is ' +
        'not about the CLI). Only src/cli.ts, the command list, imports them — and src/fast-toll/device-pay.ts, ' +
        '`device pay`\'s own bundle, the one command it runs.',
      from: { path: '^src/', pathNot: '^src/(cli|fast-toll/device-pay)[.]ts$' },
      to: { path: '^src/commands/' },
    },
    {
      name: 'topics-below-commands',
      severity: 'error',
      comment:
        'Layer 6 (src/topics/) serves the commands and knows none of them: not a command (the rule above), not the command ' +
        'list src/cli.ts, not the psbt decode shortcuts src/fast-decode/, not device pay\'s bundle src/fast-toll/.',
      from: { path: TOPICS },
      to: { path: '^src/(cli[.]ts$|fast-decode/|fast-toll/)' },
    },
    {
      name: 'signer-absent-in-the-plain-shortcut-only',
      severity: 'error',
      comment:
        'src/fast-decode/signer-absent.ts stands in for @scure/btc-signer in one bundle, psbt decode\'s first shortcut ' +
        '(src/fast-decode/plain.ts, which asks it whether it was touched): every name it exports throws.',
      from: { pathNot: '^src/fast-decode/plain[.]ts$' },
      to: { path: '^src/fast-decode/signer-absent[.]ts$' },
    },
    {
      name: 'unlayered',
      severity: 'error',
      comment:
        'Every source file belongs to a layer: a new src/lib/<folder>/ is added to this file (PRIMITIVE_NAMES or PROTOCOLS), ' +
        'with what it is built on, before it is imported.',
      from: { path: '^src/' },
      to: {
        path: '^src/',
        pathNot: [FOUNDATION, CATALOGUE, PRIMITIVES, PROTOCOL_FOLDERS, STORE, CLI, TOPICS, COMMANDS],
      },
    },
    {
      name: 'no-test-code',
      severity: 'error',
      comment: 'Shipped code never imports tests, their helpers, the independent verifier, benches or scripts.',
      from: { path: '^src/' },
      to: { path: '(^|/)(test|bench|scripts)/|[.](test|spec)[.]ts$' },
    },
    {
      name: 'no-dev-dependency',
      severity: 'error',
      comment:
        'Shipped code never imports a devDependency (the independent checkers such as @cashu/cashu-ts, test tools): `npm ci ' +
        '--omit=dev` would break it. Type-only imports of @types/* are erased and allowed.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: 'node_modules/@types/' },
    },
    {
      name: 'service-libraries-in-serve',
      severity: 'error',
      comment:
        'The HTTP server, its logger and metrics (fastify, @fastify/*, pino, prom-client) belong to the services\' shell, ' +
        'src/topics/serve/ and src/commands/serve/ — and the watcher, a long-running service too (src/topics/watch/: its JSON log and /metrics): ' +
        'protocols, stores and other commands stay free of them (and of their start-up cost).',
      from: { path: '^src/', pathNot: '^src/(topics|commands)/serve/|^src/topics/watch/' },
      to: { path: 'node_modules/(fastify|@fastify/[^/]+|pino|prom-client)/' },
    },
    {
      name: 'no-undeclared-package',
      severity: 'error',
      comment: 'Every package src/ imports is declared in package.json (one that only works as a transitive dependency breaks on any update).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-lazy-builtin',
      severity: 'error',
      comment:
        'No import() of a Node builtin: the bundle runs in a vm script (bin/run.js, the code cache), where import() fails. ' +
        'Import builtins statically (they cost nothing at start-up).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['core'], dynamic: true },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'Every import resolves: the rules cannot judge an edge they cannot see (tsc catches most of these first).',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    // Packages are resolved as Node resolves them (exports maps), so a devDependency is seen as one.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
