import { reasonPhrase } from '../status-codes.js';
import { HTTPFlow, Request, Response, parseAuthority, parseUrl, hostport } from '../http.js';
import type { HeaderField, Headers } from '../headers.js';
import { FlowError } from '../flow.js';
import { now } from '../util/time.js';
import { SERVER_HEADER } from '../version.js';
import type { ConnectionContext } from './context.js';
import { errorPage } from './error-page.js';
import { runHttpFlow, type ClientExchange, type FlowOutcome } from './http-stream.js';
import { assembleResponseHead, chunkHeader, framedFields, lastChunk, withConnectionClose, type OutgoingFraming } from './http1/assemble.js';
import { readBody } from './http1/body.js';
import { FramingError, expectedSize, keepAlive, requestBodyFraming, validateFraming, type BodyFraming } from './http1/framing.js';
import { HttpSyntaxError, parseRequestHead, type RequestHead } from './http1/parse.js';
import { ConnectionClosedError, HeadTooLargeError, MessageTimeoutError } from './socket-reader.js';
import { pyBytesRepr } from '../io/pyrepr.js';
import { writeHttp1Message } from './http1/write.js';
import { openUpstreamExchange } from './upstream-exchange.js';
import { waitForDrain } from './wait-for-drain.js';

const CRLF = Buffer.from('\r\n');
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** What the HTTP/1 loop hands back when the connection turns into something else. */
export type Http1Exit =
  | { kind: 'closed' }
  /** A CONNECT was accepted: the tunnel's bytes follow on the same socket. */
  | { kind: 'connect'; flow: HTTPFlow }
  /** A 101 Switching Protocols response was sent (WebSocket or another protocol). */
  | { kind: 'upgrade'; flow: HTTPFlow };

