/**
 * Issue 22, findings 1 and 4: every owner checks what it signs for, itself.
 *
 * - The depositor compares the operator's signed statement (amount, outpoint, backup 1's
 *   txid and locktime, terms, shares, keys) with its own funding and request before it
 *   says "fund": a malicious operator here signs the lie properly (statement re-signed with
 *   its key, its partial signature computed over the lie), as a real one would.
 * - The operator's key is pinned at the depositor's first step.
 * - The owner's own safety floor (floor.ts) is checked by depositor and receiver whatever
 *   the operator's terms say.
 *
 * "Nothing written" at the library: a refused step returns no record, and the owner's
 * nonce is still unused — the honest answer still finishes backup 1 after the refusal.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { toHex, fromHex } from '../../../src/lib/bytes.ts';
import * as coin from '../../../src/lib/statechain/coin.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as fund from '../../../src/lib/statechain/funding.ts';
import { DEFAULT_FLOOR, type Floor } from '../../../src/lib/statechain/floor.ts';
import { nonceGen, partialSign } from '../../../src/lib/statechain/signer.ts';
import { checkStatement, signStatement } from '../../../src/lib/statechain/statement.ts';
import type { Statement } from '../../../src/lib/statechain/schemas.ts';
import { verifyTransfer } from '../../../src/lib/statechain/verify.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { TERMS, chainStub, cleanup, depositRequested, party, towards } from './harness.ts';

afterAll(cleanup);

type Cosigned = { statement: Statement; operator_pubnonce: string; operator_psig: string; owner_pubnonce: string; backup_txid: string };

/** Deposit steps 1–4 with an honest operator: the owner's depositing record, the operator's honest answer, and what a liar needs. */
async function depositing() {
  const chain = chainStub(200);
  const r = await depositRequested(chain);
  const backup = await dep.depositBackup(r.start.pending, r.offer.message as never, r.funding, 200, DEFAULT_FLOOR, r.owner);
  const honest = await op.cosignDepositBackup(r.offer.record, backup.message as never, r.opCtx);
  return { ...r, chain, backup, honest: honest.message as unknown as Cosigned };
}
type Depositing = Awaited<ReturnType<typeof depositing>>;

/**
 * A dishonest operator's answer: its statement changed by `patch` and re-signed with its
 * key, and its partial signature computed over backup 1 as the lying statement describes
 * it (`amount` for the sighash) — so it verifies against that lie.
 */
function lie(s: Depositing, patch: (st: Statement) => void, amount = 100_000n): Cosigned {
  const { operator_sig: _sig, ...body } = structuredClone(s.honest.statement);
  patch(body as Statement);
  const statement = signStatement(body, s.operator.auth, s.operator.random);
  const tx = coin.parseTransaction(s.backup.record.signing!.tx, 'backup 1');
  tx.updateInput(0, { witnessUtxo: { script: s.key.script, amount } }, true);
  const { secnonce, pubnonce } = nonceGen(new Uint8Array(64).fill(9));
  const psig = partialSign(
    { shares: [fromHex(body.owner_share), fromHex(body.operator_share)], pubnonces: [fromHex(s.honest.owner_pubnonce), pubnonce], msg: coin.coinSighash(tx) },
    1, secnonce, fromHex(s.offer.record.share_secret),
  );
  return { ...s.honest, statement, operator_pubnonce: toHex(pubnonce), operator_psig: toHex(psig) };
}

