/**
 * A STATE DIRECTORY OF OFFCHAIN c2eaab3 MIGRATES (src/lib/store/sqlite/migrate-v0.ts), through the
 * built CLI: each role's directory as that version left it mid-life (test/fixtures/state-v0,
 * README there), copied as a git checkout leaves it, then the role's NEXT steps — the first
 * command imports the directory into state.sqlite — each printing, byte for byte, what
 * c2eaab3 printed for it (`expected-*.json`) — an answer this toolkit signs (docs/credit.md,
 * "Signed answers") with its signature line besides, checked here, also when the mint gives
 * again an answer that version stored — ; a nonce consumed before the migration still
 * refused (E_NONCE_USED), one issued unused before it signing once. The scenarios are the
 * fixtures' verify.sh, step for step, seeds included, and beside them (seeded apart) an
 * answer that version printed, unsigned, refused by today's user (E_RECEIPT_FORGED): it
 * asks the mint again, which answers the same request with that answer, signed.
 *
 * And refused with nothing written: a directory half migrated (E_STATE_HALF_MIGRATED), an
 * older offchain's unfinished step (E_STEP_INTERRUPTED), a database from a newer offchain
 * (E_STORE_SCHEMA_NEWER). A crash after the import's COMMIT, before the old files went: the
 * next command removes them, imports nothing twice.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb, STATE_DB_FILE } from '../../src/lib/store/sqlite/database.ts';
import { Records } from '../../src/lib/store/sqlite/records.ts';
import { fileSnapshot, ROOT, tempDir } from '../helpers.ts';
import { run, type Run } from './cli.ts';
import { answerSignedBy, canonicalLine } from '../independent/answer.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';

const V0 = join(ROOT, 'test', 'fixtures', 'state-v0');
const FIX = join(ROOT, 'fixtures');
const text = (p: string) => readFileSync(p, 'utf8').trim();
const KEYS: Record<string, string> = {
  MINT_KEY: text(join(FIX, 'keys/mint.key')),
  USER_KEY: text(join(FIX, 'keys/user.key')),
  ALICE_KEY: text(join(FIX, 'keys/alice.key')),
  BOB_KEY: text(join(FIX, 'keys/bob.key')),
  OPERATOR_KEY: text(join(FIX, 'keys/mint.key')),
  ECASH_SEED: text(join(FIX, 'credit/ecash-seed.txt')),
  WALLET_SEED: '5e'.repeat(64),
  A_FUNDING: text(join(FIX, 'bolt3/local-funding.key')),
  A_HTLC: text(join(FIX, 'bolt3/local-htlc.key')),
  B_FUNDING: text(join(FIX, 'bolt3/remote-funding.key')),
};
const ids = (messages: string) => Object.fromEntries(readFileSync(join(V0, messages, 'ids.env'), 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
const { C1, C2, C3 } = ids('credit-messages');
const { COIN_B, COIN_F } = ids('statechain-messages');
const CHANNEL = (JSON.parse(readFileSync(join(V0, 'commitment-messages/a-opened.json'), 'utf8')) as { channel_id: string }).channel_id;
const revoked = (p: string) => (JSON.parse(readFileSync(p, 'utf8')) as { revoked_txid: string }).revoked_txid;
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const PAY = ['--tip-height', '1001', '--confirmations', '1'];
const TC = ['--tip-height', '200', '--confirmations', '3'];
const TERMS = ['--terms', join(FIX, 'policies/gateway-terms.json')];
const POLICY = ['--policy', join(FIX, 'policies/device.json')];
const NOW = ['--now', '1800000000'];
/** The mint's (and the gateway's) key, x-only: what its answers are signed with. */
const MINT_XONLY = publicKeyOf(Uint8Array.from(Buffer.from(KEYS.MINT_KEY!, 'hex'))).subarray(1);
/** C3's open-request as the user sent it to c2eaab3's mint (its record keeps it; printed, its keys in canonical order): the user sends it again. */
const C3_OPEN_REQUEST = (c: Ctx) => {
  const file = c.scratch('c3-open-request.json');
  const record = JSON.parse(readFileSync(join(V0, 'credit-user', 'regtest', 'credit-user', 'contracts', `${C3}.json`), 'utf8')) as { open_request: unknown };
  writeFileSync(file, canonicalLine(record.open_request));
  return file;
};

