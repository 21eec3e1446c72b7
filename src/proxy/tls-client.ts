import tls from 'node:tls';
import { formatAddress } from '../connection.js';
import type { ClientHelloData, TlsData } from '../hooks.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import { ClientHelloError, parseClientHello, type ParsedClientHello } from './clienthello.js';
import { attachKeylog } from './keylog.js';
import { MessageTimeoutError, SocketReader } from './socket-reader.js';
import { handshakeTimeoutMs } from './proxy-options.js';
import { peerCertificateChainPem, tlsVersionName } from './tls-info.js';
import { hostIsIgnored } from './host-patterns.js';
import { opensslReason } from './tls-upstream.js';
import { proxyDebug } from './debug.js';

/** What happened to a TLS connection from a client. */
export type ClientTlsOutcome =
  /** Decrypted: the connection now carries `alpn` ("h2", "http/1.1" or "" for none) in ctx.socket. */
  | { kind: 'intercepted'; alpn: string }
  /** Not intercepted (ignore_hosts or an addon): relay the encrypted bytes. */
  | { kind: 'passthrough' }
  /** The handshake failed; the reason was logged and the hooks fired. */
  | { kind: 'failed' };

/** Read a complete ClientHello from the client without consuming it. */
async function readClientHello(ctx: ConnectionContext): Promise<ParsedClientHello | string> {
  for (let want = 5; ; ) {
    let bytes: Buffer;
    try {
      bytes = await ctx.reader.peek(want);
    } catch (e) {
      if (e instanceof MessageTimeoutError) return `The client sent an incomplete ClientHello (${e.message}).`;
      throw e;
    }
    let r: ParsedClientHello | 'incomplete';
    try {
      r = parseClientHello(bytes);
    } catch (e) {
      if (e instanceof ClientHelloError) return `Cannot parse ClientHello: ${e.message}`;
      throw e;
    }
    if (r !== 'incomplete') return r;
    if (ctx.reader.atEnd || bytes.length < want) return 'connection closed early';
    want = bytes.length + 1;
  }
}

/** mitmproxy's hint for a failed client handshake: pinning, versions or a disconnect. */
function describeClientTlsError(err: string, dest: string): { message: string; level: 'warn' | 'info' } {
  if (/unsupported protocol|no protocols available|version too low|wrong version/i.test(err)) {
    return { message: "Client and mitmproxy cannot agree on a TLS version to use. You may need to adjust mitmproxy's tls_version_client_min option.", level: 'warn' };
  }
  if (/unknown ca|bad certificate|certificate unknown/i.test(err)) {
    return { message: `The client does not trust the proxy's certificate for ${dest} (${err})`, level: 'warn' };
  }
  if (err === 'connection closed') {
    return {
      message: `The client disconnected during the handshake. If this happens consistently for ${dest}, this may indicate that the client does not trust the proxy's certificate.`,
      level: 'info',
    };
  }
  return { message: `The client may not trust the proxy's certificate for ${dest} (${err})`, level: 'warn' };
}

