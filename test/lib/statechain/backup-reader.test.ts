/**
 * The backup template (src/lib/statechain/coin.ts `backupTransaction`) serialized by hand, and
 * the reader that recognises it without parsing (`readBackup`).
 *
 * - The template is the documented transaction: read back by the test's own transaction reader
 *   (test/independent/tx.ts), its version, input, sequence, outputs and locktime are what
 *   docs/statechain.md "The backup template" says, its txid is that reader's, and its signature
 *   message is the independent BIP-341 one.
 * - The shortcut agrees with the parse: for the template's bytes unsigned and signed, and for
 *   thousands of mutations of them (a byte changed, inserted or removed, cut short, extended,
 *   the witness reshaped, upper-case hex, not hex at all), `readBackup` with the template gives
 *   exactly what it gives without one (btc-signer's parse): the same txid, unsigned bytes and
 *   signature, or the same refusal.
 */
import { describe, expect, it } from 'vitest';
import { backupTransaction, coinKey, readBackup, type Backup, type BackupSpec } from '../../../src/lib/statechain/coin.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { parseTx } from '../../independent/tx.ts';
import { keyPathSigHash } from '../../independent/sighash.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';
import { taprootOutput } from '../../independent/keys.ts';

const random = deterministicRandom('backup-reader');
const share = (label: string) => publicKeyOf(random.bytes(32, label));
const P2A = '51024e73';

function world(anchor: boolean, payTo?: Uint8Array) {
  const owner = share('owner');
  const key = coinKey(share('coin-owner'), share('coin-operator'));
  const spec: BackupSpec = {
    outpoint: { txid: toHex(random.bytes(32, 'txid')), vout: 3 }, amountSat: 250_000n, locktime: 812_345, ownerShare: owner, feeSat: anchor ? 0n : 400n, anchor, payTo,
  };
  return { key, spec, owner, backup: backupTransaction(key, spec) };
}

describe('the backup template is the documented transaction', () => {
  for (const [what, anchor, payTo] of [['one output', false, undefined], ['anchored', true, undefined], ['paying a chosen script', false, fromHex('0020' + 'ab'.repeat(32))]] as const) {
    it(`${what}: version 3, the coin's outpoint with nSequence 0xfffffffe, amount − fee to the owner share's BIP-86 P2TR${anchor ? ', 0 sat to P2A' : ''}, the locktime; its txid and BIP-341 message`, () => {
      const { key, spec, owner, backup } = world(anchor, payTo);
      const tx = parseTx(backup.unsignedTx);
      expect(tx.version).toBe(3);
      expect(tx.lockTime).toBe(812_345);
      expect(backup.lockTime).toBe(812_345);
      expect(tx.inputs.map((i) => [i.txid, i.vout, i.sequence, i.scriptSig.length, i.witness.length])).toEqual([[spec.outpoint.txid, 3, 0xffff_fffe, 0, 0]]);
      const pays = payTo ?? taprootOutput(owner.subarray(1)).script;
      expect(tx.outputs.map((o) => [o.amount, toHex(o.script)])).toEqual([
        [anchor ? 250_000n : 249_600n, toHex(pays)],
        ...(anchor ? [[0n, P2A]] : []),
      ]);
      expect(backup.id).toBe(tx.txid);
      expect(toHex(backup.sighash())).toBe(toHex(keyPathSigHash(tx, [{ amount: 250_000n, script: key.script }], 0, 0x00)));
      // Signed: the same transaction with the signature as its one witness item.
      const sig = random.bytes(64, 'sig');
      const signed = parseTx(backup.signed(sig));
      expect(signed.txid).toBe(tx.txid);
      expect(signed.inputs[0]!.witness.map(toHex)).toEqual([toHex(sig)]);
    });
  }
});

type Outcome = { id: string; unsignedTx: string; signature: string | undefined } | { code: string; message: string };

function outcome(read: () => ReturnType<typeof readBackup>): Outcome {
  try {
    const r = read();
    return { id: r.id, unsignedTx: toHex(r.unsignedTx), signature: r.signature === undefined ? undefined : toHex(r.signature) };
  } catch (e) {
    return { code: (e as { code?: string }).code ?? 'raw', message: (e as Error).message };
  }
}

/** One random change to a hex string of a transaction: a byte, an insertion, a removal, a cut, an extension, the witness, the case, a non-hex character. */
function mutate(hex: string, r: () => number): string {
  const bytes = Array.from(fromHex(hex));
  const at = Math.floor(r() * (bytes.length + 1));
  const byte = Math.floor(r() * 256);
  switch (Math.floor(r() * 9)) {
    case 0: bytes[Math.min(at, bytes.length - 1)] = byte; break;
    case 1: bytes[Math.min(at, bytes.length - 1)]! ^= 1 << Math.floor(r() * 8); break;
    case 2: bytes.splice(at, 0, byte); break;
    case 3: bytes.splice(Math.min(at, bytes.length - 1), 1); break;
    case 4: bytes.length = Math.max(0, Math.min(at, bytes.length - 1)); break;
    case 5: bytes.push(byte); break;
    // The witness of the signed form: its item count, its length byte, one more item.
    case 6: if (bytes.length > 80) bytes[bytes.length - 4 - 64 - 2]! ^= 1 << Math.floor(r() * 8); break;
    case 7: return hex.toUpperCase();
    default: return hex.slice(0, Math.floor(r() * hex.length)) + 'zz' + hex.slice(Math.floor(r() * hex.length));
  }
  return toHex(Uint8Array.from(bytes));
}

describe('readBackup: the template\'s shortcut gives what the parse gives', () => {
  const cases: [string, Backup][] = [['one output', world(false).backup], ['anchored', world(true).backup]];
  for (const [what, backup] of cases) {
    it(`${what}: the unsigned and signed template are recognised, with the parse's parts`, () => {
      const signed = toHex(backup.signed(random.bytes(64, 'sig')));
      for (const hex of [toHex(backup.unsignedTx), signed]) {
        expect(backup.recognise(hex)).toBeDefined();
        expect(outcome(() => readBackup(hex, 'backup 1', backup))).toEqual(outcome(() => readBackup(hex, 'backup 1')));
      }
    });

    it(`${what}: 4,000 mutations of both forms read the same with and without the template`, () => {
      const seed = random.bytes(32, `mutations-${what}`);
      let state = seed.reduce((a, b) => (a * 31 + b) >>> 0, 7);
      const r = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const forms = [toHex(backup.unsignedTx), toHex(backup.signed(random.bytes(64, 'sig2')))];
      let recognised = 0;
      let parsedAlike = 0;
      for (let i = 0; i < 4000; i++) {
        let hex = forms[i % 2]!;
        for (let k = 1 + Math.floor(r() * 2); k > 0; k--) hex = /^[0-9a-fA-F]*$/.test(hex) && hex.length % 2 === 0 ? mutate(hex, r) : hex;
        const fast = outcome(() => readBackup(hex, 'backup 2', backup));
        const parsed = outcome(() => readBackup(hex, 'backup 2'));
        expect(fast, hex).toEqual(parsed);
        if (backup.recognise(hex) !== undefined) recognised++;
        else if ('id' in parsed) parsedAlike++;
      }
      // Both paths were exercised: signature-only changes (and the upper-case hex) recognised, other transactions parsed.
      expect(recognised).toBeGreaterThan(100);
      expect(parsedAlike).toBeGreaterThan(100);
    });
  }
});
