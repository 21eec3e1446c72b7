/**
 * The empty certificate revocation list mitmproxy serves when a leaf points at it. Clients that
 * insist on checking revocation (some Windows and Java stacks) fetch the CRL URL we put in leaves
 * that mirror an upstream certificate's CRLDistributionPoints; an empty, CA-signed list lets them
 * proceed.
 */
import type { KeyObject } from 'node:crypto';
import * as der from './der.js';
import { OID, encodeExtension, signAsync, signatureAlgorithm } from './x509.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Same backdating as certificates, so clients with a slightly wrong clock accept it. */
const VALIDITY_OFFSET_MS = -2 * DAY_MS;
const CRL_VALIDITY_MS = 7 * DAY_MS;
/** mitmproxy's CRL number: meaningless, but some clients require the extension. */
const CRL_NUMBER = 1000;

/**
 * A v2 CRL with no entries, signed by the CA: valid from now − 2 days for 7 days, CRLNumber 1000.
 * `issuerDer` is the CA certificate's subject Name (the CRL issuer is the CA that signs it).
 */
export async function buildEmptyCrl(key: KeyObject, issuerDer: Buffer, now = new Date()): Promise<Buffer> {
  const { algorithmId, digest } = signatureAlgorithm(key);
  const thisUpdate = new Date(now.getTime() + VALIDITY_OFFSET_MS);
  const nextUpdate = new Date(thisUpdate.getTime() + CRL_VALIDITY_MS);
  const tbs = der.sequence(
    der.integer(1), // v2, required because of the extension
    algorithmId,
    issuerDer,
    der.time(thisUpdate),
    der.time(nextUpdate),
    der.explicit(0, der.sequence(encodeExtension({ oid: OID.crlNumber, critical: false, value: der.integer(CRL_NUMBER) }))),
  );
  const signature = await signAsync(tbs, key, digest);
  return der.sequence(tbs, algorithmId, der.bitString(signature));
}
