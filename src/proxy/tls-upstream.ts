import tls from 'node:tls';
import net from 'node:net';
import { formatAddress, type Server } from '../connection.js';
import type { TlsData } from '../hooks.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import { tlsVersionName, peerCertificateChainPem } from './tls-info.js';
import { attachKeylog } from './keylog.js';
import { handshakeTimeoutMs } from './proxy-options.js';
import { ServerIdentityError, checkServerIdentity } from './server-identity.js';
import { proxyDebug } from './debug.js';

/**
 * TLS towards the upstream server: verified against the system roots with the host name pinned
 * (server-identity.ts: subjectAltNames only, no partial wildcards, as mitmproxy), unless ssl_insecure (the tlsconfig addon adds trusted CAs, versions, ciphers and client
 * certificates in tls_start_server). Never reuses a TLS session across server names (Node 20
 * CVE-2026-48934).
 */

/** Options that go into a SecureContext (the rest are per connection). */
const CONTEXT_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'minVersion', 'maxVersion', 'ciphers', 'ecdhCurve', 'sigalgs', 'secureOptions'] as const;
const contextCache = new Map<string, tls.SecureContext>();
const caIds = new WeakMap<object, number>();
let nextCaId = 1;

/**
 * Build (once) the SecureContext for a set of TLS settings. Creating one per connection would load
 * the whole root store every time: the single most expensive step of a new upstream connection.
 */
function sharedSecureContext(settings: Record<string, unknown>): tls.SecureContext {
  const parts: unknown[] = [];
  for (const k of CONTEXT_KEYS) {
    const v = settings[k];
    if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      let id = caIds.get(v);
      if (id === undefined) caIds.set(v, (id = nextCaId++));
      parts.push(`#${id}`);
    } else parts.push(Buffer.isBuffer(v) ? v.toString('base64') : v);
  }
  const key = JSON.stringify(parts);
  let ctx = contextCache.get(key);
  if (!ctx) {
    const opts: Record<string, unknown> = {};
    for (const k of CONTEXT_KEYS) if (settings[k] !== undefined) opts[k] = settings[k];
    ctx = tls.createSecureContext(opts as tls.SecureContextOptions);
    if (contextCache.size >= 64) contextCache.delete(contextCache.keys().next().value!);
    contextCache.set(key, ctx);
  }
  return ctx;
}

/**
 * TLS sessions to resume, per server and TLS configuration. Resuming skips the server's
 * certificate signature and our verification of it (the result was stored with the session, and
 * we only resume under the same verification settings, SNI and address — never across server
 * names, CVE-2026-48934). Browsers do the same with every server.
 */
/** Sessions with the certificate chain the server showed when the session was made (a resumed TLS 1.3 handshake carries none). */
const sessionCache = new Map<string, { session: Buffer; certificateList: string[] }>();
const SESSION_CACHE_SIZE = 256;

function sessionKey(settings: Record<string, unknown>, context: tls.SecureContext, address: [string, number]): string {
  return JSON.stringify([address[0], address[1], settings.servername ?? null, settings.host ?? null, settings.rejectUnauthorized ?? true, contextIds(context), settings.ALPNProtocols ?? null]);
}

const contextIdMap = new WeakMap<tls.SecureContext, number>();
let nextContextId = 1;
function contextIds(c: tls.SecureContext): number {
  let id = contextIdMap.get(c);
  if (id === undefined) contextIdMap.set(c, (id = nextContextId++));
  return id;
}

/** The reason part of an OpenSSL error string ("error:0A000460:SSL routines:fn:reason:file:line"). */
export function opensslReason(message: string): string {
  const m = /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+)/.exec(message);
  return m ? m[1]!.trim() : message.split('\n')[0]!.trim();
}

/**
 * OpenSSL's text for each certificate verification error (X509_verify_cert_error_string), which
 * mitmproxy reports. Node's own messages differ for some (UNABLE_TO_VERIFY_LEAF_SIGNATURE is
 * "unable to get local issuer certificate" in mitmproxy) and Node 24 appends hints to others.
 */
const VERIFY_ERRORS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to get local issuer certificate',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  INVALID_CA: 'invalid CA certificate',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  HOSTNAME_MISMATCH: 'hostname mismatch',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "format error in certificate's notBefore field",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "format error in certificate's notAfter field",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'unable to decode issuer public key',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "unable to decrypt certificate's signature",
};

/** mitmproxy's wording for upstream TLS failures (its TLS layer's receive_handshake_data). */
function describeTlsError(err: Error & { code?: string }): string {
  // Our host name check (server-identity.ts) stands in for OpenSSL's, so it reports OpenSSL's words.
  if (err instanceof ServerIdentityError) return `Certificate verify failed: ${err.ip ? 'IP address mismatch' : 'hostname mismatch'}`;
  const code = err.code ?? '';
  const verify = VERIFY_ERRORS[code];
  if (verify) return `Certificate verify failed: ${verify}`;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'The remote server does not speak TLS (connection reset during handshake).';
  const reason = opensslReason(err.message);
  if (/wrong version number|packet length too long|record layer failure|unknown protocol|http request/i.test(reason)) return 'The remote server does not speak TLS.';
  if (/alert protocol version|unsupported protocol|no protocols available/i.test(reason)) {
    return "The remote server and mitmproxy cannot agree on a TLS version to use. You may need to adjust mitmproxy's tls_version_server_min option.";
  }
  // The server refused our client certificate (or the lack of one): the alert, as mitmproxy says it.
  if (/alert unknown ca|alert bad certificate/i.test(reason)) return reason;
  // A verification error code not listed above: Node's text without its hints.
  if (/^[A-Z_]+$/.test(code) && !code.startsWith('E')) return `Certificate verify failed: ${err.message.split(';')[0]}`;
  return `TLS handshake failed: ${reason}`;
}

