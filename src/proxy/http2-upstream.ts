import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { Response, hostport, type HTTPFlow } from '../http.js';
import { formatAddress } from '../connection.js';
import { Headers } from '../headers.js';
import { now } from '../util/time.js';
import { reasonPhrase } from '../status-codes.js';
import type { ConnectionContext } from './context.js';
import type { UpstreamExchange } from './http-stream.js';
import { OutgoingMessageError } from './http1/assemble.js';
import { isToken } from './http1/parse.js';
import { http2ErrorName } from './http2-error-codes.js';
import { protocolErrorOf, watchProtocolErrors } from './http2-protocol-error.js';
import { addHttp2Headers, MAX_SEND_HEADER_BLOCK, sendTrailersWhenWanted, splitPseudoHeaders, warnLowercased } from './http2-headers.js';
import { ConnectionClosedError } from './socket-reader.js';
import { describeNetworkError } from './error-page.js';
import { ConnectError, type ServerConnection } from './upstream-pool.js';
import { readableChunks } from './readable-chunks.js';
import { endSliced, waitForDrain } from './wait-for-drain.js';

const { NGHTTP2_CANCEL, NGHTTP2_DEFAULT_WEIGHT, NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * Node 20 adds its default stream priority fields to its copy of every request's options, which
 * costs ~4% of the proxy's CPU under HTTP/2 load; given them up front, it only checks them. Later
 * versions warn (DEP0194: priority signaling is deprecated) when they are given at all.
 */
const PRIORITY_DEFAULTS = process.versions.node.startsWith('20.') ? { weight: NGHTTP2_DEFAULT_WEIGHT, parent: 0, exclusive: false, silent: false } : {};

/** The HTTP/2 client session on an upstream connection, created on first use and shared by streams. */
export function sessionFor(ctx: ConnectionContext, conn: ServerConnection): http2.ClientHttp2Session {
  if (conn.h2 && !conn.h2.closed && !conn.h2.destroyed) return conn.h2;
  const socket: Duplex = conn.reader.handOver();
  const [host, port] = conn.target.address;
  const scheme = conn.target.tls ? 'https' : 'http';
  const session = http2.connect(`${scheme}://${hostport(scheme, host, port)}`, {
    createConnection: () => socket,
    settings: { enablePush: false },
    maxSessionMemory: 64,
    maxSendHeaderBlockLength: MAX_SEND_HEADER_BLOCK,
    // An upstream may announce a huge header table or stream count; bound what we keep (Node 20 CVEs).
    maxHeaderListPairs: 4000,
  });
  process.nextTick(() => socket.resume());
  // A TLS error (an alert after the handshake: a TLS 1.3 server refusing us for want of a client
  // certificate) is kept for the streams it ends, which say why rather than "connection closed".
  socket.once('error', (e: NodeJS.ErrnoException) => {
    if (e.code?.startsWith('ERR_SSL_')) tlsErrors.set(session, e);
  });
  session.on('error', (e) => ctx.master.log.debug(`HTTP/2 upstream session error: ${e.message}`, ctx.clientLabel));
  watchProtocolErrors(session, (message) => {
    // The session ends in a moment (see watchProtocolErrors): no new streams on it meanwhile.
    conn.reusable = false;
    ctx.master.log.info(`${formatAddress(conn.server.peername)}: ${message}`, ctx.clientLabel);
  });
  // A GOAWAY or a closed session means new streams need a new connection.
  session.on('goaway', (code: number) => {
    conn.reusable = false;
    goawayCodes.set(session, code);
  });
  session.on('close', () => {
    conn.reusable = false;
    if (!conn.socket.destroyed) conn.socket.destroy();
  });
  keepAlive(ctx, conn, session);
  conn.h2 = session;
  conn.multiplexed = true;
  return session;
}

/** When each upstream session last had a stream opened, answered or finished (ms). */
const lastActivity = new WeakMap<http2.ClientHttp2Session, number>();

function touch(session: http2.ClientHttp2Session): void {
  lastActivity.set(session, Date.now());
}

/**
 * `http2_ping_keepalive`: a PING goes to the server once the connection has been idle for that
 * many seconds (mitmproxy's Http2Client; a second's tolerance for a timer that fires early), so
 * that it is not closed as unused. Activity is a stream opening, being answered or closing, not
 * each DATA frame, so a long download is pinged too, which does no harm. The option is read at
 * each check: 0 there stops the pings of this connection.
 */
function keepAlive(ctx: ConnectionContext, conn: ServerConnection, session: http2.ClientHttp2Session): void {
  const o = ctx.master.options;
  const option = () => (o.has('http2_ping_keepalive') ? o.get<number>('http2_ping_keepalive') : 58);
  touch(session);
  if (option() <= 0) return;
  let timer: NodeJS.Timeout;
  const check = () => {
    const seconds = option();
    if (session.closed || session.destroyed || seconds <= 0) return;
    const idleMs = Date.now() - (lastActivity.get(session) ?? 0);
    if (idleMs + 1000 > seconds * 1000) {
      touch(session);
      ctx.master.log.debug(`Send HTTP/2 keep-alive PING to ${formatAddress(conn.server.peername)}`, ctx.clientLabel);
      session.ping(() => undefined);
    }
    timer = setTimeout(check, Math.max(1, seconds * 1000 - (Date.now() - lastActivity.get(session)!)));
    timer.unref();
  };
  timer = setTimeout(check, option() * 1000);
  timer.unref();
  session.once('close', () => clearTimeout(timer));
}

/**
 * How many times a request whose stream the server refused is sent again. More than once: a
 * server capping its connections at N requests refuses all but N of the requests in flight again
 * on the next connection.
 */
const MAX_REFUSED_RETRIES = 3;

/** The TLS error that ended the socket under a session, if one did. */
const tlsErrors = new WeakMap<http2.Http2Session, Error>();

/** The error code of the GOAWAY a session received, if any. */
const goawayCodes = new WeakMap<http2.Http2Session, number>();

/**
 * Why an upstream stream ended early, in our words rather than node's ("Stream closed with error
 * code NGHTTP2_..."): the server broke the protocol, reset it, or its connection went away (a
 * GOAWAY, or closed).
 * node marks a stream of a dying session as reset with CANCEL, so the session (the stream's, which
 * a closed stream no longer names) is asked first.
 */
function streamFailure(stream: http2.ClientHttp2Stream, session: http2.ClientHttp2Session): ConnectionClosedError {
  const protocolError = protocolErrorOf(session);
  if (protocolError) return new ConnectionClosedError(protocolError);
  const tlsError = tlsErrors.get(session);
  if (tlsError) return new ConnectionClosedError(describeNetworkError(tlsError));
  const goaway = goawayCodes.get(session);
  if (goaway !== undefined) return new ConnectionClosedError(`HTTP/2 connection closed: server sent GOAWAY (${http2ErrorName(goaway)})`);
  if (session.destroyed || session.closed) return new ConnectionClosedError('HTTP/2 connection closed');
  if (stream.rstCode) return new ConnectionClosedError(`stream reset by server (${http2ErrorName(stream.rstCode)})`);
  return new ConnectionClosedError('server closed connection');
}

/** One request as an HTTP/2 stream on a (shared) upstream connection. */
export class Http2UpstreamExchange implements UpstreamExchange {
  private stream: http2.ClientHttp2Stream | null = null;
  private session: http2.ClientHttp2Session | null = null;
  private responseHead: Promise<{ headers: http2.IncomingHttpHeaders; flags: number; raw: string[] }> | null = null;
  private bodySize: number | null = null;
  /** Trailers that came at the end of a streamed request body. */
  private streamedTrailers: Headers | null = null;
  /** Whether the request went out whole (`sendRequest`), so that it can be sent again. */
  private sentBuffered = false;
  private retries = 0;
  private aborted = false;

  constructor(
    private readonly ctx: ConnectionContext,
    private conn: ServerConnection,
  ) {
    conn.exchanges++;
  }

  private open(flow: HTTPFlow, endStream: boolean, trailersLater = false): http2.ClientHttp2Stream {
    const r = flow.request;
    if (!isToken(r.method)) throw new OutgoingMessageError(`Invalid request method: ${JSON.stringify(r.method)}`);
    // An HTTP/2 request goes on as it came: its :authority if it had one, its host header if it
    // had one. An HTTP/1 request without an authority of its own (origin-form) has its Host
    // header moved into :authority. Without either, the destination is the authority.
    const hostHeader = r.headers.get('host');
    const isHttp2 = r.httpVersion === 'HTTP/2.0';
    const hostBecomesAuthority = !isHttp2 && !r.authority && hostHeader !== undefined;
    const authority = r.authority || (hostBecomesAuthority ? hostHeader : hostHeader === undefined ? hostport(r.scheme, r.host, r.port) : undefined);
    const headers: http2.OutgoingHttpHeaders = { ':method': r.method, ':scheme': r.scheme || 'https', ':path': r.path };
    if (authority !== undefined) headers[':authority'] = authority;
    const lowercased = addHttp2Headers(headers, r.headers.fields, { dropHost: hostBecomesAuthority, checkNames: true });
    warnLowercased(this.ctx, lowercased, r.httpVersion);
    // Trailers go out after the body: the request's own, or for a streamed body (`trailersLater`)
    // those `endRequest` brings, which node lets us add only if the stream was opened to wait for them.
    const hasTrailers = Boolean(r.trailers?.length);
    const waitForTrailers = hasTrailers || (trailersLater && !endStream);
    const session = (this.session = sessionFor(this.ctx, this.conn));
    const stream = session.request(headers, { endStream: endStream && !hasTrailers, waitForTrailers, ...PRIORITY_DEFAULTS });
    touch(session);
    stream.on('error', () => undefined);
    if (waitForTrailers) sendTrailersWhenWanted(stream, () => this.streamedTrailers ?? r.trailers);
    // Interim responses (103 Early Hints) are not passed on.
    stream.on('headers', (h: http2.IncomingHttpHeaders) => {
      const status = Number(h[':status']);
      this.ctx.master.log.info(`Swallowing HTTP/2 informational response: ${status} ${reasonPhrase(status)}`, this.ctx.clientLabel);
    });
    this.responseHead = new Promise((resolve, reject) => {
      let answered = false;
      stream.once('response', (h: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
        answered = true;
        touch(session);
        resolve({ headers: h, flags, raw: rawHeaders });
      });
      // Every stream closes; only one closed before its response is an error (and an error's
      // stack trace is too costly to build per request just to be ignored).
      stream.once('close', () => {
        touch(session);
        if (!answered) reject(streamFailure(stream, session));
      });
    });
    this.responseHead.catch(() => undefined);
    this.stream = stream;
    return stream;
  }

  async sendRequest(flow: HTTPFlow): Promise<void> {
    this.sentBuffered = true;
    const body = flow.request.rawContent ?? Buffer.alloc(0);
    const stream = this.open(flow, body.length === 0);
    // Not awaited: a server may answer before it has read the body (a 413) and never read the
    // rest, and its answer must not wait for that. The slices still go out with backpressure and
    // stop when the stream closes.
    if (body.length) endSliced(stream, body).catch(() => undefined);
    else if (flow.request.trailers?.length) stream.end();
  }

  async startRequest(flow: HTTPFlow): Promise<void> {
    this.open(flow, false, true);
  }

  async writeRequestData(chunk: Buffer): Promise<void> {
    const s = this.stream!;
    // The server reset the stream (or its connection went): stop reading the client's body.
    if (s.destroyed || s.closed) throw new ConnectError(streamFailure(s, this.session!).message);
    if (!s.write(chunk)) await waitForDrain(s);
  }

  async endRequest(trailers: Headers | null): Promise<void> {
    if (trailers?.length) this.streamedTrailers = trailers;
    this.stream!.end();
  }

  async readResponseHead(flow: HTTPFlow): Promise<Response> {
    let head: { headers: http2.IncomingHttpHeaders; flags: number; raw: string[] };
    for (;;) {
      try {
        head = await this.responseHead!;
        break;
      } catch (e) {
        if (!this.refused()) throw e;
        await this.sendAgain(flow, e);
      }
    }
    const { flags, raw } = head;
    const { pseudo, fields } = splitPseudoHeaders(raw);
    const h = new Headers();
    h.fields = fields;
    const resp = new Response({ statusCode: Number(pseudo.get(':status') ?? 0), reason: '', httpVersion: 'HTTP/2.0', headers: h, content: null, timestampStart: now() });
    const cl = h.get('content-length');
    this.bodySize = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 ? 0 : cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    return resp;
  }

  responseBodySize(): number | null {
    return this.bodySize;
  }

  /**
   * Whether the server refused the stream unanswered: RST_STREAM REFUSED_STREAM, which is also
   * how nghttp2 closes the streams past the last stream id of a GOAWAY. Such a stream was not
   * processed (RFC 9113 §8.7), so a request sent whole may go again, whatever its method.
   */
  private refused(): boolean {
    return this.sentBuffered && this.retries < MAX_REFUSED_RETRIES && !this.aborted && this.stream?.rstCode === NGHTTP2_REFUSED_STREAM;
  }

  /**
   * Send the request once more, on a connection the pool has for the server: a new one after a
   * GOAWAY (the old one is no longer reusable), or the same when only the stream was refused.
   * Browsers do the same; without it every request in flight when a server reaches its cap of
   * requests per connection (nginx's keepalive_requests) would be a 502.
   */
  private async sendAgain(flow: HTTPFlow, refusal: unknown): Promise<void> {
    this.retries++;
    this.ctx.master.log.debug(`HTTP/2 server refused the stream of ${flow.request.method} ${flow.request.prettyUrl}; sending it again.`, this.ctx.clientLabel);
    const conn = await this.ctx.upstream.acquire(this.conn.target);
    if (this.aborted || !(conn.multiplexed || conn.server.alpn === 'h2')) {
      // The client left meanwhile, or the server now speaks HTTP/1 only: give up as before.
      this.ctx.upstream.release(conn);
      throw refusal;
    }
    this.conn = conn;
    conn.exchanges++;
    flow.serverConn = conn.server;
    await this.sendRequest(flow);
  }

  async *responseBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer> {
    const stream = this.stream!;
    stream.once('trailers', (_h: http2.IncomingHttpHeaders, _f: number, raw: string[]) => onTrailers(Headers.fromRaw(raw)));
    if (this.bodySize === 0) return;
    try {
      for await (const chunk of readableChunks(stream)) yield chunk;
    } catch {
      throw streamFailure(stream, this.session!);
    }
    if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) throw streamFailure(stream, this.session!);
  }

  finish(): void {
    // The session stays open for other streams.
  }

  abort(): void {
    this.aborted = true;
    if (this.stream && !this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }
}
