import type tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { TlsVersion } from '../connection.js';

const VERSIONS: Record<string, TlsVersion> = {
  SSLv3: 'SSLv3',
  TLSv1: 'TLSv1',
  'TLSv1.1': 'TLSv1.1',
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
};

/** Node's protocol name ("TLSv1.3") as one of mitmproxy's tls_version values. */
export function tlsVersionName(protocol: string | null): TlsVersion | null {
  if (!protocol) return null;
  return VERSIONS[protocol] ?? null;
}

/** The certificate chain a TLS peer presented, as PEM text, leaf first. */
export function peerCertificateChainPem(socket: tls.TLSSocket): string[] {
  const out: string[] = [];
  let cert = socket.getPeerX509Certificate?.();
  const seen = new Set<string>();
  // Walk the issuer links the handshake gave us; stop at self-signed roots or loops.
  while (cert && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(cert.toString());
    const issuer: X509Certificate | undefined = (cert as X509Certificate & { issuerCertificate?: X509Certificate }).issuerCertificate;
    if (!issuer) break;
    cert = issuer;
  }
  if (out.length === 0) {
    const legacy = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | null;
    const visited = new Set<tls.DetailedPeerCertificate>();
    let c: tls.DetailedPeerCertificate | null = legacy && legacy.raw ? legacy : null;
    while (c && c.raw && !visited.has(c)) {
      visited.add(c);
      out.push(new X509Certificate(c.raw).toString());
      c = c.issuerCertificate && c.issuerCertificate !== c ? c.issuerCertificate : null;
    }
  }
  return out;
}
