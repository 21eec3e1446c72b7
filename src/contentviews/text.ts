/**
 * Small text helpers shared by the views, the web route and the dumper.
 */

/**
 * Keep `text` up to and including its `n`-th newline (mitmproxy's cut_after_n_lines).
 * Text with fewer newlines is returned whole. `n` must be positive.
 */
export function cutAfterNLines(text: string, n: number): string {
  if (!(n > 0)) throw new RangeError(`line count must be positive, got ${n}`);
  let pos = text.indexOf('\n');
  while (pos >= 0 && n > 1) {
    pos = text.indexOf('\n', pos + 1);
    n--;
  }
  return pos >= 0 ? text.slice(0, pos + 1) : text;
}

/** Count the newline characters in `text`. */
export function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/**
 * Replace control characters U+0000-U+001F and U+007F with "." but keep tab, LF and CR, so that
 * a body cannot move the cursor of a terminal or break a front end.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARS, '.');
}

// Python's str.isspace() set: JS \s without U+FEFF (a BOM that a UTF-8 or UTF-16-LE/BE body keeps is
// no space to Python), plus \x1c-\x1f and \x85.
const PY_WS = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/**
 * Python's str.strip(). A scan from each end: the regex `\s+$` is tried at every blank of a run,
 * so a run of blanks in the middle of a body took time quadratic in its length (64 KB, 3.5 s).
 */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_WS.test(s[start]!)) start++;
  while (end > start && PY_WS.test(s[end - 1]!)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

// ignoreBOM: Python's UTF-8 codec keeps a BOM as U+FEFF.
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode strict UTF-8, or return null when the bytes are not UTF-8. */
export function decodeUtf8Strict(data: Uint8Array): string | null {
  try {
    return utf8Fatal.decode(data);
  } catch {
    return null;
  }
}

/**
 * Decode UTF-8, writing each byte of an invalid sequence as `\xNN` (Python's "backslashreplace").
 * Valid input takes the fast path.
 */
export function decodeUtf8BackslashReplace(data: Uint8Array): string {
  const strict = decodeUtf8Strict(data);
  if (strict !== null) return strict;
  let out = '';
  let i = 0;
  let runStart = 0;
  const flush = (end: number): void => {
    if (end > runStart) out += Buffer.from(data.buffer, data.byteOffset + runStart, end - runStart).toString('utf8');
  };
  while (i < data.length) {
    const len = validUtf8SequenceLength(data, i);
    if (len > 0) {
      i += len;
      continue;
    }
    flush(i);
    out += '\\x' + data[i]!.toString(16).padStart(2, '0');
    i++;
    runStart = i;
  }
  flush(i);
  return out;
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 if the byte there starts none. */
function validUtf8SequenceLength(d: Uint8Array, i: number): number {
  const b0 = d[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < d.length && d[i + k]! >= lo && d[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 >= 0xe1 && b0 <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * Decode UTF-8 with invalid sequences replaced by U+FFFD (Python's "replace"; Node does the same
 * per maximal subpart).
 */
export function decodeUtf8Replace(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
}

/**
 * mitmproxy's check for "this looks like binary": more than 30% of the first 100 bytes are
 * control characters (other than tab, LF, VT, FF, CR) or above 0x7E.
 */
export function isBinary(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  const n = Math.min(100, data.length);
  let odd = 0;
  for (let i = 0; i < n; i++) {
    const b = data[i]!;
    if (b < 9 || (b > 13 && b < 32) || b > 126) odd++;
  }
  return odd / n > 0.3;
}

/** mitmproxy's is_xml: the first non-whitespace byte is "<". */
export function looksLikeXml(data: Uint8Array): boolean {
  for (const b of data) {
    if (b === 9 || b === 10 || b === 13 || b === 32) continue;
    return b === 0x3c;
  }
  return false;
}
