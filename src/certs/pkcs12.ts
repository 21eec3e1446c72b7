/**
 * A minimal PKCS#12 (RFC 7292) writer for the two files mitmproxy puts in confdir:
 * `mitmproxy-ca-cert.p12` (the certificate only, for Windows' import wizard) and
 * `mitmproxy-ca.p12` (key and certificate). Neither is encrypted ("no password"), matching what
 * mitmproxy's cryptography/OpenSSL produce, inspected with `openssl asn1parse`:
 *
 *   PFX { version 3, authSafe = data(AuthenticatedSafe), macData (HMAC-SHA256, 8-byte salt, 2048 iterations) }
 *   AuthenticatedSafe = [ data(SafeContents[certBag]), data(SafeContents[keyBag])? ]
 *   bag attributes: friendlyName (BMPString), plus localKeyID = SHA-1(cert DER) when a key is present.
 *
 * The MAC key comes from the RFC 7292 appendix B KDF with no password (see NO_PASSWORD).
 */
import { createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto';
import * as der from './der.js';

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_X509_CERTIFICATE = '1.2.840.113549.1.9.22.1';
const OID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const OID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';

const MAC_ITERATIONS = 2048;
const MAC_SALT_LENGTH = 8;

/** RFC 7292 B.2 key derivation (SHA-256: u = 32, v = 64). `id` 3 derives MAC keys. */
export function pkcs12Kdf(password: Buffer, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32;
  const v = 64;
  const D = Buffer.alloc(v, id);
  const repeatTo = (src: Buffer) => {
    if (src.length === 0) return Buffer.alloc(0);
    const n = v * Math.ceil(src.length / v);
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const I = Buffer.concat([repeatTo(salt), repeatTo(password)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash('sha256').update(A).digest();
    blocks.push(A);
    // I_j = (I_j + B + 1) mod 2^(8v), where B is A repeated to v bytes.
    const B = repeatTo(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * "No password" is the absent password (zero bytes), not the empty BMPString (two zero bytes):
 * that is what mitmproxy's files carry (checked by recomputing their MAC both ways). OpenSSL and
 * Windows try both forms when given an empty password.
 */
const NO_PASSWORD = Buffer.alloc(0);

function dataContentInfo(content: Buffer): Buffer {
  return der.sequence(der.oid(OID_DATA), der.explicit(0, der.octetString(content)));
}

function bagAttributes(friendlyName: string, localKeyId: Buffer | null): Buffer {
  const attrs = [der.sequence(der.oid(OID_FRIENDLY_NAME), der.setOf(der.bmpString(friendlyName)))];
  if (localKeyId) attrs.push(der.sequence(der.oid(OID_LOCAL_KEY_ID), der.setOf(der.octetString(localKeyId))));
  return der.setOf(...attrs);
}

/**
 * A PKCS#12 file holding `certDer` and, when given, its private `key`, unencrypted, under
 * `friendlyName`. Returns the DER bytes.
 */
export function writePkcs12(opts: { certDer: Buffer; key?: KeyObject | null; friendlyName: string }): Buffer {
  const localKeyId = opts.key ? createHash('sha1').update(opts.certDer).digest() : null;
  const attrs = bagAttributes(opts.friendlyName, localKeyId);
  const certBag = der.sequence(
    der.oid(OID_CERT_BAG),
    der.explicit(0, der.sequence(der.oid(OID_X509_CERTIFICATE), der.explicit(0, der.octetString(opts.certDer)))),
    attrs,
  );
  const safes = [dataContentInfo(der.sequence(certBag))];
  if (opts.key) {
    const pkcs8 = opts.key.export({ type: 'pkcs8', format: 'der' });
    const keyBag = der.sequence(der.oid(OID_KEY_BAG), der.explicit(0, pkcs8), attrs);
    safes.push(dataContentInfo(der.sequence(keyBag)));
  }
  const authSafe = der.sequence(...safes);
  const salt = randomBytes(MAC_SALT_LENGTH);
  const macKey = pkcs12Kdf(NO_PASSWORD, salt, 3, MAC_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafe).digest();
  const macData = der.sequence(
    der.sequence(der.sequence(der.oid(OID_SHA256), der.nullValue()), der.octetString(mac)),
    der.octetString(salt),
    der.integer(MAC_ITERATIONS),
  );
  return der.sequence(der.integer(3), dataContentInfo(authSafe), macData);
}
