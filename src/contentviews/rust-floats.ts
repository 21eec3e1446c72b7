/**
 * Float text as the views of mitmproxy that are written in Rust print it (`Display` of f32/f64,
 * serde_yaml); Python's `repr(float)` is util/pyfloat.ts. JavaScript's own `toString` differs in
 * when it switches to exponent notation, so the digits are taken from JS (shortest round-trip,
 * the same digits both languages pick) and laid out the Rust way here.
 */

/** Shortest round-trip digits and decimal exponent: 1234.5 -> { digits: "12345", exp: 3 }. */
function shortestDigits(x: number, precision?: number): { negative: boolean; digits: string; exp: number } {
  const s = precision === undefined ? Math.abs(x).toExponential() : Math.abs(x).toExponential(precision - 1);
  const e = s.indexOf('e');
  const mantissa = s.slice(0, e).replace('.', '');
  return { negative: x < 0 || Object.is(x, -0), digits: mantissa.replace(/0+$/, '') || '0', exp: Number(s.slice(e + 1)) };
}

/** Lay out digits d1d2d3... with the decimal point after position exp+1, no exponent. */
function fixedLayout(digits: string, exp: number): string {
  if (exp < 0) return '0.' + '0'.repeat(-exp - 1) + digits;
  if (digits.length <= exp + 1) return digits + '0'.repeat(exp + 1 - digits.length);
  return digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
}

/** Rust's `Display` for f64: shortest round-trip digits, never in exponent form ("1e20" is "100000000000000000000"). */
export function rustF64Display(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const { negative, digits, exp } = shortestDigits(x);
  return (negative ? '-' : '') + fixedLayout(digits, exp);
}

/** Rust's `Display` for f32: the shortest decimal that reads back as the same f32. */
export function rustF32Display(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(Math.abs(x).toExponential(p - 1));
    if (Math.fround(candidate) === Math.abs(x)) {
      const { digits, exp } = shortestDigits(candidate);
      return (x < 0 ? '-' : '') + fixedLayout(digits, exp);
    }
  }
  return rustF64Display(x);
}

/**
 * serde_yaml's float scalar (ryu digits): "1.0", "1.5", "1e20", ".inf", ".nan". Exponent form is
 * used where ryu uses it (outside 1e-5 .. 1e16).
 */
export function serdeYamlFloat(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const { negative, digits, exp } = shortestDigits(x);
  const sign = negative ? '-' : '';
  if (exp >= -5 && exp < 16) {
    const fixed = fixedLayout(digits, exp);
    return sign + (fixed.includes('.') ? fixed : fixed + '.0');
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mant}e${exp}`;
}
