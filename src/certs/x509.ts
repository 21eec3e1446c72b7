/**
 * X.509 certificates: reading the fields the proxy needs from any certificate (ours, a user's CA,
 * an upstream server's), and building and signing new ones. Signing goes through node's
 * callback-style `crypto.sign`, which runs in libuv's threadpool, so issuing never blocks the
 * event loop.
 */
import { createHash, createPublicKey, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { DerError, TAG, children, decodeInteger, decodeOid, decodeString, decodeTime, expectTag, readDerExact, type DerNode } from './der.js';
import { bytesToIp } from './ip.js';
import { toPem } from './pem.js';

export const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  crlDistributionPoints: '2.5.29.31',
  crlNumber: '2.5.29.20',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
} as const;

/** Short names for the attribute types people recognise; others are shown as dotted OIDs. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** A subjectAltName entry. Kinds we do not use are kept as `other` so nothing is silently lost. */
export type GeneralName =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'email'; value: string }
  | { type: 'other'; tag: number };

export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue contents (the DER inside the OCTET STRING). */
  value: Buffer;
}

/** What we read from a certificate. */
export interface ParsedCertificate {
  der: Buffer;
  serial: bigint;
  /** Raw DER of the issuer and subject Names (copied verbatim when we issue certs). */
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** Name attributes in order as [short name or OID, value]. */
  issuer: Array<[string, string]>;
  subject: Array<[string, string]>;
  commonName: string | null;
  organization: string | null;
  notBefore: Date;
  notAfter: Date;
  /** The SubjectPublicKeyInfo DER. */
  spkiDer: Buffer;
  /** The subjectPublicKey bits (what key identifiers are hashed from). */
  publicKeyBits: Buffer;
  extensions: Extension[];
  subjectAltNames: GeneralName[];
  subjectKeyIdentifier: Buffer | null;
  isCa: boolean;
  /** URIs from the CRLDistributionPoints extension (first full name of each point). */
  crlDistributionPoints: string[];
}

/** A certificate that could not be read. */
export class CertificateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateParseError';
  }
}

