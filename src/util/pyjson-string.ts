/**
 * A JSON string literal exactly as Python's `json.dumps` writes it, which JSON.stringify does not:
 * with ensure_ascii (Python's default) every UTF-16 unit outside printable ASCII, DEL and lone
 * surrogates included, becomes a lowercase `\uXXXX`; without it only `"`, `\` and control
 * characters are escaped and everything else, lone surrogates too, is written as it is.
 */

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\x00-\x1f]/;
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE_ASCII = /["\\\x00-\x1f\x7f-\uffff]/;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** `json.dumps(s, ensure_ascii=ensureAscii)` for a str. */
export function pyJsonString(s: string, ensureAscii = true): string {
  // Most strings need no escape at all: skip the per-character loop for them.
  if (!(ensureAscii ? NEEDS_ESCAPE_ASCII : NEEDS_ESCAPE).test(s)) return '"' + s + '"';
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (c < 0x20 || (ensureAscii && c > 0x7e)) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}
