import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import type { HTTPFlow, Request, Response } from '../http.js';
import type { Headers } from '../headers.js';
import { FlowError } from '../flow.js';
import type { ConnectionContext } from './context.js';
import { runHttpFlow, type ClientExchange } from './http-stream.js';
import { Http1UpstreamExchange } from './http1-upstream.js';
import { addHttp2Headers } from './http2-headers.js';
import { closeClientStream } from './http2-reset-guard.js';
import { NO_CHUNKS } from './readable-chunks.js';
import { SocketReader } from './socket-reader.js';
import { upstreamTargetFor } from './upstream-exchange.js';
import { relayWebSocket } from './websocket.js';

/**
 * WebSockets over HTTP/2 (RFC 8441): the client opens a stream with an extended CONNECT
 * (`:method CONNECT`, `:protocol websocket`), the server answers `:status 200`, and the stream
 * then carries ordinary RFC 6455 frames (client frames masked).
 *
 * How the flow is recorded: as the WebSocket handshake the stream stands for, the way a
 * WebSocket over HTTP/1.1 looks in mitmproxy. The request is `GET` (HTTP/2.0, the client's
 * :scheme, :authority and :path) with the client's header fields plus `upgrade: websocket`,
 * `connection: Upgrade`, a fresh `sec-websocket-key` (and `sec-websocket-version: 13` if the
 * client left it out): exactly what goes to the server, which is asked for an HTTP/1.1 Upgrade
 * because servers rarely speak RFC 8441. The response is the server's own `101 Switching
 * Protocols`. That the client really sent an extended CONNECT and got `:status 200` back is kept
 * in `flow.metadata[EXTENDED_CONNECT_METADATA]` (the :protocol value). Addons, filters
 * (`~websocket`), the dumper and flow files therefore treat both kinds alike.
 */

/** The flow metadata key that marks a WebSocket the client opened with an HTTP/2 extended CONNECT; its value is the :protocol. */
export const EXTENDED_CONNECT_METADATA = 'http2_extended_connect';

/** RFC 6455 §1.3: the GUID a server appends to the key to prove it understood the handshake. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The server's answer to the Upgrade was no WebSocket handshake (RFC 6455 §4.1 says fail the connection). */
export class WebSocketHandshakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebSocketHandshakeError';
  }
}

/** Settings for the client-facing HTTP/2 session: extended CONNECT is advertised only when WebSockets are intercepted. */
export function extendedConnectSettings(ctx: ConnectionContext): http2.Settings {
  return { enableConnectProtocol: ctx.options.websocket };
}

/**
 * Turn an extended CONNECT request (already parsed from the stream's pseudo-headers) into the
 * WebSocket handshake it stands for (see the module comment). Returns why it cannot be served,
 * or null when the request is now the handshake.
 */
export function toWebSocketHandshake(ctx: ConnectionContext, request: Request, protocol: string): string | null {
  if (protocol.toLowerCase() !== 'websocket') return `HTTP/2 extended CONNECT for protocol ${JSON.stringify(protocol)} is not supported.`;
  // The session stops advertising it when the option is off, but a session opened before the
  // change may still carry such streams.
  if (!ctx.options.websocket) return 'WebSocket over HTTP/2 is disabled (websocket option).';
  request.method = 'GET';
  const h = request.headers;
  if (!h.has('sec-websocket-version')) h.set('sec-websocket-version', '13');
  h.add('upgrade', 'websocket');
  h.add('connection', 'Upgrade');
  // RFC 8441 has no key; the server needs one, and we check its answer against it.
  h.set('sec-websocket-key', randomBytes(16).toString('base64'));
  return null;
}

/**
 * Serve an extended CONNECT stream whose request `toWebSocketHandshake` prepared: the handshake
 * goes through the usual HTTP hooks and to the server as an HTTP/1.1 Upgrade; after a 101 the
 * client gets `:status 200` and the frames are relayed (websocket_start/message/end) between
 * the stream and the server's connection. Any other answer reaches the client as it is.
 */
