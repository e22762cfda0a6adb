import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { fromHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';

export default class DecodeCounterparty extends OffchainCommand<typeof DecodeCounterparty> {
  static override summary = 'Decode a Counterparty transaction: find its CNTRPRTY data (OP_RETURN, bare multisig or P2SH), remove the ARC4 obfuscation and unpack the message.';
  static override description =
    'One transaction (raw hex, a PSBT\'s unsigned transaction, or {"tx": hex}) from --tx, --in or standard input. ' +
    'The data is found as counterparty-core does: outputs in order, OP_RETURN / 1-of-N multisig / P2PKH data ARC4-decrypted with the first input\'s txid as key, destinations before the first data output; ' +
    'a "P2SH" signal takes the data from the inputs\' redeem scripts. send, enhanced_send, issuance (and subasset issuance), broadcast and bet are unpacked field by field; other types are named. ' +
    'A transaction without Counterparty data is an answer (status "not-counterparty", the reason, exit 0); bytes that are not a transaction are exit 3. ' +
    '--data HEX unpacks a bare message (type id + payload). Balances and validity need Counterparty\'s own ledger and are not computed.';
  static override examples = [
    { description: 'A P2SH-encoded broadcast (counterparty-core\'s test transaction)', command: '<%= config.bin %> decode-counterparty --network testnet --in fixtures/openassets/counterparty-p2sh-broadcast.hex' },
    { description: 'An OP_RETURN enhanced send', command: '<%= config.bin %> decode-counterparty --network testnet --in fixtures/openassets/counterparty-opreturn-enhanced-send.hex' },
    { description: 'Unpack a bare message (an XCP send)', command: '<%= config.bin %> decode-counterparty --network testnet --data 0000000000000000000000010000000005f5e100' },
  ];
  static override flags = {
    ...inputFlags,
    tx: Flags.string({ description: 'the transaction, hex (instead of --in / standard input)', helpValue: 'HEX' }),
    data: Flags.string({ description: 'unpack this bare message (type id + payload, hex) instead of a transaction', helpValue: 'HEX' }),
  };

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const network = this.network();
    const msg = await import('../../lib/counterparty/message.ts');
    if (f.data !== undefined) {
      if (f.tx !== undefined || f.in !== undefined) throw new UsageError('E_USAGE', '--data stands alone: no --tx or --in');
      return { message: msg.unpackedMessage(fromHex(f.data, '--data'), network) };
    }
    const { txBytesFromText } = await import('../../lib/openassets/decode.ts');
    const { parseRawTx } = await import('../../lib/tx/raw.ts');
    const text = f.tx ?? new TextDecoder().decode(await readInputBytes(inputFrom(f.in === '-' ? undefined : f.in)));
    return { message: msg.counterpartyMessage(parseRawTx(txBytesFromText(text)), network) };
  }
}
