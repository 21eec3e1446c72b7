/**
 * JSON exactly as Python's `json.dumps(obj, indent=N)` writes it (ensure_ascii on): `\uXXXX`
 * escapes in lowercase hex for everything outside printable ASCII, Python float repr, and
 * `[]`/`{}` for empty containers. mitmproxy writes HAR files this way, and byte-identical output
 * lets users diff our HAR files against mitmproxy's.
 */
import { PyFloat } from './tnetstring.js';
import { pyFloatRepr } from '../util/pyfloat.js';
import { pyJsonString } from '../util/pyjson-string.js';

export type PyJson = null | boolean | number | string | PyFloat | PyJson[] | { [key: string]: PyJson };

function num(v: number, float: boolean): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (!float && Number.isInteger(v)) return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  return pyFloatRepr(v);
}

/**
 * `json.dumps(value, indent=indent)`; plain integral numbers are ints, `PyFloat` and fractional numbers floats.
 * `level`: the nesting depth the value sits at in a larger document written piece by piece
 * (its inner lines are indented for that depth; the first line is not).
 */
export function pyJsonDumps(value: PyJson, indent = 4, level = 0): string {
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
  walk(value, level);
  return parts.join('');
}