export async function serveWebSocketStream(ctx: ConnectionContext, flow: HTTPFlow, stream: http2.ServerHttp2Stream, exchange: ClientExchange): Promise<void> {
  flow.metadata[EXTENDED_CONNECT_METADATA] = 'websocket';
  const client = new ExtendedConnectExchange(stream, exchange, flow);
  let upstream: UpgradeExchange | null = null;
  const outcome = await runHttpFlow(ctx, flow, client, async (f) => (upstream = await openUpgradeExchange(ctx, f)));
  // The server's connection after its 101 (the exchange hands it over rather than releasing it).
  const server = upstream !== null && flow.response?.statusCode === 101 ? ctx.upstream.takeUpgraded(flow) : null;
  if (typeof outcome !== 'object' || !flow.websocket || !server) {
    // Killed or failed after the 101, an addon's own 101, or a handshake an addon made invalid: nothing to relay.
    server?.close();
    if (typeof outcome === 'object' && !flow.websocket && !flow.error) {
      // The client got a 502 for a 101 that is no WebSocket handshake (an addon changed the request or response).
      flow.error = new FlowError(NOT_A_WEBSOCKET_HANDSHAKE);
      flow.live = false;
      ctx.master.log.info(`WebSocket over HTTP/2: ${NOT_A_WEBSOCKET_HANDSHAKE}`, ctx.clientLabel);
      await ctx.hooks.triggerFlow('error', flow);
    }
    // A client told 200 must not wait for frames that never come; any other answer stands as sent.
    if (client.accepted && !stream.destroyed) closeClientStream(stream, http2.constants.NGHTTP2_CANCEL);
    return;
  }
  try {
    await relayWebSocket(ctx, flow, { socket: stream, reader: new SocketReader(stream) }, { socket: server.socket, reader: server.reader });
  } finally {
    // As for HTTP/1.1 upgrades: the relay ended the server side after the close frame; let it flush.
    server.endGracefully(5000);
  }
}

const NOT_A_WEBSOCKET_HANDSHAKE = 'The server switched protocols, but the handshake is no valid WebSocket handshake.';

/**
 * The client's side of the handshake: an HTTP/2 stream whose request has no body (its DATA
 * frames are WebSocket frames, read by the relay afterwards) and whose successful answer is
 * `:status 200` instead of the server's 101. Everything else is the plain HTTP/2 exchange.
 */
class ExtendedConnectExchange implements ClientExchange {
  readonly expectedBodySize = 0;
  /** The client was told `:status 200`: the stream is a WebSocket now. */
  accepted = false;
  /** A 101 whose head an addon asked to stream: answered once the `response` hook decided about it. */
  private pendingUpgrade: Response | null = null;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly inner: ClientExchange,
    private readonly flow: HTTPFlow,
  ) {}

  get responseStarted(): boolean {
    return this.accepted || this.inner.responseStarted;
  }

  requestBody(): AsyncIterable<Buffer> {
    // Nothing: the stream's bytes belong to the WebSocket.
    return NO_CHUNKS;
  }

  sendContinue(): void {
    // A 100 Continue means nothing on a CONNECT stream.
  }

  async sendResponse(resp: Response): Promise<void> {
    if (resp.statusCode !== 101) return this.inner.sendResponse(resp);
    if (!this.flow.websocket) return this.inner.sendError(502, NOT_A_WEBSOCKET_HANDSHAKE);
    if (this.stream.destroyed) return;
    this.stream.respond(acceptedHeaders(resp), { endStream: false });
    this.accepted = true;
  }

  async startResponse(resp: Response, bodySize: number | null): Promise<void> {
    if (resp.statusCode === 101) this.pendingUpgrade = resp;
    else await this.inner.startResponse(resp, bodySize);
  }

  writeResponseData(chunk: Buffer): Promise<void> {
    return this.inner.writeResponseData(chunk);
  }

  async endResponse(trailers: Headers | null): Promise<void> {
    const upgrade = this.pendingUpgrade;
    if (upgrade) {
      this.pendingUpgrade = null;
      await this.sendResponse(upgrade);
    } else {
      await this.inner.endResponse(trailers);
    }
  }

  sendError(statusCode: number, message: string): Promise<void> {
    return this.inner.sendError(statusCode, message);
  }

  discardRequestBody(): void {
    // Its request has no body: the stream's bytes are the WebSocket's.
  }

  abort(): void {
    this.inner.abort();
  }

  watchGone(onGone: (reason?: string) => void): () => void {
    return this.inner.watchGone ? this.inner.watchGone(onGone) : () => undefined;
  }

  responseProblem(resp: Response): string | null {
    // The server's 101 becomes the client's 200 here.
    return resp.statusCode === 101 ? null : (this.inner.responseProblem?.(resp) ?? null);
  }
}

