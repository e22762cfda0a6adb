/**
 * BIP-327 MuSig2: all eight official vector files, run through src/lib/musig/bip327.ts
 * (keySort, keyAgg, nonceGen, nonceAgg, Session.sign / partialSigVerify / partialSigAgg,
 * deterministicSign) on the engine it uses by default, valid and error cases alike.
 * One narrated example first; the loops over the vector files, with how errors are
 * checked and where our API differs from the reference signatures, are in
 * ./bip327-cases.ts, which ./bip327-engines.test.ts runs again on every engine.
 */
import { describe, it, expect } from 'vitest';
import { loadVector } from '../helpers.ts';
import { Bip327Error, nonceAgg, Session } from '../../src/lib/musig/bip327.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { H, bip327VectorSuites, h } from './bip327-cases.ts';

describe('BIP-327 example: three signers, one of them us', () => {
  it('KeyAgg, NonceAgg, Sign and PartialSigVerify agree with sign_verify valid case 0', () => {
    const v = loadVector('bips/bip-0327/sign_verify_vectors.json');
    // Our secret key's public key is pubkeys[0], and the vector's secnonce ends with it.
    const sk = h(v.sk);
    const pubkeys = (v.pubkeys as string[]).slice(0, 3).map(h);
    expect(H(keyPair(sk).publicKey)).toBe(v.pubkeys[0]);
    // Every signer broadcasts a pubnonce; anyone can aggregate them.
    const pubnonces = (v.pnonces as string[]).slice(0, 3).map(h);
    const aggnonce = nonceAgg(pubnonces);
    expect(H(aggnonce)).toBe(v.aggnonces[0]);
    // The session fixes keys, aggnonce and message; our signer 0 signs with its secnonce,
    // which Session.sign wipes so it cannot be used twice.
    const session = new Session({ aggnonce, pubkeys, tweaks: [], isXonly: [], msg: h(v.msgs[0]) });
    const secnonce = h(v.secnonces[0]);
    const psig = session.sign(secnonce, sk);
    expect(H(psig)).toBe('012ABBCB52B3016AC03AD82395A1A415C48B93DEF78718E62A7A90052FE224FB');
    expect(secnonce.every((b) => b === 0)).toBe(true);
    expect(() => session.sign(secnonce, sk)).toThrow(Bip327Error);
    // Any participant can check signer 0's partial signature against its pubnonce.
    expect(session.partialSigVerify(psig, pubnonces, 0)).toBe(true);
    expect(session.partialSigVerify(psig, pubnonces, 1)).toBe(false);
  });
});

bip327VectorSuites();
