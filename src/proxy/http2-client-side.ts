import http2 from 'node:http2';
import tls from 'node:tls';
import { HTTPFlow, Request, Response, hostport, parseAuthority } from '../http.js';
import { Headers, type HeaderField } from '../headers.js';
import { FlowError } from '../flow.js';
import { now } from '../util/time.js';
import { SERVER_HEADER } from '../version.js';
import type { ConnectionContext } from './context.js';
import { errorPage } from './error-page.js';
import { runHttpFlow, type ClientExchange } from './http-stream.js';
import { addHttp2Headers, MAX_SEND_HEADER_BLOCK, sendTrailersWhenWanted, splitPseudoHeaders, warnLowercased } from './http2-headers.js';
import { clearSessionTimer, watchLiveness, type SessionLiveness } from './http2-liveness.js';
import { closeClientStream, http2ResetBudget, isClientReset, resetCounter } from './http2-reset-guard.js';
import { http2ErrorName } from './http2-error-codes.js';
import { protocolErrorOf, watchProtocolErrors } from './http2-protocol-error.js';
import { openUpstreamExchange } from './upstream-exchange.js';
import { NO_CHUNKS, readableChunks } from './readable-chunks.js';
import { endSliced, waitForDrain } from './wait-for-drain.js';
import { extendedConnectSettings, serveWebSocketStream, toWebSocketHandshake } from './websocket-h2.js';
import { setIdleTimeout } from './connection-hooks.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** How long a client may go on sending a request body nobody wants after its response is complete (see closeAfterResponse). */
const UNWANTED_BODY_GRACE_MS = 1000;

/** Limits for the client-facing HTTP/2 session (explicit, rather than node's defaults). */
const SESSION_OPTIONS: http2.ServerOptions = {
  maxSessionMemory: 64,
  // node takes 128 header fields by default and resets a stream with more (ENHANCE_YOUR_CALM).
  // Browsers send more: Chromium sends each cookie as its own field, and a site may set 180. The
  // list is bounded by its size instead, as in mitmproxy (64 KiB, in which at most 2048 fields
  // fit: each counts 32 octets besides its name and value, RFC 7541 §4.1).
  maxHeaderListPairs: (64 * 1024) / 32,
  maxSendHeaderBlockLength: MAX_SEND_HEADER_BLOCK,
  peerMaxConcurrentStreams: 1000,
  settings: { enablePush: false, maxConcurrentStreams: 250, maxHeaderListSize: 64 * 1024 },
  // CVE-2023-44487 style floods: node closes sessions that reset too many streams; keep its guard on.
};

/**
 * Options for `respond()`. node adds a `date` header to every response unless `sendDate` is
 * false (not in its type definitions, but honoured by node 20 and 24); a response goes out with
 * the headers the flow has, nothing added.
 */
function respondOptions(o: http2.ServerStreamResponseOptions): http2.ServerStreamResponseOptions {
  return { ...o, sendDate: false } as http2.ServerStreamResponseOptions;
}

