import type { ConnectionContext } from './context.js';
import type { ServerConnection } from './upstream-pool.js';
import { MessageTimeoutError } from './socket-reader.js';

/** What the first bytes of a connection (or tunnel) say it carries. */
export type Sniffed = 'tls' | 'http1' | 'h2' | 'tcp' | 'closed';

const H2_PREFACE = 'PRI * HTTP/2.0\r\n';
const TOKEN_THEN_SPACE = /^[A-Za-z!#$%&'*+\-.^_`|~0-9]{1,32} /;
const TOKEN = /^[A-Za-z!#$%&'*+\-.^_`|~0-9]{1,32}$/;
/** A method's first character, or the empty lines allowed before a request (RFC 9112 §2.2). */
const REQUEST_START = /^[A-Za-z!#$%&'*+\-.^_`|~0-9\r\n]/;

/**
 * Whether `first` could begin an HTTP/1 request at all. Bytes classified 'tcp' that could not
 * (a SOCKS greeting at the HTTP port) need no HTTP parser to be refused; text still does, so the
 * parser can say what is wrong with it.
 */
export function couldStartRequest(first: Buffer): boolean {
  return REQUEST_START.test(first.toString('latin1', 0, 1));
}

/**
 * Methods that make a request line HTTP at once, before its line end arrives: HTTP's own and
 * WebDAV's. A client that sends one of them slowly is still served as HTTP.
 */
const KNOWN_METHODS: readonly string[] = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH', 'MKCALENDAR',
];

/**
 * Classify bytes: TLS handshake record, HTTP/2 preface, an HTTP/1 request line, or anything else.
 *
 * A request line with a known method is HTTP (waiting for a method name still arriving). Any
 * other token counts as a method only when the bytes so far hold the whole first line, with its
 * space, and start with three letters: mitmproxy's test. So a text protocol whose client speaks
 * first without a line end ("hello tcp") is relayed as TCP rather than waiting for an HTTP line.
 */
export function classify(first: Buffer): Sniffed | 'more' {
  if (first.length === 0) return 'more';
  if (first[0] === 0x16) {
    if (first.length < 3) return 'more';
    return first[1] === 0x03 && first[2]! <= 0x04 ? 'tls' : 'tcp';
  }
  const text = first.subarray(0, 40).toString('latin1');
  if (H2_PREFACE.startsWith(text) && text.length < H2_PREFACE.length) return 'more';
  if (text.startsWith(H2_PREFACE)) return 'h2';
  const method = TOKEN_THEN_SPACE.exec(text)?.[0].slice(0, -1);
  if (method !== undefined) {
    if (KNOWN_METHODS.includes(method)) return 'http1';
    const lineEnd = first.indexOf(0x0a);
    return lineEnd > method.length && /^[A-Za-z]{3}/.test(text) && !text.startsWith('SSH') ? 'http1' : 'tcp';
  }
  // A known method's name still arriving: wait for the space that ends it.
  if (TOKEN.test(text) && KNOWN_METHODS.some((m) => m.startsWith(text))) return 'more';
  return 'tcp';
}

const HTTP2_FRAME_HEADER_SIZE = 9;
const HTTP2_SETTINGS = 0x04;

/**
 * Whether a server's first bytes are an HTTP/2 server's connection preface: a SETTINGS frame on
 * stream 0, without ACK (RFC 9113 §3.4). An h2c server (insecure gRPC) sends it the moment a
 * connection opens, before the client's preface; that is no protocol in which the server speaks
 * first, and the client's bytes still decide. The whole frame header has to be there: an h2c
 * server writes its SETTINGS at once, while a server that greets with a byte or two ("> ") and
 * waits for its client would otherwise be held until the client, waiting for the greeting,
 * spoke first, which it never does.
 */
function isHttp2ServerPreface(first: Buffer): boolean {
  if (first.length < HTTP2_FRAME_HEADER_SIZE) return false;
  if (first.readUIntBE(0, 3) % 6 !== 0 || first[3] !== HTTP2_SETTINGS) return false;
  // Flags (no ACK) and the stream id, all zero.
  return first.subarray(4, HTTP2_FRAME_HEADER_SIZE).every((b) => b === 0);
}

/**
 * Wait for the client's first bytes and classify them (nothing is consumed). If the upstream
 * connection opened for CONNECT speaks first (SMTP, FTP, ...), the tunnel is raw TCP; an HTTP/2
 * server's SETTINGS does not count (see isHttp2ServerPreface).
 */
export async function sniff(ctx: ConnectionContext): Promise<Sniffed> {
  try {
    return await sniffFirstBytes(ctx);
  } catch (e) {
    if (!(e instanceof MessageTimeoutError)) throw e;
    ctx.master.log.info(`Client sent an incomplete first message (${e.message}); closing.`, ctx.clientLabel);
    return 'closed';
  }
}

async function sniffFirstBytes(ctx: ConnectionContext): Promise<Sniffed> {
  const eager = eagerConnection(ctx);
  for (let want = 1; ; ) {
    const clientBytes = ctx.reader.peek(want);
    // Only bytes count as the server speaking first: an idle server closing its end (keep-alive
    // timeout before the client's first request) must not turn the connection into raw TCP.
    const serverBytes = (b: Buffer) => (b.length > 0 ? ('server' as const) : clientBytes.then(() => 'client' as const));
    const winner = eager && want === 1 ? await Promise.race([clientBytes.then(() => 'client' as const), eager.reader.peek(1).then(serverBytes)]) : 'client';
    // What the server sent with its first bytes decides: waiting for more of them could wait forever.
    if (winner === 'server' && eager && ctx.reader.bufferedLength === 0 && !isHttp2ServerPreface(eager.reader.unread())) return 'tcp';
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

/**
 * The server connection opened before the client said anything (connection_strategy eager), if
 * there is one: what it sends first is the server speaking first. After TLS with the client, it
 * is the TLS connection made for the same handshake.
 */
export function eagerConnection(ctx: ConnectionContext): ServerConnection | null {
  if (!ctx.server.address) return null;
  if (ctx.server.tlsEstablished) {
    const conn = ctx.upstream.byServer(ctx.server);
    return conn && !conn.inUse ? conn : null;
  }
  return ctx.upstream.idleFor(ctx.server.address);
}
