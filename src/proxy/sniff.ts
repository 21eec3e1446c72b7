import type { ConnectionContext } from './context.js';

/** What the first bytes of a connection (or tunnel) say it carries. */
export type Sniffed = 'tls' | 'http1' | 'h2' | 'tcp' | 'closed';

const H2_PREFACE = 'PRI * HTTP/2.0\r\n';
const HTTP_METHOD_START = /^[A-Za-z!#$%&'*+\-.^_`|~0-9]{1,32} /;

/** Classify bytes: TLS handshake record, HTTP/2 preface, an HTTP/1 request line, or anything else. */
export function classify(first: Buffer): Sniffed | 'more' {
  if (first.length === 0) return 'more';
  if (first[0] === 0x16) {
    if (first.length < 3) return 'more';
    return first[1] === 0x03 && first[2]! <= 0x04 ? 'tls' : 'tcp';
  }
  const text = first.subarray(0, 40).toString('latin1');
  if (H2_PREFACE.startsWith(text) && text.length < H2_PREFACE.length) return 'more';
  if (text.startsWith(H2_PREFACE)) return 'h2';
  if (HTTP_METHOD_START.test(text)) return 'http1';
  // A method name still arriving: wait for the space that ends it.
  if (/^[A-Za-z!#$%&'*+\-.^_`|~0-9]{1,32}$/.test(text) && first.length < 33) return 'more';
  return 'tcp';
}

/**
 * Wait for the client's first bytes and classify them (nothing is consumed). If the upstream
 * connection opened for CONNECT speaks first (SMTP, FTP, ...), the tunnel is raw TCP.
 */
export async function sniff(ctx: ConnectionContext): Promise<Sniffed> {
  const eager = ctx.server.address ? ctx.upstream.idleFor(ctx.server.address) : null;
  for (let want = 1; ; ) {
    const clientBytes = ctx.reader.peek(want);
    // Only bytes count as the server speaking first: an idle server closing its end (keep-alive
    // timeout before the client's first request) must not turn the connection into raw TCP.
    const serverBytes = (b: Buffer) => (b.length > 0 ? ('server' as const) : clientBytes.then(() => 'client' as const));
    const winner = eager && want === 1 ? await Promise.race([clientBytes.then(() => 'client' as const), eager.reader.peek(1).then(serverBytes)]) : 'client';
    if (winner === 'server' && ctx.reader.bufferedLength === 0) return 'tcp';
    const first = await clientBytes;
    if (first.length === 0 && ctx.reader.atEnd) return 'closed';
    const kind = classify(first);
    if (kind !== 'more') return kind;
    // The client stopped sending before saying enough: no more bytes will come (and waiting for
    // them again would spin on an ended stream without ever giving the event loop back).
    if (ctx.reader.ended) return 'tcp';
    want = first.length + 1;
  }
}
