/**
 * Where a JSON text breaks: the offset of its first syntax error by RFC 8259's grammar,
 * as line and column, and V8's reason without V8's own offsets — so every
 * E_MALFORMED_JSON names the place the same way; and where a name appears twice in one
 * object (RFC 8259: names SHOULD be unique; readers disagree on which one counts, so a
 * filter that reads the first and a step that reads the last would see two messages).
 * Builds no error itself (input.ts does).
 */

/**
 * The offset of the first syntax error in `text` (RFC 8259's grammar), found by a small
 * scanner of our own: V8's messages give a position for some errors ("at position N") and
 * none for others ("Unexpected token 'o', …"). Undefined when the scanner finds none (or
 * the nesting is too deep for it): then V8's own position, if it gave one, is used.
 */
export function jsonErrorOffset(text: string): number | undefined {
  const found = scan(text, false);
  return found instanceof JsonSyntaxAt ? found.offset : undefined;
}

/**
 * The first name that appears twice in one object of `text`, a JSON text JSON.parse took
 * (names compared as JSON.parse decodes them: "type" and "\u0074ype" are one name), and
 * the offset of its second appearance; 'too deep' when the nesting is deeper than the
 * scanner's stack (no message is).
 */
export function duplicateName(text: string): { name: string; offset: number } | 'too deep' | undefined {
  const found = scan(text, true);
  if (found instanceof DuplicateAt) return { name: found.name, offset: found.offset };
  return found === 'too deep' ? found : undefined;
}

function scan(text: string, names: boolean): JsonSyntaxAt | DuplicateAt | 'too deep' | undefined {
  let i = 0;
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  // A run of characters a string may hold as they are: skipped at once.
  const PLAIN = /[^"\\\u0000-\u001f]*/y;
  const fail = (): never => {
    throw new JsonSyntaxAt(i);
  };
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      PLAIN.lastIndex = i;
      PLAIN.test(text);
      i = PLAIN.lastIndex;
      const c = text[i];
      if (c === undefined) fail();
      if (c === '"') return void i++;
      if (c === '\\') {
        const e = text[++i];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
        else fail();
        continue;
      }
      fail(); // a control character
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      const seen = names ? new Set<string>() : undefined;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const start = i;
        string();
        if (seen) {
          const raw = text.slice(start + 1, i - 1);
          const name = raw.includes('\\') ? (JSON.parse(text.slice(start, i)) as string) : raw;
          if (seen.has(name)) throw new DuplicateAt(name, start);
          seen.add(name);
        }
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    for (const literal of ['true', 'false', 'null']) if (text.startsWith(literal, i)) return void (i += literal.length);
    NUMBER.lastIndex = i;
    if (NUMBER.test(text)) return void (i = NUMBER.lastIndex);
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (e) {
    if (e instanceof JsonSyntaxAt || e instanceof DuplicateAt) return e;
    return 'too deep'; // RangeError: nested deeper than the stack
  }
}

class DuplicateAt {
  constructor(readonly name: string, readonly offset: number) {}
}

class JsonSyntaxAt {
  constructor(readonly offset: number) {}
}

/** Where a JSON.parse error is, as line and column (1-based) of `text`. */
export function jsonErrorPosition(text: string, error: Error): { line: number; column: number } {
  let offset = jsonErrorOffset(text);
  if (offset === undefined) {
    const lc = /\(line (\d+) column (\d+)\)/.exec(error.message);
    if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
    const pos = /at position (\d+)/.exec(error.message);
    offset = pos ? Math.min(Number(pos[1]), text.length) : text.length;
  }
  return lineColumn(text, offset);
}

/** The line and column (1-based) of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** V8's reason without its own offsets (we give line and column instead). */
export function jsonReason(error: Error): string {
  return error.message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/\s*in JSON at position \d+.*$/, '').replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '').replace(/^JSON\.parse: /, '');
}
