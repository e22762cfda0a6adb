/**
 * In-process timing of one complete two-party MuSig2 key-path signing, phase by phase
 * (bundled to dist/bench.js by the build so it measures the shipped code).
 */
import { Transaction } from '@scure/btc-signer';
import { keyPair } from '../src/lib/keys/keys.ts';
import { musigKey } from '../src/lib/musig/keyagg.ts';
import {
  setMusigParticipants, readMusigInput, musigNonceGen, addPubNonce, musigPartialSign, aggregateMusigInput,
} from '../src/lib/musig/psbt-keypath.ts';
import { fromHex, utf8 } from '../src/lib/bytes.ts';

export async function benchMusigSigning(opts: { seconds: number }) {
  const alice = keyPair(fromHex('11'.repeat(32)));
  const bob = keyPair(fromHex('22'.repeat(32)));
  const key = musigKey([alice.publicKey, bob.publicKey]);
  const phases: Record<string, number> = {};
  const timed = <T>(name: string, fn: () => T): T => {
    const t0 = performance.now();
    const out = fn();
    phases[name] = (phases[name] ?? 0) + performance.now() - t0;
    return out;
  };
  const rand = new Uint8Array(32);
  let signings = 0;
  const start = performance.now();
  while (performance.now() - start < opts.seconds * 1000) {
    rand[0] = signings & 0xff;
    rand[1] = (signings >> 8) & 0xff;
    const tx = timed('build PSBT', () => {
      const t = new Transaction({ version: 2 });
      t.addInput({ txid: 'aa'.repeat(32), index: signings % 1000, witnessUtxo: { script: key.output.script, amount: 100_000n } });
      t.addOutput({ script: fromHex('0014' + '33'.repeat(20)), amount: 99_000n });
      return t;
    });
    timed('KeyAgg + set participants', () => setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]));
    const input = timed('read input + sighash', () => readMusigInput(tx, 0));
    const na = timed('NonceGen ×2', () => musigNonceGen(input, alice, rand, utf8('bench')));
    const nb = timed('NonceGen ×2', () => musigNonceGen(input, bob, rand, utf8('bench')));
    timed('add public nonces', () => {
      addPubNonce(tx, input, alice.publicKey, na.pubnonce);
      addPubNonce(tx, input, bob.publicKey, nb.pubnonce);
    });
    timed('Sign ×2 (with self-verify)', () => {
      musigPartialSign(tx, input, alice, na.secnonce);
      musigPartialSign(tx, input, bob, nb.secnonce);
    });
    timed('verify psigs + aggregate + check', () => aggregateMusigInput(tx, input));
    timed('finalize + extract', () => {
      tx.finalizeIdx(0);
      tx.extract();
    });
    signings++;
  }
  return { signings, seconds: (performance.now() - start) / 1000, phases };
}
