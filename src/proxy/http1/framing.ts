import type { Headers } from '../../headers.js';

/**
 * Message framing: how long a body is (RFC 9112 §6.3), and the checks that keep us from reading a
 * message differently than the next hop would (request smuggling). The checks follow mitmproxy's
 * `validate_inbound_headers` rules, with the header bytes kept as latin1 so that no Unicode case
 * folding can turn "chun\u212Aed" into "chunked".
 */

/** How a body is delimited on the wire. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Response bodies without length: everything until the server closes. */
  | { kind: 'close' };

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

const CONTENT_LENGTH = /^(?:0|[1-9][0-9]{0,15})$/;
const TE_ALLOWED = new Set(['chunked', 'compress,chunked', 'deflate,chunked', 'gzip,chunked', 'compress', 'deflate', 'gzip', 'identity']);
const TE_CHUNKED = new Set(['chunked', 'compress,chunked', 'deflate,chunked', 'gzip,chunked']);

function framingFields(headers: Headers): { te: string[]; cl: string[] } {
  const te: string[] = [];
  const cl: string[] = [];
  for (const [name, value] of headers.fields) {
    const len = name.length;
    if (len === 17 && name.toLowerCase() === 'transfer-encoding') te.push(value);
    else if (len === 14 && name.toLowerCase() === 'content-length') cl.push(value);
  }
  return { te, cl };
}

function normalizeTe(value: string): string {
  // The value is a byte string: refuse anything outside ASCII before lower-casing.
  if (/[^\x00-\x7f]/.test(value)) throw new FramingError(`invalid transfer-encoding header: ${JSON.stringify(value)}`);
  const te = value.toLowerCase().replace(/[\t ]*,[\t ]*/g, ',');
  if (!TE_ALLOWED.has(te)) throw new FramingError(`unknown transfer-encoding header: ${JSON.stringify(value)}`);
  return te;
}

/**
 * mitmproxy's header validation (validate_inbound_headers): one CL or one TE, never both, a CL
 * of plain digits, a known TE that ends in chunked for requests, no TE on HTTP/1.0 or on 1xx/204
 * responses. Throws FramingError with mitmproxy's wording.
 */
export function validateFraming(
  headers: Headers,
  opts: { isRequest: boolean; httpVersion: string; statusCode?: number },
): void {
  const { te, cl } = framingFields(headers);
  if (te.length && cl.length) throw new FramingError('message with both transfer-encoding and content-length headers');
  if (te.length) {
    if (te.length > 1) throw new FramingError(`multiple transfer-encoding headers: ${JSON.stringify(te)}`);
    if (opts.httpVersion !== 'HTTP/1.1') throw new FramingError(`unexpected HTTP transfer-encoding ${JSON.stringify(te[0])} for ${opts.httpVersion}`);
    const sc = opts.statusCode;
    if (!opts.isRequest && sc !== undefined && ((sc >= 100 && sc <= 199) || sc === 204)) {
      throw new FramingError(`unexpected HTTP transfer-encoding ${JSON.stringify(te[0])} for response with status code ${sc}`);
    }
    const parsed = normalizeTe(te[0]!);
    if (opts.isRequest && !TE_CHUNKED.has(parsed)) throw new FramingError(`unexpected HTTP transfer-encoding ${JSON.stringify(parsed)} for request`);
  } else if (cl.length) {
    if (cl.length > 1) throw new FramingError(`multiple content-length headers: ${JSON.stringify(cl)}`);
    if (!CONTENT_LENGTH.test(cl[0]!)) throw new FramingError(`invalid content-length header: ${JSON.stringify(cl[0])}`);
  }
}

/**
 * A Content-Length value. Strict: only canonical digits. Lenient (validate_inbound_headers off):
 * what Python's int() would read, e.g. "03" or " 3 ".
 */
function contentLength(value: string, strict: boolean): number {
  if (strict ? !CONTENT_LENGTH.test(value) : !/^\s*\d{1,16}\s*$/.test(value)) throw new FramingError(`invalid content-length header: ${JSON.stringify(value)}`);
  return Number(value);
}

/** Framing of a request body (requests are never close-delimited). */
export function requestBodyFraming(headers: Headers, strict = true): BodyFraming {
  const { te, cl } = framingFields(headers);
  if (te.length) {
    const parsed = normalizeTe(te[te.length - 1]!);
    if (!TE_CHUNKED.has(parsed)) throw new FramingError(`unexpected HTTP transfer-encoding ${JSON.stringify(parsed)} for request`);
    return { kind: 'chunked' };
  }
  if (cl.length) {
    const n = contentLength(cl[0]!, strict);
    return n === 0 ? { kind: 'none' } : { kind: 'length', length: n };
  }
  return { kind: 'none' };
}

/** Framing of a response body, which depends on the request (HEAD, CONNECT) and the status. */
export function responseBodyFraming(requestMethod: string, statusCode: number, headers: Headers, strict = true): BodyFraming {
  if (requestMethod === 'HEAD' || (statusCode >= 100 && statusCode < 200) || statusCode === 204 || statusCode === 304) {
    return { kind: 'none' };
  }
  if (requestMethod === 'CONNECT' && statusCode >= 200 && statusCode < 300) return { kind: 'none' };
  const { te, cl } = framingFields(headers);
  if (te.length) {
    const parsed = normalizeTe(te[te.length - 1]!);
    return TE_CHUNKED.has(parsed) ? { kind: 'chunked' } : { kind: 'close' };
  }
  if (cl.length) {
    const n = contentLength(cl[0]!, strict);
    return n === 0 ? { kind: 'none' } : { kind: 'length', length: n };
  }
  return { kind: 'close' };
}

/** The announced body size, or null when unknown (chunked, close-delimited). */
export function expectedSize(f: BodyFraming): number | null {
  switch (f.kind) {
    case 'none':
      return 0;
    case 'length':
      return f.length;
    default:
      return null;
  }
}

/** Whether the connection stays open after this message (RFC 9112 §9.3). */
export function keepAlive(httpVersion: string, headers: Headers): boolean {
  const conn = headers.get('connection')?.toLowerCase() ?? '';
  const tokens = conn.split(',').map((s) => s.trim());
  if (tokens.includes('close')) return false;
  if (httpVersion === 'HTTP/1.0') return tokens.includes('keep-alive');
  return true;
}
