/**
 * The certificate authority: generating a new one exactly as mitmproxy does, and reading one from
 * the text of `mitmproxy-ca.pem` (ours, mitmproxy's, or a user's own, possibly with an encrypted
 * key and extra chain certificates).
 */
import { X509Certificate, createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { OptionsError } from '../optmanager.js';
import * as der from './der.js';
import { pemCertificates, pemPrivateKeyBlock } from './pem.js';
import {
  CertificateParseError,
  OID,
  certificatePem,
  encodeName,
  keyIdentifier,
  parseCertificate,
  publicKeyBitsOf,
  randomSerial,
  signCertificate,
  signatureAlgorithm,
  spkiOf,
  type ParsedCertificate,
} from './x509.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates are backdated two days for clients whose clocks run slow. */
export const CERT_VALIDITY_OFFSET_MS = -2 * DAY_MS;
/** CA lifetime: 10 × 365 days. */
export const CA_EXPIRY_MS = 3650 * DAY_MS;

export const MIN_KEY_SIZE = 1024;
export const MAX_KEY_SIZE = 16384;

/** A loaded CA, ready to sign leaves. */
export interface CertificateAuthority {
  key: KeyObject;
  /** The key as unencrypted PKCS#8 PEM (what node's TLS wants; never written to disk). */
  keyPem: string;
  cert: ParsedCertificate;
  certPem: string;
  /**
   * The chain served after generated leaves: every certificate in the CA file (normally just the
   * CA itself; a user CA file may add its own issuers after it).
   */
  chainPem: string[];
  /** The AuthorityKeyIdentifier leaves carry: the CA's SKI, or one computed from its key when it has none. */
  authorityKeyId: Buffer;
}

/**
 * A new CA key pair and self-signed certificate with mitmproxy's fields: RSA `keySize` bits,
 * e=65537, CN and O "mitmproxy", 159-bit random serial, valid from now − 2 days for 3650 days,
 * BasicConstraints CA:TRUE (critical), EKU serverAuth, KeyUsage keyCertSign+cRLSign (critical),
 * SubjectKeyIdentifier. The key is generated in the threadpool (async generateKeyPair).
 */
export async function generateCa(opts: {
  keySize: number;
  commonName?: string;
  organization?: string;
  now?: Date;
}): Promise<{ key: KeyObject; certDer: Buffer }> {
  const { keySize } = opts;
  if (!Number.isInteger(keySize) || keySize < MIN_KEY_SIZE || keySize > MAX_KEY_SIZE) {
    throw new OptionsError(`Invalid key_size ${keySize}: a new CA needs an RSA key of ${MIN_KEY_SIZE} to ${MAX_KEY_SIZE} bits.`);
  }
  const key = await new Promise<KeyObject>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: keySize, publicExponent: 0x10001 }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
  );
  const name = encodeName([
    [OID.commonName, opts.commonName ?? 'mitmproxy'],
    [OID.organizationName, opts.organization ?? 'mitmproxy'],
  ]);
  const spkiDer = spkiOf(key);
  const notBefore = new Date((opts.now ?? new Date()).getTime() + CERT_VALIDITY_OFFSET_MS);
  const certDer = await signCertificate(
    {
      serial: randomSerial(),
      issuerDer: name,
      subjectDer: name,
      notBefore,
      notAfter: new Date(notBefore.getTime() + CA_EXPIRY_MS),
      spkiDer,
      extensions: [
        { oid: OID.basicConstraints, critical: true, value: der.sequence(der.boolean(true)) },
        { oid: OID.extKeyUsage, critical: false, value: der.sequence(der.oid(OID.serverAuth)) },
        // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000011x with one unused bit.
        { oid: OID.keyUsage, critical: true, value: der.bitString(Buffer.from([0x06]), 1) },
        { oid: OID.subjectKeyIdentifier, critical: false, value: der.octetString(keyIdentifier(publicKeyBitsOf(spkiDer))) },
      ],
    },
    key,
  );
  return { key, certDer };
}

/** `mitmproxy-ca.pem` content: the key as traditional OpenSSL PEM, then the certificate. */
export function caFileText(key: KeyObject, certDer: Buffer): string {
  return (key.export({ type: 'pkcs1', format: 'pem' }) as string) + certificatePem(certDer);
}

/** Human text for node's key-loading errors. */
function describeKeyError(e: unknown, passphrase: string | null): string {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED' || code === 'ERR_MISSING_PASSPHRASE') {
    return 'the private key is encrypted; set cert_passphrase';
  }
  if (code === 'ERR_OSSL_BAD_DECRYPT' || /bad decrypt/i.test(String((e as Error).message))) {
    return passphrase ? 'wrong cert_passphrase for the encrypted private key' : 'the private key is encrypted; set cert_passphrase';
  }
  return `cannot read the private key (${(e as Error).message ?? String(e)})`;
}

/** Decode a PEM private key, decrypting with `passphrase` when it is encrypted. Throws a plain Error with a reason. */
export function readPrivateKey(pemText: string, passphrase: string | null): KeyObject {
  try {
    // A passphrase given for an unencrypted key is ignored, as mitmproxy does.
    return createPrivateKey(passphrase === null ? { key: pemText, format: 'pem' } : { key: pemText, format: 'pem', passphrase });
  } catch (e) {
    throw new Error(describeKeyError(e, passphrase));
  }
}

/** Whether a private key belongs to a certificate's public key. */
export function keyMatchesCertificate(key: KeyObject, certDer: Buffer): boolean {
  try {
    return new X509Certificate(certDer).checkPrivateKey(key);
  } catch {
    return false;
  }
}

/**
 * A CA from the text of a CA file (key + first certificate, optional further certificates).
 * `source` names the file in errors. Throws OptionsError with the reason.
 */
export function caFromPem(text: string, passphrase: string | null, source: string): CertificateAuthority {
  const fail = (reason: string): never => {
    throw new OptionsError(`Cannot load the certificate authority from ${source}: ${reason}`);
  };
  const keyBlock = pemPrivateKeyBlock(text);
  if (!keyBlock) return fail('no private key found (expected the key followed by the CA certificate)');
  let key: KeyObject;
  try {
    key = readPrivateKey(keyBlock.text, passphrase);
  } catch (e) {
    return fail((e as Error).message);
  }
  const certDers = pemCertificates(text);
  if (certDers.length === 0) return fail('no certificate found');
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(certDers[0]!);
    for (const extra of certDers.slice(1)) parseCertificate(extra);
  } catch (e) {
    if (e instanceof CertificateParseError) return fail(e.message);
    throw e;
  }
  if (!keyMatchesCertificate(key, certDers[0]!)) return fail('the private key does not belong to the first certificate');
  try {
    signatureAlgorithm(key);
  } catch (e) {
    return fail((e as Error).message);
  }
  return {
    key,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert,
    certPem: certificatePem(certDers[0]!),
    chainPem: certDers.map((d) => certificatePem(d)),
    authorityKeyId: cert.subjectKeyIdentifier ?? keyIdentifier(cert.publicKeyBits),
  };
}

/** Whether a certificate's validity has ended. */
export function hasExpired(cert: ParsedCertificate, now = new Date()): boolean {
  return now.getTime() > cert.notAfter.getTime();
}