/**
 * Run the TLS handshake with the server on an already connected socket, firing
 * tls_start_server and tls_established_server / tls_failed_server. `cancelled` is the signal that
 * drops the handshake when its request is given up on: a failure then is logged as cancelled.
 */
export async function startServerTls(ctx: ConnectionContext, server: Server, socket: net.Socket, alpn: string[], cancelled?: AbortSignal): Promise<tls.TLSSocket> {
  const hooks = ctx.hooks;
  const host = server.address![0];
  const settings: Record<string, unknown> = {
    socket,
    ALPNProtocols: alpn,
    rejectUnauthorized: !ctx.options.sslInsecure,
    // Host name to verify: the SNI, or the IP address we connected to when there is no SNI.
    host: server.sni ?? host,
    checkServerIdentity,
    minVersion: 'TLSv1.2',
  };
  if (server.sni && !net.isIP(server.sni)) settings.servername = server.sni;
  const data: TlsData = { conn: server, context: { client: ctx.client, server }, isDtls: false, settings };
  await hooks.trigger('tls_start_server', data);
  server.alpnOffers = alpn;
  proxyDebug(ctx, () => `[tls] server handshake with ${formatAddress(server.address)}: SNI ${server.sni ?? '(none)'}, ALPN offers ${JSON.stringify(data.settings.ALPNProtocols ?? [])}`);
  try {
    const connectOptions = { ...data.settings };
    let key: string | null = null;
    if (!connectOptions.secureContext) {
      connectOptions.secureContext = sharedSecureContext(connectOptions);
      for (const k of CONTEXT_KEYS) delete connectOptions[k];
      // Resume only sessions we made ourselves under identical settings (an addon's own context opts out).
      key = sessionKey(connectOptions, connectOptions.secureContext as tls.SecureContext, server.address!);
      const cached = sessionCache.get(key);
      if (cached) connectOptions.session = cached.session;
    }
    // A session ticket may arrive before the handshake is reported complete; it is stored with
    // the certificate chain once both are known.
    let ticket: Buffer | null = null;
    let chain: string[] | null = null;
    const remember = () => {
      if (key === null || ticket === null || chain === null) return;
      sessionCache.delete(key);
      if (sessionCache.size >= SESSION_CACHE_SIZE) sessionCache.delete(sessionCache.keys().next().value!);
      sessionCache.set(key, { session: ticket, certificateList: chain });
    };
    const ts = await new Promise<tls.TLSSocket>((resolve, reject) => {
      // Closed while the hooks above ran (the server hung up, or the client left and the connect
      // was given up on): a TLS socket over it would report nothing until the time limit.
      if (socket.destroyed) return reject(new Error('connection closed'));
      const t = tls.connect(connectOptions as tls.ConnectionOptions);
      // It would inherit the TCP socket's allowHalfOpen (set for plain relays): over TLS a
      // server's FIN ends the connection, as before.
      t.allowHalfOpen = false;
      if (key !== null) {
        t.on('session', (session: Buffer) => {
          ticket = session;
          remember();
        });
      }
      attachKeylog(t);
      // A server that accepts the connection but never answers the ClientHello must not hold
      // the client until tcp_timeout.
      const limitMs = handshakeTimeoutMs(ctx.options);
      const timer = setTimeout(() => t.destroy(new Error(`the server did not complete the TLS handshake within ${Math.round(limitMs / 1000)} s`)), limitMs);
      const onError = (e: Error) => {
        clearTimeout(timer);
        t.off('close', onClose);
        reject(e);
      };
      // Closed without an error: its socket was destroyed under it (the client left meanwhile).
      const onClose = () => onError(new Error('connection closed'));
      t.once('error', onError);
      t.once('close', onClose);
      t.once('secureConnect', () => {
        clearTimeout(timer);
        t.off('error', onError);
        t.off('close', onClose);
        t.on('error', () => undefined);
        resolve(t);
      });
    });
    server.timestampTlsSetup = now();
    server.tlsVersion = tlsVersionName(ts.getProtocol());
    server.cipher = ts.getCipher()?.name ?? null;
    server.alpn = ts.alpnProtocol === false ? '' : (ts.alpnProtocol ?? '');
    server.certificateList = peerCertificateChainPem(ts);
    if (server.certificateList.length === 0 && key !== null && ts.isSessionReused()) server.certificateList = [...(sessionCache.get(key)?.certificateList ?? [])];
    chain = server.certificateList;
    remember();
    proxyDebug(ctx, () => `[tls] server handshake done: ${server.tlsVersion}, ${server.cipher}, ALPN ${server.alpn ? server.alpn : '(none)'}${ts.isSessionReused() ? ', session resumed' : ''}`);
    await hooks.trigger('tls_established_server', data);
    return ts;
  } catch (e) {
    const msg = describeTlsError(e as Error & { code?: string });
    server.error = msg;
    // A handshake dropped because its client left, or the one request it was for was given up on
    // (upstream-pool drops it), is no server fault.
    if (ctx.rawSocket.destroyed || cancelled?.aborted) ctx.master.log.info(`Server TLS handshake cancelled: the client disconnected. ${msg}`, ctx.clientLabel);
    else ctx.master.log.warn(`Server TLS handshake failed. ${msg}`, ctx.clientLabel);
    await hooks.trigger('tls_failed_server', data);
    throw new Error(msg);
  }
}
