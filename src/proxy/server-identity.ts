import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { canonicalIp, isIpLiteral } from '../certs/ip.js';
import { normalizeDnsName } from '../certs/names.js';

/** The error a name check fails with; `ip` tells an IP target (mitmproxy's "IP address mismatch") from a host name. */
export class ServerIdentityError extends Error {
  readonly code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  constructor(
    readonly host: string,
    readonly ip: boolean,
  ) {
    super(`${ip ? 'IP address' : 'Host name'} ${JSON.stringify(host)} is not among the certificate's subjectAltNames`);
    this.name = 'ServerIdentityError';
  }
}

/**
 * Whether an upstream certificate is for `host`, checked the way mitmproxy has OpenSSL check it
 * (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT): DNS SANs only,
 * never the subject CN, and a wildcard only as a whole leftmost label ("*.example.com", not
 * "www*.example.com"). An IP target must be an IP SAN. Node's default checkServerIdentity is
 * laxer on both counts (it falls back to the CN and accepts partial wildcards).
 */
export function checkServerIdentity(host: string, cert: tls.PeerCertificate): Error | undefined {
  if (!cert.raw) return new ServerIdentityError(host, isIpLiteral(host));
  const x509 = new X509Certificate(cert.raw);
  if (isIpLiteral(host)) {
    const ip = canonicalIp(host);
    return ip === null || x509.checkIP(ip) === undefined ? new ServerIdentityError(host, true) : undefined;
  }
  const name = normalizeDnsName(host);
  if (name === null) return new ServerIdentityError(host, false);
  const matched = x509.checkHost(name.endsWith('.') ? name.slice(0, -1) : name, {
    subject: 'never',
    wildcards: true,
    partialWildcards: false,
    multiLabelWildcards: false,
    singleLabelSubdomains: false,
  });
  return matched === undefined ? new ServerIdentityError(host, false) : undefined;
}
