/**
 * application/x-www-form-urlencoded and query strings, decoded the way mitmproxy's url.decode
 * does (Python's urllib.parse.parse_qsl(keep_blank_values=True, errors="surrogateescape")): "+" is
 * a space, "a" without "=" is ("a", ""), and each run of ASCII is percent-decoded to bytes that
 * are read as UTF-8, an undecodable byte becoming a surrogate escape (U+DC80..U+DCFF). Characters
 * outside ASCII are kept as they are.
 */
import { decodeUtf8Surrogateescape, encodeUtf8Surrogateescape } from '../io/text.js';

/** Python's unquote_plus(s, errors="surrogateescape"). */
function unquotePlus(s: string): string {
  const t = s.replace(/\+/g, ' ');
  if (!t.includes('%')) return t;
  return t.replace(/[\x00-\x7f]+/g, (run) => {
    if (!run.includes('%')) return run;
    const bytes: number[] = [];
    for (let i = 0; i < run.length; i++) {
      if (run.charCodeAt(i) === 0x25 && /^[0-9a-fA-F]{2}$/.test(run.slice(i + 1, i + 3))) {
        bytes.push(parseInt(run.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(run.charCodeAt(i));
    }
    return decodeUtf8Surrogateescape(Buffer.from(bytes));
  });
}

export function parseUrlencoded(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of s.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) out.push([unquotePlus(part), '']);
    else out.push([unquotePlus(part.slice(0, eq)), unquotePlus(part.slice(eq + 1))]);
  }
  return out;
}

// Python's urlencode(errors="surrogateescape") uses quote_plus with safe="": only letters, digits
// and _.-~ stay; a surrogate escape goes back to its byte.
function quotePlus(s: string): string {
  if (/^[A-Za-z0-9_.~-]*$/.test(s)) return s;
  let out = '';
  for (const b of encodeUtf8Surrogateescape(s)) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2e || b === 0x2d || b === 0x7e) out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function encodeUrlencoded(fields: Iterable<readonly [string, string]>): string {
  const parts: string[] = [];
  for (const [k, v] of fields) parts.push(`${quotePlus(k)}=${quotePlus(v)}`);
  return parts.join('&');
}
