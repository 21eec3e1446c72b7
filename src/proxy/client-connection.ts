import type net from 'node:net';
import { Client, Server, formatAddress } from '../connection.js';
import type { Master } from '../master.js';
import { Response, type HTTPFlow } from '../http.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import type { ProxyMode } from './modes.js';
import type { OwnAddresses } from './own-addresses.js';
import type { IdleConnections } from './idle-connections.js';
import { handshakeTimeoutMs, type ProxyOptions } from './proxy-options.js';
import { SocketReader } from './socket-reader.js';
import { socketPeername, socketSockname } from './socket-address.js';
import { UpstreamPool, ConnectError } from './upstream-pool.js';
import { sendConnectResponse, sendErrorResponse, serveHttp1 } from './http1-client-side.js';
import { escapeBytes } from '../util/escapes.js';
import { pyBytesRepr } from '../io/pyrepr.js';
import { relayRaw, relayTcpFlow } from './tcp-relay.js';
import { relayWebSocket } from './websocket.js';
import { couldStartRequest, eagerConnection, sniff } from './sniff.js';
import { chooseLayer, type LayerName } from './next-layer.js';
import { interceptClientTls } from './tls-client.js';
import { socks5Handshake } from './socks5.js';
import { modeVia } from './upstream-proxy.js';
import { serveHttp2 } from './http2-client-side.js';
import { hostIsIgnored, hostIsTcp, plaintextIsIgnored } from './host-patterns.js';
import { OriginalDestinationError, lookupOriginalDestination } from './original-destination.js';
import { proxyDebug } from './debug.js';
import { endAndFlush } from './end-and-flush.js';
import { ConnectionHooks, setIdleTimeout } from './connection-hooks.js';

/**
 * One accepted client connection, from `client_connected` to `client_disconnected`: the layers
 * (HTTP/1, CONNECT tunnels, TLS, raw TCP) take turns on the same socket; nothing loops back
 * through another listener.
 */
export async function handleClientConnection(
  master: Master,
  mode: ProxyMode,
  socket: net.Socket,
  options: ProxyOptions,
  own: OwnAddresses,
  idle?: IdleConnections,
): Promise<void> {
  socket.setNoDelay(true);
  const client = new Client({
    peername: socketPeername(socket),
    sockname: socketSockname(socket),
    timestampStart: now(),
    proxyMode: mode.fullSpec,
  });
  const clientLabel = formatAddress(client.peername);
  const reader = new SocketReader(socket);
  reader.messageTimeoutMs = handshakeTimeoutMs(options);
  const ctx: ConnectionContext = {
    master,
    hooks: new ConnectionHooks(master.addons),
    mode,
    client,
    server: new Server(),
    socket,
    reader,
    rawSocket: socket,
    upstream: undefined as unknown as UpstreamPool,
    options,
    own,
    idle,
    clientLabel,
    closed: false,
  };
  ctx.upstream = new UpstreamPool(ctx);
  if (mode.server) ctx.server.address = [mode.server.address[0], mode.server.address[1]];
  // The listener keeps our side open when the client sends FIN (allowHalfOpen); only relays want
  // that. Everywhere else our side ends with the client's, as node's default would.
  socket.on('end', () => {
    if (!ctx.halfClose && !socket.writableEnded) socket.end();
  });
  setIdleTimeout(socket, options.tcpTimeoutMs, () => ctx.hooks, () => {
    // mitmproxy's line (at info, so mitmdump shows why the connection went).
    master.log.info(`Closing connection due to inactivity: ${client}`, clientLabel);
    socket.destroy();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));

  master.log.info('client connect', clientLabel);
  await ctx.hooks.trigger('client_connected', client);
  try {
    if (client.error) {
      master.log.info('client kill connection', clientLabel);
    } else {
      await serveConnection(ctx);
    }
  } catch (e) {
    // A bug, not bad input: report it loudly, but never let one connection take the proxy down.
    master.log.error(`Unexpected error on client connection: ${(e as Error).stack ?? String(e)}`, clientLabel);
  } finally {
    ctx.closed = true;
    await ctx.upstream.closeAll();
    let fallback: NodeJS.Timeout | undefined;
    // Over TLS, ctx.socket is the TLS socket on top of `socket`, and may still hold what it was
    // last given (the end of a streamed response to a client that asked to close): ending
    // `socket` under it would drop that, so the TLS socket is flushed and ended first.
    if (ctx.socket !== socket) await endAndFlush(ctx.socket, 5000);
    if (!socket.destroyed) {
      socket.end();
      // Give the client a moment to read our last bytes, then make sure the socket goes away.
      fallback = setTimeout(() => socket.destroy(), 5000);
      fallback.unref();
    }
    await closed;
    // A client that closed in time takes its timer with it (not one pending timer per connection for 5 s).
    clearTimeout(fallback);
    client.timestampEnd = now();
    master.log.info('client disconnect', clientLabel);
    await ctx.hooks.trigger('client_disconnected', client);
  }
}

