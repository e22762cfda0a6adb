// A worker thread of ./libsecp256k1-attacks.test.ts: loads koffi and the system libsecp256k1
// in its own thread (its own koffi instance, context and callbacks) and checks n answers
// of each secret-scalar operation against noble, while other threads do the same.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { tsImport } from 'tsx/esm/api';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';

const { openLibsecp256k1 } = await tsImport('../../../src/lib/musig/engine/libsecp256k1.ts', import.meta.url);
const koffi = await import('koffi');
const lib = openLibsecp256k1(koffi.default ?? koffi, workerData.env);
const hex = (b) => Buffer.from(b).toString('hex');
const bytes32 = (k) => Uint8Array.from(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));
const bad = [];
for (let i = 1; i <= workerData.n; i++) {
  const k = BigInt(workerData.seed) * 1_000_003n + BigInt(i);
  const P = secp256k1.Point.BASE.multiply(k + 7n);
  const kP = P.multiply(k);
  if (hex(lib.mulConst(P.toBytes(false), bytes32(k))) !== hex(kP.toBytes(false))) bad.push(`mulConst ${k}`);
  if (hex(lib.ecdhSha256(P.toBytes(false), bytes32(k))) !== createHash('sha256').update(kP.toBytes(true)).digest('hex')) bad.push(`ecdhSha256 ${k}`);
  const msg = bytes32(k * 3n);
  const sig = schnorr.sign(msg, bytes32(k), new Uint8Array(32));
  if (!lib.verifySchnorr(sig, msg, schnorr.getPublicKey(bytes32(k)))) bad.push(`verifySchnorr ${k}`);
  const ecdsa = secp256k1.sign(msg, bytes32(k), { prehash: false, lowS: true, extraEntropy: false });
  if (hex(lib.ecdsaSign(msg, bytes32(k))) !== hex(ecdsa)) bad.push(`ecdsaSign ${k}`);
}
parentPort.postMessage({ bad, n: workerData.n });
