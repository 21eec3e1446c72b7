/**
 * Cookie helpers for the replay and sticky-cookie addons, with mitmproxy's formatting rules
 * (net/http/cookies.py): values with special characters are quoted, except for the attributes
 * `expires` and `path` in Set-Cookie headers; several cookies in one Set-Cookie header are
 * joined with ", ". Parsing is io/cookies.ts (mitmproxy's exact leniency).
 */
import { cookieAttr, parseSetCookieHeader, type SetCookieEntry } from '../../io/cookies.js';
import { formatHttpDate, parseHttpDate } from './httpdate.js';

function hasSpecial(s: string): boolean {
  for (const ch of s) {
    if ('",;\\'.includes(ch)) return true;
    const cp = ch.codePointAt(0)!;
    if (cp < 0x21 || cp > 0x7e) return true;
  }
  return false;
}

/** `k=v; k2=v2`, quoting values with special characters unless their key is in `specials`. */
export function formatPairs(pairs: ReadonlyArray<readonly [string, string | null]>, specials: readonly string[] = [], sep = '; '): string {
  return pairs
    .map(([k, v]) => {
      if (v === null) return k;
      if (!specials.includes(k.toLowerCase()) && hasSpecial(v)) return `${k}="${v.replace(/(["\\])/g, '\\$1')}"`;
      return `${k}=${v}`;
    })
    .join(sep);
}

/** A Cookie header value for name/value pairs. */
export function formatCookieHeader(pairs: ReadonlyArray<readonly [string, string | null]>): string {
  return formatPairs(pairs);
}

/** A Set-Cookie header value for one or more cookies. */
export function formatSetCookieHeader(cookies: readonly SetCookieEntry[]): string {
  return cookies.map((c) => formatPairs([[c.name, c.value], ...c.attrs], ['expires', 'path'])).join(', ');
}

/**
 * Shift the `expires` of every cookie in a Set-Cookie header by `delta` seconds; an unreadable
 * `expires` is dropped. Returns null for an invalid cookie (no name or no value), which mitmproxy
 * then leaves untouched.
 */
export function refreshSetCookieHeader(header: string, delta: number): string | null {
  const cookies = parseSetCookieHeader(header);
  for (const c of cookies) {
    if (!c.name || !c.value) return null;
    const exp = cookieAttr(c.attrs, 'expires');
    if (!exp.found) continue;
    const t = exp.value === null ? null : parseHttpDate(exp.value);
    const idx = c.attrs.findIndex(([k]) => k.toLowerCase() === 'expires');
    const others = c.attrs.filter(([k]) => k.toLowerCase() !== 'expires');
    if (t !== null) {
      // Like MultiDict.set_all: one value, at the place of the first occurrence.
      const before = c.attrs.slice(0, idx).filter(([k]) => k.toLowerCase() !== 'expires').length;
      others.splice(before, 0, [c.attrs[idx]![0], formatHttpDate(t + delta)]);
    }
    c.attrs = others;
  }
  return formatSetCookieHeader(cookies);
}

/**
 * When a cookie expires (seconds since the epoch), from `expires`, else `max-age`; null when it
 * has neither (or an unreadable `expires`, which mitmproxy does not fall back from).
 */
export function cookieExpiry(attrs: ReadonlyArray<readonly [string, string | null]>, nowSeconds: number): number | null {
  const exp = cookieAttr(attrs, 'expires');
  if (exp.found) return exp.value === null ? null : parseHttpDate(exp.value);
  const maxAge = cookieAttr(attrs, 'max-age');
  if (maxAge.found && maxAge.value !== null && /^\s*[+-]?\d+\s*$/.test(maxAge.value)) return nowSeconds + Number(maxAge.value);
  return null;
}

/** Whether a cookie with these attributes has expired. */
export function cookieIsExpired(attrs: ReadonlyArray<readonly [string, string | null]>, nowSeconds: number): boolean {
  const t = cookieExpiry(attrs, nowSeconds);
  return t !== null && t <= nowSeconds;
}
