/**
 * A signed answer read by test code (docs/credit.md, "Signed answers"), sharing nothing with
 * src/lib/credit/answer-signature.ts: the canonical JSON line written here from the docs'
 * words, the tagged hash and BIP-340 Verify of ./secp256k1.ts.
 */
import { bip340Sign, bip340Verify, taggedHash } from './secp256k1.ts';

const HEADER = ['type', 'version', 'network'];

/** The canonical JSON line: at every depth type, version, network first, the other keys in code-point order; no whitespace; a newline. */
export function canonicalLine(v: unknown): string {
  const line = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(line).join(',')}]`;
    if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined);
      const ordered = [...HEADER.filter((k) => keys.includes(k)), ...keys.filter((k) => !HEADER.includes(k)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))];
      return `{${ordered.map((k) => `${JSON.stringify(k)}:${line(o[k])}`).join(',')}}`;
    }
    return JSON.stringify(x);
  };
  return `${line(v)}\n`;
}

export type AnswerSignatureMember = 'mint_signature' | 'gateway_signature';

/** What the member `sig` of `answer` signs: TaggedHash("offchain/credit/v1/answer", its canonical line without that member). */
export function answerDigestOf(answer: Record<string, unknown>, sig: AnswerSignatureMember = 'mint_signature'): Uint8Array {
  const { [sig]: _s, ...body } = answer;
  return taggedHash('offchain/credit/v1/answer', new TextEncoder().encode(canonicalLine(body)));
}

/** Whether `answer`'s member `sig` is a valid BIP-340 signature by `xOnlyKey` over every other member. */
export function answerSignedBy(answer: Record<string, unknown>, xOnlyKey: Uint8Array, sig: AnswerSignatureMember = 'mint_signature'): boolean {
  const s = answer[sig];
  return typeof s === 'string' && /^[0-9a-f]{128}$/.test(s) && bip340Verify(Uint8Array.from(Buffer.from(s, 'hex')), answerDigestOf(answer, sig), xOnlyKey);
}

/**
 * `answer` signed by `secretKey` as a mint signs its own (a test playing a faulty mint): BIP-340
 * Sign as test code writes it (secp256k1.ts bip340Sign), zero auxiliary randomness.
 */
export function signedAs(answer: Record<string, unknown>, secretKey: Uint8Array, sig: AnswerSignatureMember = 'mint_signature'): Record<string, unknown> {
  return { ...answer, [sig]: Buffer.from(bip340Sign(answerDigestOf(answer, sig), secretKey)).toString('hex') };
}
