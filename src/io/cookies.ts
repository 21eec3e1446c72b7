/**
 * Cookie and Set-Cookie parsing with mitmproxy's exact leniency (its net.http.cookies), used
 * where the parsed result ends up in files compared with mitmproxy's (HAR export). Notable: keys
 * are only left-trimmed, quoted values may use backslash escapes, one Set-Cookie header may
 * carry several comma-separated cookies (an `expires` date's comma is recognised), and an
 * attribute without `=` has no value (null).
 */

function readUntil(s: string, start: number, term: string): [string, number] {
  if (start === s.length) return ['', start + 1];
  for (let i = start; i < s.length; i++) if (term.includes(s[i]!)) return [s.slice(start, i), i];
  return [s.slice(start), s.length];
}

function readQuoted(s: string, start: number): [string, number] {
  let escaping = false;
  let out = '';
  let i = start;
  for (i = start + 1; i < s.length; i++) {
    const c = s[i]!;
    if (escaping) {
      out += c;
      escaping = false;
    } else if (c === '"') break;
    else if (c === '\\') escaping = true;
    else out += c;
  }
  // An unterminated quote ends at the last character (Python leaves i there).
  if (i >= s.length) i = s.length - 1;
  return [out, i + 1];
}

function readValue(s: string, start: number, delims: string): [string, number] {
  if (start >= s.length) return ['', start];
  if (s[start] === '"') return readQuoted(s, start);
  return readUntil(s, start, delims);
}

/** The `[name, value]` pairs of one Cookie header. */
export function parseCookieHeader(line: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let off = 0;
  for (;;) {
    let lhs: string;
    [lhs, off] = readUntil(line, off, ';=');
    lhs = lhs.replace(/^\s+/, '');
    let rhs = '';
    if (off < line.length && line[off] === '=') [rhs, off] = readValue(line, off + 1, ';');
    if (rhs || lhs) pairs.push([lhs, rhs]);
    off += 1;
    if (!(off < line.length)) break;
  }
  return pairs;
}

/** One cookie of a Set-Cookie header: name, value (null without `=`), attributes in order. */
export interface SetCookieEntry {
  name: string;
  value: string | null;
  attrs: Array<[string, string | null]>;
}

/** Every cookie in one Set-Cookie header value. */
export function parseSetCookieHeader(line: string): SetCookieEntry[] {
  const cookies: Array<Array<[string, string | null]>> = [];
  let pairs: Array<[string, string | null]> = [];
  let off = 0;
  for (;;) {
    let lhs: string;
    [lhs, off] = readUntil(line, off, ';=,');
    lhs = lhs.replace(/^\s+/, '');
    if (off < line.length && line[off] === '=') {
      let rhs: string;
      [rhs, off] = readValue(line, off + 1, ';,');
      if (lhs.toLowerCase() === 'expires' && rhs.length <= 3) {
        // "Wed, 21 Oct ...": the weekday was cut at the comma; read the rest of the date.
        const [trail, next] = readValue(line, off + 1, ';,');
        rhs = rhs + ',' + trail;
        off = next;
      }
      pairs.push([lhs, rhs]);
    } else if (lhs) pairs.push([lhs, null]);
    if (off < line.length && line[off] === ',') {
      cookies.push(pairs);
      pairs = [];
    }
    off += 1;
    if (!(off < line.length)) break;
  }
  if (pairs.length || !cookies.length) cookies.push(pairs);
  const out: SetCookieEntry[] = [];
  for (const p of cookies) {
    if (!p.length) continue;
    const [first, ...attrs] = p;
    out.push({ name: first![0], value: first![1], attrs });
  }
  return out;
}

/** An attribute by case-insensitive name; the last one wins, as in mitmproxy's CookieAttrs. */
export function cookieAttr(attrs: ReadonlyArray<readonly [string, string | null]>, name: string): { found: boolean; value: string | null } {
  const l = name.toLowerCase();
  let found = false;
  let value: string | null = null;
  for (const [k, v] of attrs) {
    if (k.toLowerCase() === l) {
      found = true;
      value = v;
    }
  }
  return { found, value };
}
