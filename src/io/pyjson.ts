/**
 * JSON exactly as Python's `json.dumps(obj, indent=N)` writes it (ensure_ascii on): `\uXXXX`
 * escapes in lowercase hex for everything outside printable ASCII, Python float repr, and
 * `[]`/`{}` for empty containers. mitmproxy writes HAR files this way, and byte-identical output
 * lets users diff our HAR files against mitmproxy's.
 */
import { PyFloat, pyFloatRepr } from './tnetstring.js';

export type PyJson = null | boolean | number | string | PyFloat | PyJson[] | { [key: string]: PyJson };

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A string literal with Python's ensure_ascii escaping (lone surrogates come out as `\udcXX`). */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    const esc = ESCAPES[ch];
    if (esc !== undefined) out += esc;
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

function num(v: number, float: boolean): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (!float && Number.isInteger(v)) return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  return pyFloatRepr(v);
}

/** `json.dumps(value, indent=indent)`; plain integral numbers are ints, `PyFloat` and fractional numbers floats. */
export function pyJsonDumps(value: PyJson, indent = 4): string {
  const parts: string[] = [];
  const pad = (level: number) => '\n' + ' '.repeat(indent * level);
  const walk = (v: PyJson, level: number): void => {
    if (v === null) parts.push('null');
    else if (v === true) parts.push('true');
    else if (v === false) parts.push('false');
    else if (typeof v === 'number') parts.push(num(v, false));
    else if (typeof v === 'string') parts.push(pyJsonString(v));
    else if (v instanceof PyFloat) parts.push(num(v.value, true));
    else if (Array.isArray(v)) {
      if (v.length === 0) return void parts.push('[]');
      parts.push('[');
      v.forEach((x, i) => {
        parts.push(i ? ',' + pad(level + 1) : pad(level + 1));
        walk(x, level + 1);
      });
      parts.push(pad(level) + ']');
    } else {
      const keys = Object.keys(v);
      if (keys.length === 0) return void parts.push('{}');
      parts.push('{');
      keys.forEach((k, i) => {
        parts.push((i ? ',' : '') + pad(level + 1) + pyJsonString(k) + ': ');
        walk(v[k]!, level + 1);
      });
      parts.push(pad(level) + '}');
    }
  };
  walk(value, 0);
  return parts.join('');
}