function parseName(node: DerNode): Array<[string, string]> {
  expectTag(node, TAG.SEQUENCE, 'Name');
  const out: Array<[string, string]> = [];
  for (const rdn of children(node)) {
    expectTag(rdn, TAG.SET, 'RelativeDistinguishedName');
    for (const atv of children(rdn)) {
      const [type, value] = children(expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      const o = decodeOid(expectTag(type, TAG.OID, 'attribute type'));
      if (!value) throw new DerError('attribute without value');
      out.push([ATTRIBUTE_NAMES[o] ?? o, decodeString(value)]);
    }
  }
  return out;
}

function parseGeneralNames(content: Buffer): GeneralName[] {
  const seq = readDerExact(content);
  expectTag(seq, TAG.SEQUENCE, 'GeneralNames');
  return children(seq).map((n): GeneralName => {
    switch (n.tag) {
      case 0x82:
        return { type: 'dns', value: n.content.toString('latin1') };
      case 0x87:
        return { type: 'ip', value: bytesToIp(n.content) };
      case 0x86:
        return { type: 'uri', value: n.content.toString('latin1') };
      case 0x81:
        return { type: 'email', value: n.content.toString('latin1') };
      default:
        return { type: 'other', tag: n.tag };
    }
  });
}

function parseCrlDistributionPoints(content: Buffer): string[] {
  const out: string[] = [];
  for (const point of children(expectTag(readDerExact(content), TAG.SEQUENCE, 'CRLDistributionPoints'))) {
    const dpName = children(point).find((c) => c.tag === 0xa0);
    if (!dpName) continue;
    const fullName = children(dpName).find((c) => c.tag === 0xa0);
    if (!fullName) continue;
    const first = children(fullName)[0];
    if (first && first.tag === 0x86) out.push(first.content.toString('latin1'));
  }
  return out;
}

function requireNode(n: DerNode | undefined, what: string): DerNode {
  if (!n) throw new DerError(`missing ${what}`);
  return n;
}

/** Read a DER certificate. Throws CertificateParseError with the reason when it is malformed. */
export function parseCertificate(input: Uint8Array): ParsedCertificate {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  try {
    const cert = expectTag(readDerExact(buf), TAG.SEQUENCE, 'Certificate');
    const [tbs] = children(cert);
    const fields = children(expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate'));
    let i = 0;
    if (fields[0]?.tag === 0xa0) i++; // [0] version
    const serial = decodeInteger(expectTag(fields[i++], TAG.INTEGER, 'serialNumber'));
    i++; // signature algorithm
    const issuerNode = expectTag(fields[i++], TAG.SEQUENCE, 'issuer');
    const validity = children(expectTag(fields[i++], TAG.SEQUENCE, 'validity'));
    const subjectNode = expectTag(fields[i++], TAG.SEQUENCE, 'subject');
    const spki = expectTag(fields[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
    const keyBits = expectTag(children(spki)[1], TAG.BIT_STRING, 'subjectPublicKey');
    const extensions: Extension[] = [];
    for (; i < fields.length; i++) {
      if (fields[i]!.tag !== 0xa3) continue;
      const list = expectTag(children(fields[i]!)[0], TAG.SEQUENCE, 'Extensions');
      for (const ext of children(list)) {
        const parts = children(expectTag(ext, TAG.SEQUENCE, 'Extension'));
        const extOid = decodeOid(expectTag(parts[0], TAG.OID, 'extnID'));
        const critical = parts.length === 3 && parts[1]!.tag === TAG.BOOLEAN && parts[1]!.content[0] !== 0;
        const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue').content;
        extensions.push({ oid: extOid, critical, value });
      }
    }
    const subject = parseName(subjectNode);
    const find = (o: string) => extensions.find((e) => e.oid === o);
    const san = find(OID.subjectAltName);
    const ski = find(OID.subjectKeyIdentifier);
    const bc = find(OID.basicConstraints);
    const cdp = find(OID.crlDistributionPoints);
    let isCa = false;
    if (bc) {
      const first = children(readDerExact(bc.value))[0];
      isCa = first !== undefined && first.tag === TAG.BOOLEAN && first.content[0] !== 0;
    }
    return {
      der: buf,
      serial,
      issuerDer: issuerNode.raw,
      subjectDer: subjectNode.raw,
      issuer: parseName(issuerNode),
      subject,
      commonName: subject.find(([k]) => k === 'CN')?.[1] ?? null,
      organization: subject.find(([k]) => k === 'O')?.[1] ?? null,
      notBefore: decodeTime(requireNode(validity[0], 'notBefore')),
      notAfter: decodeTime(requireNode(validity[1], 'notAfter')),
      spkiDer: spki.raw,
      publicKeyBits: keyBits.content.subarray(1),
      extensions,
      subjectAltNames: san ? parseGeneralNames(san.value) : [],
      subjectKeyIdentifier: ski ? expectTag(readDerExact(ski.value), TAG.OCTET_STRING, 'keyIdentifier').content : null,
      isCa,
      crlDistributionPoints: cdp ? parseCrlDistributionPoints(cdp.value) : [],
    };
  } catch (e) {
    if (e instanceof DerError) throw new CertificateParseError(`malformed certificate: ${e.message}`);
    throw e;
  }
}

/** "CN=mitmproxy, O=mitmproxy". */
export function formatName(attrs: Array<[string, string]>): string {
  return attrs.map(([k, v]) => `${k}=${v}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Building

/** A Name with one attribute per RDN, values as UTF8String (what cryptography writes). */
export function encodeName(attrs: Array<[oid: string, value: string]>): Buffer {
  return der.sequence(...attrs.map(([o, v]) => der.setOf(der.sequence(der.oid(o), der.utf8String(v)))));
}

export function encodeExtension(ext: { oid: string; critical: boolean; value: Buffer }): Buffer {
  return der.sequence(der.oid(ext.oid), ...(ext.critical ? [der.boolean(true)] : []), der.octetString(ext.value));
}

/** A random positive 159-bit serial (20 random bytes shifted right once, as cryptography does). */
export function randomSerial(): bigint {
  return BigInt('0x' + randomBytes(20).toString('hex')) >> 1n;
}

/** SHA-1 of the subjectPublicKey bits: RFC 5280 §4.2.1.2 method (1), what cryptography computes. */
export function keyIdentifier(publicKeyBits: Uint8Array): Buffer {
  return createHash('sha1').update(publicKeyBits).digest();
}

/** The subjectPublicKey bits of a key's SubjectPublicKeyInfo. */
export function publicKeyBitsOf(spkiDer: Buffer): Buffer {
  const spki = readDerExact(spkiDer);
  return expectTag(children(spki)[1], TAG.BIT_STRING, 'subjectPublicKey').content.subarray(1);
}

/** The SubjectPublicKeyInfo DER of a (private or public) key. */
export function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** The signature algorithm we use with a key: SHA-256 with RSA or ECDSA, or Ed25519. */
export function signatureAlgorithm(key: KeyObject): { algorithmId: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { algorithmId: der.sequence(der.oid(OID.sha256WithRSAEncryption), der.nullValue()), digest: 'sha256' };
    case 'ec':
      return { algorithmId: der.sequence(der.oid(OID.ecdsaWithSHA256)), digest: 'sha256' };
    case 'ed25519':
      return { algorithmId: der.sequence(der.oid(OID.ed25519)), digest: null };
    default:
      throw new Error(`Unsupported CA key type: ${key.asymmetricKeyType ?? 'unknown'} (use RSA, EC or Ed25519)`);
  }
}

/** Sign in libuv's threadpool (the callback form of crypto.sign), keeping the event loop free. */
export function signAsync(data: Buffer, key: KeyObject, digest: string | null): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    cryptoSign(digest, data, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
}

/** The fields of a certificate to be signed. */
export interface CertificateTemplate {
  serial: bigint;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  extensions: Array<{ oid: string; critical: boolean; value: Buffer }>;
}

/** Build, sign (off the event loop) and encode a v3 certificate. Returns its DER. */
export async function signCertificate(t: CertificateTemplate, signingKey: KeyObject): Promise<Buffer> {
  const { algorithmId, digest } = signatureAlgorithm(signingKey);
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(t.serial),
    algorithmId,
    t.issuerDer,
    der.sequence(der.time(t.notBefore), der.time(t.notAfter)),
    t.subjectDer,
    t.spkiDer,
    ...(t.extensions.length ? [der.explicit(3, der.sequence(...t.extensions.map(encodeExtension)))] : []),
  );
  const signature = await signAsync(tbs, signingKey, digest);
  return der.sequence(tbs, algorithmId, der.bitString(signature));
}

/** The DER of a certificate as PEM. */
export function certificatePem(certDer: Uint8Array): string {
  return toPem('CERTIFICATE', certDer);
}
