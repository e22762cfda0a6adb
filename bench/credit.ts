/**
 * Benchmark setup for the mint's streaming mode (bundled to dist/bench-credit.js).
 * Builds, in a fresh state directory, a mint with `contracts` open contracts and, for
 * each, `payments` successive update requests (signed by the users, as `sign-update
 * --role user` would), interleaved across contracts in a JSON Lines file: the steady
 * state of a mint whose users pay repeatedly. Bench-only shortcuts, which do not change
 * the mint's work per update: contracts go straight into the mint's store (no refund
 * round), and each contract's mint nonces for states 1..payments are issued up front
 * (the mint still issues the next nonce with every receipt, as always).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { keyPair } from '../src/lib/keys/keys.ts';
import { equalBytes, fromHex, toHex } from '../src/lib/bytes.ts';
import { OfflineChainSource } from '../src/lib/chain/offline.ts';
import { scriptAddress } from '../src/lib/address.ts';
import { taprootOutput } from '../src/lib/taproot/taproot.ts';
import { deterministicRandom } from '../src/lib/random.ts';
import { openMint } from './stores.ts';
import { makeContract } from '../src/lib/credit/terms.ts';
import { termsToJson } from '../src/lib/credit/codec.ts';
import { buildState } from '../src/lib/credit/transactions.ts';
import { issueStateNonce, userSignAgainst } from '../src/lib/credit/signing.ts';
import { serializePsbt } from '../src/lib/psbt/parse.ts';
import type { MintContractRecord } from '../src/lib/credit/ports.ts';

/**
 * With `ecash`, the offer names a keyset (Nutshell's derivation of the seed `ecash`) and
 * every request carries 5 NUT-13 blinded messages (992 sat = 512+256+128+64+32), signed
 * by the user as `sign-update --role user` signs them (authorizeOutputs), so the mint also
 * makes 5 blind signatures with DLEQ proofs per update. The keysets document and the offer
 * are written as `open-credit --role mint --publish` writes them (publishedKeysets: sealed
 * under the seed, which the mint checks before it signs; makeOffer).
 *
 * `amountSat`: each payment's amount (default 1,000 sat, 992 with ecash; at least the payout's
 * dust threshold, 330 sat). A contract holds 1,000,000 sat, so a long run on few contracts
 * pays less each time.
 */
export async function setupMintStream(opts: { dir: string; contracts: number; payments?: number; mintKeyHex: string; ecash?: string; amountSat?: number }) {
  const payments = opts.payments ?? 1;
  const { deriveMintKeyset } = await import('../src/lib/ecash/nut01.ts');
  const { authorizeOutputs, makeOutputs } = await import('../src/lib/credit/ecash.ts');
  const { publishedKeysets } = await import('../src/lib/credit/ecash-reproduce.ts');
  const { ECASH_KEYSETS_DOC } = await import('../src/lib/credit/ecash-keysets.ts');
  const { makeOffer } = await import('../src/lib/credit/mint.ts');
  const issuing = opts.ecash ? publishedKeysets(opts.ecash, deriveMintKeyset(opts.ecash), undefined) : undefined;
  const keyset = issuing?.keyset;
  const amount = opts.amountSat ?? (keyset ? 992 : 1000);
  const mint = keyPair(fromHex(opts.mintKeyHex));
  const payout = scriptAddress(taprootOutput(mint.xOnly).script, 'regtest')!;
  const mintDir = join(opts.dir, 'regtest');
  const store = await openMint<MintContractRecord>(mintDir, mint.secretKey);
  const offer = makeOffer('regtest', mint.publicKey, {
    payoutAddress: payout, minFeeRate: 1, safetyMargin: 144, minConfirmations: 1, minExpiry: 100, maxExpiry: 100_000,
    ...(keyset ? { ecash: { keyset, mintUrl: 'http://localhost:3338' } } : {}),
  });
  if (issuing) await store.writeDoc(ECASH_KEYSETS_DOC, issuing.doc);
  await store.writeDoc('offer', offer);
  const random = deterministicRandom('bench');
  const rounds: string[][] = Array.from({ length: payments }, () => []);
  for (let i = 0; i < opts.contracts; i++) {
    const user = keyPair(fromHex((i + 1).toString(16).padStart(64, '7')));
    const c = makeContract({
      network: 'regtest', userPubkey: user.publicKey, mintPubkey: mint.publicKey, capacity: 1_000_000n,
      funding: { txid: toHex(random.bytes(32, 'txid')), vout: 0 }, expiryHeight: 10_000,
      refundScript: taprootOutput(user.xOnly).script, changeScript: taprootOutput(user.xOnly).script, payoutScript: taprootOutput(mint.xOnly).script, feeRate: 2,
    });
    await store.put({ contract_id: c.id, network: 'regtest', contract: termsToJson(c), status: 'open', next_state: 1, open_accept: {} });
    for (let state = 1; state <= payments; state++) {
      const nonce = await issueStateNonce(store, random, mint, c, state);
      const tx = buildState(c, BigInt(state * amount));
      userSignAgainst(tx, 0, user, mint.publicKey, nonce);
      const outputs = keyset ? makeOutputs(fromHex((i + 1).toString(16).padStart(64, '5')), keyset.id, (state - 1) * 5, BigInt(amount)) : undefined;
      const body = { contract_id: c.id, state, amount_sat: amount, cumulative_sat: state * amount };
      const outputsSignature = outputs
        ? authorizeOutputs(user, { ...body, txid: tx.id, mint_pubnonce: fromHex(nonce.pubnonce, 'mint nonce', 66), outputs }, random.bytes(32, 'aux'))
        : undefined;
      rounds[state - 1]!.push(JSON.stringify({
        type: 'credit/update-request', version: 1, network: 'regtest', ...body,
        psbt: base64.encode(serializePsbt(tx)), ...(outputs ? { outputs, outputs_signature: outputsSignature } : {}),
      }));
    }
  }
  const lines = rounds.flat();
  await store.close();
  writeFileSync(join(opts.dir, 'requests.jsonl'), lines.join('\n') + '\n');
  return { requests: join(opts.dir, 'requests.jsonl') };
}

