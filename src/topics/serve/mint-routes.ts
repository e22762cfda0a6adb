/**
 * The credit mint's endpoints (`offchain serve mint`, docs/serve.md "The credit mint"): the
 * table docs/serve.md shows and test/e2e/serve-mint.test.ts iterates. Every POST of the credit
 * protocol goes through the mint's group commit (src/topics/credit/mint-batch.ts) to the step the
 * one-shot command calls (src/topics/credit/mint-steps.ts); every read goes through it too, so a
 * read sees what its batch commits and is released after that commit.
 *
 *   method path                     listener  in → out                                  step
 *   GET  /v1/credit/offer           public    — → credit/offer (as stored at --publish)  readDoc('offer')
 *   GET  /v1/keys                   public    — → NUT-01 {keysets:[active]}              keysAnswer (as credit keyset)
 *   GET  /v1/keys/:id               public    — → NUT-01 {keysets:[that one]}            keysAnswer over the kept keysets
 *   GET  /v1/keysets                public    — → NUT-02 {keysets:[{id,unit,active,…}]}  the store's ecash-keysets document (checked)
 *   POST /v1/restore                public    NUT-09 request → NUT-09 response           restoreSignatures (as credit ecash restore)
 *   POST /v1/credit/open            public    credit/open-request → credit/open-accept   acceptOpen
 *   POST /v1/credit/update          public    credit/update-request → credit/receipt     acceptUpdate
 *   POST /v1/credit/abandon         public    credit/abandon → credit/abandoned          acceptAbandon
 *   POST /v1/credit/close           public    credit/close-request → credit/closed       acceptClose
 *   POST /v1/credit/rollover        public    credit/rollover-request → rollover-refund  proposeRollover
 *   POST /v1/credit/rollover/sign   public    credit/rollover-sign → rollover-accept     acceptRollover
 *   GET  /v1/operator/contracts     operator  — → credit/contracts (as credit list)      contractsList
 *   POST /v1/operator/exit          operator  {contract_id?, fee_rate, to?, broadcast?,  creditExit (as credit exit:
 *                                             dry_run?} → credit/exit                    frozen unless dry_run)
 *
 * A POST of another message type than its route's is E_WRONG_MESSAGE; of another network,
 * E_NETWORK_MISMATCH. The NUT routes answer refusals in NUT-00's {detail, code}. The exit is
 * served only where the command binds `exit` (serve mint; serve gateway claims instead).
 */
import { OffchainError, ExitCode } from '../../lib/errors.ts';
import { resolveNetwork } from '../../lib/network.ts';
import type { MintContext, MintContractRecord } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { Network } from '../../lib/network.ts';
import type { MintBatch } from '../credit/mint-batch.ts';
import type { MintStepType } from '../credit/mint-steps.ts';
import type { Route } from './route.ts';
import type { ExitRequest } from '../credit/exit.ts';
import { ExitBody, exitSwitches, type OperatorBody } from './operator-request.ts';
import type { Gauge } from './metrics.ts';
import { routePlugin, type RoutePlugin } from './routes-plugin.ts';
import { Type, type TObject } from '@sinclair/typebox';
import { AbandonSchema, CloseRequestSchema, OpenRequestSchema, RolloverRequestSchema, RolloverSignSchema, UpdateRequestSchema } from '../../lib/credit/schemas.ts';
import { RestoreRequestSchema } from '../../lib/credit/schemas-ecash.ts';
import { readRestoreRequest } from '../../lib/credit/ecash-restore.ts';

export type MintServe = {
  network: Network; ctx: MintContext; store: MintStorePort<MintContractRecord>; batch: MintBatch;
  /** `credit exit`'s step bound by the command (ExitSteps.creditExit), run through `batch`. */
  exit?: (r: ExitRequest) => Promise<Record<string, unknown>>;
};