/** Run the layers for the connection's mode until the client is done. */
async function serveConnection(ctx: ConnectionContext): Promise<void> {
  const mode = ctx.mode;
  switch (mode.type) {
    case 'regular':
    case 'upstream': {
      if (mode.type === 'upstream') {
        // Requests name their own servers; every server connection goes through the upstream
        // proxy (the pool adds it: proxy/upstream-proxy.ts), and flows show it as `via`.
        ctx.server.address = null;
        ctx.server.via = modeVia(mode);
      }
      const kind = await sniff(ctx);
      if (kind === 'closed') return;
      // Without a destination yet, only HTTP (proxy requests) or TLS to the proxy itself can be served.
      const layer = await chooseLayer(ctx, kind === 'tls' ? 'tls' : 'http', ['http', 'tls']);
      if (layer === 'http' && kind === 'tcp' && !couldStartRequest(ctx.reader.unread())) {
        // Answer now instead of waiting for a request head that will never come.
        const first = escapeBytes(ctx.reader.unread().subarray(0, 16));
        ctx.master.log.info(`client sent an invalid request: not an HTTP request (starts with ${JSON.stringify(first)})`, ctx.clientLabel);
        await sendErrorResponse(ctx, 400, 'Invalid HTTP request: this is an HTTP proxy.');
        return;
      }
      if (layer === 'tls') {
        // A "secure web proxy": the client speaks TLS to the proxy itself, then HTTP/1 proxy requests.
        const r = await interceptClientTls(ctx, { forceAlpn: 'http/1.1' });
        if (r.kind !== 'intercepted') return;
      } else if (kind === 'h2') {
        // HTTP/2 with prior knowledge (h2c) straight to the proxy: each stream names its target.
        await serveHttp2(ctx);
        return;
      }
      await serveHttpLayers(ctx);
      return;
    }
    case 'reverse': {
      const { scheme, address } = mode.server!;
      const secure = scheme === 'https' || scheme === 'tls';
      const raw = scheme === 'tcp' || scheme === 'tls';
      ctx.server.tls = secure;
      // The target's name is the SNI sent upstream (and the name verified), not the client's,
      // unless the client's Host header is kept (mitmproxy's ReverseProxy layer).
      if (secure && !ctx.options.keepHostHeader) ctx.server.sni = address[0];
      if (!(await connectEagerly(ctx))) return;
      // The eager connection is opened as plain TCP (server_connect sees it so, as in mitmproxy);
      // TLS towards an https:/tls: target then comes on top of it, and knowing that here lets a
      // client's ClientHello wait for the server's handshake (its certificate names, its ALPN).
      ctx.server.tls = secure;
      await serveTunnel(ctx, raw);
      return;
    }
    case 'socks5': {
      if (!(await socks5Handshake(ctx))) return;
      await serveTunnel(ctx, false);
      return;
    }
    case 'transparent': {
      // A redirected connection: its destination is the one the client dialled, as in a tunnel.
      try {
        const { peername, sockname } = ctx.client;
        if (!peername || !sockname) throw new OriginalDestinationError('the connection has no addresses');
        ctx.server.address = await lookupOriginalDestination([peername[0], peername[1]], [sockname[0], sockname[1]]);
      } catch (e) {
        const why = e instanceof OriginalDestinationError ? e.message : String(e);
        ctx.master.log.warn(`Transparent mode failure: ${why}`, ctx.clientLabel);
        return;
      }
      // As mitmproxy: connect before the client speaks (so a server that speaks first is seen),
      // and close the client when its destination cannot be reached.
      if (!(await connectEagerly(ctx))) return;
      await serveTunnel(ctx, false);
      return;
    }
    default:
      ctx.master.log.warn(`${mode.description} is not supported yet; closing the connection.`, ctx.clientLabel);
  }
}

/**
 * With connection_strategy "eager", connect to a fixed target before the client says anything
 * (as mitmproxy): protocols where the server speaks first work, and a dead target shows at once.
 * When it fails the client is disconnected, whatever it speaks (mitmproxy's ReverseProxy and
 * TransparentProxy layers close it; the pool has logged why). Returns false to close.
 */
