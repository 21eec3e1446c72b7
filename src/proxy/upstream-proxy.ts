import net from 'node:net';
import type { Duplex } from 'node:stream';
import { domainToASCII } from 'node:url';
import { Server, formatAddress, type Via } from '../connection.js';
import { Headers } from '../headers.js';
import { HTTPFlow, Request, hostport } from '../http.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import type { ProxyMode } from './modes.js';
import type { UpstreamTarget } from './upstream-pool.js';
import { OutgoingMessageError, assembleRequestHead } from './http1/assemble.js';
import { HttpSyntaxError, parseResponseHead } from './http1/parse.js';
import { HeadTooLargeError, SocketReader } from './socket-reader.js';
import { startServerTls } from './tls-upstream.js';
import { socketPeername, socketSockname } from './socket-address.js';

/**
 * Talking to an upstream HTTP(S) proxy (upstream mode, or a `via` an addon set on a flow's server
 * connection, as in mitmproxy's change_upstream_proxy example):
 *
 * - plain `http://` requests that arrived in absolute form are forwarded to the proxy as they are
 *   (absolute-form request target, no CONNECT), one proxy connection per origin as mitmproxy does;
 * - everything else (TLS to the origin, tunnels, raw TCP) first gets a tunnel with
 *   `CONNECT host:port` — after the `http_connect_upstream` hook, where upstream_auth adds
 *   Proxy-Authorization — and then speaks the origin's protocol inside it;
 * - an `https://` proxy is itself spoken to over TLS (verified like any upstream server).
 */

/** A failure to set up the path through the upstream proxy; the message is what the client sees. */
export class UpstreamProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamProxyError';
  }
}

/** The upstream proxy of a mode (`upstream:http://host:port`), or null for modes that connect directly. */
export function modeVia(mode: ProxyMode): Via | null {
  if (mode.type !== 'upstream' || !mode.server) return null;
  return [mode.server.scheme, [mode.server.address[0], mode.server.address[1]]];
}

/** Whether two `via` values name the same upstream proxy. */
export function sameVia(a: Via | null | undefined, b: Via | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a[0] === b[0] && a[1][0] === b[1][0] && a[1][1] === b[1][1];
}

/** `host:port` for a CONNECT request line and Host header: IPv6 in brackets, names in IDNA ASCII. */
export function connectAuthority(host: string, port: number): string {
  if (net.isIPv6(host)) return `[${host}]:${port}`;
  if (net.isIPv4(host)) return `${host}:${port}`;
  const ascii = /[^\x00-\x7f]/.test(host) ? domainToASCII(host) : host;
  return `${ascii || host}:${port}`;
}

/**
 * Decide how a flow's upstream connection reaches its server (mitmproxy's GetHttpConnection
 * `via`): through the proxy named on the flow's server connection (an addon may set one) or the
 * mode's upstream proxy. Plain HTTP requests made to us as a proxy (not inside a tunnel) are
 * forwarded to it in absolute form; everything else gets a CONNECT tunnel.
 */
export function routeThroughProxy(ctx: ConnectionContext, flow: HTTPFlow, target: UpstreamTarget): void {
  const via = flow.serverConn.via ?? modeVia(ctx.mode);
  target.via = via;
  target.forwardPlain = via !== null && !target.tls && ctx.server.address === null;
}

/** The absolute-form request target a forwarded plain request is sent with ("OPTIONS *" becomes the bare origin). */
export function absoluteRequestTarget(flow: HTTPFlow): string {
  const r = flow.request;
  const authority = r.authority || hostport(r.scheme, r.host, r.port);
  return r.path === '*' ? `${r.scheme}://${authority}` : `${r.scheme}://${authority}${r.path}`;
}

/** What the path through the proxy must provide. */
export interface ProxyPathRequest {
  via: Via;
  /** Where the tunnel should lead (ignored when `forwardPlain`). */
  target: [string, number];
  /** Plain HTTP forwarded in absolute form: no CONNECT, the proxy connection itself carries the requests. */
  forwardPlain: boolean;
}

/** Give up on an upstream proxy that accepted the connection but never answers the CONNECT. */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new UpstreamProxyError('timed out'));
    }, ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * On a TCP connection to the upstream proxy, set up what `req` asks for: TLS to the proxy for an
 * `https://` proxy, then (unless `forwardPlain`) a CONNECT tunnel to the target. Returns the
 * stream that now leads to the origin (or to the proxy, for forwarded plain requests). Throws
 * UpstreamProxyError with mitmproxy's wording; the caller closes `tcp`.
 */
