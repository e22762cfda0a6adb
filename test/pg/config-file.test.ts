/**
 * The compose file's layout on a real PostgreSQL (deploy/compose/compose.yaml, docs/deploy.md):
 * one configuration file names the store, its password file, the key and the listeners; the
 * offer is published with `credit open --config F` and two `serve mint --config F` processes,
 * given nothing else, serve it from the one store.
 */
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { run } from '../e2e/cli.ts';
import { ServeProcess } from '../e2e/serve-process.ts';
import { describePostgres } from './fixture.ts';

describePostgres('serve mint --config F alone, on PostgreSQL', (fx) => {
  it('publishes, then two processes serve the offer from the store the file names', async () => {
    const url = await fx.server.createDatabase('config_file');
    const key = join(fx.root, 'mint.key');
    copyFileSync(join(ROOT, 'fixtures/keys/mint.key'), key);
    chmodSync(key, 0o600);
    const pw = join(fx.root, 'store.password');
    writeFileSync(pw, `${fx.server.password}\n`, { mode: 0o600 });
    // deploy/compose/mint.conf, its addresses and paths this test's.
    const conf = join(fx.root, 'mint.conf');
    writeFileSync(conf, readFileSync(join(ROOT, 'deploy/compose/mint.conf'), 'utf8')
      .replace(/^state_dir=.*$/m, `state_dir=${join(fx.root, 'state')}`)
      .replace(/^key_file=.*$/m, `key_file=${key}`)
      .replace(/^ecash_seed_file=.*$/m, '')
      .replace(/^store=.*$/m, `store=${url}`)
      .replace(/^store_password_file=.*$/m, `store_password_file=${pw}`)
      .replace(/^rpc_url=.*$/m, '').replace(/^rpc_cookie=.*$/m, '')
      .replace(/^ecash_keysets=.*$/m, '')
      .replace(/^listen=.*$/m, 'listen=127.0.0.1:0\ntip_height=1001\nlog_level=warn')
      .replace(/^operator_listen=127.0.0.1:9338$/m, 'operator_listen=127.0.0.1:0'));
    const published = run(['credit', 'open', '--config', conf]);
    expect(published.status, published.stderr).toBe(0);
    const offer = JSON.parse(published.stdout) as { type: string; mint_pubkey: string };
    expect(offer.type).toBe('credit/offer');
    const mints = await Promise.all([1, 2].map(() => ServeProcess.launch('mint', ['--config', conf], {}, { listen: false })));
    try {
      for (const m of mints) {
        const answer = await m.get('/v1/credit/offer');
        expect(answer.status, m.stderr).toBe(200);
        expect(JSON.parse(answer.text)).toMatchObject({ mint_pubkey: offer.mint_pubkey });
      }
      expect(new Set(mints.map((m) => m.url)).size).toBe(2);
    } finally {
      for (const m of mints) expect((await m.stop()).status).toBe(0);
    }
  }, 120_000);
});
