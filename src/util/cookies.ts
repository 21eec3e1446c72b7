/**
 * Cookie and Set-Cookie header parsing, lenient like browsers and mitmproxy's net.http.cookies.
 */

/** `a=1; b=2` -> [["a","1"],["b","2"]]. A pair without "=" has an empty value. */
export function parseCookieHeader(header: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of header.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) out.push([p, '']);
    else out.push([p.slice(0, eq).trim(), unquote(p.slice(eq + 1).trim())]);
  }
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1);
  return v;
}

export function formatCookieHeader(pairs: Iterable<readonly [string, string]>): string {
  return Array.from(pairs, ([k, v]) => `${k}=${v}`).join('; ');
}

/** One parsed Set-Cookie header: the cookie's name, value and its attributes in order. */
export interface SetCookie {
  name: string;
  value: string;
  attrs: Array<[string, string]>;
}

/**
 * Parse one Set-Cookie header value. The Expires attribute contains a comma, so the header is
 * never split on commas here; each Set-Cookie header field is one cookie.
 */
export function parseSetCookie(header: string): SetCookie | null {
  const parts = header.split(';');
  const first = parts.shift()!.trim();
  const eq = first.indexOf('=');
  if (eq <= 0) return null;
  const attrs: Array<[string, string]> = [];
  for (const part of parts) {
    const p = part.trim();
    if (p === '') continue;
    const i = p.indexOf('=');
    if (i < 0) attrs.push([p, '']);
    else attrs.push([p.slice(0, i).trim(), p.slice(i + 1).trim()]);
  }
  return { name: first.slice(0, eq).trim(), value: unquote(first.slice(eq + 1).trim()), attrs };
}

export function formatSetCookie(c: SetCookie): string {
  const parts = [`${c.name}=${c.value}`];
  for (const [k, v] of c.attrs) parts.push(v === '' && !/^(expires|max-age|domain|path|samesite)$/i.test(k) ? k : `${k}=${v}`);
  return parts.join('; ');
}
