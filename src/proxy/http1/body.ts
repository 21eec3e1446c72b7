import type { Headers } from '../../headers.js';
import { BareLineFeedError, ConnectionClosedError, HeadTooLargeError, type SocketReader } from '../socket-reader.js';
import type { BodyFraming } from './framing.js';
import { HttpSyntaxError, parseTrailerLines } from './parse.js';

/** Longest chunk-size line (with extensions) we accept, like Node's chunk-extension limit. */
const MAX_CHUNK_LINE = 16 * 1024;
/** Most trailer bytes we accept. */
const MAX_TRAILERS = 64 * 1024;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,15})(;[^\r\n]*)?$/;

/**
 * Read a message body in the pieces the socket delivers, un-chunked. Trailers of a chunked body
 * are passed to `onTrailers`. A body cut short by the peer throws ConnectionClosedError; a broken
 * chunked encoding throws HttpSyntaxError.
 */
export async function* readBody(
  reader: SocketReader,
  framing: BodyFraming,
  onTrailers?: (trailers: Headers) => void,
): AsyncGenerator<Buffer, void, undefined> {
  switch (framing.kind) {
    case 'none':
      return;
    case 'length': {
      let remaining = framing.length;
      while (remaining > 0) {
        const chunk = await reader.readSome(remaining);
        if (chunk === null) throw new ConnectionClosedError(`peer closed connection with ${remaining} body bytes outstanding`);
        remaining -= chunk.length;
        yield chunk;
      }
      return;
    }
    case 'close': {
      for (;;) {
        const chunk = await reader.readSome();
        if (chunk === null) return;
        yield chunk;
      }
    }
    case 'chunked': {
      for (;;) {
        const line = await readChunkedLine(reader, MAX_CHUNK_LINE, 'Chunk extension too long');
        const m = CHUNK_SIZE.exec(line.toString('latin1'));
        if (!m) throw new HttpSyntaxError(`Invalid chunked encoding: bad chunk size line ${JSON.stringify(line.toString('latin1').slice(0, 40))}`);
        let remaining = parseInt(m[1]!, 16);
        if (remaining === 0) {
          const trailers = await readTrailers(reader);
          if (trailers && onTrailers) onTrailers(trailers);
          return;
        }
        while (remaining > 0) {
          const chunk = await reader.readSome(remaining);
          if (chunk === null) throw new ConnectionClosedError('peer closed connection in the middle of a chunk');
          remaining -= chunk.length;
          yield chunk;
        }
        const crlf = await reader.readExactly(2);
        if (crlf[0] !== 0x0d || crlf[1] !== 0x0a) throw new HttpSyntaxError('Invalid chunked encoding: missing CRLF after chunk data');
      }
    }
  }
}

/** A CRLF-ended line of chunked framing (a size line or a trailer); too long or ended by a bare LF is a syntax error. */
async function readChunkedLine(reader: SocketReader, maxLength: number, tooLong: string): Promise<Buffer> {
  try {
    return await reader.readLine(maxLength);
  } catch (e) {
    if (e instanceof HeadTooLargeError) throw new HttpSyntaxError(tooLong);
    if (e instanceof BareLineFeedError) throw new HttpSyntaxError('Invalid chunked encoding: a line ends in a bare LF');
    throw e;
  }
}

async function readTrailers(reader: SocketReader): Promise<Headers | null> {
  const lines: string[] = [];
  let total = 0;
  for (;;) {
    const line = await readChunkedLine(reader, MAX_TRAILERS, 'Trailers too large');
    if (line.length === 0) break;
    total += line.length + 2;
    if (total > MAX_TRAILERS) throw new HttpSyntaxError('Trailers too large');
    lines.push(line.toString('latin1'));
  }
  return lines.length ? parseTrailerLines(lines) : null;
}

/** Read a whole body into one Buffer (for bodies we buffer anyway). */
export async function readWholeBody(reader: SocketReader, framing: BodyFraming, onTrailers?: (t: Headers) => void): Promise<Buffer> {
  if (framing.kind === 'none') return EMPTY;
  if (framing.kind === 'length') {
    // Fast path: a small body that is already buffered needs no generator.
    return reader.readExactly(framing.length);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of readBody(reader, framing, onTrailers)) {
    parts.push(chunk);
    size += chunk.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
}

const EMPTY = Buffer.alloc(0);
