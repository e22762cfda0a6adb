/**
 * docs/cli.md's "Every error code" section, rendered from the table in src/lib/error-codes.ts.
 * scripts/error-codes.ts writes it; test/lib/error-codes.test.ts checks the committed page equals it.
 */
import { ERROR_CODES, EXIT_CLASSES, type ExitClass } from '../src/lib/error-codes.ts';

export const BEGIN = '<!-- error codes: generated from src/lib/error-codes.ts by `npm run -s error-codes`; do not edit by hand -->';
export const END = '<!-- end of the generated error codes -->';

export function errorCodesSection(): string {
  const exits = (c: ExitClass) => EXIT_CLASSES[c].exits.join(' / ');
  const classes = Object.keys(EXIT_CLASSES) as ExitClass[];
  return [
    BEGIN,
    '',
    '| class | exit | meaning |',
    '|---|---|---|',
    ...classes.map((c) => `| ${c} | ${exits(c)} | ${EXIT_CLASSES[c].meaning} |`),
    '',
    '| code | class | exit |',
    '|---|---|---|',
    ...Object.keys(ERROR_CODES).sort().map((code) => `| \`${code}\` | ${ERROR_CODES[code]} | ${exits(ERROR_CODES[code]!)} |`),
    '',
    END,
  ].join('\n');
}

/** `page` with its generated section replaced by the table's (appended when it has none). */
export function withErrorCodes(page: string): string {
  const from = page.indexOf(BEGIN);
  const to = page.indexOf(END);
  if (from === -1 || to === -1) return `${page.replace(/\n*$/, '\n\n')}${errorCodesSection()}\n`;
  return page.slice(0, from) + errorCodesSection() + page.slice(to + END.length);
}
