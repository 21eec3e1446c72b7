import type { HeaderField } from '../headers.js';

/**
 * Header rules at the HTTP/1 <-> HTTP/2 boundary (RFC 9113 §8.2): HTTP/2 has no
 * connection-specific fields, lowercase names only, and carries the target in pseudo-headers.
 */

/** Fields that only make sense on one HTTP/1 connection and must not be sent over HTTP/2. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

/**
 * Header fields ready for node's http2 API as a flat raw array (names lowercased, repeated names
 * kept in order): connection-specific fields and `host` (which becomes :authority) left out.
 * `te` survives only as "trailers", as RFC 9113 allows.
 */
export function toHttp2Fields(fields: readonly HeaderField[], opts: { dropHost: boolean }): { raw: string[]; lowercased: string[] } {
  const raw: string[] = [];
  const lowercased: string[] = [];
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(lower)) continue;
    if (opts.dropHost && lower === 'host') continue;
    if (lower === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    if (lower !== name) lowercased.push(name);
    raw.push(lower, value);
  }
  return { raw, lowercased };
}

/** Split node's flat rawHeaders of an HTTP/2 message into pseudo-headers and regular fields. */
export function splitPseudoHeaders(rawHeaders: readonly string[]): { pseudo: Map<string, string>; fields: HeaderField[] } {
  const pseudo = new Map<string, string>();
  const fields: HeaderField[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.startsWith(':')) pseudo.set(name, value);
    else fields.push([name, value]);
  }
  return { pseudo, fields };
}
