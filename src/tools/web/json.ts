/**
 * JSON the way mitmweb writes it: Python's `json.dumps` with its default separators (", " and
 * ": "). REST bodies additionally escape everything outside printable ASCII as `\uXXXX` and write
 * `</` as `<\/` (Tornado's json_encode, which keeps JSON safe inside a <script> block);
 * WebSocket messages are plain UTF-8.
 *
 * Strings go through the native `JSON.stringify` (fast, and it already escapes quotes, backslashes
 * and control characters the same way); only strings that need the extra escaping are rewritten.
 */

/** A value this writer can serialise. `undefined` object members are left out, as JSON.stringify does. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined };

const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;
const NOT_PRINTABLE_ASCII_G = /[^\x20-\x7e]/g;

function escapeChar(c: string): string {
  return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
}

/** A JSON string literal; with `ascii`, non-ASCII is escaped and `</` becomes `<\/`. */
export function jsonString(s: string, ascii: boolean): string {
  let out = JSON.stringify(s);
  if (ascii) {
    if (NOT_PRINTABLE_ASCII.test(out)) out = out.replace(NOT_PRINTABLE_ASCII_G, escapeChar);
    if (out.includes('</')) out = out.replaceAll('</', '<\\/');
  }
  return out;
}

function jsonNumber(n: number): string {
  // Python writes NaN/Infinity, which no JSON parser accepts; null is what JSON.stringify does.
  return Number.isFinite(n) ? String(n) : 'null';
}

function write(v: JsonValue | undefined, ascii: boolean, out: string[]): void {
  if (v === null || v === undefined) {
    out.push('null');
    return;
  }
  switch (typeof v) {
    case 'string':
      out.push(jsonString(v, ascii));
      return;
    case 'number':
      out.push(jsonNumber(v));
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
  }
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i) out.push(', ');
      write(v[i] as JsonValue, ascii, out);
    }
    out.push(']');
    return;
  }
  const obj = v as { readonly [key: string]: JsonValue | undefined };
  out.push('{');
  let first = true;
  for (const k in obj) {
    const x = obj[k];
    if (x === undefined) continue;
    out.push(first ? '' : ', ', jsonString(k, ascii), ': ');
    first = false;
    write(x, ascii, out);
  }
  out.push('}');
}

/** Serialise like Python's `json.dumps(value, ensure_ascii=ascii)` (plus Tornado's `<\/` when ascii). */
export function pyJson(value: JsonValue, ascii: boolean): string {
  const out: string[] = [];
  write(value, ascii, out);
  return out.join('');
}
