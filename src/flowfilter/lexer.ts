/**
 * Character-level reading of filter expressions.
 *
 * The filter grammar is context-sensitive at the character level (`!`, `&` and `|` are operators
 * where an operator may stand, but ordinary characters inside a bare word: `a&b` is one word), so
 * the parser asks for a token at a position instead of consuming a pre-split token stream. Each
 * method here reads one kind of token at a given offset and never throws.
 */

/** The characters mitmproxy's parser skips between tokens. */
export function isWhitespace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

/** Printable ASCII without space: what the word-end rule after an operator keyword looks at. */
export function isPrintableAscii(code: number): boolean {
  return code >= 0x21 && code <= 0x7e;
}

/** Characters that end an unquoted argument (besides whitespace). */
const WORD_STOP = new Set(['(', ')', '~', "'", '"']);

export type QuotedResult =
  | { ok: true; value: string; end: number }
  | { ok: false; reason: string; at: number };

export class Lexer {
  constructor(readonly text: string) {}

  get length(): number {
    return this.text.length;
  }

  /** The offset of the first non-whitespace character at or after `pos`. */
  skipWhitespace(pos: number): number {
    const t = this.text;
    while (pos < t.length && isWhitespace(t[pos])) pos++;
    return pos;
  }

  /**
   * The operator keyword starting with `~` at `pos`: `~` plus every printable ASCII character
   * that follows. An operator only counts when this whole run is its name (`~q&` is not `~q`),
   * which is mitmproxy's rule that a keyword must be followed by whitespace or the end.
   */
  keywordAt(pos: number): { word: string; end: number } {
    const t = this.text;
    let end = pos + 1;
    while (end < t.length && isPrintableAscii(t.charCodeAt(end))) end++;
    return { word: t.slice(pos, end), end };
  }

  /** An unquoted argument at `pos`: everything up to whitespace or one of `( ) ~ ' "`. Null if empty. */
  wordAt(pos: number): { value: string; end: number } | null {
    const t = this.text;
    let end = pos;
    while (end < t.length && !isWhitespace(t[end]) && !WORD_STOP.has(t[end]!)) end++;
    return end === pos ? null : { value: t.slice(pos, end), end };
  }

  /**
   * A quoted argument at `pos` (which holds `"` or `'`). It must close on the same line;
   * a backslash escapes the next character: `\n \r \t \f` give control characters, any other
   * `\x` gives `x` (so `"\d"` is the regex `d`, and `"\\d"` is `\d`).
   */
  quotedAt(pos: number): QuotedResult {
    const t = this.text;
    const quote = t[pos]!;
    let value = '';
    let i = pos + 1;
    while (i < t.length) {
      const ch = t[i]!;
      if (ch === quote) return { ok: true, value, end: i + 1 };
      if (ch === '\n' || ch === '\r') return { ok: false, reason: 'a quoted string must end on the same line', at: pos };
      if (ch === '\\') {
        const next = t[i + 1];
        if (next === undefined || next === '\n') break;
        value += ESCAPES[next] ?? next;
        i += 2;
        continue;
      }
      value += ch;
      i++;
    }
    return { ok: false, reason: `unterminated quoted string (missing closing ${quote})`, at: pos };
  }

  /** A run of ASCII digits at `pos`, or null. */
  digitsAt(pos: number): { value: string; end: number } | null {
    const t = this.text;
    let end = pos;
    while (end < t.length && t.charCodeAt(end) >= 0x30 && t.charCodeAt(end) <= 0x39) end++;
    return end === pos ? null : { value: t.slice(pos, end), end };
  }
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f' };

/**
 * mitmproxy's parser (pyparsing) runs `str.expandtabs()` on the filter before reading it, so a
 * raw tab inside a quoted regex becomes spaces up to the next multiple of 8 columns (columns
 * restart after CR and LF). Returns the expanded text and, for error positions, the offset in
 * the original text of every expanded offset (null when there is no tab).
 */
export function expandTabs(text: string): { text: string; origin: number[] | null } {
  if (!text.includes('\t')) return { text, origin: null };
  let out = '';
  const origin: number[] = [];
  let column = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (ch === '\t') {
      const spaces = 8 - (column % 8);
      for (let k = 0; k < spaces; k++) origin.push(i);
      out += ' '.repeat(spaces);
      column += spaces;
    } else {
      for (let k = 0; k < ch.length; k++) origin.push(i + k);
      out += ch;
      column = ch === '\n' || ch === '\r' ? 0 : column + 1;
    }
    i += ch.length;
  }
  origin.push(text.length);
  return { text: out, origin };
}

/**
 * A regex argument written so that the lexer reads back exactly `value`: always double-quoted,
 * with backslash, double quote and line breaks escaped.
 */
export function quoteArgument(value: string): string {
  let out = '"';
  for (const ch of value) {
    if (ch === '\\' || ch === '"') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else out += ch;
  }
  return out + '"';
}
