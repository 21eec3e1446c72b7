/**
 * Python's `repr()` and `str()` of values, where mitmproxy shows or matches them as text:
 * the filter text in error messages (`Invalid filter expression: '...'`) and flow metadata
 * values for `~meta` (a dict value is searched as `{'key': 'value'}`).
 */

import { pyBytesRepr, pyStrRepr } from '../io/pyrepr.js';
import { pyFloatRepr } from '../util/pyfloat.js';

function pyNumberRepr(x: number): string {
  // Flow files keep ints and floats apart, but a JS number cannot; integral values print as ints.
  if (Number.isInteger(x)) return BigInt(x).toString();
  return pyFloatRepr(x);
}

/** `repr(value)` for metadata-like values (str, int, float, bool, None, bytes, list, dict). */
export function pyRepr(value: unknown, seen: Set<object> = new Set()): string {
  if (value === null || value === undefined) return 'None';
  switch (typeof value) {
    case 'string':
      return pyStrRepr(value);
    case 'number':
      return pyNumberRepr(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'True' : 'False';
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value instanceof Uint8Array) return pyBytesRepr(value);
  if (seen.has(value)) return Array.isArray(value) ? '[...]' : '{...}';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${value.map((v) => pyRepr(v, seen)).join(', ')}]`;
    if (value instanceof Map) return `{${[...value].map(([k, v]) => `${pyRepr(k, seen)}: ${pyRepr(v, seen)}`).join(', ')}}`;
    if (value instanceof Set) return value.size ? `{${[...value].map((v) => pyRepr(v, seen)).join(', ')}}` : 'set()';
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null && typeof (value as { toString?: unknown }).toString === 'function') {
      // An object an addon stored with its own string form (Python would use its __repr__).
      return String(value);
    }
    return `{${Object.entries(value).map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v, seen)}`).join(', ')}}`;
  } finally {
    seen.delete(value);
  }
}

/** `str(value)`: text as is, everything else as `repr`. */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}
