/**
 * Host names in certificates: turning what a client or upstream says into safe SubjectAltName
 * entries, mitmproxy's "asterisk forms" for store lookups, and the choice of names for the leaf
 * served on one connection (mitmproxy's tlsconfig `get_cert`).
 */
import { domainToASCII } from 'node:url';
import { canonicalIp, isIpLiteral } from './ip.js';
import { parseCertificate, type ParsedCertificate } from './x509.js';
import { pemCertificates } from './pem.js';
import { BoundedCache } from '../util/bounded-cache.js';

/** A name as it goes into a leaf's subjectAltName. */
export type SubjectAltName = { type: 'dns'; value: string } | { type: 'ip'; value: string };

const LABEL = /^[a-z0-9_*-]{1,63}$/;

/**
 * A DNS name as IDNA ASCII (lowercase), or null when it cannot be a host name. Unicode input goes
 * through `url.domainToASCII` (which also maps Unicode dots such as U+3002 to "."); the result
 * must consist of LDH labels (plus "_" and the "*" of wildcards), so NULs, spaces and other
 * tricks never reach a certificate or a cache key.
 */
export function normalizeDnsName(name: string): string | null {
  let ascii = name;
  // ASCII names skip domainToASCII on purpose: it would reinterpret "0x7f.1" as 127.0.0.1.
  if (/[^\x00-\x7f]/.test(ascii)) ascii = domainToASCII(ascii);
  ascii = ascii.toLowerCase();
  if (ascii === '' || ascii.length > 253) return null;
  const labels = (ascii.endsWith('.') ? ascii.slice(0, -1) : ascii).split('.');
  return labels.every((l) => LABEL.test(l)) ? ascii : null;
}

/** An IP literal or DNS name as a SubjectAltName, or null when it is neither (mitmproxy's `_ip_or_dns_name`). */
export function toSubjectAltName(name: string): SubjectAltName | null {
  if (isIpLiteral(name)) {
    const ip = canonicalIp(name);
    return ip === null ? null : { type: 'ip', value: ip };
  }
  const dns = normalizeDnsName(name);
  return dns === null ? null : { type: 'dns', value: dns };
}

/**
 * The names a store entry may be registered under that match `name`, most specific first:
 * "www.example.com" -> ["www.example.com", "*.example.com", "*.com"]. The lone "*" is left out
 * (the store tries it separately).
 */
export function asteriskForms(name: string): string[] {
  const parts = name.split('.');
  const out = [name];
  for (let i = 1; i < parts.length; i++) out.push('*.' + parts.slice(i).join('.'));
  return out;
}

/** What the store needs to issue (or find) the leaf for a connection. */
export interface CertRequest {
  /** Subject CN; left out of the certificate when it is 64 characters or longer. */
  commonName?: string | null;
  /** DNS names and IP addresses for the subjectAltName extension. */
  sans: string[];
  /** Subject O, copied from the upstream certificate. */
  organization?: string | null;
  /** CRL distribution point URL to put into the leaf. */
  crlUrl?: string | null;
}

/** Facts about a connection that decide the leaf's names. */
export interface CertNameInputs {
  /** The `upstream_cert` option: copy names from the upstream certificate. */
  upstreamCert: boolean;
  /** The upstream server's certificate (leaf first), as PEM text or DER, when it is known. */
  upstreamCertificate?: string | Uint8Array | null;
  /** The client's SNI. */
  sni?: string | null;
  /** The local address the client connected to (used when there is no SNI). */
  clientSocknameHost?: string | null;
  /** The server address host, when known. */
  serverAddressHost?: string | null;
  /** The store's CRL path (`CertStore.crlPath()`), used when the upstream certificate names a CRL. */
  crlPath?: string | null;
}

/** Upstream certificates seen recently, parsed (every connection to a server presents the same one). */
const parsedUpstream = new BoundedCache<string, ParsedCertificate | null>(256);

function upstreamLeaf(input: string | Uint8Array): ParsedCertificate | null {
  if (typeof input !== 'string') return parseUpstreamLeaf(input);
  return parsedUpstream.getOrCompute(input, parseUpstreamLeaf);
}

function parseUpstreamLeaf(input: string | Uint8Array): ParsedCertificate | null {
  try {
    const der = typeof input === 'string' ? pemCertificates(input)[0] : Buffer.from(input);
    return der ? parseCertificate(der) : null;
  } catch {
    // An upstream certificate we cannot read simply contributes no names.
    return null;
  }
}

/**
 * Choose CN, SANs, O and CRL URL for the leaf served on a connection, in mitmproxy's order and
 * without duplicates: (1) with `upstreamCert`, the upstream certificate's CN and SANs, its O and,
 * if it names a CRL, a CRL URL on the same scheme and host with our CRL path; (2) the SNI, or
 * without one the local address the client connected to; (3) the server address. The CN is the
 * first name. Names that are neither IPs nor valid DNS names are dropped.
 */
export function chooseCertNames(input: CertNameInputs): CertRequest {
  const names: string[] = [];
  let organization: string | null = null;
  let crlUrl: string | null = null;
  const add = (n: string | null | undefined) => {
    if (!n) return;
    const san = toSubjectAltName(n);
    if (san && !names.includes(san.value)) names.push(san.value);
  };

  if (input.upstreamCert && input.upstreamCertificate) {
    const cert = upstreamLeaf(input.upstreamCertificate);
    if (cert) {
      add(cert.commonName);
      for (const san of cert.subjectAltNames) if (san.type === 'dns' || san.type === 'ip') add(san.value);
      organization = cert.organization;
      const crl = cert.crlDistributionPoints[0];
      if (crl && input.crlPath) {
        try {
          const u = new URL(crl);
          crlUrl = `${u.protocol}//${u.host}${input.crlPath}`;
        } catch {
          // An unparsable CRL URL just means no CRL distribution point in our leaf.
        }
      }
    }
  }
  if (input.sni) add(input.sni);
  else add(input.clientSocknameHost);
  add(input.serverAddressHost);

  return { commonName: names[0] ?? null, sans: names, organization, crlUrl };
}