/** The client's side of one HTTP/1 request on a proxy connection. */
class Http1ClientExchange implements ClientExchange {
  readonly expectedBodySize: number | null;
  responseStarted = false;
  /** Set when the connection must close after this exchange. */
  closeAfter: boolean;
  private chunked = false;
  /** The rest of the request body will not be read: the response says the connection closes. */
  private bodyDiscarded = false;

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly request: Request,
    private readonly framing: BodyFraming,
  ) {
    this.expectedBodySize = expectedSize(framing);
    this.closeAfter = !keepAlive(request.httpVersion, request.headers);
  }

  requestBody(onTrailers: (t: Headers) => void): AsyncIterable<Buffer> {
    return readBody(this.ctx.reader, this.framing, onTrailers);
  }

  discardRequestBody(): void {
    // What is left of the body would be read as the next request.
    this.closeAfter = true;
    this.bodyDiscarded = true;
  }

  /**
   * The response head's fields as sent. A client still sending a body we stopped reading learns
   * from `Connection: close` that the connection ends with this response (RFC 9112 §9.6), and
   * does not try to reuse it.
   */
  private headFields(fields: HeaderField[]): HeaderField[] {
    return this.bodyDiscarded ? withConnectionClose(fields) : fields;
  }

  sendContinue(): void {
    this.ctx.socket.write(CONTINUE, 'latin1');
  }

  /** The status line version and reason we send: HTTP/2+ responses become HTTP/1.1 with the standard reason. */
  private statusLine(resp: Response): { version: string; reason: string } {
    const version = resp.httpVersion === 'HTTP/1.0' || resp.httpVersion === 'HTTP/1.1' ? resp.httpVersion : 'HTTP/1.1';
    const reason = resp.reason || (resp.httpVersion.startsWith('HTTP/1') ? '' : reasonPhrase(resp.statusCode));
    return { version, reason };
  }

  private noBody(resp: Response): boolean {
    const sc = resp.statusCode;
    return this.request.method === 'HEAD' || (sc >= 100 && sc < 200) || sc === 204 || sc === 304;
  }

  private noteConnectionHeader(resp: Response): void {
    if (!keepAlive(resp.httpVersion === 'HTTP/1.0' ? 'HTTP/1.0' : 'HTTP/1.1', resp.headers)) this.closeAfter = true;
  }

  async sendResponse(resp: Response): Promise<void> {
    const body = resp.rawContent ?? Buffer.alloc(0);
    const framing: OutgoingFraming = this.noBody(resp) ? { kind: 'no-body' } : { kind: 'buffered', length: body.length };
    // An HTTP/1.0 client cannot read chunked bodies: give it a Content-Length instead.
    const fieldsIn = this.request.httpVersion === 'HTTP/1.0' ? resp.headers.fields.filter(([n]) => n.toLowerCase() !== 'transfer-encoding') : resp.headers.fields;
    const { fields, chunked } = framedFields(fieldsIn, framing, false);
    const { version, reason } = this.statusLine(resp);
    const head = assembleResponseHead(version, resp.statusCode, reason, this.headFields(fields));
    this.noteConnectionHeader(resp);
    this.responseStarted = true;
    const s = this.ctx.socket;
    const mustWait = writeHttp1Message(s, head, framing.kind === 'no-body' ? null : body, chunked, resp.trailers?.fields ?? null);
    if (mustWait) await waitForDrain(s);
  }

  async startResponse(resp: Response, bodySize: number | null): Promise<void> {
    const { version, reason } = this.statusLine(resp);
    let framing: OutgoingFraming;
    if (this.noBody(resp)) framing = { kind: 'no-body' };
    else if (bodySize !== null && typeof resp.stream !== 'function') framing = { kind: 'stream-length', length: bodySize };
    // Chunked needs HTTP/1.1 on both lines: an HTTP/1.0 response (a close-delimited one, as
    // HTTP/1.0 servers send) with Transfer-Encoding is faulty framing (RFC 9112 §6.1), refused
    // by strict recipients such as mitmproxy or this proxy's own validation when chained.
    else if (this.request.httpVersion === 'HTTP/1.1' && version === 'HTTP/1.1') framing = { kind: 'stream-chunked' };
    else {
      framing = { kind: 'stream-close' };
      this.closeAfter = true;
    }
    const { fields, chunked } = framedFields(resp.headers.fields, framing, false);
    this.chunked = chunked;
    this.noteConnectionHeader(resp);
    this.responseStarted = true;
    await this.write(assembleResponseHead(version, resp.statusCode, reason, this.headFields(fields)));
  }

  private write(data: string | Buffer): Promise<void> | void {
    const s = this.ctx.socket;
    const ok = typeof data === 'string' ? s.write(data, 'latin1') : s.write(data);
    if (!ok) return waitForDrain(s);
  }

  async writeResponseData(chunk: Buffer): Promise<void> {
    if (this.chunked) {
      const s = this.ctx.socket;
      s.cork();
      s.write(chunkHeader(chunk.length), 'latin1');
      s.write(chunk);
      const w = this.write(CRLF);
      s.uncork();
      await w;
    } else {
      await this.write(chunk);
    }
  }

  async endResponse(trailers: Headers | null): Promise<void> {
    if (this.chunked) await this.write(lastChunk(trailers?.fields ?? null));
  }

  async sendError(statusCode: number, message: string): Promise<void> {
    await sendErrorResponse(this.ctx, statusCode, message);
    this.closeAfter = true;
    this.responseStarted = true;
  }

  abort(): void {
    this.closeAfter = true;
    this.ctx.socket.destroy();
  }
}

/** Answer with mitmproxy's error page and close the connection afterwards. */
export async function sendErrorResponse(ctx: ConnectionContext, statusCode: number, message: string, extraHeaders: Array<[string, string]> = []): Promise<void> {
  const body = errorPage(statusCode, message);
  const head = assembleResponseHead('HTTP/1.1', statusCode, reasonPhrase(statusCode), [
    ['Server', SERVER_HEADER],
    ['Connection', 'close'],
    ['Content-Type', 'text/html'],
    ['Content-Length', String(body.length)],
    ...extraHeaders,
  ]);
  const s = ctx.socket;
  if (s.destroyed || !s.writable) return;
  s.cork();
  s.write(head, 'latin1');
  s.write(body);
  s.uncork();
  s.end();
}

/**
 * Fill in the request's target (scheme, host, port, path, authority) from the request line,
 * the Host header and the mode, as mitmproxy does. Returns an error message for a request
 * whose destination cannot be known.
 */
