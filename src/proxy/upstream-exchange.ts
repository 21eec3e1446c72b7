import type { HTTPFlow } from '../http.js';
import type { ConnectionContext } from './context.js';
import type { UpstreamExchange } from './http-stream.js';
import { Http1UpstreamExchange } from './http1-upstream.js';
import { Http2UpstreamExchange } from './http2-upstream.js';
import { ConnectError, type UpstreamTarget } from './upstream-pool.js';
import { routeThroughProxy } from './upstream-proxy.js';

/** The ALPN protocols to offer a server: mirror the client's offers (h2 only with the http2 option). */
function alpnOffers(ctx: ConnectionContext, flow: HTTPFlow): string[] {
  const offers = ctx.client.tls ? ctx.client.alpnOffers : [];
  const allowed = offers.filter((p) => p === 'http/1.1' || (p === 'h2' && ctx.options.http2));
  // We can always translate to HTTP/1.1, so never leave a server without a protocol we both speak.
  if (!allowed.includes('http/1.1')) allowed.push('http/1.1');
  if (allowed.length > 1 || !flow.request.isHttp2 || !ctx.options.http2) return allowed;
  return ['h2', 'http/1.1'];
}

/**
 * Whether the server of a request its client sent in HTTP/2 with prior knowledge (h2c) speaks
 * h2c too. A client that tunnels h2c to its server (CONNECT, SOCKS5, transparent mode) knows it
 * does; an h2c-only server (insecure gRPC) answers nothing else. In reverse mode the client chose
 * h2c for the proxy, not knowing the server: only a gRPC call, which HTTP/1.1 cannot carry, goes
 * on in h2c there. Sent to the proxy itself, h2c says nothing about the server either; such
 * requests, and those an upstream proxy gets in absolute form, go on in HTTP/1.1.
 */
function speaksH2c(ctx: ConnectionContext, flow: HTTPFlow): boolean {
  const r = flow.request;
  const tunnel = ctx.server.address;
  if (!tunnel || tunnel[0] !== r.host || tunnel[1] !== r.port) return false;
  return ctx.mode.type !== 'reverse' || (r.headers.get('content-type') ?? '').toLowerCase().startsWith('application/grpc');
}

/**
 * Where a flow's request goes upstream: its scheme, host and port, the SNI to present, the ALPN
 * offers (`alpn`, or mirrored from the client) and any upstream proxy to go through. Throws the
 * eager connection's error when that connection already failed for this server.
 */
export function upstreamTargetFor(ctx: ConnectionContext, flow: HTTPFlow, alpn?: string[]): UpstreamTarget {
  const r = flow.request;
  const tunnel = ctx.server.address;
  // A failed eager connection (e.g. an untrusted upstream certificate) answers every request for it.
  if (ctx.server.error && tunnel && tunnel[0] === r.host && tunnel[1] === r.port) throw new ConnectError(ctx.server.error);
  const target: UpstreamTarget = { address: [r.host, r.port], tls: r.scheme === 'https' };
  if (target.tls) {
    // For the connection's own server keep its SNI (reverse mode sets the target's) or the
    // client's; otherwise the host itself.
    target.sni = tunnel && tunnel[0] === r.host ? (ctx.server.sni ?? ctx.client.sni ?? null) : null;
    if (target.sni === null) target.sni = r.host;
    target.alpn = alpn ?? alpnOffers(ctx, flow);
  }
  routeThroughProxy(ctx, flow, target);
  if (!target.tls && !target.forwardPlain && r.isHttp2 && !ctx.client.tls && ctx.options.http2 && speaksH2c(ctx, flow)) target.h2c = true;
  return target;
}

/**
 * Open (or reuse) the upstream connection for a flow and start an exchange on it: HTTP/2 when
 * the server negotiated h2, HTTP/1 otherwise.
 */
export async function openUpstreamExchange(ctx: ConnectionContext, flow: HTTPFlow, cancelled?: AbortSignal): Promise<UpstreamExchange> {
  const conn = await ctx.upstream.acquire(upstreamTargetFor(ctx, flow), cancelled);
  flow.serverConn = conn.server;
  if (conn.multiplexed || conn.server.alpn === 'h2') return new Http2UpstreamExchange(ctx, conn);
  return new Http1UpstreamExchange(ctx, conn);
}