/**
 * What one update costs, part by part: the steps of `acceptUpdate` (src/lib/credit/mint.ts),
 * in its order, each timed, over the requests the stream serves (prepared once by
 * setupMintStream in `setup`, copied here) — plus the stream's own parts (JSON in, receipt
 * out, the group commit). In process, on one backend, every cache as cold as the stream's.
 * A bench, not a second mint: it calls the library's exported steps, then runs the same
 * requests through `acceptUpdate` itself on a fresh copy and checks that both produced the
 * same receipts.
 */
export async function mintBreakdown(opts: { setup: string; dir: string; mintKeyHex: string; backend: string; limit?: number }) {
  const { selectBackend } = await import('../src/lib/musig/bip327.ts');
  const selection = await selectBackend(opts.backend as never);
  if (selection.engine !== opts.backend) return undefined;
  const { readFileSync, cpSync } = await import('node:fs');
  const { decodeMessage } = await import('../src/lib/message.ts');
  const { UpdateRequestSchema } = await import('../src/lib/credit/schemas.ts');
  const { termsFromJson } = await import('../src/lib/credit/codec.ts');
  const { parsePsbtBase64 } = await import('../src/lib/psbt/parse.ts');
  const { checkState } = await import('../src/lib/credit/rules.ts');
  const { readMusigInput, verifyPartialSigs, lastSignature } = await import('../src/lib/musig/psbt-keypath.ts');
  const { signedKeyPathTx, stateNonceContext } = await import('../src/lib/credit/signing.ts');
  const { acceptUpdate } = await import('../src/lib/credit/mint.ts');
  const { signAnswer } = await import('../src/lib/credit/answer-signature.ts');
  const { stringifyLine } = await import('../src/lib/json.ts');
  const { setBasePointWindow } = await import('../src/lib/curve.ts');
  setBasePointWindow(8); // as the stream does
  // Two copies of the prepared mint (setupMintStream): one for the parts, one for the whole.
  cpSync(join(opts.setup, 'regtest'), join(opts.dir, 'regtest'), { recursive: true });
  cpSync(join(opts.setup, 'regtest'), join(opts.dir, 'whole'), { recursive: true });
  const lines = readFileSync(join(opts.setup, 'requests.jsonl'), 'utf8').trim().split('\n').slice(0, opts.limit);
  const mint = keyPair(fromHex(opts.mintKeyHex));
  const random = deterministicRandom('bench-breakdown');

  // CPU time (getrusage, ~1 µs a lap, counted in the part it ends), not wall time: on a loaded
  // machine wall time counts other processes' turns too.
  const parts = new Map<string, number>();
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let t = cpuMs();
  const lap = (name: string) => {
    const now = cpuMs();
    parts.set(name, (parts.get(name) ?? 0) + now - t);
    t = now;
  };
  const store = await openMint<MintContractRecord>(join(opts.dir, 'regtest'), mint.secretKey);
  // The chain as the CLI's offline mint sees it (--tip-height 1000 --confirmations 1).
  const fundings = (await store.list()).map((r) => termsFromJson(r.contract, 'regtest'));
  const chain = new OfflineChainSource({
    tipHeight: 1000,
    utxos: fundings.map((c) => ({ txid: c.funding.txid, vout: c.funding.vout, value: c.capacity, scriptPubKey: c.script, confirmations: 1 })),
  });
  const receipts: string[] = [];
  t = cpuMs();
  for (const [n, line] of lines.entries()) {
    const req = decodeMessage(UpdateRequestSchema, JSON.parse(line));
    lap('request JSON and schema');
    const record = (await store.get(req.contract_id))!;
    const c = termsFromJson(record.contract, 'regtest');
    lap('contract (record, terms)');
    const tx = parsePsbtBase64(req.psbt, 'psbt');
    lap('PSBT (parsePsbt)');
    checkState(tx, c, BigInt(req.cumulative_sat), 1);
    lap('rules (checkState)');
    const input = readMusigInput(tx, 0);
    lap('MuSig2 input: key, sighash');
    await chain.tip();
    await chain.utxo(c.funding.txid, c.funding.vout);
    lap('chain facts');
    verifyPartialSigs(input);
    lap("user's partial signature verified");
    const me = input.key.participants.findIndex((p) => equalBytes(p, mint.publicKey));
    const secnonce = await store.take(input.pubnonces[me]!, stateNonceContext(c.id, req.state));
    lap('nonce taken (store)');
    const sig = lastSignature(input, mint, secnonce);
    lap('sign, aggregate, verify');
    const signed = signedKeyPathTx(tx, sig);
    lap('signed transaction');
    const next = await issueStateNonce(store, random, mint, c, req.state + 1);
    lap('next nonce (NonceGen, store)');
    const receipt = signAnswer({ type: 'credit/receipt', version: 1, network: 'regtest', contract_id: c.id, state: req.state, amount_sat: req.amount_sat, cumulative_sat: req.cumulative_sat, txid: signed.txid, next_nonce: next }, mint);
    lap('receipt signed (BIP-340, the mint key)');
    await store.put({ ...record, next_state: req.state + 1, latest: { state: req.state, cumulative_sat: req.cumulative_sat, txid: signed.txid, hex: signed.hex, receipt } } as MintContractRecord);
    lap('state stored');
    receipts.push(stringifyLine(receipt));
    lap('receipt JSON');
    if ((n + 1) % 256 === 0 || n === lines.length - 1) {
      await store.commit();
      lap('group commit (per update)');
    }
  }
  await store.close();

  // The whole: acceptUpdate on a fresh copy of the same store, the same requests — a check
  // that the parts are acceptUpdate's work, not a timing (its caches are warm by now).
  const whole = await openMint<MintContractRecord>(join(opts.dir, 'whole'), mint.secretKey);
  const policy = { ...whole.readDoc<Record<string, unknown>>('offer'), min_fee_rate: 1 } as never;
  const ctx = { network: 'regtest' as const, mint, policy, records: whole, funding: whole, nonces: whole, random: deterministicRandom('bench-breakdown'), chain };
  const wholeReceipts: string[] = [];
  for (const [n, line] of lines.entries()) {
    wholeReceipts.push(stringifyLine(await acceptUpdate(ctx as never, decodeMessage(UpdateRequestSchema, JSON.parse(line)))));
    if ((n + 1) % 256 === 0 || n === lines.length - 1) await whole.commit();
  }
  await whole.close();
  if (wholeReceipts.join('') !== receipts.join('')) throw new Error('the breakdown did not produce the receipts acceptUpdate produces');
  await selectBackend('noble');
  const perUpdate = (ms: number) => (ms * 1000) / lines.length;
  return { updates: lines.length, parts: [...parts].map(([name, ms]) => [name, perUpdate(ms)] as [string, number]) };
}

