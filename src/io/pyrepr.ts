/**
 * Python's `repr()` of decoded tnetstring values and of bytes, for messages that mitmproxy users
 * know (`Invalid flow: loaded=[b'hello']`) and for the HAR `headersSize` quirk (spec §5.7).
 */
import type { TNetValue } from './tnetstring.js';
import { pyFloatRepr } from '../util/pyfloat.js';

/** Python's repr of a bytes object: `b'...'`, or `b"..."` when it contains `'` but no `"`. */
export function pyBytesRepr(b: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const c of b) {
    if (c === 0x27) hasSingle = true;
    else if (c === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  let out = quote === 0x22 ? 'b"' : "b'";
  for (const c of b) {
    if (c === quote || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x20 || c >= 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += String.fromCharCode(c);
  }
  return out + (quote === 0x22 ? '"' : "'");
}

/** Characters Python's `str.isprintable()` rejects (the space aside), which `repr` escapes. */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function hexEscape(cp: number): string {
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** Python's repr of a str: single quotes unless the text has a `'` and no `"`; printable non-ASCII kept. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === '\\' || ch === quote) out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) out += hexEscape(ch.codePointAt(0)!);
    else out += ch;
  }
  return out + quote;
}

/** Python's repr of a decoded value, cut to `limit` characters for use in messages. */
export function pyRepr(v: TNetValue, limit = 200): string {
  const s = reprValue(v);
  return s.length > limit ? s.slice(0, limit) + '...' : s;
}

function reprValue(v: TNetValue): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e16 ? String(v) : pyFloatRepr(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return pyStrRepr(v);
  if (Buffer.isBuffer(v)) return pyBytesRepr(v);
  if (Array.isArray(v)) return '[' + v.map(reprValue).join(', ') + ']';
  return '{' + Object.keys(v).map((k) => `${pyStrRepr(k)}: ${reprValue(v[k]!)}`).join(', ') + '}';
}