describe('the depositor checks the operator\'s signed statement against its own funding and request before "fund"', () => {
  it('an operator signing backup 1 for 99,999 sat of a 100,000 sat funding is refused (E_BAD_STATEMENT); the honest answer still finishes', async () => {
    const s = await depositing();
    const lying = lie(s, (st) => void (st.amount_sat = 99_999), 99_999n);
    const e = await refusalAsync(dep.depositFinish(s.backup.record, lying as never, s.owner), 'E_BAD_STATEMENT', 4);
    expect(e.message).toContain('amount');
    // Nothing was spent: our nonce is unused, the honest answer finishes backup 1.
    const done = await dep.depositFinish(s.backup.record, s.honest as never, s.owner);
    expect(done.status).toBe('active');
  });

  it('every other field of the statement that differs from what we asked for is refused, each before our nonce is touched', async () => {
    const s = await depositing();
    const other = party('other-owner');
    const lies: [string, (st: Statement) => void][] = [
      ['outpoint', (st) => void (st.outpoint = `${st.outpoint!.split(':')[0]}:0`)],
      ['backup 1\'s locktime', (st) => void (st.backups[0]!.locktime += 1)],
      ['backup 1\'s txid', (st) => void (st.backups[0]!.txid = 'ab'.repeat(32))],
      ['backup 1 paying elsewhere', (st) => void (st.backups[0]!.script = '0014' + '11'.repeat(20))],
      ['a second backup record', (st) => void ((st.backups.push({ ...st.backups[0]!, n: 2 }), (st.count = 2)))],
      ['the interval', (st) => void (st.terms.interval = 2)],
      ['the backup fee', (st) => void (st.terms.backup_fee_sat = 5_000)],
      ['the confirmations', (st) => void (st.terms.confirmations = 1)],
      ['the margin', (st) => void (st.terms.margin = 0)],
      ['the initial lock', (st) => void (st.terms.initial_lock = 99)],
      ['the owner auth key', (st) => void (st.owner_auth = toHex(other.auth.publicKey))],
      ['the status', (st) => void (st.status = 'transferring')],
      ['a pending transfer', (st) => void (st.transfer = { transfer_id: 'cd'.repeat(16), receiver_auth: toHex(other.auth.publicKey), receiver_share: st.owner_share, x1_point: st.owner_share })],
    ];
    expect(lies.length).toBe(13);
    for (const [what, patch] of lies) {
      const e = await refusalAsync(dep.depositFinish(s.backup.record, lie(s, patch) as never, s.owner), 'E_BAD_STATEMENT', 4);
      expect(e.message, what).toContain('does not say what we asked for');
    }
    expect((await dep.depositFinish(s.backup.record, s.honest as never, s.owner)).status).toBe('active');
  });

  it('the operator is pinned at step 1: an offer from another operator key is refused (E_WRONG_OPERATOR); a deposit with no pin is a usage error', async () => {
    const chain = chainStub(200);
    const r = await depositRequested(chain);
    const mallory = party('mallory');
    const pinnedElsewhere = { ...r.start.pending, operator_auth: toHex(mallory.auth.publicKey) };
    await refusalAsync(dep.depositBackup(pinnedElsewhere, r.offer.message as never, r.funding, 200, DEFAULT_FLOOR, r.owner), 'E_WRONG_OPERATOR', 4);
    const { operator_auth: _pin, ...unpinned } = r.start.pending;
    await refusalAsync(dep.depositBackup(unpinned, r.offer.message as never, r.funding, 200, DEFAULT_FLOOR, r.owner), 'E_USAGE', 2);
  });
});

