/**
 * The input document of a command that reads one message or PSBT (stdin or --in), and the
 * PSBT it carries — shared by the base command and the oclif-free `psbt decode` fast path
 * (src/fast/psbt-decode.ts), so both read the same bytes the same way.
 */
import { MalformedInputError } from '../errors.ts';
import { readEnvelope } from '../envelope.ts';
import type { Network } from '../network.ts';
import { psbtBytesFromBase64 } from '../psbt/base64-field.ts';
import { article, nextStepHint } from '../message-steps.ts';
import { detectFormat, type InputDocument } from './input.ts';

/** The whole input with its format detected; an empty input is refused (E_EMPTY_INPUT). */
export function inputDocument(bytes: Uint8Array, path: string | undefined): InputDocument {
  if (bytes.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) {
    // In a pipeline, an empty input almost always means the step before failed.
    throw new MalformedInputError(
      'E_EMPTY_INPUT',
      path !== undefined && path !== '-'
        ? `--in ${path} is empty: expected a JSON message or a PSBT`
        : 'no input: the previous step printed nothing (did it fail?); expected a JSON message or a PSBT on standard input',
    );
  }
  return detectFormat(bytes);
}

/** The PSBT bytes of an input document, and the network its message names, if any. */
export function psbtBytesOf(doc: InputDocument): { bytes: Uint8Array; network?: Network; messageType?: string } {
  if (doc.format === 'psbt') return { bytes: doc.psbt };
  if (doc.format === 'jsonl') {
    throw new MalformedInputError('E_EXPECTED_PSBT', 'expected one PSBT or one message carrying a PSBT, got several JSON lines');
  }
  const env = readEnvelope(doc.value);
  const psbt = (doc.value as { psbt?: unknown }).psbt;
  // A message piped to the wrong command (BRIEF §2): say where it goes instead.
  if (typeof psbt !== 'string') throw new MalformedInputError('E_WRONG_MESSAGE', `expected a PSBT or a message carrying one, got ${article(env.type)} ${env.type} message, which carries no "psbt" field${nextStepHint(env.type)}`);
  const bytes = psbtBytesFromBase64(psbt, `the "psbt" field of the ${env.type} message`);
  return { bytes, network: env.network, messageType: env.type };
}