/**
 * One blind signature with its DLEQ proof (NUT-00 C_ = k·B_, NUT-12 deterministic nonce),
 * in µs, over `n` random blinded messages; and the user's side (verify DLEQ + unblind).
 */
export async function blindSignatureCost(n = 500): Promise<{ sign_us: number; sign_dleq_us: number; verify_unblind_us: number }> {
  const { deriveMintKeyset } = await import('../src/lib/ecash/nut01.ts');
  const { blindMessage, secretPoint, signBlindedMessage, unblindSignature } = await import('../src/lib/ecash/nut00.ts');
  const { createDleq, verifyDleq } = await import('../src/lib/ecash/nut12.ts');
  const { setBasePointWindow } = await import('../src/lib/curve.ts');
  setBasePointWindow(8);
  const ks = deriveMintKeyset('TEST_PRIVATE_KEY');
  const k = ks.privateKeys.get(8n)!;
  const A = ks.points.get(8n)!;
  const rs = Array.from({ length: n }, (_, i) => BigInt(i + 1) * 0x9e3779b97f4a7c15n + 12345n);
  // B_ = Y + r·G for a secret's Y, as a wallet blinds (r·G alone would unblind to the point at infinity).
  const Bs = rs.map((r, i) => blindMessage(secretPoint(`bench-secret-${i}`), r));
  let t0 = performance.now();
  const Cs = Bs.map((B) => signBlindedMessage(k, B));
  const sign = (performance.now() - t0) / n;
  t0 = performance.now();
  const proofs = Bs.map((B, i) => createDleq(k, B, Cs[i]!));
  const dleq = (performance.now() - t0) / n;
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (!verifyDleq(proofs[i]!, A, Bs[i]!, Cs[i]!)) throw new Error('DLEQ does not verify');
    unblindSignature(Cs[i]!, rs[i]!, A);
  }
  const verify = (performance.now() - t0) / n;
  return { sign_us: sign * 1000, sign_dleq_us: (sign + dleq) * 1000, verify_unblind_us: verify * 1000 };
}

