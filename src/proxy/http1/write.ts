import type { Duplex } from 'node:stream';
import type { HeaderField } from '../../headers.js';
import { chunkHeader, lastChunk } from './assemble.js';

/** Messages up to this size go out as one buffer: one write, and on TLS one record instead of several. */
const COALESCE_LIMIT = 64 * 1024;

/**
 * Write a complete HTTP/1 message (head, body with its framing, trailers) to a socket. Returns
 * whether the socket asked us to wait for 'drain'.
 */
export function writeHttp1Message(socket: Duplex, head: string, body: Buffer | null, chunked: boolean, trailers: readonly HeaderField[] | null): boolean {
  const parts: Buffer[] = [Buffer.from(head, 'latin1')];
  if (body !== null) {
    if (chunked) {
      if (body.length) parts.push(Buffer.from(chunkHeader(body.length), 'latin1'), body, CRLF);
      parts.push(Buffer.from(lastChunk(trailers), 'latin1'));
    } else if (body.length) {
      parts.push(body);
    }
  }
  let total = 0;
  for (const p of parts) total += p.length;
  if (parts.length === 1 || total <= COALESCE_LIMIT) return !socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, total));
  socket.cork();
  for (const p of parts) socket.write(p);
  socket.uncork();
  return socket.writableNeedDrain;
}

const CRLF = Buffer.from('\r\n');