/** The client's side of one HTTP/2 stream. */
class Http2ClientExchange implements ClientExchange {
  readonly expectedBodySize: number | null;
  readonly endsBeforeRequest = true;
  responseStarted = false;
  /** Trailers that came at the end of a streamed response body. */
  private streamedTrailers: Headers | null = null;
  /**
   * Trailers of the response: none, awaited (sent when node asks for them, 'wantTrailers'), or
   * sent (the response may end before the request: see endsBeforeRequest).
   */
  private trailers: 'none' | 'awaited' | 'sent' = 'none';
  /** The rest of the request body is not wanted (see discardRequestBody). */
  private discardBody = false;

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly request: Request,
    private readonly endStream: boolean,
  ) {
    const cl = request.headers.get('content-length');
    this.expectedBodySize = endStream ? 0 : cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
  }

  requestBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer> {
    const stream = this.stream;
    if (this.endStream) {
      // END_STREAM came with the headers: no body and no trailers can follow. The readable side
      // is let end only once the response is written: node destroys a closed stream at once when
      // its readable side has ended, before the response's write completes, and Node 20 then
      // builds an ERR_STREAM_DESTROYED error per response that nobody sees (~4% of the CPU).
      stream.once('finish', () => stream.resume());
      return NO_CHUNKS;
    }
    // Trailers arrive (as their own event) before the readable side ends, so the body's end
    // is after them.
    stream.once('trailers', (_h: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => onTrailers(Headers.fromRaw(raw)));
    return readableChunks(stream);
  }

  sendContinue(): void {
    if (!this.stream.destroyed) this.stream.additionalHeaders({ ':status': 100 });
  }

  /**
   * The response's header fields as they are (mitmproxy changes as little as possible): names
   * lowercased, connection-specific fields left out, and a content-length corrected to the body
   * we send (in place) but not added. A 204 has no body, so no length (RFC 9110 §8.6): HTTP/2
   * clients reset a stream that has one.
   */
  private responseHeaders(resp: Response, bodyLength: number | null): http2.OutgoingHttpHeaders {
    const out: http2.OutgoingHttpHeaders = { ':status': resp.statusCode };
    const lowercased = addHttp2Headers(out, resp.headers.fields, { dropHost: false });
    if (resp.statusCode === 204) delete out['content-length'];
    else if (bodyLength !== null && out['content-length'] !== undefined) out['content-length'] = bodyLength;
    warnLowercased(this.ctx, lowercased, resp.httpVersion);
    return out;
  }

  /**
   * Send the response head. Trailers go out once the body has ended: those already on the
   * response, or for a streamed body (`trailersLater`) whatever `endResponse` brings, which node
   * lets us add only when the head asked to wait for them (none: the stream just ends). A
   * response that has no body (HEAD, 204, 304) ends with its head: node sends END_STREAM there
   * whatever we ask, so such a response cannot carry trailers over HTTP/2 here.
   */
  private respond(resp: Response, bodyLength: number | null, endStream: boolean, trailersLater = false): void {
    this.responseStarted = true;
    const bodyless = this.noBody(resp);
    const hasTrailers = !bodyless && Boolean(resp.trailers?.length);
    const waitForTrailers = hasTrailers || (trailersLater && !endStream && !bodyless);
    this.stream.respond(this.responseHeaders(resp, bodyLength), respondOptions({ endStream: bodyless || (endStream && !hasTrailers), waitForTrailers }));
    if (waitForTrailers) {
      this.trailers = 'awaited';
      sendTrailersWhenWanted(this.stream, () => {
        this.trailers = 'sent';
        return this.streamedTrailers ?? resp.trailers;
      });
    }
    if (this.discardBody) this.closeAfterResponse();
  }

  private noBody(resp: Response): boolean {
    const sc = resp.statusCode;
    return this.request.method === 'HEAD' || sc === 204 || sc === 304 || (sc >= 100 && sc < 200);
  }

  async sendResponse(resp: Response): Promise<void> {
    if (this.stream.destroyed) return;
    const body = resp.rawContent ?? Buffer.alloc(0);
    const noBody = this.noBody(resp);
    this.respond(resp, noBody ? null : body.length, noBody || body.length === 0);
    if (noBody) return;
    if (body.length) await endSliced(this.stream, body);
    else if (resp.trailers?.length) this.stream.end();
  }

  async startResponse(resp: Response, bodySize: number | null): Promise<void> {
    if (this.stream.destroyed) return;
    const noBody = this.noBody(resp);
    this.respond(resp, noBody || typeof resp.stream === 'function' ? null : bodySize, noBody, true);
  }

  async writeResponseData(chunk: Buffer): Promise<void> {
    if (this.stream.destroyed) return;
    if (!this.stream.write(chunk)) await waitForDrain(this.stream);
  }

  async endResponse(trailers: Headers | null): Promise<void> {
    if (this.stream.destroyed) return;
    if (trailers?.length) this.streamedTrailers = trailers;
    this.stream.end();
  }

  async sendError(statusCode: number, message: string): Promise<void> {
    // Closed (reset by the client) before node destroys it: respond() would throw.
    if (this.stream.destroyed || this.stream.closed) return;
    if (this.stream.headersSent) {
      this.abort();
      return;
    }
    const body = errorPage(statusCode, message);
    this.responseStarted = true;
    const stream = this.stream;
    stream.respond({ ':status': statusCode, server: SERVER_HEADER, 'content-type': 'text/html', 'content-length': body.length }, respondOptions({}));
    stream.end(body);
    this.discardRequestBody();
  }

  /**
   * A request body still on its way (an upload answered with a 413) is not wanted: once the
   * answer is out, end the stream with NO_ERROR (RFC 9113 §8.1) instead of leaving the client
   * blocked on flow control with its stream never freed.
   */
  discardRequestBody(): void {
    this.discardBody = true;
    if (this.responseStarted) this.closeAfterResponse();
  }

  /**
   * Reset the stream with NO_ERROR once the response is out and the client has had a moment to
   * read it. Not at once: a client still sending its body when the reset comes may take the
   * reset for a failure although its response is complete (curl 7.88 does, with "Stream error in
   * the HTTP/2 framing layer"), and a reset must not overtake the frame that ends the response
   * either (nghttp2 sends RST_STREAM ahead of queued data): its trailers (sent by a
   * 'wantTrailers' listener added before ours) or its last DATA frame ('finish').
   */
  private closeAfterResponse(): void {
    const stream = this.stream;
    if (stream.destroyed || stream.readableEnded) return;
    const closeLater = () => {
      const timer = setTimeout(() => {
        if (!stream.destroyed && !stream.readableEnded) closeClientStream(stream, NGHTTP2_NO_ERROR);
      }, UNWANTED_BODY_GRACE_MS);
      stream.once('close', () => clearTimeout(timer));
    };
    if (this.trailers === 'awaited') stream.once('wantTrailers', closeLater);
    else if (this.trailers === 'sent' || stream.writableFinished) closeLater();
    else stream.once('finish', closeLater);
  }

  /**
   * Reset the stream with INTERNAL_ERROR, as mitmproxy does for a killed or failed flow. Not
   * `close(code)`: with a response under way node first ends it with END_STREAM, and the client
   * takes a cut-off body for a complete one. Destroying with an error sends RST_STREAM at once.
   */
  abort(): void {
    if (!this.stream.destroyed) this.stream.destroy(new Error('flow aborted'));
  }

  /** A reset stream (or a session that ended) is a client that left, whatever the connection does. */
  watchGone(onGone: (reason?: string) => void): () => void {
    const stream = this.stream;
    const session = stream.session;
    let told = false;
    const gone = () => {
      if (told) return;
      told = true;
      // After the current task: a session ending (the connection closed) tells its streams
      // before it counts as destroyed itself.
      queueMicrotask(() => onGone(clientStreamEnd(stream, session)));
    };
    if (stream.closed || stream.aborted) {
      gone();
      return () => undefined;
    }
    // 'aborted' comes the moment an RST_STREAM is read; 'close' may come only after the stream's
    // own writes settle. A client resetting streams as fast as it opens them must be seen at once,
    // before a server connection is opened for each (rapid reset).
    stream.once('aborted', gone);
    stream.once('close', gone);
    return () => {
      stream.off('aborted', gone);
      stream.off('close', gone);
    };
  }

  responseProblem(resp: Response): string | null {
    const sc = resp.statusCode;
    // HTTP/2 has no 101 (RFC 9113 §8.6), sends 1xx only before a final status, and has no status
    // outside 100-599.
    return sc >= 200 && sc <= 599 ? null : `Cannot send status code ${sc} over HTTP/2.`;
  }
}