/** Where a scenario's arguments point: its messages (`m`), an earlier step's output (`w`), a scratch file (`scratch`). */
type Ctx = { m: (f: string) => string; w: (name: string) => string; scratch: (f: string) => string };
type Args = (c: Ctx) => string[];
/** verify.sh's three kinds: a step that prints its expected-NAME.json; one that prints FILE again; a refusal. */
type Step = (
  | { step: string; role: string; key: string; args: Args }
  | { same: string; role: string; key: string; args: Args; save?: string }
  | { refuse: string; exit: number; role: string; key: string; args: Args }
) & {
  /** Not verify.sh's: a step asked again to show a nonce signs once (seeded apart, so verify.sh's steps keep their seeds). */
  again?: true;
};
/** `unopened`: roles whose state no step of the scenario opens: left as they were, not migrated. */
type Scenario = { name: string; messages: string; roles: string[]; steps: Step[]; unopened?: string[] };

const SCENARIOS: Scenario[] = [
  { name: 'credit-c1-next-payment', messages: 'credit-messages', roles: ['credit-mint', 'credit-user'], steps: [
    { step: 'c1-s3-receipt', role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', ...PAY, '--in', c.m('next-c1-update-request.json')] },
    { same: 'next-c1-update-request.json', role: 'credit-user', key: 'USER_KEY', args: () => ['sign-update', '--role', 'user', '--contract', C1!, '--amount', '1200'] },
    { step: 'c1-s3-balance', role: 'credit-user', key: 'USER_KEY', args: (c) => ['sign-update', '--role', 'user', '--contract', C1!, '--in', c.w('c1-s3-receipt')] },
    // Signs once: the same request again is answered from the mint's record (the same receipt), never a second signature.
    { again: true, same: '$W/c1-s3-receipt', role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', ...PAY, '--in', c.m('next-c1-update-request.json')] },
  ] },
  { name: 'credit-c1-consumed-nonce', messages: 'credit-messages', roles: ['credit-mint'], steps: [
    { refuse: 'E_NONCE_USED', exit: 5, role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', ...PAY, '--in', c.m('c1-s3-update-request-abandoned.json')] },
  ] },
  { name: 'credit-c2-lost-receipt', messages: 'credit-messages', roles: ['credit-mint', 'credit-user'], steps: [
    { same: 'c2-s2-update-request.json', role: 'credit-user', key: 'USER_KEY', args: () => ['sign-update', '--role', 'user', '--contract', C2!, '--amount', '300'] },
    // The receipt c2eaab3's mint stored, given again: signed now.
    { same: 'c2-s2-receipt-lost.json', save: 'c2-s2-receipt-again', role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', ...PAY, '--in', c.m('c2-s2-update-request.json')] },
    // The receipt as that version printed it, unsigned: refused, nothing written.
    { again: true, refuse: 'E_RECEIPT_FORGED', exit: 4, role: 'credit-user', key: 'USER_KEY', args: (c) => ['sign-update', '--role', 'user', '--contract', C2!, '--in', c.m('c2-s2-receipt-lost.json')] },
    { step: 'c2-s2-balance', role: 'credit-user', key: 'USER_KEY', args: (c) => ['sign-update', '--role', 'user', '--contract', C2!, '--in', c.w('c2-s2-receipt-again')] },
    { step: 'c2-s3-update-request', role: 'credit-user', key: 'USER_KEY', args: () => ['sign-update', '--role', 'user', '--contract', C2!, '--amount', '100'] },
    { step: 'c2-s3-receipt', role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', ...PAY, '--in', c.w('c2-s3-update-request')] },
  ] },
  { name: 'credit-c3-open', messages: 'credit-messages', roles: ['credit-mint', 'credit-user'], steps: [
    // The open-accept c2eaab3's mint printed, unsigned: refused; the user sends its open-request again, and the mint answers it signed.
    { again: true, refuse: 'E_RECEIPT_FORGED', exit: 4, role: 'credit-user', key: 'USER_KEY', args: (c) => ['open-credit', '--role', 'user', '--in', c.m('next-c3-open-accept.json')] },
    { again: true, same: 'next-c3-open-accept.json', save: 'c3-open-accept-again', role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['open-credit', '--role', 'mint', '--tip-height', '1000', '--in', C3_OPEN_REQUEST(c)] },
    { step: 'c3-opened', role: 'credit-user', key: 'USER_KEY', args: (c) => ['open-credit', '--role', 'user', '--in', c.w('c3-open-accept-again')] },
    { step: 'c3-s1-update-request', role: 'credit-user', key: 'USER_KEY', args: () => ['sign-update', '--role', 'user', '--contract', C3!, '--amount', '1000'] },
    { step: 'c3-s1-receipt', role: 'credit-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', ...PAY, '--in', c.w('c3-s1-update-request')] },
    // The user's refund nonce, issued before the migration, signed once: the accept read again answers what it answered.
    { again: true, same: '$W/c3-opened', role: 'credit-user', key: 'USER_KEY', args: (c) => ['open-credit', '--role', 'user', '--in', c.w('c3-open-accept-again')] },
  ] },
  { name: 'credit-read-only', messages: 'credit-messages', roles: ['credit-mint', 'credit-user'], steps: [
    { step: 'credit-list', role: 'credit-mint', key: 'MINT_KEY', args: () => ['credit', 'list', '--tip-height', '1001'] },
    { step: 'c1-refund', role: 'credit-user', key: 'USER_KEY', args: () => ['refund-credit', '--contract', C1!, '--tip-height', '5320'] },
  ] },
  { name: 'ecash-next-payment-mint', messages: 'credit-ecash-messages', roles: ['credit-ecash-mint'], steps: [
    { step: 's3-receipt', role: 'credit-ecash-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', '--ecash-seed-env', 'ECASH_SEED', ...PAY, '--in', c.m('next-update-request.json')] },
  ] },
  { name: 'ecash-next-payment', messages: 'credit-ecash-messages', roles: ['credit-ecash-mint', 'credit-ecash-user'], steps: [
    { step: 's3-update-request', role: 'credit-ecash-user', key: 'USER_KEY', args: () => ['sign-update', '--role', 'user', '--amount', '1500', '--wallet-seed-env', 'WALLET_SEED'] },
    { step: 's3-receipt-2', role: 'credit-ecash-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', '--ecash-seed-env', 'ECASH_SEED', ...PAY, '--in', c.w('s3-update-request')] },
    { step: 's3-balance', role: 'credit-ecash-user', key: 'USER_KEY', args: (c) => ['sign-update', '--role', 'user', '--wallet-seed-env', 'WALLET_SEED', '--token-out', c.scratch('s3-token.txt'), '--in', c.w('s3-receipt-2')] },
  ] },
  { name: 'ecash-consumed-nonce', messages: 'credit-ecash-messages', roles: ['credit-ecash-mint'], steps: [
    { refuse: 'E_NONCE_USED', exit: 5, role: 'credit-ecash-mint', key: 'MINT_KEY', args: (c) => ['sign-update', '--role', 'mint', '--ecash-seed-env', 'ECASH_SEED', ...PAY, '--in', c.m('s3-update-request-abandoned.json')] },
  ] },
  { name: 'ecash-restore', messages: 'credit-ecash-messages', roles: ['credit-ecash-mint'], steps: [
    { step: 'restore', role: 'credit-ecash-mint', key: '-', args: (c) => ['credit', 'ecash', 'restore', '--ecash-seed-env', 'ECASH_SEED', '--in', c.m('restore-request.json')] },
  ] },
  { name: 'device-next', messages: 'device-messages', roles: ['gateway', 'device'], steps: [
    { step: 't1-gateway-receipt', role: 'gateway', key: 'MINT_KEY', args: (c) => ['gateway', 'complete', '--tip-height', '1000', '--confirmations', '1', '--in', c.m('next-device-settle.json')] },
    // The gateway's state-4 nonce, issued before the migration, signed once: the settle read again answers the same receipt.
    { again: true, same: '$W/t1-gateway-receipt', role: 'gateway', key: 'MINT_KEY', args: (c) => ['gateway', 'complete', '--tip-height', '1000', '--confirmations', '1', '--in', c.m('next-device-settle.json')] },
    { step: 't1-device-balance', role: 'device', key: 'USER_KEY', args: (c) => ['device', 'receipt', '--in', c.w('t1-gateway-receipt')] },
    { refuse: 'E_ALREADY_PAID', exit: 4, role: 'device', key: 'USER_KEY', args: (c) => ['device', 'pay', '--invoice', c.m('toll-0.bolt11'), ...POLICY, ...TERMS, ...NOW, '--tip-height', '1000'] },
    { step: 't2-device-pay', role: 'device', key: 'USER_KEY', args: (c) => ['device', 'pay', '--invoice', c.m('toll-2.bolt11'), ...POLICY, ...TERMS, ...NOW, '--tip-height', '1000'] },
    { step: 't2-gateway-job', role: 'gateway', key: 'MINT_KEY', args: (c) => ['gateway', 'pay', ...TERMS, ...NOW, '--tip-height', '1000', '--confirmations', '1', '--in', c.w('t2-device-pay')] },
  ] },
  { name: 'device-consumed-nonce', messages: 'device-messages', roles: ['gateway'], steps: [
    { refuse: 'E_NONCE_USED', exit: 5, role: 'gateway', key: 'MINT_KEY', args: (c) => ['gateway', 'complete', '--tip-height', '1000', '--confirmations', '1', '--in', c.m('replay-device-settle-consumed-nonce.json')] },
  ] },
  { name: 'commitment-b-next', messages: 'commitment-messages', roles: ['commitment-b'], steps: [
    { step: 'c2-b-revocation-received', role: 'commitment-b', key: '-', args: (c) => ['commitment', 'receive-revocation', '--in', c.m('next-revoke-and-ack.json')] },
    { step: 'b-penalty-on-a1', role: 'commitment-b', key: '-', args: (c) => ['commitment', 'penalty', '--channel-id', CHANNEL, '--txid', revoked(c.w('c2-b-revocation-received')), '--key-env', 'BOB_KEY', '--to', TO, '--feerate-per-kw', '2500'] },
  ] },
  { name: 'commitment-a-penalties', messages: 'commitment-messages', roles: ['commitment-a'], steps: [
    { step: 'a-penalty-on-b0', role: 'commitment-a', key: '-', args: (c) => ['commitment', 'penalty', '--channel-id', CHANNEL, '--txid', revoked(c.m('c1-a-revocation-received.json')), '--key-env', 'A_HTLC', '--to', TO, '--feerate-per-kw', '2500'] },
    { step: 'a-penalty-on-b1', role: 'commitment-a', key: '-', args: (c) => ['commitment', 'penalty', '--channel-id', CHANNEL, '--txid', revoked(c.m('c2-a-revocation-received.json')), '--key-env', 'A_HTLC', '--to', TO, '--feerate-per-kw', '2500'] },
    { step: 'a-holder-2', role: 'commitment-a', key: '-', args: (c) => ['commitment', 'finalize', '--channel-id', CHANNEL, '--seed-file', c.scratch('alice.seed'), '--key-env', 'A_FUNDING', '--htlc-key-env', 'A_HTLC'] },
  ] },
  { name: 'commitment-a-revoke-again', messages: 'commitment-messages', roles: ['commitment-a'], steps: [
    { same: 'next-revoke-and-ack.json', role: 'commitment-a', key: '-', args: (c) => ['commitment', 'revoke', '--channel-id', CHANNEL, '--seed-file', c.scratch('alice.seed')] },
  ] },
  { name: 'musig-next', messages: 'musig-messages', roles: ['musig'], steps: [
    { step: 's2-alice-signed', role: 'musig', key: 'ALICE_KEY', args: (c) => ['musig', 'sign', '--in', c.m('next-bob-signed.json')] },
    { step: 's2-finalized', role: '-', key: '-', args: (c) => ['psbt', 'finalize', '--in', c.w('s2-alice-signed')] },
    // The nonce issued before the migration signed once: asked again, it is used.
    { again: true, refuse: 'E_NONCE_USED', exit: 5, role: 'musig', key: 'ALICE_KEY', args: (c) => ['musig', 'sign', '--in', c.m('next-bob-signed.json')] },
  ] },
  { name: 'musig-consumed-nonce', messages: 'musig-messages', roles: ['musig'], steps: [
    { refuse: 'E_NONCE_USED', exit: 5, role: 'musig', key: 'ALICE_KEY', args: (c) => ['musig', 'sign', '--in', c.m('s1-bob-signed.json')] },
  ] },
  // The payer's check (step 4) keeps nothing: its directory is never opened, so never migrated.
  { name: 'ptlc-next', messages: 'ptlc-messages', roles: ['ptlc', 'ptlc-payer'], unopened: ['ptlc-payer'], steps: [
    { step: 'p2-presigned', role: 'ptlc', key: 'BOB_KEY', args: (c) => ['ptlc', 'presign', '--ptlc', c.m('p2-created.json'), '--in', c.m('next-presign-2.json')] },
    { step: 'p2-presign-4-checked', role: 'ptlc-payer', key: 'ALICE_KEY', args: (c) => ['ptlc', 'presign', '--ptlc', c.m('p2-created.json'), '--in', c.w('p2-presigned')] },
    { step: 'p2-claim', role: '-', key: '-', args: (c) => ['ptlc', 'claim', '--secret-file', c.scratch('p2-secret.hex'), '--in', c.w('p2-presigned')] },
    { again: true, refuse: 'E_NONCE_USED', exit: 5, role: 'ptlc', key: 'BOB_KEY', args: (c) => ['ptlc', 'presign', '--ptlc', c.m('p2-created.json'), '--in', c.m('next-presign-2.json')] },
  ] },
  { name: 'ptlc-consumed-nonce', messages: 'ptlc-messages', roles: ['ptlc'], steps: [
    { refuse: 'E_NONCE_USED', exit: 5, role: 'ptlc', key: 'BOB_KEY', args: (c) => ['ptlc', 'presign', '--ptlc', c.m('p1-created.json'), '--in', c.m('p1-presign-2.json')] },
  ] },
  { name: 'statechain-a-second-transfer', messages: 'statechain-messages', roles: ['statechain-operator', 'statechain-owner', 'statechain-receiver'], steps: [
    { step: 'a-t2-transfer-package', role: 'statechain-receiver', key: 'BOB_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.m('next-transfer-cosigned.json')] },
    { step: 'a-t2-transfer-accept', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('a-t2-transfer-package')] },
    { step: 'a-t2-transfer-done', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('a-t2-transfer-accept')] },
    { step: 'a-t2-coin-alice', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('a-t2-transfer-done')] },
    // Bob's nonce, issued before the migration, signed once: the same message again is answered from his record.
    { again: true, same: '$W/a-t2-transfer-package', role: 'statechain-receiver', key: 'BOB_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.m('next-transfer-cosigned.json')] },
  ] },
  { name: 'statechain-c-deposit', messages: 'statechain-messages', roles: ['statechain-operator', 'statechain-owner'], steps: [
    { step: 'c-deposit-cosigned', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-deposit', '--tip-height', '200', '--in', c.m('next-deposit-backup.json')] },
    { step: 'c-coin', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-deposit', '--tip-height', '200', '--in', c.w('c-deposit-cosigned')] },
    // Alice's deposit nonce, issued before the migration, signed once.
    { again: true, same: '$W/c-coin', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-deposit', '--tip-height', '200', '--in', c.w('c-deposit-cosigned')] },
  ] },
  { name: 'statechain-d-deposit', messages: 'statechain-messages', roles: ['statechain-operator', 'statechain-owner'], steps: [
    { step: 'd-deposit-offer', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-deposit', '--interval', '10', '--initial-lock', '+100', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '6', '--tip-height', '200', '--in', c.m('next-deposit-request.json')] },
    { step: 'd-deposit-backup', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-deposit', '--funding', c.m('d-funding.psbt'), '--tip-height', '200', '--in', c.w('d-deposit-offer')] },
  ] },
  { name: 'statechain-pair-withdraws', messages: 'statechain-messages', roles: ['statechain-operator', 'statechain-owner', 'statechain-receiver'], steps: [
    { step: 'b-joint-withdraw-nonce', role: 'statechain-receiver', key: 'BOB_KEY', args: () => ['statechain-withdraw', '--coin', COIN_B!, '--to', TO, '--fee-rate', '2', ...TC] },
    { step: 'b-withdraw-request', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-withdraw', '--to', TO, '--fee-rate', '2', ...TC, '--in', c.w('b-joint-withdraw-nonce')] },
    { step: 'b-withdraw-cosigned', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-withdraw', ...TC, '--in', c.w('b-withdraw-request')] },
    { step: 'b-joint-withdraw-sign', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-withdraw', ...TC, '--in', c.w('b-withdraw-cosigned')] },
    { step: 'b-withdrawal', role: 'statechain-receiver', key: 'BOB_KEY', args: (c) => ['statechain-withdraw', ...TC, '--in', c.w('b-joint-withdraw-sign')] },
  ] },
  { name: 'statechain-f-pair-receives', messages: 'statechain-messages', roles: ['statechain-operator', 'statechain-owner', 'statechain-receiver'], steps: [
    { step: 'f-transfer-request', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', '--start', '--joint-with', c.m('next-joint-part.json'), '--coin', COIN_F!, '--operator-key', text(join(FIX, 'statechain/operator.pub')), ...TC] },
    { step: 'f-transfer-sign', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-request')] },
    { step: 'f-transfer-cosigned', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-sign')] },
    { step: 'f-transfer-package', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-cosigned')] },
    { step: 'f-joint-handoff', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-package')] },
    { step: 'f-joint-t2', role: 'statechain-receiver', key: 'BOB_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-joint-handoff')] },
    { step: 'f-transfer-accept', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-joint-t2')] },
    { step: 'f-transfer-done', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-accept')] },
    { step: 'f-coin-part-a', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-done')] },
    { step: 'f-coin-part-b', role: 'statechain-receiver', key: 'BOB_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.w('f-transfer-done')] },
  ] },
  { name: 'statechain-replays', messages: 'statechain-messages', roles: ['statechain-operator', 'statechain-receiver', 'statechain-owner'], steps: [
    { same: 'a-t2-transfer-cosigned.json', role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.m('a-t2-transfer-sign.json')] },
    { same: 'a-t2-transfer-sign.json', role: 'statechain-receiver', key: 'BOB_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.m('a-t2-transfer-request.json')] },
    { same: 'a-t1-transfer-package.json', role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.m('a-t1-transfer-cosigned.json')] },
    { refuse: 'E_NOT_SIGNING', exit: 5, role: 'statechain-owner', key: 'ALICE_KEY', args: (c) => ['statechain-deposit', '--tip-height', '200', '--in', c.m('a-deposit-cosigned.json')] },
    { refuse: 'E_BAD_REQUEST_SIG', exit: 4, role: 'statechain-operator', key: 'OPERATOR_KEY', args: (c) => ['statechain-transfer', ...TC, '--in', c.m('a-t1-transfer-sign.json')] },
  ] },
];

const tmp = tempDir('offchain-state-v0-');
afterAll(() => tmp.cleanup());
let n = 0;

/** A copy of `roles` as a git checkout leaves them (directories 0755, files 0644), under a fresh scratch directory. */
function workspace(roles: string[]): { w: string; s: string } {
  const w = join(tmp.path, `w-${++n}`);
  const s = join(w, 's');
  mkdirSync(s, { recursive: true });
  for (const role of roles) {
    cpSync(join(V0, role), join(s, role), { recursive: true });
    const loosen = (p: string) => {
      const dir = statSync(p).isDirectory();
      chmodSync(p, dir ? 0o755 : 0o644);
      if (dir) for (const f of readdirSync(p)) loosen(join(p, f));
    };
    loosen(join(s, role));
  }
  for (const [f, from] of [['alice.seed', join(FIX, 'bolt3/alice.seed')], ['p2-secret.hex', join(V0, 'ptlc-messages/p2-secret.hex')]] as const) {
    cpSync(from, join(w, f));
    chmodSync(join(w, f), 0o600);
  }
  return { w, s };
}

/** One offchain step as verify.sh runs it: the role's --state-dir and --key-env last, its own seed. */
function offchain(scenario: string, index: number | string, s: string, step: Step, args: string[]): Run {
  const full = [...args, ...(step.role === '-' ? [] : ['--state-dir', join(s, step.role)]), ...(step.key === '-' ? [] : ['--key-env', step.key])];
  return run(full, { env: { ...KEYS, OFFCHAIN_TEST_SEED: `state-fixtures/next/${scenario}/${index}` } });
}

/** A refusal: that code in its one error line, that exit status, nothing on stdout. */
function refused(r: Run, code: string, exit: number): void {
  expect(r.stdout).toBe('');
  expect(r.status, r.stderr).toBe(exit);
  expect(r.stderr).toMatch(new RegExp(`^offchain: error ${code}: `, 'm'));
}

/** The network directory of a role, once migrated: state.sqlite alone, 0600, in a 0700 directory. */
function migrated(s: string, role: string): void {
  const dir = join(s, role, 'regtest');
  expect(readdirSync(dir), `${role}: the old folders gone`).toEqual([STATE_DB_FILE]);
  expect(statSync(dir).mode & 0o777, role).toBe(0o700);
  expect(statSync(join(dir, STATE_DB_FILE)).mode & 0o777, role).toBe(0o600);
}

/**
 * `expected`, as this toolkit prints it: the same bytes, or — an answer it signs — the same
 * bytes with the line of its signature besides, a valid signature of the mint's key over the rest.
 */
function expectPrinted(out: string, expected: string, label: string): void {
  if (out === expected) return;
  const line = /^ {2}"(mint|gateway)_signature": "[0-9a-f]{128}",\n/m.exec(out);
  expect(line, `${label}: differs, and not by a signature line`).not.toBeNull();
  expect(out.replace(line![0], ''), label).toBe(expected);
  expect(answerSignedBy(JSON.parse(out) as Record<string, unknown>, MINT_XONLY, `${line![1] as 'mint' | 'gateway'}_signature`), `${label}: its signature`).toBe(true);
}

describe('each role\'s next steps, on its directory as c2eaab3 left it', () => {
  it.each(SCENARIOS.map((sc) => [sc.name, sc] as const))('%s', (_, sc) => {
    const { w, s } = workspace(sc.roles);
    const m = (f: string) => join(V0, sc.messages, f);
    const ctx: Ctx = { m, w: (name) => join(w, `${name}.json`), scratch: (f) => join(w, f) };
    // verify.sh's normalise: the copy's paths cut out of what is printed.
    const normalise = (out: string) => out.split(`${s}/`).join('').split(`${w}/`).join('');
    const unopened = Object.fromEntries((sc.unopened ?? []).map((role) => [role, fileSnapshot(join(s, role))]));
    let seed = 0;
    sc.steps.forEach((step, i) => {
      const r = offchain(sc.name, step.again ? `again-${i + 1}` : ++seed, s, step, step.args(ctx));
      if ('refuse' in step) return refused(r, step.refuse, step.exit);
      expect(r.status, `${sc.name} step ${i + 1}: ${r.stderr}`).toBe(0);
      const out = normalise(r.stdout);
      if ('step' in step) {
        writeFileSync(ctx.w(step.step), out);
        expectPrinted(out, readFileSync(m(`expected-${step.step}.json`), 'utf8'), `${step.step}: the bytes c2eaab3 printed`);
      } else {
        const file = step.same.startsWith('$W/') ? ctx.w(step.same.slice(3)) : m(step.same);
        if (step.save) writeFileSync(ctx.w(step.save), out);
        expectPrinted(out, readFileSync(file, 'utf8'), `${step.same} again`);
      }
    });
    for (const role of sc.roles) {
      if (role in unopened) expect(fileSnapshot(join(s, role)), `${role}: never opened`).toEqual(unopened[role]);
      else migrated(s, role);
    }
  });
});

describe('refused, nothing written', () => {
  const next = SCENARIOS.find((sc) => sc.name === 'musig-next')!;
  const firstStep = (s: string, w: string) => offchain('musig-next', 1, s, next.steps[0]!, next.steps[0]!.args({ m: (f) => join(V0, 'musig-messages', f), w: (x) => join(w, `${x}.json`), scratch: (f) => join(w, f) }));

  it('a directory half migrated (state.sqlite with rows, beside the old folders it never imported): E_STATE_HALF_MIGRATED, exit 5', async () => {
    const { w, s } = workspace(['musig']);
    const dir = join(s, 'musig', 'regtest');
    const db = StateDb.open(dir, { create: true })!;
    await db.step(() => new Records(db, 'statechain').put('coin-x', { from: 'a newer run' }));
    db.close();
    const before = fileSnapshot(dir);
    refused(firstStep(s, w), 'E_STATE_HALF_MIGRATED', 5);
    expect(fileSnapshot(dir)).toEqual(before);
  });

  it('an older offchain\'s unfinished step (.step.<id>.open): E_STEP_INTERRUPTED, exit 5, no database made', () => {
    const { w, s } = workspace(['musig']);
    const dir = join(s, 'musig', 'regtest');
    writeFileSync(join(dir, '.step.0011223344556677.open'), '{"pid":2}\n');
    const before = fileSnapshot(dir);
    const r = firstStep(s, w);
    refused(r, 'E_STEP_INTERRUPTED', 5);
    expect(r.stderr).toContain('.step.0011223344556677.open');
    expect(fileSnapshot(dir)).toEqual(before);
    expect(existsSync(join(dir, STATE_DB_FILE))).toBe(false);
  });

  it('a database from a newer offchain (user_version 99) beside the old folders: E_STORE_SCHEMA_NEWER, exit 1', () => {
    const { w, s } = workspace(['musig']);
    const dir = join(s, 'musig', 'regtest');
    StateDb.open(dir, { create: true })!.close();
    const raw = new Database(join(dir, STATE_DB_FILE));
    raw.pragma('user_version = 99');
    raw.close();
    const before = fileSnapshot(dir);
    refused(firstStep(s, w), 'E_STORE_SCHEMA_NEWER', 1);
    expect(fileSnapshot(dir)).toEqual(before);
  });
});

describe('a crash after the import\'s COMMIT, before the old files were removed', () => {
  it('the next command removes them and imports nothing twice: the next step prints what c2eaab3 printed, the nonce it used stays used', () => {
    const { w, s } = workspace(['musig']);
    const dir = join(s, 'musig', 'regtest');
    const m = (f: string) => join(V0, 'musig-messages', f);
    const ctx: Ctx = { m, w: (x) => join(w, `${x}.json`), scratch: (f) => join(w, f) };
    const consumed = SCENARIOS.find((sc) => sc.name === 'musig-consumed-nonce')!.steps[0]!;
    // A command that imports the directory and writes nothing else (a refusal): the database is the import alone.
    refused(offchain('musig-consumed-nonce', 1, s, consumed, consumed.args(ctx)), 'E_NONCE_USED', 5);
    migrated(s, 'musig');
    const imported = new Database(join(dir, STATE_DB_FILE));
    const rows = JSON.stringify(imported.prepare('SELECT * FROM nonces ORDER BY id').all());
    imported.close();
    // The old files back, as the crash left them.
    cpSync(join(V0, 'musig', 'regtest', 'nonces'), join(dir, 'nonces'), { recursive: true });
    const next = SCENARIOS.find((sc) => sc.name === 'musig-next')!;
    const r = offchain('musig-next', 1, s, next.steps[0]!, next.steps[0]!.args(ctx));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(m('expected-s2-alice-signed.json'), 'utf8'));
    migrated(s, 'musig');
    const after = new Database(join(dir, STATE_DB_FILE));
    const now = after.prepare<[], { id: string; consumed: number }>('SELECT id, consumed FROM nonces ORDER BY id').all();
    after.close();
    // The same rows as the import made, the one nonce now used: nothing was imported again.
    expect(now.map((x) => x.id)).toEqual((JSON.parse(rows) as { id: string }[]).map((x) => x.id));
    expect(now.every((x) => x.consumed === 1)).toBe(true);
    refused(offchain('musig-next', 3, s, next.steps[0]!, next.steps[0]!.args(ctx)), 'E_NONCE_USED', 5);
    cpSync(join(V0, 'musig', 'regtest', 'nonces'), join(dir, 'nonces'), { recursive: true });
    refused(offchain('musig-next', 4, s, next.steps[0]!, next.steps[0]!.args(ctx)), 'E_NONCE_USED', 5);
    migrated(s, 'musig');
  });
});
