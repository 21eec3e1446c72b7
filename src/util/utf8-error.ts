/**
 * Where and why bytes are not UTF-8, worded as Python's UTF-8 codec words it (mitmweb shows
 * that message for a request body it cannot decode, e.g. "'utf-8' codec can't decode byte 0xff in
 * position 13: invalid start byte").
 */
import { isUtf8 } from 'node:buffer';

/** Python's message for the first undecodable sequence of `b`, or null when `b` is UTF-8. */
export function utf8ErrorMessage(b: Uint8Array): string | null {
  if (isUtf8(b)) return null;
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return message(b, i, 1, 'invalid start byte');
    // The second byte's range is narrower after some lead bytes (no overlongs, surrogates or code points past U+10FFFF).
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    let n = 1;
    for (; n <= need; n++) {
      if (i + n >= b.length) return message(b, i, n, 'unexpected end of data');
      const d = b[i + n]!;
      if (n === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return message(b, i, n, 'invalid continuation byte');
    }
    i += n;
  }
  return null;
}

function message(b: Uint8Array, at: number, length: number, reason: string): string {
  const where = length === 1 ? `byte 0x${b[at]!.toString(16).padStart(2, '0')} in position ${at}` : `bytes in position ${at}-${at + length - 1}`;
  return `'utf-8' codec can't decode ${where}: ${reason}`;
}
