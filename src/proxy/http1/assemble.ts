import type { HeaderField } from '../../headers.js';
import { isToken, isValidFieldValue } from './parse.js';

/**
 * Turning flow messages back into HTTP/1 bytes. Framing headers are recomputed from the body we
 * actually send, never copied blindly, and every field an addon or the web API may have edited is
 * checked before it reaches the wire (no CR/LF/NUL injection, no spaces in the request line).
 */

export class OutgoingMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutgoingMessageError';
  }
}

/** How we frame a body we are about to send. */
export type OutgoingFraming =
  /** A known body: Content-Length is set to its size (or TE chunked is kept if the message had it). */
  | { kind: 'buffered'; length: number }
  /** A streamed body of known length (Content-Length kept). */
  | { kind: 'stream-length'; length: number }
  /** A streamed body of unknown length: chunked. */
  | { kind: 'stream-chunked' }
  /** A streamed body delimited by closing the connection (HTTP/1.0 peers). */
  | { kind: 'stream-close' }
  /** No body may follow (HEAD responses, 1xx, 204, 304): headers are left as they are. */
  | { kind: 'no-body' };

const REQUEST_TARGET = /^[\x21-\x7e\x80-\xff]+$/;

function checkFields(fields: readonly HeaderField[]): void {
  for (const [name, value] of fields) {
    if (!isToken(name)) throw new OutgoingMessageError(`Invalid header name: ${JSON.stringify(name)}`);
    if (!isValidFieldValue(value)) throw new OutgoingMessageError(`Invalid characters in value of header ${name}`);
    if (value.length > 0 && /[^\x00-\xff]/.test(value)) throw new OutgoingMessageError(`Header ${name} holds characters that are not bytes`);
  }
}

const isTe = (n: string) => n.length === 17 && n.toLowerCase() === 'transfer-encoding';
const isCl = (n: string) => n.length === 14 && n.toLowerCase() === 'content-length';

/**
 * The header fields to write for a given framing. Returns the fields and whether the body is
 * sent chunked.
 */
export function framedFields(fields: readonly HeaderField[], framing: OutgoingFraming, isRequest: boolean): { fields: HeaderField[]; chunked: boolean } {
  const hasTe = fields.some(([n]) => isTe(n));
  switch (framing.kind) {
    case 'no-body':
      return { fields: [...fields], chunked: false };
    case 'buffered': {
      if (hasTe) {
        // Keep the message's own chunked framing (its Content-Length, if any, must go).
        return { fields: fields.filter(([n]) => !isCl(n)), chunked: true };
      }
      return { fields: withContentLength(fields, framing.length, isRequest), chunked: false };
    }
    case 'stream-length':
      return { fields: withContentLength(fields.filter(([n]) => !isTe(n)), framing.length, isRequest), chunked: false };
    case 'stream-chunked': {
      const out = fields.filter(([n]) => !isCl(n) && !isTe(n));
      out.push(['transfer-encoding', 'chunked']);
      return { fields: out, chunked: true };
    }
    case 'stream-close':
      return { fields: fields.filter(([n]) => !isCl(n) && !isTe(n)), chunked: false };
  }
}

/**
 * The fields with the connection said to close after this message: any `Connection` field
 * (which might ask for keep-alive) and `Keep-Alive` parameters give way to `connection: close`.
 */
export function withConnectionClose(fields: readonly HeaderField[]): HeaderField[] {
  const out = fields.filter(([n]) => {
    const lower = n.toLowerCase();
    return lower !== 'connection' && lower !== 'keep-alive';
  });
  out.push(['connection', 'close']);
  return out;
}

/** Set Content-Length in place (keeping the name's case and position), or append it when the body is not empty. */
function withContentLength(fields: readonly HeaderField[], length: number, isRequest: boolean): HeaderField[] {
  const out: HeaderField[] = [];
  let placed = false;
  for (const f of fields) {
    if (isCl(f[0])) {
      if (!placed) {
        out.push([f[0], String(length)]);
        placed = true;
      }
    } else out.push(f);
  }
  // A request without a body and without Content-Length stays that way (GET); responses always say.
  if (!placed && (length > 0 || !isRequest)) out.push(['content-length', String(length)]);
  return out;
}

function serialize(firstLine: string, fields: readonly HeaderField[]): string {
  let s = firstLine + '\r\n';
  for (const [n, v] of fields) s += n + ': ' + v + '\r\n';
  return s + '\r\n';
}

/** A request head (latin1 byte string). `target` is origin-form, absolute-form or authority-form. */
export function assembleRequestHead(method: string, target: string, httpVersion: string, fields: readonly HeaderField[]): string {
  if (!isToken(method)) throw new OutgoingMessageError(`Invalid request method: ${JSON.stringify(method)}`);
  if (!REQUEST_TARGET.test(target) || /[^\x00-\xff]/.test(target)) throw new OutgoingMessageError(`Invalid request target: ${JSON.stringify(target)}`);
  checkFields(fields);
  return serialize(`${method} ${target} ${httpVersion}`, fields);
}

/** A response head (latin1 byte string). */
export function assembleResponseHead(httpVersion: string, statusCode: number, reason: string, fields: readonly HeaderField[]): string {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 999) throw new OutgoingMessageError(`Invalid status code: ${statusCode}`);
  if (!isValidFieldValue(reason) || /[^\x00-\xff]/.test(reason)) throw new OutgoingMessageError(`Invalid reason phrase: ${JSON.stringify(reason)}`);
  checkFields(fields);
  return serialize(`${httpVersion} ${statusCode} ${reason}`, fields);
}

/** The bytes of one chunk of a chunked body. */
export function chunkHeader(length: number): string {
  return length.toString(16) + '\r\n';
}

/** The last chunk and the trailers that end a chunked body. */
export function lastChunk(trailers: readonly HeaderField[] | null): string {
  if (!trailers || trailers.length === 0) return '0\r\n\r\n';
  checkFields(trailers);
  return serialize('0', trailers);
}