describe('the owner\'s own safety floor, whatever the operator\'s terms say', () => {
  const offered = async (terms: Partial<typeof TERMS>, floor: Floor = DEFAULT_FLOOR, amount = 100_000n) => {
    const chain = chainStub(200);
    const r = await depositRequested(chain, amount, { ...TERMS, ...terms });
    return dep.depositBackup(r.start.pending, r.offer.message as never, r.funding, 200, floor, r.owner);
  };

  it('a depositor refuses a backup fee above its floor, absolute or as a share of the coin (E_BACKUP_FEE_TOO_HIGH), and an interval below it (E_BELOW_FLOOR)', async () => {
    // The reproduction: --backup-fee 99500 on a 100,000 sat coin.
    await refusalAsync(offered({ backup_fee_sat: 99_500 }), 'E_BACKUP_FEE_TOO_HIGH', 4);
    // 5% of 100,000 = 5,000: 5,001 is over the share, under the absolute 25,000.
    await refusalAsync(offered({ backup_fee_sat: 5_001 }), 'E_BACKUP_FEE_TOO_HIGH', 4);
    expect((await offered({ backup_fee_sat: 5_000 })).record.status).toBe('depositing');
    // On a large coin the absolute cap bites first.
    await refusalAsync(offered({ backup_fee_sat: 25_001 }, DEFAULT_FLOOR, 10_000_000n), 'E_BACKUP_FEE_TOO_HIGH', 4);
    await refusalAsync(offered({ interval: 5 }), 'E_BELOW_FLOOR', 4);
    await refusalAsync(offered({ interval: 10 }, { ...DEFAULT_FLOOR, minInterval: 11 }), 'E_BELOW_FLOOR', 4);
    expect((await offered({ interval: 6 })).record.status).toBe('depositing');
  });

  it('a receiver refuses terms below its floor, and applies its own minimum confirmations and margin over the terms\'', async () => {
    const s = await towards('floor-bob');
    const expect_ = {
      coinId: s.d.ownerRecord.coin_id, transferId: (s.pkg.message as { transfer_id: string }).transfer_id, receiverShare: s.req.pending.share,
      receiverAuth: s.req.pending.auth, operatorAuth: s.d.operator.auth.publicKey,
    };
    const facts = { tipHeight: 200, deposit: s.chain.deposit! };
    // The terms ask 2 confirmations, the deposit has 3; the receiver's own floor asks 4.
    refusal(() => verifyTransfer(s.inner, { ...expect_, floor: { ...DEFAULT_FLOOR, minConfirmations: 4 } }, facts), 'E_DEPOSIT_UNCONFIRMED', 4);
    // Backup 2's locktime is 290, the tip 200: the terms' margin 6 passes, a floor of 90 does not.
    refusal(() => verifyTransfer(s.inner, { ...expect_, floor: { ...DEFAULT_FLOOR, minMargin: 90 } }, facts), 'E_LOCKTIME_MARGIN', 4);
    refusal(() => verifyTransfer(s.inner, { ...expect_, floor: { ...DEFAULT_FLOOR, maxBackupFeeSat: 399n } }, facts), 'E_BACKUP_FEE_TOO_HIGH', 4);
    refusal(() => verifyTransfer(s.inner, { ...expect_, floor: { ...DEFAULT_FLOOR, maxBackupFeePercent: 0.39 } }, facts), 'E_BACKUP_FEE_TOO_HIGH', 4);
    refusal(() => verifyTransfer(s.inner, { ...expect_, floor: { ...DEFAULT_FLOOR, minInterval: 11 } }, facts), 'E_BELOW_FLOOR', 4);
    // What the receiver is shown: the fee and what its backup pays it back (100,000 − 400, from the terms the test set).
    const v = verifyTransfer(s.inner, expect_, facts);
    expect({ fee: v.backupFeeSat, value: v.backupValueSat, margin89: verifyTransfer(s.inner, { ...expect_, floor: { ...DEFAULT_FLOOR, minMargin: 89 } }, facts).latestLocktime }).toEqual({ fee: 400, value: 99_600, margin89: 290 });
  });

  it('a receiver refuses an operator-signed statement counting no backup (E_BACKUP_COUNT), never E_INTERNAL', async () => {
    const s = await towards('count-bob');
    const { operator_sig: _sig, ...body } = structuredClone(s.inner.statement);
    body.count = 0;
    body.backups = [];
    const inner = { ...s.inner, backups: [], statement: signStatement(body, s.d.operator.auth, s.d.operator.random) };
    refusal(() => verifyTransfer(inner, {
      coinId: s.d.ownerRecord.coin_id, transferId: (s.pkg.message as { transfer_id: string }).transfer_id, receiverShare: s.req.pending.share,
      receiverAuth: s.req.pending.auth, operatorAuth: s.d.operator.auth.publicKey,
    }, { tipHeight: 200, deposit: s.chain.deposit! }), 'E_BACKUP_COUNT', 4);
  });
});