/**
 * Why a client's stream ended before its flow did, in mitmproxy's words. node resets a stream
 * with PROTOCOL_ERROR itself when the client breaks the rules in it (a body longer or shorter
 * than its content-length), and ends every stream of a client that broke them on the connection:
 * not a client that just left. A session that ended takes its streams with it (node marks them
 * reset with CANCEL), so it is asked before the stream.
 */
function clientStreamEnd(stream: http2.ServerHttp2Stream, session: http2.Http2Session | undefined): string {
  const protocolError = protocolErrorOf(session);
  if (protocolError) return protocolError;
  if (!session || session.destroyed) return 'peer closed connection';
  if (stream.rstCode === NGHTTP2_PROTOCOL_ERROR) return "HTTP/2 protocol error in the client's stream.";
  return `stream reset by client (${http2ErrorName(stream.rstCode ?? NGHTTP2_CANCEL)})`;
}

/**
 * Serve HTTP/2 on the client connection (after TLS with ALPN h2, or h2c with prior knowledge):
 * each stream is an HTTPFlow through the same lifecycle as HTTP/1. Resolves when the session ends.
 */
export async function serveHttp2(ctx: ConnectionContext): Promise<void> {
  // Only h2c (prior knowledge) gets here with the option off: ALPN offers h2 only when it is on.
  // mitmproxy never serves h2c (DisableH2C kills such flows); we do unless HTTP/2 is turned off.
  if (!ctx.options.http2) {
    ctx.master.log.info('HTTP/2 with prior knowledge refused: the http2 option is off.', ctx.clientLabel);
    ctx.reader.handOver().destroy();
    return;
  }
  const socket = ctx.reader.handOver();
  // A client gone while a hook ran (next_layer, tls_established_client): its 'close' has been
  // emitted already and would never be seen below, leaving the connection waiting forever.
  if (socket.destroyed) return;
  // node leaves secureConnecting set on a server-side TLSSocket made without a tls.Server, and
  // an http2 session would wait for a 'secureConnect' that never comes. The handshake is done.
  if (socket instanceof tls.TLSSocket) (socket as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
  // RFC 8441 extended CONNECT (WebSockets over HTTP/2) is advertised only with the websocket option.
  const server = http2.createServer({ ...SESSION_OPTIONS, settings: { ...SESSION_OPTIONS.settings, ...extendedConnectSettings(ctx) } });
  const log = ctx.master.log;
  let liveness: SessionLiveness | null = null;
  let onClientReset: (() => void) | null = null;
  const done = new Promise<void>((resolve) => {
    server.on('session', (session: http2.ServerHttp2Session) => {
      session.on('error', (e) => log.debug(`HTTP/2 session error: ${e.message}`, ctx.clientLabel));
      watchProtocolErrors(session, (message) => log.info(message, ctx.clientLabel));
      session.once('close', () => {
        clearSessionTimer(session);
        resolve();
      });
      // Idle sessions close after tcp_timeout, as HTTP/1 connections do.
      setIdleTimeout(session, ctx.options.tcpTimeoutMs, () => ctx.hooks, () => session.close());
      const countReset = resetCounter();
      onClientReset = () => {
        if (countReset() || session.destroyed) return;
        log.warn(`HTTP/2 client reset more than ${http2ResetBudget.burst} streams in a burst (rapid reset): closing the connection.`, ctx.clientLabel);
        session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      };
      liveness = watchLiveness(session, () => {
        log.info('HTTP/2 client did not answer a PING on its idle connection (gone, or the session broke down): closing it.', ctx.clientLabel);
        session.goaway(NGHTTP2_NO_ERROR);
        session.destroy();
        socket.destroy();
      });
    });
    server.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      stream.on('error', () => undefined);
      liveness?.streamOpened();
      stream.once('close', () => liveness?.streamClosed());
      stream.once('aborted', () => {
        if (isClientReset(stream)) onClientReset?.();
      });
      void handleStream(ctx, stream, flags, rawHeaders).catch((e) => {
        log.error(`Unexpected error in HTTP/2 stream: ${(e as Error).stack ?? String(e)}`, ctx.clientLabel);
        if (!stream.destroyed) closeClientStream(stream, NGHTTP2_PROTOCOL_ERROR);
      });
    });
    socket.once('close', () => resolve());
  });
  server.emit('connection', socket);
  process.nextTick(() => socket.resume());
  await done;
}