/**
 * The crypto ceiling of a mint update, the anchor the stream is quoted against: the same
 * MuSig2 work and nothing else — NonceAgg, the session, the user's partial signature
 * verified, the mint's Sign, PartialSigAgg, BIP-340 Verify of the result, and the next
 * NonceGen — over the requests the stream serves (prepared by setupMintStream in `setup`,
 * copied here), on one backend, in CPU µs per update (process.cpuUsage). Everything else
 * (PSBT, sighash, store) is done before the clock starts; the secret nonces are taken from
 * a copy of the mint's store, as the stream takes them.
 */
export async function musigCeiling(opts: { setup: string; dir: string; mintKeyHex: string; backend: string; first?: number }) {
  const { selectBackend, nonceAgg, nonceGen, Session, bip340Verify } = await import('../src/lib/musig/bip327.ts');
  const selection = await selectBackend(opts.backend as never);
  if (selection.engine !== opts.backend) return undefined;
  const { readFileSync, cpSync } = await import('node:fs');
  const { utf8 } = await import('../src/lib/bytes.ts');
  const { parsePsbtBase64 } = await import('../src/lib/psbt/parse.ts');
  const { readMusigInput, signingSessionDigest } = await import('../src/lib/musig/psbt-keypath.ts');
  const { stateNonceContext } = await import('../src/lib/credit/signing.ts');
  const { setBasePointWindow } = await import('../src/lib/curve.ts');
  setBasePointWindow(8); // as the stream does
  cpSync(join(opts.setup, 'regtest'), join(opts.dir, 'regtest'), { recursive: true });
  const mint = keyPair(fromHex(opts.mintKeyHex));
  const store = await openMint<MintContractRecord>(join(opts.dir, 'regtest'), mint.secretKey);
  const random = deterministicRandom('bench-ceiling');
  const work = [];
  for (const line of readFileSync(join(opts.setup, 'requests.jsonl'), 'utf8').trim().split('\n')) {
    const req = JSON.parse(line) as { contract_id: string; state: number; psbt: string };
    const input = readMusigInput(parsePsbtBase64(req.psbt, 'psbt'), 0);
    const me = input.key.participants.findIndex((p) => equalBytes(p, mint.publicKey));
    const context = stateNonceContext(req.contract_id, req.state);
    const secnonce = await store.take(input.pubnonces[me]!, context, signingSessionDigest(input));
    work.push({ input, me, secnonce, next: utf8(stateNonceContext(req.contract_id, req.state + 1)), rand: random.bytes(32, 'next') });
  }
  await store.close();
  // The first `first` updates timed apart from the rest: the stream's row is its first ones
  // (JIT warm-up included), its sustained row the rest (bench/credit-run.mjs).
  const first = Math.min(opts.first ?? work.length, work.length);
  const cpu0 = process.cpuUsage();
  let cpuFirst = cpu0;
  for (const [n, { input, me, secnonce, next, rand }] of work.entries()) {
    if (n === first) cpuFirst = process.cpuUsage();
    const nonces = input.pubnonces as Uint8Array[];
    const s = new Session({ aggnonce: nonceAgg(nonces), pubkeys: input.key.participants, msg: input.msg, tweaks: [input.key.output.tweak], isXonly: [true] });
    const psigs = [...input.partialSigs] as Uint8Array[];
    if (!s.partialSigVerify(psigs[1 - me]!, nonces, 1 - me)) throw new Error('the user\'s partial signature does not verify');
    psigs[me] = s.sign(secnonce, mint.secretKey, { publicKey: mint.publicKey, selfCheck: false });
    if (!bip340Verify(s.partialSigAgg(psigs), input.msg, input.key.output.outputKey)) throw new Error('the signature does not verify');
    nonceGen(mint.publicKey, mint.secretKey, input.key.output.outputKey, undefined, next, rand);
  }
  const end = process.cpuUsage();
  if (first === work.length) cpuFirst = end;
  await selectBackend('noble');
  const us = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => b.user + b.system - a.user - a.system;
  return {
    updates: work.length,
    us_per_update: us(cpu0, end) / work.length,
    us_first: us(cpu0, cpuFirst) / first,
    ...(first < work.length ? { us_rest: us(cpuFirst, end) / (work.length - first) } : {}),
  };
}
