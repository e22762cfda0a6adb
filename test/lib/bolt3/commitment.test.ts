/**
 * The commitment builder's invariants, beyond the vectors: a commitment never pays out
 * more than its funding output (the balance rule is refused by code, and every output
 * plus the fee adds up to the funding amount), nothing below the dust limit is
 * written, outputs are in BIP-69+CLTV order, an HTLC is either trimmed or has exactly
 * one output, and the opener alone pays the fee and keyed anchors. Checked on random
 * channels in every format (fast-check, the suite's seed), plus the refusals.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareBytes } from '../../../src/lib/bytes.ts';
import { ExitCode, OffchainError } from '../../../src/lib/errors.ts';
import { counterpartyView, type CommitmentState, type Htlc } from '../../../src/lib/bolt3/channel.ts';
import { buildCommitment } from '../../../src/lib/bolt3/commitment.ts';
import type { CommitmentFormat } from '../../../src/lib/bolt3/index.ts';

/*
 * BOLT 3's fee and trimming rules, written here from the spec's text (not the product's
 * functions): legacy commitment weight 724 + 172 per HTLC output, anchors 1124 + 172, zero-fee
 * no fee; HTLC-timeout weight 663 and HTLC-success 703 (legacy only: anchors and zero-fee HTLC
 * transactions pay no fee); keyed anchors 2 × 330 sat from the opener.
 */
const specFee = (format: CommitmentFormat, feeratePerKw: number, htlcOutputs: number): bigint =>
  format.name === 'zero-fee' ? 0n : BigInt(Math.floor((feeratePerKw * ((format.name === 'anchors' ? 1124 : 724) + 172 * htlcOutputs)) / 1000));
const specAnchorCost = (format: CommitmentFormat): bigint => (format.name === 'anchors' ? 660n : 0n);
function specTrimmed(params: { format: CommitmentFormat; dustLimitSatoshis: bigint }, feeratePerKw: number, h: Htlc): boolean {
  const secondStageFee = params.format.name === 'legacy' ? BigInt(Math.floor((feeratePerKw * (h.direction === 'offered' ? 663 : 703)) / 1000)) : 0n;
  return h.amountMsat / 1000n < params.dustLimitSatoshis + secondStageFee;
}
import { ANCHORS, COMMITMENT_FORMATS, LEGACY, ZERO_FEE, commitmentFormat } from '../../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../../src/lib/bolt3/htlc-tx.ts';
import { pointOf } from '../../../src/lib/bolt3/keys.ts';
import { C, channel, htlcIndicesFor, perCommitmentPoint, secrets, state } from './appendix-c.ts';
import { thrown } from '../../setup/refusal.ts';

const FUNDING_MSAT = BigInt(C.parameters.funding_amount_satoshi) * 1000n;

