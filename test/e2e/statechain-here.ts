/**
 * statechain-flow.ts's `flow`, in this process: each party's step runs the built bundle's
 * `main` here (in-process.ts; ~10 ms instead of a ~0.15 CPU-s node process) with the same
 * argv — its key env name, its state directory, the chain flags — and environment. For
 * the steps whose point is what a command answers or refuses; the files that use it keep
 * spawned samples through `flow`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { KEYS, OPERATOR_PUB, TERMS, fundingPsbt, ok, partyArgs, type CoinView } from './statechain-flow.ts';

/** Parties whose every step is awaited (in this process, or some spawned: test/pg/owner-steps.ts), in `dir`. */
export type AsyncFlow = { dir: string; as(who: string, args: string[], input?: string): Promise<Run> };

export function flowHere(dir: string, chain: () => string[], env: Record<string, string> = {}): AsyncFlow {
  return {
    dir,
    as: (who, args, input) => runInProcess(partyArgs(dir, chain, who, args), { input, env: { ...KEYS, ...env } }),
  };
}

/** test/e2e/statechain-flow.ts depositThrough, on an AsyncFlow: deposit steps 1–5. */
export async function depositVia(f: AsyncFlow, owner: string, funding: (address: string) => string, terms: string[] = TERMS) {
  const request = ok(await f.as(owner, ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
  const offer = ok(await f.as('OPERATOR_KEY', ['statechain-deposit', ...terms], request));
  const { coin_id: coinId, statement } = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
  const fundingFile = join(f.dir, `${coinId}.funding.hex`);
  writeFileSync(fundingFile, funding(statement.address));
  const psbtFile = join(f.dir, `${coinId}.funding.psbt`);
  writeFileSync(psbtFile, fundingPsbt(readFileSync(fundingFile, 'utf8')));
  const backupReq = ok(await f.as(owner, ['statechain-deposit', '--funding', psbtFile], offer));
  const cosigned = ok(await f.as('OPERATOR_KEY', ['statechain-deposit'], backupReq));
  const coin = JSON.parse(ok(await f.as(owner, ['statechain-deposit'], cosigned))) as CoinView;
  return { coinId, coin, request, offer, backupReq, cosigned, fundingFile };
}

/** test/e2e/statechain-flow.ts transferThrough, on an AsyncFlow: transfer steps 1–7. */
export async function transferVia(f: AsyncFlow, coinId: string, operatorPub: string, sender: string, receiver: string) {
  const request = ok(await f.as(receiver, ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub]));
  const sign = ok(await f.as(sender, ['statechain-transfer'], request));
  const cosigned = ok(await f.as('OPERATOR_KEY', ['statechain-transfer'], sign));
  const pkg = ok(await f.as(sender, ['statechain-transfer'], cosigned));
  const verified = JSON.parse(ok(await f.as(receiver, ['statechain-verify'], pkg))) as { transfers_remaining: number; backups: number };
  const accept = ok(await f.as(receiver, ['statechain-transfer'], pkg));
  const done = ok(await f.as('OPERATOR_KEY', ['statechain-transfer'], accept));
  const coin = JSON.parse(ok(await f.as(receiver, ['statechain-transfer'], done))) as CoinView;
  return { request, sign, cosigned, pkg, verified, accept, done, coin };
}

