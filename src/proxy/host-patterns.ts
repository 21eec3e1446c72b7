import type { ConnectionContext } from './context.js';

/**
 * The names a connection is known by, for ignore_hosts / allow_hosts: the server's
 * resolved and requested addresses and the client's SNI, each as "host:port" (mitmproxy's
 * NextLayer matches the patterns against these with re.search, case-insensitively).
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