async function connectEagerly(ctx: ConnectionContext): Promise<boolean> {
  const address = ctx.server.address;
  if (ctx.options.connectionStrategy !== 'eager' || !address) return true;
  try {
    await ctx.upstream.open({ address, tls: false }, ctx.server);
    return true;
  } catch (e) {
    if (!(e instanceof ConnectError)) throw e;
    return false;
  }
}

/** HTTP/1 on the connection, following CONNECT tunnels and upgrades. */
async function serveHttpLayers(ctx: ConnectionContext): Promise<void> {
  for (;;) {
    const exit = await serveHttp1(ctx);
    if (exit.kind === 'closed') return;
    if (exit.kind === 'upgrade') {
      await relayUpgraded(ctx, exit.flow);
      return;
    }
    const tunnel = await handleConnect(ctx, exit.flow);
    if (tunnel === 'refused') continue;
    if (tunnel === 'closed') return;
    // In a tunnel the target is a TLS server exactly when the client speaks TLS to it.
    ctx.server.tls = false;
    await serveTunnel(ctx, false);
    return;
  }
}

/**
 * CONNECT: the http_connect hook, an eager connection to the target (so a refused connection is
 * reported on the CONNECT itself; not in upstream mode), then `200 Connection established`.
 */
async function handleConnect(ctx: ConnectionContext, flow: HTTPFlow): Promise<'tunnel' | 'refused' | 'closed'> {
  const hooks = ctx.hooks;
  await hooks.triggerFlow('http_connect', flow);
  if (flow.killed) {
    ctx.socket.destroy();
    return 'closed';
  }
  const req = flow.request;
  // The tunnel's server; a refused CONNECT puts back the connection's own (no fixed destination,
  // and in upstream mode the `via`), or later requests on this connection would go to the target.
  const previous = ctx.server;
  ctx.server = new Server({ address: [req.host, req.port] });
  flow.serverConn = ctx.server;
  // An idle TLS connection to the target kept from this client's previous tunnel will serve it:
  // no need to open another one now.
  const keptForClient = ctx.idle?.hasTls(ctx.client.peername?.[0] ?? '', [req.host, req.port]) ?? false;
  // In upstream mode the CONNECT is answered at once and a failing upstream proxy is reported
  // inside the tunnel, as mitmproxy's handle_connect_upstream does: connecting here would answer
  // the CONNECT with a 502 that names the wrong remedy.
  const eager = ctx.options.connectionStrategy === 'eager' && ctx.mode.type !== 'upstream';
  if (!flow.response && eager && !keptForClient) {
    try {
      const conn = await ctx.upstream.open({ address: [req.host, req.port], tls: false }, ctx.server);
      flow.serverConn = conn.server;
    } catch (e) {
      const err = e instanceof ConnectError ? e.message : String(e);
      flow.response = Response.make(
        502,
        `Cannot connect to ${formatAddress([req.host, req.port])}: ${err} If you plan to redirect requests away from this server, consider setting \`connection_strategy\` to \`lazy\` to suppress early connections.`,
      );
    }
  }
  if (!flow.response) {
    // Like mitmproxy: a bare status line, no headers (a Content-Length would only confuse clients).
    flow.response = new Response({ statusCode: 200, reason: 'Connection established', headers: [], content: Buffer.alloc(0) });
  }
  const resp = flow.response;
  flow.live = false;
  if (resp.statusCode < 200 || resp.statusCode >= 300) {
    flow.error = null;
    await hooks.triggerFlow('http_connect_error', flow);
    await sendConnectResponse(ctx, resp);
    ctx.server = previous;
    return 'refused';
  }
  await sendConnectResponse(ctx, resp);
  await hooks.triggerFlow('http_connected', flow);
  return 'tunnel';
}

/**
 * Serve what a tunnel (or a reverse proxy connection) carries: TLS (intercepted or passed
 * through), HTTP, or raw TCP. `rawTcp` forces raw TCP after any TLS (reverse tcp:/tls: modes).
 * The choice is the proxy's (ignore_hosts, tcp_hosts, rawtcp, the first bytes) unless a
 * `next_layer` handler makes another.
 */
