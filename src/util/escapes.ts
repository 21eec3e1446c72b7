/**
 * Python-style backslash escapes (`\n`, `\t`, `\x41`, `\u00e9`, `\\`, ...), which mitmproxy's
 * command line decodes in `str` and `bytes` arguments, and the reverse for display.
 */

const SIMPLE: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };

/** Decode escapes into text. Unknown escapes are kept as written, as Python does. */
export function unescapeText(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[i + 1]!;
    const hex = (len: number): boolean => {
      const h = s.slice(i + 2, i + 2 + len);
      if (h.length === len && /^[0-9a-fA-F]+$/.test(h)) {
        out += String.fromCodePoint(parseInt(h, 16));
        i += 1 + len;
        return true;
      }
      return false;
    };
    if (n === 'x' && hex(2)) continue;
    if (n === 'u' && hex(4)) continue;
    if (n === 'U' && hex(8)) continue;
    if (/[0-7]/.test(n) && n !== '0') {
      const m = /^[0-7]{1,3}/.exec(s.slice(i + 1))![0];
      out += String.fromCharCode(parseInt(m, 8));
      i += m.length;
      continue;
    }
    if (n in SIMPLE) {
      out += SIMPLE[n];
      i += 1;
      continue;
    }
    out += c;
  }
  return out;
}

/** Decode escapes into bytes: `\xHH` is one byte, other characters are written as UTF-8. */
export function unescapeBytes(s: string): Buffer {
  const text = unescapeText(s);
  // \xHH produced a code point < 0x100 that stands for one byte; anything above is UTF-8.
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x100) bytes.push(cp);
    else for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes);
}

/** Show bytes with non-printable ones escaped as `\xHH` (mitmproxy's bytes_to_escaped_str). */
export function escapeBytes(data: Uint8Array, keepSpacing = false): string {
  let out = '';
  for (const b of data) {
    if (b === 0x5c) out += '\\\\';
    else if (keepSpacing && (b === 0x0a || b === 0x0d || b === 0x09)) out += String.fromCharCode(b);
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += '\\x' + b.toString(16).padStart(2, '0');
  }
  return out;
}
