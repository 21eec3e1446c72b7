/**
 * The text each operator searches, built from a flow the way mitmproxy builds it.
 *
 * Byte subjects (headers, bodies, method, content types, DNS text) are "byte strings": one
 * JavaScript char per byte (latin-1 view), which is what the byte-mode regexes of pyregex.ts
 * expect. That reproduces mitmproxy's matching of bytes: `.` is one byte, case-insensitivity
 * covers ASCII only, and a UTF-8 pattern such as `яч` matches the UTF-8 bytes of `яч`.
 * Text subjects (URL, host, addresses, metadata, marker, comment) are ordinary strings.
 */
import type { Headers } from '../../headers.js';
import type { Message, Request } from '../../http.js';
import type { DNSMessage } from '../../dns.js';
import type { MetadataValue } from '../../flow.js';
import { textToBytes } from '../../util/bytes.js';
import { pyStr } from '../pyrepr.js';
import { prettyUrl } from '../../io/export.js';
import type { RegexTester } from '../regex-guard.js';

/** `bytes(headers)`: `name: value\r\n` per field, original order, case and duplicates. */
export function headerBlock(headers: Headers): string {
  const fields = headers.fields;
  let out = '';
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    out += f[0] + ': ' + f[1] + '\r\n';
  }
  return out;
}

/** Whether any Content-Type field value (name compared case-insensitively) matches. */
export function contentTypeMatches(headers: Headers, re: RegexTester): boolean {
  const fields = headers.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    // This runs for every flow when `~a`/`~t` is in the view filter: length first, and the two
    // usual spellings without allocating a lowercased copy.
    const name = f[0];
    if (name.length !== 12) continue;
    if ((name === 'Content-Type' || name === 'content-type' || name.toLowerCase() === 'content-type') && re.test(f[1])) return true;
  }
  return false;
}

/**
 * The decoded body as a byte string; an undecodable body gives its raw bytes (never throws),
 * a body that was not kept (streamed) gives null. The message caches the decoded Buffer.
 */
export function bodyBytes(message: Message): string | null {
  const content = message.getContent(false);
  return content === null ? null : content.toString('latin1');
}

/** A Buffer (TCP/UDP/WebSocket message) as a byte string. */
export function bufferBytes(b: Buffer): string {
  return b.toString('latin1');
}

/**
 * `request.pretty_url` as mitmproxy's text (the one the export formats use): the host from the
 * Host header, an IPv6 host without brackets, the path decoded as UTF-8 with undecodable bytes
 * as surrogate escapes (our request keeps the path as bytes).
 */
export function urlText(req: Request): string {
  return prettyUrl(req);
}

/**
 * `str(dns_message)`: questions, answers, authorities and additionals, one per line (CRLF),
 * a question as its name, a record as its data text, as UTF-8 bytes.
 */
export function dnsBytes(msg: DNSMessage): string {
  return textToBytes(msg.toString());
}

/** `key: value` per metadata entry joined with `\n`, values as Python's `str()`. */
export function metadataText(metadata: Record<string, MetadataValue>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(metadata)) lines.push(`${key}: ${pyStr(value)}`);
  return lines.join('\n');
}