async function serveTunnel(ctx: ConnectionContext, rawTcp: boolean): Promise<void> {
  // A raw TCP client may send its bytes and its FIN at once: the FIN must not end our side
  // before the layer is chosen.
  ctx.halfClose = true;
  const kind = await sniff(ctx);
  if (kind === 'closed') return;
  let proposed: LayerName;
  // ignore_hosts / allow_hosts come first, as in mitmproxy's NextLayer (TLS is matched once its
  // ClientHello names the server: tls-client.ts).
  const ignored = kind !== 'tls' && (await plaintextIsIgnored(ctx, kind));
  if (ignored) proposed = ignoredLayer(ctx);
  else if (kind === 'tls') proposed = 'tls';
  else proposed = plainLayer(ctx, rawTcp, kind);
  const layer = await chooseLayer(ctx, proposed);
  if (layer !== 'tcp' && layer !== 'ignore') endHalfClose(ctx);
  if (layer === 'tls') await serveClientTls(ctx, rawTcp);
  else if (layer === 'http') await serveHttpAfterSniff(ctx, kind);
  // An ignored connection (recorded with show_ignored_hosts or not) is relayed as its bytes came,
  // never wrapped in TLS (mitmproxy decides that before any reverse TLS layer); otherwise see relayNeedsTls.
  else await relayToServer(ctx, { passthrough: layer === 'ignore', tls: layer !== 'ignore' && !ignored && relayNeedsTls(ctx, false) });
}

/**
 * The layer for bytes that are not (or no longer) TLS: raw TCP when the mode or tcp_hosts says
 * so; a reverse proxy's scheme names the protocol (mitmproxy's _setup_reverse_proxy: no
 * sniffing); bytes that are no HTTP are TCP only with rawtcp, and without it they go to the HTTP
 * layer, which refuses them, as mitmproxy does (never relayed unseen).
 */
function plainLayer(ctx: ConnectionContext, rawTcp: boolean, sniffed: 'http1' | 'h2' | 'tcp' | 'tls'): LayerName {
  if (rawTcp) return 'tcp';
  if (ctx.mode.type === 'reverse') return 'http';
  if (hostIsTcp(ctx) || ((sniffed === 'tcp' || sniffed === 'tls') && ctx.options.rawtcp)) return 'tcp';
  return 'http';
}

/**
 * How an ignored connection is relayed: untouched and unrecorded, or, with show_ignored_hosts,
 * recorded as a TCP flow (mitmproxy's TCPLayer with ignore=False); either way nothing is
 * decrypted or parsed.
 */
function ignoredLayer(ctx: ConnectionContext): LayerName {
  return ctx.options.showIgnoredHosts ? 'tcp' : 'ignore';
}

/**
 * Intercept the client's TLS, then serve what it carries: HTTP when ALPN says so; otherwise the
 * first decrypted bytes decide, and a server that greets first (SMTPS, IMAPS) makes it TCP.
 */
async function serveClientTls(ctx: ConnectionContext, rawTcp: boolean): Promise<void> {
  if (ctx.mode.type !== 'reverse') ctx.server.tls = true;
  const r = await interceptClientTls(ctx, { http2Supported: true });
  if (r.kind === 'failed') return;
  if (r.kind === 'passthrough') {
    // Passed through because of ignore_hosts / allow_hosts: show_ignored_hosts records it (an
    // addon's tls_clienthello ignore_connection never is, as in mitmproxy).
    const record = ctx.options.showIgnoredHosts && hostIsIgnored(ctx, ctx.client.sni);
    await relayToServer(ctx, { passthrough: !record, tls: false });
    return;
  }
  const inner = r.alpn === 'h2' ? 'h2' : r.alpn === 'http/1.1' || rawTcp || ctx.mode.type === 'reverse' ? 'http1' : await sniff(ctx);
  if (inner === 'closed') return;
  const layer = await chooseLayer(ctx, plainLayer(ctx, rawTcp, inner), ['http', 'tcp', 'ignore']);
  if (layer === 'http') await serveHttpAfterSniff(ctx, inner);
  // The server side is TLS as well unless a next_layer handler said otherwise by clearing
  // `context.server.tls` (mitmproxy's ClientTLSLayer without a ServerTLSLayer: TLS with the
  // client, plain bytes to the server).
  else await relayToServer(ctx, { passthrough: layer === 'ignore', tls: relayNeedsTls(ctx, ctx.server.tls) });
}

/**
 * The HTTP layer for a tunnel whatever its first bytes were. A server that spoke first (its
 * greeting waits in the eager connection) is no HTTP server: as mitmproxy's HTTP/1 client, log
 * what it sent and close that connection; requests open a new one.
 */
