/**
 * Python's `repr()` of a float, which mitmproxy users see wherever a float is written: tnetstring
 * flow files, HAR and JSON output, content views, filter and cut text. JavaScript's own number
 * text differs (no ".0" on integral values, exponent form from 1e21 instead of 1e16).
 */

/** Python's `repr(float)`: shortest round-trip digits, `.0` for integral values, exponent at 1e16 and below 1e-4. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // Fast path: where both languages use fixed notation, the shortest digits are the same; only
  // integral values need Python's ".0".
  const ax = x < 0 ? -x : x;
  if (ax >= 1e-4 && ax < 1e16) {
    const js = String(x);
    return Number.isInteger(x) ? js + '.0' : js;
  }
  // toExponential() without an argument gives the shortest digits that round-trip, like repr.
  const exp = x.toExponential();
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(exp);
  if (!m) return String(x);
  const sign = m[1]!;
  const digits = m[2]! + (m[3] ?? '');
  const e = Number(m[4]);
  const decpt = e + 1; // value = 0.<digits> * 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const absE = Math.abs(e);
  return `${sign}${mant}e${e < 0 ? '-' : '+'}${absE < 10 ? '0' : ''}${absE}`;
}
