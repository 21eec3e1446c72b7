import type http2 from 'node:http2';
import type { Headers } from '../headers.js';
import type { ConnectionContext } from './context.js';
import type { HeaderField } from '../headers.js';
import { OutgoingMessageError } from './http1/assemble.js';
import { isToken, isValidFieldValue } from './http1/parse.js';

/**
 * Header rules at the HTTP/1 <-> HTTP/2 boundary (RFC 9113 §8.2): HTTP/2 has no
 * connection-specific fields, lowercase names only, and carries the target in pseudo-headers.
 */

/** Fields that only make sense on one HTTP/1 connection and must not be sent over HTTP/2. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/**
 * The largest header block (HPACK-encoded) we send. node's default, 64 KiB, is less than a peer
 * may send us in one block (nghttp2 takes a HEADERS frame and 8 CONTINUATIONs, up to 144 KiB
 * with 16 KiB frames): a header block passed on from the other side would otherwise reach its
 * receiver as a stream reset (FRAME_SIZE_ERROR) while its flow looks complete.
 */
export const MAX_SEND_HEADER_BLOCK = 256 * 1024;

export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

export interface Http2HeaderOptions {
  /** Leave out `host` (a request's, which becomes :authority). */
  dropHost: boolean;
  /** Refuse names that are not tokens too (values are always checked). */
  checkNames?: boolean;
  /** Lowercase names the caller sets itself, left out. */
  skip?: readonly string[];
}

/**
 * Add header fields to a header object for node's http2 API (which may already hold the
 * pseudo-headers): names lowercased, connection-specific fields left out, `te` only as
 * "trailers" (RFC 9113 allows nothing else), and repeated names as arrays in their order, so
 * set-cookie and split cookies stay separate fields. A value (or, with `checkNames`, a name)
 * HTTP/1 would refuse to send is refused with the same OutgoingMessageError. Returns the names
 * that had to be lowercased.
 */
export function addHttp2Headers(out: http2.OutgoingHttpHeaders, fields: readonly HeaderField[], opts: Http2HeaderOptions): string[] {
  const lowercased: string[] = [];
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(lower)) continue;
    if (opts.dropHost && lower === 'host') continue;
    if (lower === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    if (opts.skip?.includes(lower)) continue;
    if (opts.checkNames && !isToken(lower)) throw new OutgoingMessageError(`Invalid header name: ${JSON.stringify(name)}`);
    if (!isValidFieldValue(value)) throw new OutgoingMessageError(`Invalid characters in value of header ${name}`);
    if (lower !== name) lowercased.push(name);
    const prev = out[lower];
    if (prev === undefined) out[lower] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[lower] = [String(prev), value];
  }
  return lowercased;
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

/**
 * HTTP/2 allows lowercase names only. An addon that wrote uppercase ones into an HTTP/2 message
 * is told they were lowercased (mitmproxy's warning, with normalize_outbound_headers on); names
 * of an HTTP/1 message are lowercased silently.
 */
export function warnLowercased(ctx: ConnectionContext, names: readonly string[], httpVersion: string): void {
  if (names.length === 0 || httpVersion !== 'HTTP/2.0') return;
  const opts = ctx.master.options;
  if (opts.has('normalize_outbound_headers') && !opts.get<boolean>('normalize_outbound_headers')) return;
  for (const n of names) ctx.master.log.info(`Lowercased '${n}' header as uppercase is not allowed with HTTP/2.`, ctx.clientLabel);
}

/**
 * Send trailers once the body has been written, on a stream opened with `waitForTrailers` (node
 * adds trailers only to such a stream). `trailers` is asked then: a streamed body's trailers are
 * known only at its end. None: the stream just ends.
 */
export function sendTrailersWhenWanted(stream: http2.Http2Stream, trailers: () => Headers | null | undefined): void {
  stream.once('wantTrailers', () => {
    const out: http2.OutgoingHttpHeaders = {};
    const fields = trailers()?.fields;
    if (fields) addHttp2Headers(out, fields, { dropHost: false });
    stream.sendTrailers(out);
  });
}
