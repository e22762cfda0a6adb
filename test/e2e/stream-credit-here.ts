/**
 * stream-credit.ts's setup steps — `openContracts`, `payRequest`, `applyReceipt` — run in
 * this process (in-process.ts `pipelineInProcess`: the built bundle's `main`, ~10 ms a step
 * instead of a ~0.15 CPU-s node process), for the streaming-mint tests whose point is the
 * `sign-update --role mint --stream` process, not the users' steps around it. The same argv,
 * environment, keys, funding PSBTs and state directories; test/e2e/credit-ecash.test.ts and
 * credit-lifecycle.test.ts keep those steps spawned.
 */
import { pipelineInProcess } from './in-process.ts';
import { applyReceipt, openContracts, payRequest, type Msg, type Parties, type User } from './stream-credit.ts';

export const openContractsHere = (root: string, count: number, env: Record<string, string>, label = 'stream'): Promise<Parties> => openContracts(root, count, env, label, pipelineInProcess);

export const payRequestHere = (user: User, amount: number, env: Record<string, string>): Promise<{ line: string; msg: Msg }> => payRequest(user, amount, env, pipelineInProcess);

export const applyReceiptHere = (user: User, receipt: string, env: Record<string, string>): Promise<Msg> => applyReceipt(user, receipt, env, pipelineInProcess);