describe('commitment builder', () => {
  it('example: the remote builds local\'s commitment from its own side with counterpartyView, same txid', () => {
    const spec = C.test_vectors[1];
    const ours = buildCommitment(channel(LEGACY), state(BigInt(spec.to_local_msat), BigInt(spec.to_remote_msat), spec.local_feerate_per_kw, htlcIndicesFor(spec.name)));
    // Remote's own view of the channel: remote is "local", the HTLCs point the other way.
    const mine = channel(LEGACY);
    const remoteSide = {
      ...mine,
      opener: 'remote' as const,
      local: mine.remote,
      remote: mine.local,
      toSelfDelay: 100, // remote's own delay: not in local's commitment
      dustLimitSatoshis: 1000n,
    };
    const remoteState: CommitmentState = {
      ...state(BigInt(spec.to_remote_msat), BigInt(spec.to_local_msat), spec.local_feerate_per_kw, []),
      perCommitmentPoint: pointOf(secrets.remotePaymentBasepoint), // remote's point: irrelevant here
      htlcs: htlcIndicesFor(spec.name).map((i) => {
        const h = state(0n, 0n, 0, [i]).htlcs[0]!;
        return { ...h, direction: h.direction === 'offered' ? 'received' : 'offered' };
      }),
    };
    const view = counterpartyView(remoteSide, remoteState, { perCommitmentPoint, toSelfDelay: 144, dustLimitSatoshis: 546n });
    const theirs = buildCommitment(view.params, view.state);
    expect(theirs.txid).toBe(ours.txid);
    expect(theirs.tx).toEqual(ours.tx);
  });

  it('refuses balances that do not add up to the funding amount (E_COMMITMENT_UNBALANCED, exit 4)', () => {
    const e = thrown(() => buildCommitment(channel(LEGACY), state(6_988_000_001n, 3_000_000_000n, 0, [0, 1, 2, 3, 4])));
    expect(e.code).toBe('E_COMMITMENT_UNBALANCED');
    expect(e.exitCode).toBe(ExitCode.refused);
  });

  it('refuses a feerate on a zero-fee commitment (E_COMMITMENT_FEERATE)', () => {
    const e = thrown(() => buildCommitment(channel(ZERO_FEE), state(7_000_000_000n, 3_000_000_000n, 253, [])));
    expect(e.code).toBe('E_COMMITMENT_FEERATE');
    expect(e.exitCode).toBe(ExitCode.refused);
  });

  it('rejects malformed input as malformed (exit 3): cltv_expiry in time range, bad hash, negative balance, bad delay, unknown format', () => {
    const base = state(6_988_000_000n, 3_000_000_000n, 0, [0, 1, 2, 3, 4]);
    const withHtlc = (h: Partial<Htlc>) => ({ ...base, htlcs: [{ ...base.htlcs[0]!, ...h }, ...base.htlcs.slice(1)] });
    const cases: [string, () => unknown][] = [
      ['E_BAD_HTLC', () => buildCommitment(channel(LEGACY), withHtlc({ cltvExpiry: 500_000_000 }))],
      ['E_BAD_HTLC', () => buildCommitment(channel(LEGACY), withHtlc({ paymentHash: new Uint8Array(20) }))],
      ['E_BAD_HTLC', () => buildCommitment(channel(LEGACY), withHtlc({ amountMsat: 0n }))],
      ['E_BAD_AMOUNT', () => buildCommitment(channel(LEGACY), { ...base, toRemoteMsat: -1n })],
      ['E_BAD_TO_SELF_DELAY', () => buildCommitment({ ...channel(LEGACY), toSelfDelay: 70_000 }, base)],
      ['E_BAD_FEERATE', () => buildCommitment(channel(LEGACY), { ...base, feeratePerKw: 2.5 })],
      ['E_BAD_COMMITMENT_INDEX', () => buildCommitment(channel(LEGACY), { ...base, commitmentNumber: 2 ** 48 })],
      ['E_BAD_PUBKEY', () => buildCommitment(channel(LEGACY), { ...base, perCommitmentPoint: new Uint8Array(33) })],
      ['E_BAD_PUBKEY', () => buildCommitment({ ...channel(LEGACY), remote: { ...channel(LEGACY).remote, fundingPubkey: new Uint8Array(32) } }, base)],
      ['E_UNKNOWN_COMMITMENT_FORMAT', () => commitmentFormat('taproot')],
    ];
    for (const [code, fn] of cases) {
      const e = thrown(fn);
      expect(e.code, code).toBe(code);
      expect(e.exitCode).toBe(ExitCode.malformed);
    }
  });

  it('the format registry names each format by what JSON carries', () => {
    expect(Object.keys(COMMITMENT_FORMATS)).toEqual(['legacy', 'anchors', 'zero-fee']);
    expect(commitmentFormat('anchors')).toBe(ANCHORS);
  });

  describe('invariants on random channels (every format)', () => {
    const htlcArb = fc.record({
      direction: fc.constantFrom<'offered' | 'received'>('offered', 'received'),
      amountMsat: fc.bigInt({ min: 1n, max: 50_000_000n }),
      paymentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      cltvExpiry: fc.integer({ min: 0, max: 1_000_000 }),
    });
    const arb = fc.record({
      format: fc.constantFrom(LEGACY, ANCHORS, ZERO_FEE),
      opener: fc.constantFrom<'local' | 'remote'>('local', 'remote'),
      htlcs: fc.array(htlcArb, { maxLength: 12 }),
      localShare: fc.double({ min: 0, max: 1, noNaN: true }),
      feeratePerKw: fc.integer({ min: 0, max: 100_000 }),
      dust: fc.bigInt({ min: 354n, max: 20_000n }),
      commitmentNumber: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    });

    it('outputs + fee = funding; none below dust; BIP-69+CLTV order; each HTLC trimmed or in one output; HTLC txs spend their outputs', () => {
      fc.assert(
        fc.property(arb, (a) => {
          const htlcTotal = a.htlcs.reduce((x, h) => x + h.amountMsat, 0n);
          fc.pre(htlcTotal <= FUNDING_MSAT);
          const rest = FUNDING_MSAT - htlcTotal;
          const toLocalMsat = BigInt(Math.floor(Number(rest) * a.localShare));
          const params = { ...channel(a.format, a.dust), opener: a.opener };
          const feeratePerKw = a.format === ZERO_FEE ? 0 : a.feeratePerKw;
          const st = { ...state(toLocalMsat, rest - toLocalMsat, feeratePerKw, []), commitmentNumber: a.commitmentNumber, htlcs: a.htlcs };
          const openerSat = (a.opener === 'local' ? toLocalMsat : rest - toLocalMsat) / 1000n;
          const untrimmed = a.htlcs.filter((h) => !specTrimmed(params, feeratePerKw, h)).length;
          const owes = specFee(a.format, feeratePerKw, untrimmed) + specAnchorCost(a.format);
          let c;
          try {
            c = buildCommitment(params, st);
          } catch (e) {
            // Refused only when keyed anchors would be paid with money the opener does not have.
            expect((e as OffchainError).code).toBe('E_COMMITMENT_UNBALANCED');
            expect(a.format).toBe(ANCHORS);
            expect(openerSat).toBeLessThan(owes);
            return;
          }

          const total = c.outputs.reduce((x, o) => x + o.amountSat, 0n);
          expect(total + c.actualFeeSat).toBe(params.fundingSatoshis);
          expect(c.actualFeeSat).toBeGreaterThanOrEqual(0n);
          for (const o of c.outputs) {
            if (o.kind === 'shared_anchor') expect(o.amountSat).toBeLessThanOrEqual(240n);
            else if (o.kind.endsWith('_anchor')) expect(o.amountSat).toBe(330n); // fixed by BOLT 3, whatever the dust limit
            else expect(o.amountSat).toBeGreaterThanOrEqual(a.dust);
          }
          for (let i = 1; i < c.outputs.length; i++) {
            const [p, q] = [c.outputs[i - 1]!, c.outputs[i]!];
            const order = p.amountSat !== q.amountSat ? (p.amountSat < q.amountSat ? -1 : 1) : compareBytes(p.script, q.script) || (p.htlc?.cltvExpiry ?? 0) - (q.htlc?.cltvExpiry ?? 0);
            expect(order).toBeLessThanOrEqual(0);
          }
          for (const h of a.htlcs) {
            const n = c.outputs.filter((o) => o.htlc === h).length;
            expect(n).toBe(specTrimmed(params, feeratePerKw, h) ? 0 : 1);
          }
          expect(c.trimmedHtlcs.length + c.outputs.filter((o) => o.htlc).length).toBe(a.htlcs.length);
          // The non-opener's balance is never touched by fees or anchors.
          const nonOpener = a.opener === 'local' ? 'to_remote' : 'to_local';
          const nonOpenerSat = (a.opener === 'local' ? rest - toLocalMsat : toLocalMsat) / 1000n;
          const out = c.outputs.find((o) => o.kind === nonOpener);
          expect(out?.amountSat ?? 0n).toBe(nonOpenerSat >= a.dust ? nonOpenerSat : 0n);
          for (const h of buildHtlcTransactions(c)) {
            expect(h.tx.inputs[0]!.txid).toBe(c.txid);
            expect(h.tx.outputs[0]!.amount).toBe(c.outputs[h.commitmentOutputIndex]!.amountSat - h.feeSat);
            expect(h.tx.outputs[0]!.amount).toBeGreaterThanOrEqual(a.dust);
          }
          expect(c.tx.inputs[0]!.txid).toBe(params.fundingOutpoint.txid);
          if (openerSat >= owes) expect(c.actualFeeSat).toBeGreaterThanOrEqual(c.baseFeeSat);
        }),
        { numRuns: 150 },
      );
    });
  });
});
