/**
 * The certificate authority of mitmproxy-ts: confdir CA files (mitmproxy's names and formats),
 * leaf issuing with a bounded single-flight cache, custom certificates, the CRL, and the name
 * choice for a connection. See store.ts for how the TLS layer uses it.
 */
export {
  CertStore,
  CERT_STORE_OPTIONS,
  certStoreNeedsReload,
  certStoreConfigFromOptions,
  type CertEntry,
  type CertStoreConfig,
  type CertStoreOptions,
} from './store.js';
export {
  chooseCertNames,
  asteriskForms,
  toSubjectAltName,
  normalizeDnsName,
  type CertRequest,
  type CertNameInputs,
  type SubjectAltName,
} from './names.js';
export {
  confdirPaths,
  loadOrCreateCa,
  createCaFiles,
  DEFAULT_BASENAME,
  type ConfdirPaths,
  type LoadCaOptions,
  type LoadedCa,
} from './confdir.js';
export { generateCa, caFromPem, caFileText, hasExpired, type CertificateAuthority } from './ca.js';
export { issueLeaf, type LeafSpec } from './leaf.js';
export { buildEmptyCrl } from './crl.js';
export { writePkcs12 } from './pkcs12.js';
export { DEFAULT_DHPARAM_PEM } from './dhparam.js';
export { parseCertificate, formatName, CertificateParseError, type ParsedCertificate, type GeneralName } from './x509.js';
export { pemBlocks, pemCertificates, toPem, type PemBlock } from './pem.js';
