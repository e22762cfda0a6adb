/**
 * Adversarial property test of abandoning (seeded fast-check, test/setup/fast-check.ts):
 * random runs of payments the mint refuses or whose answers are lost, resends,
 * abandons whose answers are themselves lost, and replays of abandoned requests by an
 * attacker. Whatever happens:
 *
 *   - the user never signs two different transactions against one mint nonce;
 *   - the mint never signs twice with one nonce (each state it holds was signed against a
 *     distinct nonce) and never signs a request the user abandoned;
 *   - once every pending request is settled (resent or abandoned until answered), the
 *     user's record and the mint's latest state agree: same state number, same
 *     cumulative amount — the user never owes more than it knows, the mint is never
 *     owed less than it signed.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { toHex } from '../../../src/lib/bytes.ts';
import { isOffchainError } from '../../../src/lib/errors.ts';
import { readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import * as abandon from '../../../src/lib/credit/abandon.ts';
import { MINT, POLICY, world } from './world.ts';
import { openContract, psbtOf, userRecord, type World } from './tamper.ts';

type Step =
  | { kind: 'pay'; amount: bigint; refused: boolean; lost: boolean }
  | { kind: 'resend'; lost: boolean }
  | { kind: 'abandon'; lost: boolean }
  | { kind: 'replay' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pay' as const), amount: fc.bigInt(400n, 3000n), refused: fc.boolean(), lost: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resend' as const), lost: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('abandon' as const), lost: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'replay' as const }) },
);

/** The mint's nonce a request PSBT was signed against, and the transaction it signs. */
function signedAgainst(psbt: string): { nonce: string; txid: string } {
  const tx = psbtOf(psbt);
  const input = readMusigInput(tx, 0);
  return { nonce: toHex(input.pubnonces[input.key.participants.findIndex((k) => toHex(k) === toHex(MINT.publicKey))]!), txid: tx.id };
}

async function expected<T>(p: Promise<T>, codes: string[]): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isOffchainError(e) && codes.includes(e.code)) return undefined;
    throw e;
  }
}

async function run(steps: Step[]): Promise<void> {
  const w: World = world();
  try {
    const { id, c } = await openContract(w);
    const normal = w.chain.height;
    const signedByUser = new Map<string, string>(); // mint nonce → txid
    const abandonedTxids = new Set<string>();
    const sentRequests: Record<string, unknown>[] = [];
    const mintStates = new Map<number, string>(); // state → txid, as the mint holds them
    const track = (req: Record<string, unknown>) => {
      const { nonce, txid } = signedAgainst(req.psbt as string);
      expect(signedByUser.get(nonce) ?? txid, `two transactions signed against mint nonce ${nonce}`).toBe(txid);
      signedByUser.set(nonce, txid);
      sentRequests.push(req);
    };
    const mintTakes = async (req: Record<string, unknown>, refused: boolean) => {
      if (refused) w.chain.height = c.expiryHeight - POLICY.safety_margin_blocks;
      try {
        return await expected(mint.acceptUpdate(w.mint, req as never), ['E_TOO_CLOSE_TO_EXPIRY', 'E_NONCE_USED', 'E_STALE_STATE']);
      } finally {
        w.chain.height = normal;
      }
    };
    const observeMint = async () => {
      const latest = (await w.mintBook.get(id))!.latest;
      if (!latest) return;
      const before = mintStates.get(latest.state);
      expect(before ?? latest.txid).toBe(latest.txid);
      mintStates.set(latest.state, latest.txid);
      expect(abandonedTxids.has(latest.txid), 'the mint signed an abandoned request').toBe(false);
    };
    const applyAnswer = async (answer: Record<string, any>) => {
      if (answer.type === 'credit/abandoned') {
        abandonedTxids.add(answer.txid);
        await abandon.applyAbandoned(w.user, answer as never);
      } else await user.applyReceipt(w.user, answer as never);
    };

    for (const s of steps) {
      const record = await userRecord(w, id);
      if (s.kind === 'pay') {
        const req = await expected(user.updateRequest(w.user, id, s.amount), ['E_PENDING', 'E_OVER_CAPACITY']);
        if (!req) continue;
        track(req);
        const receipt = await mintTakes(req, s.refused);
        if (receipt && !s.lost) await user.applyReceipt(w.user, receipt as never);
      } else if (s.kind === 'resend') {
        const p = record.pending;
        if (!p || p.abandon) continue;
        const req = await user.updateRequest(w.user, id, BigInt(p.cumulative_sat - record.confirmed.cumulative_sat));
        expect(req).toEqual(p.request);
        const receipt = await mintTakes(req, false);
        if (receipt && !s.lost) await user.applyReceipt(w.user, receipt as never);
      } else if (s.kind === 'abandon') {
        if (!record.pending) continue;
        const sent = await abandon.abandonRequest(w.user, id);
        const answer = await abandon.acceptAbandon(w.mint, sent as never);
        if (!s.lost) await applyAnswer(answer);
      } else {
        // An attacker replays every request the user ever sent.
        for (const req of sentRequests) await mintTakes(req, false);
      }
      await observeMint();
    }

    // Settle: abandon until the mint has answered.
    for (let i = 0; (await userRecord(w, id)).pending; i++) {
      expect(i).toBeLessThan(3);
      const answer = await abandon.acceptAbandon(w.mint, (await abandon.abandonRequest(w.user, id)) as never);
      await applyAnswer(answer);
      await observeMint();
    }
    const mine = await userRecord(w, id);
    const theirs = (await w.mintBook.get(id))!;
    expect(mine.confirmed).toEqual({ state: theirs.latest?.state ?? 0, cumulative_sat: theirs.latest?.cumulative_sat ?? 0 });
    expect(mine.mint_nonce!.state).toBe(mine.confirmed.state + 1);
    expect(theirs.next_state).toBe(mine.confirmed.state + 1);
    // The contract goes on: one more payment is accepted.
    const req = await user.updateRequest(w.user, id, 500n);
    track(req);
    await user.applyReceipt(w.user, (await mint.acceptUpdate(w.mint, req as never)) as never);
  } finally {
    w.dir.cleanup();
  }
}

describe('abandoning under refusals, lost answers and replays', () => {
  it('never two states under one nonce, never an abandoned request signed, and both parties agree at the end', async () => {
    // The attacks named first (fast-check runs `examples` before the random runs): a
    // refused request replayed after it was abandoned; a lost answer abandoned twice.
    const examples: [Step[]][] = [
      [[{ kind: 'pay', amount: 500n, refused: true, lost: false }, { kind: 'abandon', lost: false }, { kind: 'replay' }]],
      [[{ kind: 'pay', amount: 500n, refused: true, lost: false }, { kind: 'abandon', lost: true }, { kind: 'replay' }, { kind: 'abandon', lost: false }, { kind: 'replay' }]],
      [[{ kind: 'pay', amount: 700n, refused: false, lost: true }, { kind: 'abandon', lost: true }, { kind: 'replay' }, { kind: 'pay', amount: 900n, refused: false, lost: false }]],
    ];
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), run), { numRuns: 40, examples });
  }, 120_000);
});
