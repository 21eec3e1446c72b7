/**
 * application/x-www-form-urlencoded and query strings, decoded the way Python's
 * urllib.parse.parse_qsl(keep_blank_values=True) does: "+" is a space, %XX is a byte, the bytes
 * are UTF-8 (invalid sequences are replaced), "a" without "=" is ("a", "").
 */

function unquotePlus(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) bytes.push(0x20);
    else if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

export function parseUrlencoded(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of s.split(/[&]/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) out.push([unquotePlus(part), '']);
    else out.push([unquotePlus(part.slice(0, eq)), unquotePlus(part.slice(eq + 1))]);
  }
  return out;
}

// Python's urlencode uses quote_plus with safe="" except the always-safe characters.
function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+')
    .replace(/%7E/gi, '~');
}

export function encodeUrlencoded(fields: Iterable<readonly [string, string]>): string {
  const parts: string[] = [];
  for (const [k, v] of fields) parts.push(`${quotePlus(k)}=${quotePlus(v)}`);
  return parts.join('&');
}
