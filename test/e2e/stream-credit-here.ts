/**
 * stream-credit.ts's setup steps — `openContracts`, `payRequest`, `applyReceipt` — run
 * in this process (in-process-pipeline.ts: the built bundle's `main`, ~10 ms a step
 * instead of a ~0.15 CPU-s node process), for the streaming-mint tests whose point is the
 * `sign-update --role mint --stream` process, not the users' steps around it. The same
 * argv, environment, keys, funding PSBTs and state directories as stream-credit.ts;
 * test/e2e/credit-ecash.test.ts and credit-lifecycle.test.ts keep those steps spawned.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64, hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { pipelineInProcess } from './in-process-pipeline.ts';
import { MINT_PUB, PAYOUT, REFUND, fundingPsbt, message, mintStage, userStage, type Msg, type Parties, type User } from './stream-credit.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** stream-credit.ts `openContracts`, in this process. */
export async function openContractsHere(root: string, count: number, env: Record<string, string>, label = 'stream'): Promise<Parties> {
  const mintDir = join(root, 'mint');
  mkdirSync(mintDir, { recursive: true });
  const offer = message(await pipelineInProcess([mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer', 'offer');
  const offerPath = join(root, 'offer.json');
  writeFileSync(offerPath, offer.text);
  const users: User[] = [];
  for (let index = 0; index < count; index++) {
    const key = hex.encode(sha256(`offchain stream test user ${label} ${index}`));
    const pub = publicKeyOf(hex.decode(key));
    const output = musigTaprootOutput([pub, MINT_PUB]);
    const psbt = fundingPsbt(output.script, `${label} ${index}`);
    const user = { key, dir: join(root, `user-${index}`) };
    const opened = message(
      await pipelineInProcess(
        [
          userStage(user, env, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND),
          mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
          userStage(user, env, 'open-credit', '--role', 'user'),
        ],
        psbt,
      ),
      'credit/opened',
      `open contract ${index}`,
    );
    const funding = psbtUnsignedTx(base64.decode(psbt));
    users.push({ index, ...user, pub, contractId: opened.msg.contract_id, outputKey: output.outputKey, script: output.script, funding: { txid: funding.txid, vout: 0 } });
  }
  return { root, mintDir, users, env };
}

/** stream-credit.ts `payRequest`, in this process. */
export async function payRequestHere(user: User, amount: number, env: Record<string, string>): Promise<{ line: string; msg: Msg }> {
  const { msg } = message(await pipelineInProcess([userStage(user, env, 'sign-update', '--role', 'user', '--amount', String(amount))], ''), 'credit/update-request', `user ${user.index} pays ${amount}`);
  return { line: JSON.stringify(msg), msg };
}

/** stream-credit.ts `applyReceipt`, in this process. */
export async function applyReceiptHere(user: User, receipt: string, env: Record<string, string>): Promise<Msg> {
  return message(await pipelineInProcess([userStage(user, env, 'sign-update', '--role', 'user')], receipt), 'credit/balance', `user ${user.index} applies a receipt`).msg;
}
