import tls from 'node:tls';
import net from 'node:net';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '../connection.js';
import type { TlsData } from '../hooks.js';
import { now } from '../util/time.js';
import type { ConnectionContext } from './context.js';
import { tlsVersionName, peerCertificateChainPem } from './tls-info.js';
import { expandHome } from '../optmanager.js';

/**
 * TLS towards the upstream server: verified against the system roots (or the CAs given by
 * ssl_verify_upstream_trusted_ca / _confdir) with the host name pinned, unless ssl_insecure.
 * Never reuses a TLS session across server names (Node 20 CVE-2026-48934).
 */

const caCache = new Map<string, { mtimeMs: number; pems: string[] }>();

function readCaFile(path: string): string[] {
  const st = statSync(path);
  const hit = caCache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.pems;
  const text = readFileSync(path, 'utf8');
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  caCache.set(path, { mtimeMs: st.mtimeMs, pems });
  return pems;
}

/** The CA certificates upstream certificates are verified against, or undefined for Node's bundled roots. */
export function upstreamTrustStore(ctx: ConnectionContext): string[] | undefined {
  const o = ctx.master.options;
  const caFile = o.has('ssl_verify_upstream_trusted_ca') ? o.get<string | null>('ssl_verify_upstream_trusted_ca') : null;
  const caDir = o.has('ssl_verify_upstream_trusted_confdir') ? o.get<string | null>('ssl_verify_upstream_trusted_confdir') : null;
  if (!caFile && !caDir) return undefined;
  // As mitmproxy: naming trusted CAs replaces the default roots.
  const pems: string[] = [];
  if (caFile) pems.push(...readCaFile(expandHome(caFile)));
  if (caDir) {
    const dir = expandHome(caDir);
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      try {
        if (statSync(p).isFile()) pems.push(...readCaFile(p));
      } catch {
        // unreadable entries in a c_rehash directory are skipped, as OpenSSL does
      }
    }
  }
  return pems;
}

/** mitmproxy's wording for upstream TLS failures. */
function describeTlsError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'Certificate verify failed: Hostname mismatch';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'Certificate verify failed: self-signed certificate';
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'Certificate verify failed: self-signed certificate in certificate chain';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'Certificate verify failed: unable to get local issuer certificate';
    case 'CERT_HAS_EXPIRED':
      return 'Certificate verify failed: certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'Certificate verify failed: certificate is not yet valid';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'The remote server does not speak TLS (connection reset during handshake).';
    default:
      if (/wrong version number|packet length too long|unknown protocol|http request/i.test(err.message)) return 'The remote server does not speak TLS.';
      if (err.code && /CERT|VERIFY|SIGNATURE|ISSUER/.test(err.code)) return `Certificate verify failed: ${err.message}`;
      return `TLS handshake failed: ${err.message}`;
  }
}

/**
 * Run the TLS handshake with the server on an already connected socket, firing
 * tls_start_server and tls_established_server / tls_failed_server.
 */
export async function startServerTls(ctx: ConnectionContext, server: Server, socket: net.Socket, alpn: string[]): Promise<tls.TLSSocket> {
  const hooks = ctx.master.addons;
  const host = server.address![0];
  const settings: Record<string, unknown> = {
    socket,
    ALPNProtocols: alpn,
    rejectUnauthorized: !ctx.options.sslInsecure,
    // Host name to verify: the SNI, or the IP address we connected to when there is no SNI.
    host: server.sni ?? host,
    minVersion: 'TLSv1.2',
  };
  if (server.sni && !net.isIP(server.sni)) settings.servername = server.sni;
  const ca = upstreamTrustStore(ctx);
  if (ca) settings.ca = ca;
  const data: TlsData = { conn: server, context: { client: ctx.client, server }, isDtls: false, settings };
  await hooks.trigger('tls_start_server', data);
  server.alpnOffers = alpn;
  try {
    const ts = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect(data.settings as tls.ConnectionOptions);
      const onError = (e: Error) => reject(e);
      t.once('error', onError);
      t.once('secureConnect', () => {
        t.off('error', onError);
        t.on('error', () => undefined);
        resolve(t);
      });
    });
    server.timestampTlsSetup = now();
    server.tlsVersion = tlsVersionName(ts.getProtocol());
    server.cipher = ts.getCipher()?.name ?? null;
    server.alpn = ts.alpnProtocol === false ? '' : (ts.alpnProtocol ?? '');
    server.certificateList = peerCertificateChainPem(ts);
    await hooks.trigger('tls_established_server', data);
    return ts;
  } catch (e) {
    const msg = describeTlsError(e as Error & { code?: string });
    server.error = msg;
    await hooks.trigger('tls_failed_server', data);
    throw new Error(msg);
  }
}
