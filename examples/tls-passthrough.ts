/**
 * Intercept TLS where you can and pass it through where you cannot (mitmproxy's tls_passthrough
 * example): once a client has refused the proxy's certificate for a server (a pinned app, say),
 * later connections to that server are relayed untouched, so the app keeps working.
 *
 *     npx mitmproxy-ts dump -s examples/tls-passthrough.ts
 *
 * `tls_clienthello` runs before the proxy answers the client's handshake; setting
 * `ignoreConnection` there (mitmproxy's `ignore_connection`) passes the connection through.
 */
import type { ClientHelloData, Master, Loader, Server, TlsData } from 'mitmproxy-ts';

/** The server a connection is for: the resolved address, or the requested one in upstream mode. */
function serverKey(server: Server): string {
  const [host, port] = server.peername ?? server.address ?? ['?', 0];
  return `${host}:${port}`;
}

class TlsPassthrough {
  private master!: Master;
  private readonly refused = new Set<string>();

  load(loader: Loader): void {
    this.master = loader.master;
  }

  tls_clienthello(data: ClientHelloData): void {
    const server = serverKey(data.context.server);
    if (this.refused.has(server)) {
      this.master.log.info(`TLS passthrough: ${server}`);
      data.ignoreConnection = true;
    }
  }

  tls_failed_client(data: TlsData): void {
    const server = serverKey(data.context.server);
    this.master.log.info(`client refused our certificate for ${server}: passing it through from now on`);
    this.refused.add(server);
  }
}

export default new TlsPassthrough();