/** Wait for a server-side TLS handshake: null once it is done, else why it failed. */
function handshakeOutcome(socket: tls.TLSSocket): Promise<string | null> {
  return new Promise((resolve) => {
    const done = (v: string | null) => {
      socket.off('secure', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
      resolve(v);
    };
    const onSecure = () => done(null);
    const onError = (e: Error) => done(opensslReason(e.message));
    const onClose = () => done('connection closed');
    socket.once('secure', onSecure);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/**
 * Intercept TLS from the client: parse its ClientHello, let addons decide (tls_clienthello),
 * optionally handshake with the server first to copy its certificate details and ALPN, then
 * complete the handshake with the client using a certificate from our CA (tls_start_client,
 * tls_established_client / tls_failed_client).
 */
export async function interceptClientTls(ctx: ConnectionContext, opts: { forceAlpn?: string | null; http2Supported?: boolean } = {}): Promise<ClientTlsOutcome> {
  const hooks = ctx.hooks;
  const log = ctx.master.log;
  const client = ctx.client;
  // As mitmproxy, whose TLS layer marks its connection when it is created: the tls_* hooks,
  // including tls_start_client and tls_failed_client, already see a TLS client.
  client.tls = true;
  const hello = await readClientHello(ctx);
  if (typeof hello === 'string') {
    if (hello !== 'connection closed early') log.warn(`Client TLS handshake failed. ${hello}`, ctx.clientLabel);
    return { kind: 'failed' };
  }
  client.sni = hello.sni;
  client.alpnOffers = hello.alpnProtocols;
  proxyDebug(ctx, () => `[tls] client hello: SNI ${hello.sni ?? '(none)'}, ALPN offers ${JSON.stringify(hello.alpnProtocols)}`);
  const context = { client, server: ctx.server };
  const data: ClientHelloData = {
    context,
    clientHello: hello,
    ignoreConnection: hostIsIgnored(ctx, hello.sni),
    establishServerTlsFirst: false,
  };
  await hooks.trigger('tls_clienthello', data);
  if (data.ignoreConnection) {
    proxyDebug(ctx, '[tls] client connection not intercepted (passed through)');
    return { kind: 'passthrough' };
  }

  const http2 = (opts.http2Supported ?? false) && ctx.options.http2;
  if (data.establishServerTlsFirst && ctx.server.address && !ctx.server.tlsEstablished && !ctx.server.error) {
    const offers = hello.alpnProtocols.filter((p) => (p === 'h2' ? http2 : true));
    // A reverse proxy names its target (ctx.server.sni); otherwise the client's SNI goes upstream.
    // As mitmproxy: the client's SNI, else the address, an IP too (recorded; an IP is never sent as SNI).
    const sni = ctx.server.sni ?? client.sni ?? ctx.server.address[0];
    try {
      // A TLS connection this client's previous tunnel left behind serves (no second handshake).
      const kept = ctx.upstream.adoptIdle({ address: ctx.server.address, tls: true, sni, alpn: offers }, { claim: false });
      if (kept) {
        ctx.server = kept.server;
        context.server = kept.server;
      } else {
        const conn = ctx.upstream.idleFor(ctx.server.address) ?? (await ctx.upstream.open({ address: ctx.server.address, tls: false }, ctx.server));
        await ctx.upstream.startTls(conn, sni, offers);
      }
    } catch (e) {
      // Requests on this connection will be answered with this error (mitmproxy: test_reuse_error).
      ctx.server.error = (e as Error).message;
      log.info(
        `Unable to establish TLS connection with server (${ctx.server.error}). Trying to establish TLS with client anyway. If you plan to redirect requests away from this server, consider setting \`connection_strategy\` to \`lazy\` to suppress early connections.`,
        ctx.clientLabel,
      );
    }
  }

  const tdata: TlsData = { conn: client, context, isDtls: false, settings: { forceAlpn: opts.forceAlpn ?? null, http2Supported: http2 } };
  await hooks.trigger('tls_start_client', tdata);
  const dest = client.sni ?? formatAddress(ctx.server.address);
  if (!tdata.settings.secureContext) {
    client.error = 'No TLS settings for the client connection (is the tlsconfig addon loaded?)';
    log.warn(`Client TLS handshake failed. ${client.error}`, ctx.clientLabel);
    await hooks.trigger('tls_failed_client', tdata);
    return { kind: 'failed' };
  }
  const { forceAlpn: _forced, http2Supported: _h2, ...settings } = tdata.settings;
  const raw = ctx.reader.handOver();
  const socket = new tls.TLSSocket(raw, { ...(settings as tls.TLSSocketOptions), isServer: true });
  // node gives the TLS socket the raw socket's allowHalfOpen, which the listener sets for relays:
  // over TLS a client's FIN (or close_notify) ends the connection, as before.
  socket.allowHalfOpen = false;
  attachKeylog(socket);
  // The client may have left while the hooks above ran (its certificate being made, an addon's
  // own work): a TLSSocket over a socket that is gone reports nothing, not even 'close', and the
  // handshake would be waited for (with the connection, its flow and its server) forever.
  const failure = raw.destroyed ? 'connection closed' : await handshakeOutcome(socket);
  // From here on errors of the TLS socket are read by its SocketReader; this keeps them from crashing us in between.
  socket.on('error', () => undefined);
  if (failure !== null) {
    const { message, level } = describeClientTlsError(failure, dest);
    client.error = message;
    log.add(level, `Client TLS handshake failed. ${message}`, ctx.clientLabel);
    await hooks.trigger('tls_failed_client', tdata);
    socket.destroy();
    return { kind: 'failed' };
  }
  client.timestampTlsSetup = now();
  client.tlsVersion = tlsVersionName(socket.getProtocol());
  client.cipher = socket.getCipher()?.name ?? null;
  client.alpn = socket.alpnProtocol ? socket.alpnProtocol : '';
  if (tdata.settings.requestCert) client.certificateList = peerCertificateChainPem(socket);
  proxyDebug(ctx, () => `[tls] client handshake done: ${client.tlsVersion}, ${client.cipher}, ALPN ${client.alpn ? client.alpn : '(none)'}`);
  ctx.socket = socket;
  ctx.reader = new SocketReader(socket);
  ctx.reader.messageTimeoutMs = handshakeTimeoutMs(ctx.options);
  await hooks.trigger('tls_established_client', tdata);
  return { kind: 'intercepted', alpn: client.alpn };
}