/** An HTTP/2 request whose :authority and Host header disagree (RFC 9113 §8.3.1), or null. */
function authorityMismatch(pseudo: Map<string, string>, fields: readonly HeaderField[]): string | null {
  const authority = pseudo.get(':authority');
  if (authority === undefined) return null;
  for (const [name, value] of fields) {
    if (name.toLowerCase() === 'host' && value !== authority) return 'Request header block has mismatched :authority and Host headers';
  }
  return null;
}

async function handleStream(ctx: ConnectionContext, stream: http2.ServerHttp2Stream, flags: number, rawHeaders: string[]): Promise<void> {
  const { pseudo, fields } = splitPseudoHeaders(rawHeaders);
  const mismatch = ctx.options.validateInboundHeaders ? authorityMismatch(pseudo, fields) : null;
  if (mismatch) {
    // Which name counts would be a guess, and two parsers guessing differently is how requests
    // get smuggled: refused before a flow exists, as the h2 library refuses it in mitmproxy.
    ctx.master.log.info(`HTTP/2 protocol error: ${mismatch}`, ctx.clientLabel);
    closeClientStream(stream, NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  const method = pseudo.get(':method') ?? 'GET';
  const request = new Request({
    host: '',
    port: 0,
    method,
    scheme: pseudo.get(':scheme') ?? (ctx.client.tls ? 'https' : 'http'),
    authority: pseudo.get(':authority') ?? '',
    path: pseudo.get(':path') ?? '/',
    httpVersion: 'HTTP/2.0',
    headers: new Headers(),
    content: null,
    timestampStart: now(),
  });
  request.headers.fields = fields;
  const flow = new HTTPFlow(ctx.client, ctx.server, true, request);
  const exchange = new Http2ClientExchange(ctx, stream, request, (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
  // An extended CONNECT (RFC 8441) is recorded as the WebSocket handshake it stands for (websocket-h2.ts).
  const protocol = method === 'CONNECT' ? pseudo.get(':protocol') : undefined;
  const invalidConnect =
    protocol !== undefined ? toWebSocketHandshake(ctx, request, protocol) : method === 'CONNECT' ? 'HTTP/2 CONNECT (tunnels over HTTP/2) is not supported.' : null;

  // Where the request goes: the reverse target, else the :authority (or Host), as for HTTP/1.
  let invalid: string | null = null;
  if (invalidConnect) invalid = invalidConnect;
  else if (ctx.mode.type === 'reverse' && ctx.mode.server) {
    const [host, port] = ctx.mode.server.address;
    const scheme = ctx.mode.server.scheme === 'https' || ctx.mode.server.scheme === 'tls' ? 'https' : 'http';
    request.setDestination(scheme, host, port);
    // Both :authority and a host header the client sent name the target (mitmproxy's host_header setter).
    if (!ctx.options.keepHostHeader) request.hostHeader = hostport(scheme, host, port);
  } else if (ctx.server.address) {
    // Inside a CONNECT or SOCKS5 tunnel (and in transparent mode) the destination is the tunnel's
    // target, whatever :authority says, as for HTTP/1 (mitmproxy's transparent HTTP mode).
    request.setDestination(ctx.server.tls ? 'https' : 'http', ctx.server.address[0], ctx.server.address[1]);
  } else {
    const a = parseAuthority(request.authority || request.headers.get('host') || '');
    if (!a || !a.host) invalid = 'HTTP request has no host header, destination unknown.';
    else request.setDestination(request.scheme === 'http' ? 'http' : 'https', a.host, a.port ?? (request.scheme === 'http' ? 80 : 443));
  }
  if (invalid) {
    flow.error = new FlowError(invalid);
    flow.live = false;
    await ctx.hooks.triggerFlow('requestheaders', flow);
    await ctx.hooks.triggerFlow('error', flow);
    await exchange.sendError(400, invalid);
    return;
  }
  if (protocol !== undefined) await serveWebSocketStream(ctx, flow, stream, exchange);
  else await runHttpFlow(ctx, flow, exchange, (f, cancelled) => openUpstreamExchange(ctx, f, cancelled));
}
