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
  // Walk the issuer links (the chain as the peer sent it), leaving out repeats. Servers that send
  // their leaf twice (a leaf file joined to a "full chain" file) are common: stopping at the first
  // repeat would lose every intermediate. The links end; the bound is a safeguard.
  for (let steps = 0; cert && steps < 64; steps++) {
    if (!seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256);
      out.push(cert.toString());
    }
    cert = (cert as X509Certificate & { issuerCertificate?: X509Certificate }).issuerCertificate;
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