function resolveTarget(ctx: ConnectionContext, head: RequestHead, req: Request): string | null {
  const target = head.target;
  const mode = ctx.mode;
  if (head.method === 'CONNECT') {
    const a = parseAuthority(target);
    if (!a || a.port === undefined || a.host === '') return `Bad HTTP request line: invalid CONNECT target ${JSON.stringify(target.slice(0, 200))}`;
    req.setDestination('', a.host, a.port);
    req.authority = target;
    req.path = '';
    return null;
  }
  const badLine = (): string => `Bad HTTP request line: ${JSON.stringify(target.slice(0, 200))}`;
  let absolute: ReturnType<typeof parseUrl> | null = null;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(target)) {
    try {
      absolute = parseUrl(target);
    } catch {
      return badLine();
    }
    if (absolute.scheme !== 'http' && absolute.scheme !== 'https') {
      // Refused, but recorded with the target it named (ws://host:port/path, as aiohttp sends
      // through a proxy), as mitmproxy parses the request line before it validates the scheme.
      req.setDestination(absolute.scheme, absolute.host, absolute.port);
      req.authority = absolute.authority;
      req.path = absolute.path;
      return `Invalid request scheme: ${absolute.scheme}`;
    }
    // "http://a#@b/" is host a to us and host b to a parser that reads past the "#" (one that an
    // upstream proxy might use), so a fragment right after the authority is refused, as mitmproxy does.
    if (target.charAt(absolute.scheme.length + 3 + absolute.authority.length) === '#') return badLine();
    req.path = absolute.path;
    // The absolute form's authority is kept, except in regular mode (mitmproxy sends origin-form
    // to servers there; upstream proxies need the absolute form).
    req.authority = mode.type === 'regular' && !ctx.server.address ? '' : absolute.authority;
  } else if (target.startsWith('/') || target === '*') {
    req.path = target;
  } else {
    return badLine();
  }
  // A connection with a fixed destination (reverse target, CONNECT or SOCKS5 tunnel, transparent
  // mode) sends every request there, whatever the request line or Host header names: following
  // an absolute-form URL would make the proxy an open one (mitmproxy's transparent HTTP mode).
  const tls = ctx.client.tls;
  if (mode.type === 'reverse' && mode.server) {
    const [host, port] = mode.server.address;
    req.setDestination(mode.server.scheme === 'https' || mode.server.scheme === 'tls' ? 'https' : 'http', host, port);
    if (!ctx.options.keepHostHeader) req.headers.set('host', hostport(req.scheme, host, port));
    return null;
  }
  if (ctx.server.address) {
    // Whether the tunnel's server speaks TLS, not the client connection: TLS to the proxy itself
    // (a secure web proxy) may carry a tunnel with plain HTTP in it, as mitmproxy's scheme for
    // such requests follows its server side.
    req.setDestination(ctx.server.tls ? 'https' : 'http', ctx.server.address[0], ctx.server.address[1]);
    return null;
  }
  if (absolute) {
    req.setDestination(absolute.scheme, absolute.host, absolute.port);
    return null;
  }
  const hh = req.headers.get('host');
  const a = hh !== undefined ? parseAuthority(hh) : null;
  if (!a || a.host === '') return 'HTTP request has no host header, destination unknown.';
  req.setDestination(tls ? 'https' : 'http', a.host, a.port ?? (tls ? 443 : 80));
  return null;
}

/**
 * Serve HTTP/1 requests on the client connection until it closes, a CONNECT turns it into a
 * tunnel, or a 101 response upgrades it. Requests are handled one at a time, so pipelined
 * requests are answered in order.
 */
