/**
 * Credit stages (test/e2e/stream-credit.ts `mintStage` / `userStage`) run in this process,
 * one after the other, each fed the whole output of the one before: the built bundle's
 * `main` (test/e2e/in-process.ts, ~0.03 CPU-s instead of ~0.15 a spawn), same argv,
 * environment and --state-dir as the spawned stage.
 *
 * For setup whose processes are not under test: the SQLite mints and users a PostgreSQL
 * migration starts from (test/pg/migrate.test.ts, where `credit store migrate`, the mint on
 * the store and every refusal stay real processes). `openContracts` through OS pipes is the
 * e2e suite's (test/e2e/stream-credit.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { base64, hex } from '@scure/base';
import type { Run, Stage } from '../e2e/cli.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { MINT_PUB, PAYOUT, REFUND, fundingPsbt, message, mintStage, userStage, type Parties, type User } from '../e2e/stream-credit.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** `a | b | c`, every stage in process in turn: each stage's result, as `pipeline` gives them. */
export async function inProcess(stages: Stage[], input: string): Promise<Run[]> {
  const runs: Run[] = [];
  let feed = input;
  for (const s of stages) {
    const r = await runInProcess(s.args, { input: feed, env: s.env });
    runs.push(r);
    feed = r.stdout;
  }
  return runs;
}

/** test/e2e/stream-credit.ts `openContracts` (the same keys, PSBTs and steps), every stage in process. */
export async function openContractsInProcess(root: string, count: number, env: Record<string, string>, label = 'stream'): Promise<Parties> {
  const mintDir = join(root, 'mint');
  mkdirSync(mintDir, { recursive: true });
  const offer = message(await inProcess([mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer', 'offer');
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
      await inProcess(
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
