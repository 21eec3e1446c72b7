/**
 * Python's `codecs.escape_decode` of a str, which mitmproxy applies to modify_body and
 * modify_headers subjects and replacements (`strutils.escaped_str_to_bytes`): the text is UTF-8
 * encoded, then bytes-literal escapes are decoded. Unknown escapes keep their backslash.
 */

/** An escape sequence Python refuses; the message is Python's. */
export class EscapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EscapeError';
  }
}

const SIMPLE: Record<number, number> = {
  0x5c: 0x5c, // \\
  0x27: 0x27, // \'
  0x22: 0x22, // \"
  0x61: 0x07, // \a
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
};

const isOctal = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x37;
const hexValue = (b: number | undefined): number => {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
};

/** Decode backslash escapes into bytes exactly as Python's `codecs.escape_decode(text)`. */
export function escapedStrToBytes(text: string): Buffer {
  const src = Buffer.from(text, 'utf8');
  if (!src.includes(0x5c)) return src;
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b !== 0x5c) {
      out.push(b);
      continue;
    }
    if (i + 1 >= src.length) throw new EscapeError('Trailing \\ in string');
    const n = src[i + 1]!;
    if (n === 0x0a) {
      // A backslash before a newline continues the line.
      i += 1;
    } else if (n in SIMPLE) {
      out.push(SIMPLE[n]!);
      i += 1;
    } else if (isOctal(n)) {
      let value = n - 0x30;
      let j = i + 2;
      while (j < i + 4 && isOctal(src[j])) value = value * 8 + (src[j++]! - 0x30);
      // Python masks octal values above 0o377 to one byte (with a deprecation warning).
      out.push(value & 0xff);
      i = j - 1;
    } else if (n === 0x78) {
      const hi = hexValue(src[i + 2]);
      const lo = hexValue(src[i + 3]);
      if (hi < 0 || lo < 0) throw new EscapeError(`invalid \\x escape at position ${i}`);
      out.push(hi * 16 + lo);
      i += 3;
    } else {
      // Unknown escape: both characters stay.
      out.push(0x5c);
    }
  }
  return Buffer.from(out);
}