export async function serveHttp1(ctx: ConnectionContext): Promise<Http1Exit> {
  const log = ctx.master.log;
  for (;;) {
    let raw: Buffer | null;
    try {
      raw = await ctx.reader.readHead(ctx.options.maxHeadSize);
    } catch (e) {
      if (e instanceof HeadTooLargeError) {
        log.info(`client sent a request head of more than ${e.limit} bytes`, ctx.clientLabel);
        await sendErrorResponse(ctx, 431, `Request header fields exceed ${e.limit} bytes.`);
        return { kind: 'closed' };
      }
      if (e instanceof MessageTimeoutError) {
        log.info(`client sent an incomplete request head (${e.message})`, ctx.clientLabel);
        await sendErrorResponse(ctx, 408, 'Request head not received in time.');
      }
      if (e instanceof ConnectionClosedError) {
        // What the client left unfinished (mitmproxy's wording): often not HTTP at all.
        log.info(`Client closed connection before completing request headers: ${pyBytesRepr(ctx.reader.unread().subarray(0, 200))}`, ctx.clientLabel);
      }
      return { kind: 'closed' };
    }
    if (raw === null) return { kind: 'closed' };
    const timestampStart = now();

    let head: RequestHead;
    try {
      head = parseRequestHead(raw);
    } catch (e) {
      const msg = e instanceof HttpSyntaxError ? e.message : String(e);
      log.info(`client sent an invalid request: ${msg}`, ctx.clientLabel);
      await sendErrorResponse(ctx, 400, msg);
      return { kind: 'closed' };
    }

    const request = new Request({
      host: '',
      port: 0,
      method: head.method,
      scheme: 'http',
      authority: '',
      path: head.target,
      httpVersion: head.httpVersion,
      headers: head.headers,
      content: null,
      timestampStart,
    });
    const flow = new HTTPFlow(ctx.client, ctx.server, true, request);

    // Requests we cannot route or frame safely are answered with 400 (and still recorded).
    let invalid = resolveTarget(ctx, head, request);
    let framing: BodyFraming = { kind: 'none' };
    if (!invalid && head.method !== 'CONNECT') {
      try {
        if (ctx.options.validateInboundHeaders) {
          validateFraming(request.headers, { isRequest: true, httpVersion: request.httpVersion });
          if (request.headers.getAll('host').length > 1) throw new FramingError('multiple host headers');
        }
        framing = requestBodyFraming(request.headers, ctx.options.validateInboundHeaders);
      } catch (e) {
        invalid =
          e instanceof FramingError
            ? `Received ${e.message} from client, refusing to prevent request smuggling attacks. Disable the validate_inbound_headers option to skip this security check.`
            : String(e);
      }
    }
    if (invalid) {
      flow.error = new FlowError(invalid);
      flow.live = false;
      await ctx.hooks.triggerFlow('requestheaders', flow);
      await ctx.hooks.triggerFlow('error', flow);
      log.info(`${request.method} ${head.target.slice(0, 200)}: ${invalid}`, ctx.clientLabel);
      await sendErrorResponse(ctx, 400, invalid);
      return { kind: 'closed' };
    }

    if (head.method === 'CONNECT') return { kind: 'connect', flow };

    const exchange = new Http1ClientExchange(ctx, request, framing);
    const outcome: FlowOutcome = await runHttpFlow(ctx, flow, exchange, (f, cancelled) => openUpstreamExchange(ctx, f, cancelled));
    if (outcome === 'close' || ctx.closed) {
      if (!ctx.socket.destroyed) ctx.socket.end();
      return { kind: 'closed' };
    }
    if (typeof outcome === 'object') return { kind: 'upgrade', flow: outcome.upgrade };
    if (exchange.closeAfter) {
      ctx.socket.end();
      return { kind: 'closed' };
    }
  }
}

/** Send the answer to a CONNECT request ourselves (200, or the response an addon set). */
export async function sendConnectResponse(ctx: ConnectionContext, resp: Response): Promise<void> {
  const body = resp.rawContent ?? Buffer.alloc(0);
  const ok = resp.statusCode >= 200 && resp.statusCode < 300;
  const { fields } = framedFields(resp.headers.fields, ok ? { kind: 'no-body' } : { kind: 'buffered', length: body.length }, false);
  const head = assembleResponseHead('HTTP/1.1', resp.statusCode, resp.reason || reasonPhrase(resp.statusCode), fields);
  const s = ctx.socket;
  s.cork();
  s.write(head, 'latin1');
  if (!ok && body.length) s.write(body);
  s.uncork();
}