/**
 * The client's `:status 200` for the server's 101: its header fields (the agreed
 * sec-websocket-protocol and -extensions among them) without what belongs to the HTTP/1.1
 * handshake only (upgrade, connection, sec-websocket-accept).
 */
function acceptedHeaders(resp: Response): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = { ':status': 200 };
  addHttp2Headers(out, resp.headers.fields, { dropHost: false, skip: ['sec-websocket-accept', 'content-length'] });
  return out;
}

/**
 * An HTTP/1.1 connection for the handshake. The target is the one `openUpstreamExchange` would
 * choose, but only HTTP/1.1 is offered, and a shared HTTP/2 connection to the same server is not
 * used: an Upgrade needs a connection of its own.
 */
async function openUpgradeExchange(ctx: ConnectionContext, flow: HTTPFlow): Promise<UpgradeExchange> {
  const target = upstreamTargetFor(ctx, flow, ['http/1.1']);
  let conn = await ctx.upstream.acquire(target);
  if (conn.multiplexed) {
    conn = await ctx.upstream.open(target);
    conn.inUse = true;
  }
  flow.serverConn = conn.server;
  return new UpgradeExchange(ctx, conn);
}

/** The HTTP/1.1 exchange, checking a 101 against the key that was sent (RFC 6455 §4.1). */
class UpgradeExchange extends Http1UpstreamExchange {
  private sentKey: string | undefined;

  override async sendRequest(flow: HTTPFlow): Promise<void> {
    this.sentKey = flow.request.headers.get('sec-websocket-key');
    await super.sendRequest(flow);
  }

  override async startRequest(flow: HTTPFlow, bodySize: number | null): Promise<void> {
    this.sentKey = flow.request.headers.get('sec-websocket-key');
    await super.startRequest(flow, bodySize);
  }

  override async readResponseHead(flow: HTTPFlow): Promise<Response> {
    const resp = await super.readResponseHead(flow);
    if (resp.statusCode === 101) checkUpgradeResponse(resp, this.sentKey);
    return resp;
  }
}

function checkUpgradeResponse(resp: Response, key: string | undefined): void {
  const h = resp.headers;
  if ((h.get('upgrade') ?? '').toLowerCase() !== 'websocket') throw new WebSocketHandshakeError('WebSocket handshake failed: the server switched protocols, but not to websocket.');
  if (!(h.get('connection') ?? '').toLowerCase().split(',').some((t) => t.trim() === 'upgrade')) {
    throw new WebSocketHandshakeError('WebSocket handshake failed: no "Connection: Upgrade" in the server\'s 101 response.');
  }
  const expected = createHash('sha1').update(`${key ?? ''}${WEBSOCKET_GUID}`).digest('base64');
  if (h.get('sec-websocket-accept') !== expected) throw new WebSocketHandshakeError('WebSocket handshake failed: invalid Sec-WebSocket-Accept in the server\'s 101 response.');
}
