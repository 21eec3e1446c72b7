/**
 * The two cookies of mitmweb, in Tornado's formats so that a browser session behaves the same:
 *
 * - the auth cookie `mitmproxy-auth-<web_port>`: the value "y" signed with a per-process secret
 *   (Tornado's "signed value v2": `2|1:0|<len>:<ts>|<len>:<name>|<len>:<b64 value>|<hmac-sha256 hex>`);
 * - the XSRF cookie `_mitmproxy_xsrf`: a random 16-byte token stored masked
 *   (`2|<mask hex>|<masked token hex>|<ts>`), checked by double submit.
 */
import { createHmac, randomBytes, timingSafeEqual, createHash } from 'node:crypto';

export const XSRF_COOKIE = '_mitmproxy_xsrf';
/** Signed cookies older than this are refused (Tornado's default for signed cookies). */
const SIGNED_MAX_AGE_S = 31 * 86400;

/** Parse a Cookie header into name -> value (first occurrence wins; quotes around values removed). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** Constant-time string comparison that does not leak the length either (compares digests). */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && Buffer.byteLength(a) === Buffer.byteLength(b);
}

function field(s: string): string {
  return `${Buffer.byteLength(s)}:${s}`;
}

/** Signs and checks cookie values with one secret. */
export class CookieSigner {
  constructor(private readonly secret: Buffer = randomBytes(32)) {}

  private signature(data: string): string {
    return createHmac('sha256', this.secret).update(data).digest('hex');
  }

  /** A signed value for cookie `name` (Tornado's create_signed_value, version 2). */
  sign(name: string, value: string, nowS = Math.floor(Date.now() / 1000)): string {
    const toSign = ['2', field('0'), field(String(nowS)), field(name), field(Buffer.from(value).toString('base64')), ''].join('|');
    return toSign + this.signature(toSign);
  }

  /** The value of a signed cookie, or null when the signature, name or age is wrong. */
  verify(name: string, signed: string, nowS = Math.floor(Date.now() / 1000)): string | null {
    if (!signed.startsWith('2|')) return null;
    let rest = signed.slice(2);
    const fields: string[] = [];
    for (let i = 0; i < 4; i++) {
      const colon = rest.indexOf(':');
      if (colon < 0) return null;
      const len = Number(rest.slice(0, colon));
      if (!Number.isInteger(len) || len < 0) return null;
      const body = rest.slice(colon + 1);
      const value = Buffer.from(body, 'utf8').subarray(0, len).toString('utf8');
      if (Buffer.byteLength(value) !== len || body[value.length] !== '|') return null;
      fields.push(value);
      rest = body.slice(value.length + 1);
    }
    const toSign = signed.slice(0, signed.length - rest.length);
    if (!/^[0-9a-f]{64}$/.test(rest) || !safeEqual(rest, this.signature(toSign))) return null;
    const [keyVersion, ts, cookieName, b64] = fields as [string, string, string, string];
    if (keyVersion !== '0' || cookieName !== name) return null;
    const t = Number(ts);
    if (!Number.isInteger(t) || t < nowS - SIGNED_MAX_AGE_S) return null;
    return Buffer.from(b64, 'base64').toString('utf8');
  }
}

/** A `Set-Cookie` value; values with characters outside the cookie-safe set are quoted, as Python's SimpleCookie does. */
export function setCookieHeader(name: string, value: string, attrs: { expiresDays?: number; httpOnly?: boolean; sameSite?: string }): string {
  const needsQuotes = /[^A-Za-z0-9!#$%&'*+\-.^_`|~:]/.test(value);
  const v = needsQuotes ? `"${value.replace(/["\\]/g, (c) => '\\' + c)}"` : value;
  const parts = [`${name}=${v}`];
  if (attrs.expiresDays !== undefined) parts.push(`expires=${new Date(Date.now() + attrs.expiresDays * 86400_000).toUTCString()}`);
  parts.push('Path=/');
  if (attrs.httpOnly) parts.push('HttpOnly');
  if (attrs.sameSite) parts.push(`SameSite=${attrs.sameSite}`);
  return parts.join('; ');
}

function xorMask(mask: Buffer, data: Buffer): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[i % mask.length]!;
  return out;
}

/** Encode a raw XSRF token as a masked v2 value (a fresh mask each time, as Tornado does). */
export function encodeXsrfToken(token: Buffer, timestampS: number): string {
  const mask = randomBytes(4);
  return ['2', mask.toString('hex'), xorMask(mask, token).toString('hex'), String(Math.floor(timestampS))].join('|');
}

/**
 * Decode a submitted or stored XSRF value to the raw token: a v2 value is unmasked; anything
 * else is taken as the token itself (hex-decoded if it is hex). Returns null for a malformed v2
 * value.
 */
export function decodeXsrfToken(value: string): Buffer | null {
  const m = /^([1-9][0-9]*)\|(.*)$/s.exec(value);
  if (m) {
    if (m[1] !== '2') return null;
    const parts = value.split('|');
    if (parts.length !== 4) return null;
    const [, maskHex, maskedHex, ts] = parts as [string, string, string, string];
    if (!/^([0-9a-fA-F]{2})+$/.test(maskHex) || !/^([0-9a-fA-F]{2})*$/.test(maskedHex) || !/^-?\d+$/.test(ts)) return null;
    return xorMask(Buffer.from(maskHex, 'hex'), Buffer.from(maskedHex, 'hex'));
  }
  if (value.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(value)) return Buffer.from(value, 'hex');
  return Buffer.from(value, 'utf8');
}