/** The routes of the credit protocol's POSTs: path → the message type it takes, and its schema (schemas/credit.*.json). */
export const MINT_POSTS: readonly { path: string; step: string; type: MintStepType; out: string; schema: TObject }[] = [
  { path: '/v1/credit/open', step: 'open', type: 'credit/open-request', out: 'credit/open-accept', schema: OpenRequestSchema },
  { path: '/v1/credit/update', step: 'update', type: 'credit/update-request', out: 'credit/receipt', schema: UpdateRequestSchema },
  { path: '/v1/credit/abandon', step: 'abandon', type: 'credit/abandon', out: 'credit/abandoned', schema: AbandonSchema },
  { path: '/v1/credit/close', step: 'close', type: 'credit/close-request', out: 'credit/closed', schema: CloseRequestSchema },
  { path: '/v1/credit/rollover', step: 'rollover', type: 'credit/rollover-request', out: 'credit/rollover-refund', schema: RolloverRequestSchema },
  { path: '/v1/credit/rollover/sign', step: 'rollover-sign', type: 'credit/rollover-sign', out: 'credit/rollover-accept', schema: RolloverSignSchema },
];

/** NUT-09's PostRestoreRequest as a wallet POSTs it, or with our envelope (credit/restore-request); read by readRestoreRequest. */
const RestoreBody = Type.Union([RestoreRequestSchema, Type.Object({ outputs: RestoreRequestSchema.properties.outputs }, { description: 'NUT-09 PostRestoreRequest' })]);

/** A keyset id as NUT-01 names it in the path (any other string is an unknown keyset: NUT-00 code 12001). */
const KeysetParams = Type.Object({ id: Type.String({ description: 'keyset id' }) });

/** credit list's --expiring-within as the query's expiring-within. */
const ContractsQuery = Type.Object({ 'expiring-within': Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'only contracts expiring within N blocks' })) });

/** NUT-00 error code of an unknown keyset (Nutshell's KeysetNotFoundError). */
const NUT_UNKNOWN_KEYSET = 12001;

/**
 * The mint's gauges (docs/serve.md, "Metrics"): the contracts it keeps (open, closing or
 * rolling over) and the nonces it issued that no signature consumed yet — read in the
 * batch's order (one COUNT query each), at most once per 10 s however often it is scraped.
 */
export function mintGauges(m: Pick<MintServe, 'store' | 'batch'>): Gauge[] {
  let cached: { at: number; counts: Promise<{ contracts: number; unusedNonces: number }> } | undefined;
  const counts = () => {
    if (!cached || Date.now() - cached.at > 10_000) {
      cached = { at: Date.now(), counts: m.batch.read(() => m.store.counts()) };
      cached.counts.catch(() => (cached = undefined));
    }
    return cached.counts;
  };
  return [
    { name: 'offchain_contracts', help: 'Contracts the mint keeps: open, closing or rolling over', read: async () => (await counts()).contracts },
    { name: 'offchain_nonces_outstanding', help: 'Mint nonces issued and not yet consumed by a signature', read: async () => (await counts()).unusedNonces },
  ];
}

