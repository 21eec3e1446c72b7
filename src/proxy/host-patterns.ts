import type { ConnectionContext } from './context.js';
import { eagerConnection, type Sniffed } from './sniff.js';
import { MessageTimeoutError } from './socket-reader.js';

/**
 * The names a connection is known by, for ignore_hosts / allow_hosts: the server's resolved and
 * requested addresses, the Host header of a plaintext request and the client's SNI, each as
 * "host:port" (mitmproxy's NextLayer matches the patterns against these with re.search,
 * case-insensitively). Names other than the addresses count only when there is an address:
 * without one an ignored connection could not be relayed anywhere.
 */
function connectionNames(ctx: ConnectionContext, sni: string | null, hostHeader: string | null = null): string[] {
  const names: string[] = [];
  const server = ctx.server;
  if (server.peername) names.push(`${server.peername[0]}:${server.peername[1]}`);
  if (server.address) {
    const [host, port] = server.address;
    names.push(`${host}:${port}`);
    if (hostHeader) names.push(/:\d+$/.test(hostHeader) ? hostHeader : `${hostHeader}:${port}`);
    if (sni) names.push(`${sni}:${port}`);
    if (ctx.client.sni && ctx.client.sni !== sni) names.push(`${ctx.client.sni}:${port}`);
  }
  return names;
}

/** Whether ignore_hosts / allow_hosts say this connection must be passed through untouched. */
export function hostIsIgnored(ctx: ConnectionContext, sni: string | null, hostHeader: string | null = null): boolean {
  const { ignoreHosts, allowHosts } = ctx.options;
  if (ignoreHosts.length === 0 && allowHosts.length === 0) return false;
  const names = connectionNames(ctx, sni, hostHeader);
  if (names.length === 0) return false;
  if (allowHosts.length && !names.some((n) => allowHosts.some((re) => re.test(n)))) return true;
  return names.some((n) => ignoreHosts.some((re) => re.test(n)));
}

/**
 * hostIsIgnored for a tunnel's plaintext bytes: the Host header of an HTTP/1 request counts
 * too, so it is read first (nothing is consumed) when the patterns could use it.
 */
export async function plaintextIsIgnored(ctx: ConnectionContext, kind: Sniffed): Promise<boolean> {
  const { ignoreHosts, allowHosts } = ctx.options;
  if (ignoreHosts.length === 0 && allowHosts.length === 0) return false;
  let hostHeader: string | null = null;
  try {
    if (ctx.server.address) hostHeader = await peekHostHeader(ctx, kind === 'http1');
  } catch (e) {
    // A head stalled halfway: decide without its Host header; the HTTP layer reports the stall.
    if (!(e instanceof MessageTimeoutError)) throw e;
  }
  return hostIsIgnored(ctx, null, hostHeader);
}

const REQUEST_LINE = /^[A-Z]{3,}[^\n]+HTTP\//i;
const HOST_OR_HEAD_END = /\r\n(?:Host:\s+([^\n]+?)\s*)?\r\n/i;

/**
 * The Host header of the HTTP/1 request the client is sending, read as mitmproxy's NextLayer
 * reads it: once the bytes look like a request line, the first Host header or the head's end,
 * whichever comes first, is waited for. Bytes sniffed as HTTP/1 may not hold their whole
 * request line yet: that is waited for too. Null for other bytes, and when the server spoke
 * first (then it is no HTTP).
 */
async function peekHostHeader(ctx: ConnectionContext, http1: boolean): Promise<string | null> {
  if ((eagerConnection(ctx)?.reader.bufferedLength ?? 0) > 0) return null;
  const reader = ctx.reader;
  for (let want = 1; ; ) {
    const data = await reader.peek(want);
    const text = data.toString('latin1');
    const lineDone = text.includes('\n') || reader.ended;
    if (lineDone || !http1) {
      if (!REQUEST_LINE.test(text)) return null;
      const m = HOST_OR_HEAD_END.exec(text);
      if (m) return m[1] ?? null;
    }
    if (reader.ended || data.length > ctx.options.maxHeadSize) return null;
    want = data.length + 1;
  }
}

/**
 * Whether tcp_hosts says to treat this connection as raw TCP (TLS is still intercepted): the
 * patterns are matched against the bare destination host and the client's SNI, without a port
 * (mitmproxy's _is_destination_in_hosts).
 */
export function hostIsTcp(ctx: ConnectionContext): boolean {
  const { tcpHosts } = ctx.options;
  if (tcpHosts.length === 0) return false;
  const names = [ctx.server.address?.[0], ctx.client.sni].filter((n): n is string => !!n);
  return names.some((n) => tcpHosts.some((re) => re.test(n)));
}