describe('funding that cannot be malleated (finding 6): raw hex is checked like a PSBT, or refused saying how to give it', () => {
  const P2WPKH = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(1)]);
  const P2TR = Uint8Array.from([0x51, 0x20, ...new Uint8Array(32).fill(2)]);
  const P2SH = Uint8Array.from([0xa9, 0x14, ...new Uint8Array(20).fill(3), 0x87]);
  const P2PKH = Uint8Array.from([0x76, 0xa9, 0x14, ...new Uint8Array(20).fill(4), 0x88, 0xac]);
  const twoInputs = () => {
    const tx = new Transaction({ version: 2, allowUnknownOutputs: true });
    tx.addInput({ txid: new Uint8Array(32).fill(7), index: 0 });
    tx.addInput({ txid: new Uint8Array(32).fill(8), index: 3 });
    tx.addOutput({ script: P2TR, amount: 100_000n });
    return toHex(tx.unsignedTx);
  };

  it('offline (no inputs looked up): refused, naming the PSBT and --rpc-url (E_FUNDING_UNCHECKED)', () => {
    const e = refusal(() => fund.fundingFromRaw(twoInputs(), undefined), 'E_FUNDING_UNCHECKED', 4);
    expect(e.message).toContain('walletcreatefundedpsbt');
    expect(e.message).toContain('--rpc-url');
  });

  it('with a node: every input must spend a native segwit output; P2SH-wrapped, legacy or unknown inputs are refused (E_FUNDING_MALLEABLE)', () => {
    const hex = twoInputs();
    expect(fund.fundingInputs(hex)).toEqual([{ txid: '07'.repeat(32), vout: 0 }, { txid: '08'.repeat(32), vout: 3 }]);
    expect(fund.fundingFromRaw(hex, [{ scriptPubKey: P2WPKH }, { scriptPubKey: P2TR }])).toBe(hex);
    refusal(() => fund.fundingFromRaw(hex, [{ scriptPubKey: P2WPKH }, { scriptPubKey: P2SH }]), 'E_FUNDING_MALLEABLE', 4);
    refusal(() => fund.fundingFromRaw(hex, [{ scriptPubKey: P2PKH }, { scriptPubKey: P2TR }]), 'E_FUNDING_MALLEABLE', 4);
    refusal(() => fund.fundingFromRaw(hex, [{ scriptPubKey: P2WPKH }, null]), 'E_FUNDING_MALLEABLE', 4);
    refusal(() => fund.fundingFromRaw(hex, [{ scriptPubKey: P2WPKH }]), 'E_FUNDING_UNCHECKED', 4);
  });
});

describe('no crash on anything the operator can sign (finding 7): every statement field is checked where it is read', () => {
  it('an operator-signed statement with an x1_point, share or key off the curve, or a count that disagrees with its records, is a coded refusal', async () => {
    const s = await towards('fields-bob');
    const st = s.inner.statement;
    const resigned = (patch: (b: Statement) => void) => {
      const { operator_sig: _sig, ...body } = structuredClone(st);
      patch(body as Statement);
      return signStatement(body, s.d.operator.auth, s.d.operator.random);
    };
    const check = (x: Statement) => () => checkStatement(x, s.d.operator.auth.publicKey, st.coin_id);
    const offCurve = '02' + 'ff'.repeat(32);
    refusal(check(resigned((b) => void (b.transfer!.x1_point = offCurve))), 'E_BAD_PUBKEY', 3);
    refusal(check(resigned((b) => void (b.operator_share = offCurve))), 'E_BAD_PUBKEY', 3);
    refusal(check(resigned((b) => void (b.backups[0]!.owner_share = offCurve))), 'E_BAD_PUBKEY', 3);
    refusal(check(resigned((b) => void (b.count = 7))), 'E_BACKUP_COUNT', 4);
    refusal(check(resigned((b) => void ((b.count = 0), (b.backups = [])))), 'E_BACKUP_COUNT', 4);
    refusal(check(resigned((b) => void (b.backups[1]!.n = 5))), 'E_BACKUP_NUMBERS', 4);
    refusal(check(resigned((b) => void (b.amount_sat = 0))), 'E_BAD_STATEMENT', 4);
    expect(check(st)().count).toBe(2);
  });
});