export function mintRoutes(m: MintServe): Route[] {
  const { ctx, store, batch, network } = m;
  const signer = () => ctx.ecash?.signer;
  const posts: Route[] = MINT_POSTS.map((p) => ({
    method: 'POST', path: p.path, step: p.step, listener: 'public', in: p.type, out: p.out, schema: { body: p.schema },
    // The body was decoded as p.type by the route's check (./routes-plugin.ts messageCheck: envelope,
    // network, schema) before this handler: the step is bound to it as it is, not decoded again.
    handle: (req) => batch.submitDecoded(req.body, p.type),
  }));
  return [
    {
      method: 'GET', path: '/v1/credit/offer', step: 'offer', listener: 'public', in: '—', out: 'credit/offer',
      handle: () => batch.read(async () => (await store.readDoc('offer'))!),
    },
    {
      method: 'GET', path: '/v1/keys', step: 'keys', listener: 'public', in: '—', out: 'NUT-01 GetKeysResponse', errors: 'nut',
      handle: () => batch.read(async () => {
        const s = signer();
        if (!s) return { keysets: [] };
        const { keysAnswer } = await import('../../lib/ecash/nut01.ts');
        return keysAnswer((await s.refresh()).active);
      }),
    },
    {
      method: 'GET', path: '/v1/keys/:id', step: 'keys-id', listener: 'public', in: '—', out: 'NUT-01 GetKeysResponse', errors: 'nut', schema: { params: KeysetParams },
      handle: (req) => batch.read(async () => {
        const id = req.params['id'] ?? '';
        const s = signer();
        const kept = s ? await s.kept() : undefined;
        const ks = /^[0-9a-f]{16}$|^[0-9a-f]{66}$/.test(id) ? kept?.keyset(id) : undefined;
        if (!ks) throw new OffchainError('E_UNKNOWN_KEYSET', `this credit mint keeps no keyset ${JSON.stringify(id.slice(0, 70))}`, ExitCode.refused, { nut_code: NUT_UNKNOWN_KEYSET });
        const { keysAnswer } = await import('../../lib/ecash/nut01.ts');
        const { doc } = await s!.refresh();
        const answer = keysAnswer(ks);
        answer.keysets[0]!.active = doc.active === ks.id;
        return answer;
      }),
    },
    {
      method: 'GET', path: '/v1/keysets', step: 'keysets', listener: 'public', in: '—', out: 'NUT-02 GetKeysetsResponse', errors: 'nut',
      handle: () => batch.read(async () => {
        const s = signer();
        if (!s) return { keysets: [] };
        const { doc } = await s.refresh();
        return { keysets: doc.keysets.filter((k) => k.listed).map((k) => ({ id: k.id, unit: k.unit, active: k.id === doc.active, input_fee_ppk: k.input_fee_ppk, final_expiry: k.final_expiry })) };
      }),
    },
    {
      method: 'POST', path: '/v1/restore', step: 'restore', listener: 'public', in: 'NUT-09 PostRestoreRequest', out: 'NUT-09 PostRestoreResponse', errors: 'nut',
      // A wallet restores in batches of outputs: 1000 of them are about 150 KiB of JSON.
      bodyLimit: 256 * 1024,
      schema: { body: RestoreBody },
      decode: { body: readRestoreRequest },
      handle: (req) => batch.read(async () => {
        const { restoreSignatures } = await import('../../lib/credit/ecash-restore.ts');
        const r = readRestoreRequest(req.body);
        // A bare NUT-09 body names no network; a credit/restore-request does, and must be this mint's.
        resolveNetwork(network, (req.body as { network?: Network }).network);
        const s = signer();
        return restoreSignatures(store, s ? await s.kept() : [], r);
      }),
    },
    ...posts,
    {
      method: 'GET', path: '/v1/operator/contracts', step: 'contracts', listener: 'operator', in: '—', out: 'credit/contracts', schema: { querystring: ContractsQuery },
      handle: (req) => batch.read(async () => {
        const text = req.query['expiring-within'];
        const { contractsList } = await import('../credit/list.ts');
        return contractsList(store, ctx.policy, ctx.chain, network, text === undefined ? undefined : Number(text));
      }),
    },
    ...(m.exit ? [exitRoute(m.exit)] : []),
  ];
}

/** POST /v1/operator/exit: `credit exit`'s flags as a JSON object (no --child: the route signs with the mint key only). */
function exitRoute(exit: NonNullable<MintServe['exit']>): Route {
  return {
    method: 'POST', path: '/v1/operator/exit', step: 'exit', listener: 'operator', in: '{contract_id?, fee_rate, to?, broadcast?, dry_run?}', out: 'credit/exit',
    schema: { body: ExitBody },
    handle: async (req) => {
      const b = req.body as OperatorBody<typeof ExitBody>;
      return exit({ feeRate: b.fee_rate, ...(b.to !== undefined ? { to: b.to } : {}), ...exitSwitches(b), ...(b.contract_id ? { contract: b.contract_id } : {}) });
    },
  };
}

/** The mint's routes as one fastify plugin (./routes-plugin.ts). */
export function mintPlugin(m: MintServe): RoutePlugin {
  return routePlugin(mintRoutes(m));
}