export async function openProxyPath(ctx: ConnectionContext, tcp: net.Socket, req: ProxyPathRequest): Promise<Duplex> {
  const [scheme, proxyAddress] = req.via;
  const proxyLabel = formatAddress(proxyAddress);
  if (scheme !== 'http' && scheme !== 'https') {
    throw new UpstreamProxyError(`Unsupported upstream proxy scheme ${JSON.stringify(scheme)} for ${proxyLabel}: only http and https proxies are supported.`);
  }
  // The proxy connection as its own Server object, as mitmproxy's tunnel connection: the TLS hooks
  // and the http_connect_upstream flow see the proxy, not the origin.
  const proxyConn = new Server({ address: [proxyAddress[0], proxyAddress[1]] });
  proxyConn.peername = socketPeername(tcp, proxyAddress);
  proxyConn.sockname = socketSockname(tcp);
  proxyConn.timestampStart = now();
  proxyConn.timestampTcpSetup = proxyConn.timestampStart;

  let stream: Duplex = tcp;
  if (scheme === 'https') {
    proxyConn.tls = true;
    proxyConn.sni = net.isIP(proxyAddress[0]) ? null : proxyAddress[0];
    try {
      stream = await startServerTls(ctx, proxyConn, tcp, ['http/1.1']);
    } catch (e) {
      throw new UpstreamProxyError(`Error connecting to ${proxyLabel}: ${(e as Error).message}`);
    }
  }
  if (req.forwardPlain) return stream;

  const [host, port] = req.target;
  const authority = connectAuthority(host, port);
  const headers = new Headers();
  if (ctx.master.options.has('http_connect_send_host_header') ? ctx.master.options.get<boolean>('http_connect_send_host_header') : true) {
    headers.insert(0, 'Host', authority);
  }
  const request = new Request({
    host,
    port,
    method: 'CONNECT',
    scheme: '',
    authority,
    path: '',
    httpVersion: 'HTTP/1.1',
    headers,
    content: Buffer.alloc(0),
  });
  request.timestampEnd = request.timestampStart;
  const flow = new HTTPFlow(ctx.client, proxyConn, true, request);
  await ctx.hooks.triggerFlow('http_connect_upstream', flow);
  flow.live = false;
  if (flow.killed) throw new UpstreamProxyError('Connection killed.');

  let head: string;
  try {
    // The request line always names the tunnel target; an addon may still have edited the headers.
    head = assembleRequestHead('CONNECT', authority, 'HTTP/1.1', flow.request.headers.fields);
  } catch (e) {
    if (e instanceof OutgoingMessageError) throw new UpstreamProxyError(`Cannot send CONNECT to ${proxyLabel}: ${e.message}`);
    throw e;
  }
  const reader = new SocketReader(stream);
  stream.write(head, 'latin1');
  let raw: Buffer | null;
  try {
    raw = await withTimeout(reader.readHead(ctx.options.maxHeadSize), ctx.options.tcpTimeoutMs, () => stream.destroy());
  } catch (e) {
    reader.detach();
    if (e instanceof HeadTooLargeError) throw new UpstreamProxyError(`Error connecting to ${proxyLabel}: response head exceeds ${e.limit} bytes`);
    const msg = e instanceof UpstreamProxyError ? e.message : (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? 'connection reset' : (e as Error).message;
    throw new UpstreamProxyError(`Error connecting to ${proxyLabel}: ${msg}`);
  }
  if (raw === null) {
    reader.detach();
    throw new UpstreamProxyError(`Error connecting to ${proxyLabel}: connection closed`);
  }
  let status: number;
  let reason: string;
  try {
    const r = parseResponseHead(raw);
    status = r.statusCode;
    reason = r.reason;
  } catch (e) {
    reader.detach();
    const msg = e instanceof HttpSyntaxError ? e.message : String(e);
    ctx.master.log.info(`${proxyLabel}: ${msg}`, ctx.clientLabel);
    throw new UpstreamProxyError(`Error connecting to ${proxyLabel}: ${msg}`);
  }
  if (status < 200 || status >= 300) {
    reader.detach();
    ctx.master.log.debug(`${proxyLabel}: ${JSON.stringify(raw.toString('latin1').trimEnd())}`, ctx.clientLabel);
    throw new UpstreamProxyError(`Upstream proxy ${proxyLabel} refused HTTP CONNECT request: ${status} ${reason}`.trimEnd());
  }
  // Bytes the origin sent right after the proxy's answer (a server greeting) stay in the stream.
  return reader.handOver();
}