async function serveHttpAfterSniff(ctx: ConnectionContext, kind: 'http1' | 'h2' | 'tcp' | 'tls'): Promise<void> {
  // (Only when the sniff found no HTTP: an HTTP/2 server's SETTINGS may wait there too.)
  const greeted = kind === 'tcp' ? eagerConnection(ctx) : null;
  if (greeted && !greeted.multiplexed && greeted.reader.bufferedLength > 0) {
    ctx.master.log.info(`Unexpected data from server: ${pyBytesRepr(greeted.reader.unread())}`, ctx.clientLabel);
    greeted.close();
  }
  await (kind === 'h2' ? serveHttp2(ctx) : serveHttpLayers(ctx));
}

/**
 * Whether relayed bytes go to the server over TLS: a reverse target's scheme decides (reverse:tls
 * wraps a plaintext client's bytes, reverse:tcp sends a TLS client's decrypted bytes in the
 * clear, as mitmproxy's ServerTLSLayer follows the spec); in a tunnel the server speaks TLS
 * exactly when the client did.
 */
function relayNeedsTls(ctx: ConnectionContext, clientTls: boolean): boolean {
  const target = ctx.mode.type === 'reverse' ? ctx.mode.server : null;
  return target ? target.scheme === 'https' || target.scheme === 'tls' : clientTls;
}

/** Not a relay after all: a FIN the client sent meanwhile ends the connection now. */
function endHalfClose(ctx: ConnectionContext): void {
  ctx.halfClose = false;
  const s = ctx.rawSocket;
  if (s.readableEnded && !s.writableEnded) s.end();
}

/** Relay the connection's bytes to its server, as a recorded TCP flow or (passthrough) untouched. */
async function relayToServer(ctx: ConnectionContext, opts: { passthrough: boolean; tls: boolean }): Promise<void> {
  // Each direction's FIN is passed on by the relay (a client's after a TLS ClientHello too).
  ctx.halfClose = true;
  const address = ctx.server.address;
  if (!address) return;
  if (ctx.server.error && opts.tls) {
    ctx.master.log.info(`cannot relay to ${formatAddress(address)}: ${ctx.server.error}`, ctx.clientLabel);
    return;
  }
  let conn = eagerConnection(ctx);
  try {
    if (conn && conn.target.tls === opts.tls) {
      // The connection opened before the client spoke: what the server sent already waits in it.
      conn.inUse = true;
    } else {
      const sni = opts.tls ? (ctx.server.sni ?? ctx.client.sni ?? null) : undefined;
      conn = await ctx.upstream.acquire(opts.tls ? { address, tls: true, sni, alpn: [] } : { address, tls: false });
    }
  } catch (e) {
    ctx.master.log.info(`cannot connect to ${formatAddress(address)}: ${(e as Error).message}`, ctx.clientLabel);
    return;
  }
  proxyDebug(ctx, () => `[tcp] relaying ${opts.passthrough ? 'unrecorded' : 'as a TCP flow'} to ${formatAddress(address)}${opts.tls ? ' over TLS' : ''}`);
  if (opts.passthrough) await relayRaw(ctx.reader, ctx.socket, conn.reader, conn.socket);
  else await relayTcpFlow(ctx, conn.socket, conn.reader);
  proxyDebug(ctx, () => `[tcp] relay to ${formatAddress(address)} done`);
  conn.close();
}

/**
 * After a 101 response: a WebSocket (the `websocket` option on and a valid handshake) is relayed
 * message by message; any other upgrade becomes a raw TCP flow, or, with `rawtcp` off, is refused
 * as mitmproxy does ("no protocol is enabled to upgrade to").
 */
async function relayUpgraded(ctx: ConnectionContext, flow: HTTPFlow): Promise<void> {
  const server = ctx.upstream.takeUpgraded(flow);
  if (!server) return;
  try {
    proxyDebug(ctx, () => `[http] upgrading to ${flow.websocket ? 'WebSocket' : ctx.options.rawtcp ? 'raw TCP' : 'nothing'}`);
    if (flow.websocket) {
      await relayWebSocket(ctx, flow, { socket: ctx.socket, reader: ctx.reader }, { socket: server.socket, reader: server.reader });
    } else if (ctx.options.rawtcp) {
      // The TCP flow is about this request's server (a plain proxy connection has no tunnel target).
      ctx.server = flow.serverConn;
      await relayTcpFlow(ctx, server.socket, server.reader);
    } else {
      ctx.master.log.warn('Sent HTTP 101 response, but no protocol is enabled to upgrade to.', ctx.clientLabel);
      ctx.socket.destroy();
    }
  } finally {
    // The relay ended the server side after its last (close) frame; give it a moment to flush.
    server.endGracefully(5000);
  }
}
