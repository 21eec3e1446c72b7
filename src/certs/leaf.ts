/**
 * Issuing the leaf certificates the proxy presents to clients, with mitmproxy's fields:
 *
 * - the public key is the CA's own (no per-host key generation; the CA key is the leaf key);
 * - issuer = the CA subject (copied verbatim), SHA-256 signature, random 159-bit serial;
 * - valid from now − 2 days for 199 days (under Chromium's 200-day limit with the backdating);
 * - subject CN only when shorter than 64 characters, O only when given;
 * - extensions in order: EKU serverAuth; subjectAltName (critical when the subject is empty);
 *   AuthorityKeyIdentifier from the CA; CRLDistributionPoints only when a CRL URL is given.
 *   No BasicConstraints, KeyUsage or SKI (Windows SChannel misbehaves when CA and leaf share an SKI).
 */
import * as der from './der.js';
import type { CertificateAuthority } from './ca.js';
import { CERT_VALIDITY_OFFSET_MS } from './ca.js';
import { ipToBytes } from './ip.js';
import type { SubjectAltName } from './names.js';
import { OID, encodeName, randomSerial, signCertificate } from './x509.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const CERT_EXPIRY_MS = 199 * DAY_MS;

/** What goes into one leaf (names already normalised, see names.ts). */
export interface LeafSpec {
  commonName: string | null;
  sans: SubjectAltName[];
  organization: string | null;
  crlUrl: string | null;
}

function encodeSans(sans: SubjectAltName[]): Buffer {
  return der.sequence(
    ...sans.map((s) =>
      s.type === 'ip' ? der.implicitPrimitive(7, ipToBytes(s.value)!) : der.implicitPrimitive(2, Buffer.from(s.value, 'ascii')),
    ),
  );
}

function encodeCrlDistributionPoint(url: string): Buffer {
  // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
  return der.sequence(der.sequence(der.implicitConstructed(0, der.implicitConstructed(0, der.implicitPrimitive(6, Buffer.from(url, 'latin1'))))));
}

/** Sign a leaf for `spec` with the CA (in the threadpool). Returns the DER. */
export async function issueLeaf(ca: CertificateAuthority, spec: LeafSpec, now = new Date()): Promise<Buffer> {
  const validCn = spec.commonName !== null && [...spec.commonName].length < 64;
  const subject: Array<[string, string]> = [];
  if (validCn) subject.push([OID.commonName, spec.commonName!]);
  if (spec.organization !== null) subject.push([OID.organizationName, spec.organization]);

  const extensions: Array<{ oid: string; critical: boolean; value: Buffer }> = [
    { oid: OID.extKeyUsage, critical: false, value: der.sequence(der.oid(OID.serverAuth)) },
  ];
  // An empty GeneralNames is invalid DER for the extension; a leaf without names simply has none.
  if (spec.sans.length) extensions.push({ oid: OID.subjectAltName, critical: !validCn, value: encodeSans(spec.sans) });
  extensions.push({ oid: OID.authorityKeyIdentifier, critical: false, value: der.sequence(der.implicitPrimitive(0, ca.authorityKeyId)) });
  if (spec.crlUrl) extensions.push({ oid: OID.crlDistributionPoints, critical: false, value: encodeCrlDistributionPoint(spec.crlUrl) });

  const notBefore = new Date(now.getTime() + CERT_VALIDITY_OFFSET_MS);
  return signCertificate(
    {
      serial: randomSerial(),
      issuerDer: ca.cert.subjectDer,
      subjectDer: encodeName(subject),
      notBefore,
      notAfter: new Date(notBefore.getTime() + CERT_EXPIRY_MS),
      spkiDer: ca.cert.spkiDer,
      extensions,
    },
    ca.key,
  );
}
