/**
 * The certificate store: the CA of a confdir, custom certificates from the `certs` option, and a
 * bounded cache of generated leaves. This is what the TLS layer asks for the certificate to
 * present on a connection:
 *
 *   const store = await CertStore.open(certStoreConfigFromOptions(master.options), { onWarning: (m) => log.warn(m) });
 *   const entry = await store.getCert(chooseCertNames({ upstreamCert: true, sni, ... }));
 *   tls.createSecureContext({ key: entry.keyPem, cert: [entry.certPem, ...entry.chainPem].join('') });
 *
 * Lookups follow mitmproxy's order: every asterisk form of the CN and of each SAN, then "*" (all
 * of which only custom certificates are registered under), then the generated entry for exactly
 * (CN, SANs). Generated entries are kept FIFO, at most STORE_CAP of them. Concurrent requests for
 * the same names share one signing operation. Entries are immutable and the same object is
 * returned on every hit, so callers can key their own caches (e.g. SecureContexts) on it.
 */
import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { OptionsError, expandHome, type OptManager } from '../optmanager.js';
import { keyMatchesCertificate, readPrivateKey, type CertificateAuthority } from './ca.js';
import { loadOrCreateCa, type ConfdirPaths } from './confdir.js';
import { buildEmptyCrl } from './crl.js';
import { DEFAULT_DHPARAM_PEM } from './dhparam.js';
import { issueLeaf } from './leaf.js';
import { asteriskForms, normalizeDnsName, toSubjectAltName, type CertRequest, type SubjectAltName } from './names.js';
import { canonicalIp } from './ip.js';
import { pemCertificates, pemPrivateKeyBlock } from './pem.js';
import { CertificateParseError, certificatePem, parseCertificate, type ParsedCertificate } from './x509.js';

/** A certificate ready for `tls.createSecureContext`. */
export interface CertEntry {
  /** The leaf certificate (PEM). */
  readonly certPem: string;
  /** Its private key, unencrypted PEM (for generated leaves: the CA key). */
  readonly keyPem: string;
  /** Certificates to send after the leaf, in order (PEM each). */
  readonly chainPem: readonly string[];
  /** True for a certificate from the `certs` option, false for a generated one. */
  readonly custom: boolean;
}

/** The settings a store is built from (mitmproxy's options of the same meaning). */
export interface CertStoreConfig {
  /** `confdir` (may start with ~). */
  confdir: string;
  /** `key_size`: RSA bits for a newly created CA. Default 2048. */
  keySize?: number;
  /** `cert_passphrase`: decrypts the CA key and keys in `certs` files. */
  certPassphrase?: string | null;
  /** `certs`: "[domain=]path" specs. */
  certs?: readonly string[];
  /** File basename in confdir (mitmproxy's CONF_BASENAME). */
  basename?: string;
}

/** The options whose change means the store must be rebuilt. */
export const CERT_STORE_OPTIONS: readonly string[] = ['certs', 'confdir', 'key_size', 'cert_passphrase'];

/** Whether a `configure(updated)` call needs the store rebuilt. */
export function certStoreNeedsReload(updated: ReadonlySet<string>): boolean {
  return CERT_STORE_OPTIONS.some((n) => updated.has(n));
}

/** The store settings from the current option values. */
export function certStoreConfigFromOptions(options: OptManager): CertStoreConfig {
  return {
    confdir: options.get<string>('confdir'),
    keySize: options.get<number>('key_size'),
    certPassphrase: options.get<string | null>('cert_passphrase'),
    certs: options.get<string[]>('certs'),
  };
}

/** Everything a store holds for one configuration; swapped as a whole on reload. */
interface StoreState {
  ca: CertificateAuthority;
  paths: ConfdirPaths;
  crlDer: Buffer;
  dhparamPem: string;
  custom: Map<string, CertEntry>;
  generated: Map<string, CertEntry>;
  pending: Map<string, Promise<CertEntry>>;
}

export interface CertStoreOptions {
  /** Receives warnings (expired CA, readable key file, CA cert given in `certs`). */
  onWarning?: (message: string) => void;
}

export class CertStore {
  /** How many generated entries are kept (mitmproxy's STORE_CAP). */
  static readonly STORE_CAP = 100;

  private state: StoreState;
  private readonly warn: (message: string) => void;

  private constructor(state: StoreState, warn: (message: string) => void) {
    this.state = state;
    this.warn = warn;
  }

  /**
   * Load (creating it on first use) the CA in `config.confdir` and register the `certs` files.
   * Throws OptionsError with a clear reason (missing certs file, wrong passphrase, ...).
   */
  static async open(config: CertStoreConfig, opts: CertStoreOptions = {}): Promise<CertStore> {
    const warn = opts.onWarning ?? (() => undefined);
    return new CertStore(await buildState(config, warn), warn);
  }

  /**
   * Rebuild from a new configuration (after `confdir`, `certs`, `key_size` or `cert_passphrase`
   * changed). The old state stays in use until the new one is complete; when building fails the
   * store is unchanged and the OptionsError is thrown. Generated leaves are dropped.
   */
  async reload(config: CertStoreConfig): Promise<void> {
    this.state = await buildState(config, this.warn);
  }

  /** The CA certificate (PEM). */
  get caCertPem(): string {
    return this.state.ca.certPem;
  }
  /** The CA private key as unencrypted PEM. */
  get caKeyPem(): string {
    return this.state.ca.keyPem;
  }
  get caKey(): KeyObject {
    return this.state.ca.key;
  }
  /** The CA certificate's parsed fields (serial, names, validity, extensions, DER). */
  get caCert(): ParsedCertificate {
    return this.state.ca.cert;
  }
  /** The chain served after generated leaves (normally just the CA). */
  get caChainPem(): readonly string[] {
    return this.state.ca.chainPem;
  }
  /** Paths of the confdir files. */
  get paths(): ConfdirPaths {
    return this.state.paths;
  }
  /** DH parameters for `tls.createSecureContext({ dhparam })`. */
  get dhparamPem(): string {
    return this.state.dhparamPem;
  }
  /** The empty DER CRL signed by the CA, served at `crlPath()` (Content-Type application/pkix-crl). */
  get crlDer(): Buffer {
    return this.state.crlDer;
  }
  /** "/mitmproxy-<CA serial in decimal>.crl": requests whose path ends with this get the CRL. */
  crlPath(): string {
    // Asked on every request (tlsconfig answers the CRL URL): a bigint to decimal is worth keeping.
    const serial = this.state.ca.cert.serial;
    if (this.crlPathCache?.serial !== serial) this.crlPathCache = { serial, path: `/mitmproxy-${serial.toString()}.crl` };
    return this.crlPathCache.path;
  }
  private crlPathCache: { serial: bigint; path: string } | null = null;
  /** Number of generated leaves currently cached. */
  get generatedCount(): number {
    return this.state.generated.size;
  }

  /**
   * The certificate to present for these names: a custom one registered under a matching name or
   * "*", else a cached or newly signed leaf. SANs that are neither IP literals nor valid DNS names
   * are dropped; DNS names are IDNA-encoded and lowercased. Never blocks the event loop.
   */
  getCert(req: CertRequest): Promise<CertEntry> {
    const state = this.state;
    const sans: SubjectAltName[] = [];
    for (const s of req.sans) {
      const san = toSubjectAltName(s);
      if (san && !sans.some((x) => x.type === san.type && x.value === san.value)) sans.push(san);
    }
    const cn = req.commonName ? normalizeName(req.commonName) : null;

    const candidates: string[] = [];
    if (cn) candidates.push(...asteriskForms(cn));
    for (const s of sans) candidates.push(...(s.type === 'dns' ? asteriskForms(s.value) : [s.value]));
    candidates.push('*');
    for (const c of candidates) {
      const hit = state.custom.get(c);
      if (hit) return Promise.resolve(hit);
    }

    // Keyed by (CN, SANs) only, as mitmproxy: O and the CRL URL follow from the same upstream cert.
    const key = JSON.stringify([cn, sans.map((s) => `${s.type}:${s.value}`)]);
    const cached = state.generated.get(key);
    if (cached) return Promise.resolve(cached);
    const inflight = state.pending.get(key);
    if (inflight) return inflight;

    const job = issueLeaf(state.ca, { commonName: cn, sans, organization: req.organization ?? null, crlUrl: req.crlUrl ?? null })
      .then((leafDer) => {
        const entry: CertEntry = Object.freeze({
          certPem: certificatePem(leafDer),
          keyPem: state.ca.keyPem,
          chainPem: state.ca.chainPem,
          custom: false,
        });
        state.generated.set(key, entry);
        // FIFO eviction, oldest first (Map iteration order is insertion order).
        while (state.generated.size > CertStore.STORE_CAP) state.generated.delete(state.generated.keys().next().value!);
        return entry;
      })
      .finally(() => state.pending.delete(key));
    state.pending.set(key, job);
    return job;
  }

  /**
   * Register a certificate file (the `certs` option's "[domain=]path"): PEM with the leaf first,
   * an optional private key (else the CA key must match the leaf), and optional intermediates
   * that are served as its chain. Registered under its CN, its SANs and `domain`.
   */
  async addCertFile(domain: string, path: string, passphrase: string | null = null): Promise<void> {
    const entry = await readCertFile(this.state.ca, path, passphrase, this.warn);
    registerCustom(this.state.custom, entry, domain);
  }
}

/** A name as a lookup key: canonical IP text or the normalised DNS name; null when it is neither. */
function normalizeName(name: string): string | null {
  const ip = canonicalIp(name);
  if (ip !== null) return ip;
  return normalizeDnsName(name);
}

interface CustomCert {
  entry: CertEntry;
  cert: ParsedCertificate;
}

async function readCertFile(
  ca: CertificateAuthority,
  path: string,
  passphrase: string | null,
  warn: (message: string) => void,
): Promise<CustomCert> {
  const abs = resolve(expandHome(path));
  let text: string;
  try {
    text = await fsp.readFile(abs, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OptionsError(`Certificate file does not exist: ${abs}`);
    throw new OptionsError(`Cannot read certificate file ${abs}: ${(e as Error).message}`);
  }
  const invalid = (reason: string): never => {
    throw new OptionsError(`Invalid certificate format for ${abs}: ${reason}`);
  };
  const ders = pemCertificates(text);
  if (ders.length === 0) return invalid('no PEM certificate found');
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(ders[0]!);
  } catch (e) {
    if (e instanceof CertificateParseError) return invalid(e.message);
    throw e;
  }
  const keyBlock = pemPrivateKeyBlock(text);
  let keyPem: string;
  if (keyBlock) {
    let key: KeyObject;
    try {
      key = readPrivateKey(keyBlock.text, passphrase);
    } catch (e) {
      return invalid((e as Error).message);
    }
    if (!keyMatchesCertificate(key, ders[0]!)) return invalid(`Private and public keys in "${abs}" do not match`);
    keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  } else {
    if (!keyMatchesCertificate(ca.key, ders[0]!)) {
      return invalid(`Unable to find private key in "${abs}" (and the certificate is not for the CA key)`);
    }
    keyPem = ca.keyPem;
  }
  if (cert.isCa) {
    warn(
      `"${abs}" is a certificate authority and not a leaf certificate. ` +
        'This indicates a misconfiguration, see https://docs.mitmproxy.org/stable/concepts-certificates/.',
    );
  }
  const entry: CertEntry = Object.freeze({
    certPem: certificatePem(ders[0]!),
    keyPem,
    chainPem: Object.freeze(ders.slice(1).map((d) => certificatePem(d))),
    custom: true,
  });
  return { entry, cert };
}

function registerCustom(map: Map<string, CertEntry>, c: CustomCert, domain: string): void {
  const add = (name: string | null) => {
    if (!name) return;
    const key = name === '*' ? '*' : (normalizeName(name) ?? name.toLowerCase());
    map.set(key, c.entry);
  };
  add(c.cert.commonName);
  for (const san of c.cert.subjectAltNames) if (san.type === 'dns' || san.type === 'ip') add(san.value);
  add(domain);
}

async function buildState(config: CertStoreConfig, warn: (message: string) => void): Promise<StoreState> {
  const passphrase = config.certPassphrase ?? null;
  const { ca, paths } = await loadOrCreateCa({
    confdir: config.confdir,
    keySize: config.keySize ?? 2048,
    passphrase,
    basename: config.basename,
    onWarning: warn,
  });
  let dhparamPem = DEFAULT_DHPARAM_PEM;
  try {
    dhparamPem = await fsp.readFile(paths.dhparam, 'utf8');
  } catch {
    // loadOrCreateCa writes the file when it is missing; if that failed the built-in copy serves.
  }
  const custom = new Map<string, CertEntry>();
  for (const spec of config.certs ?? []) {
    const eq = spec.indexOf('=');
    const [domain, path] = eq < 0 ? ['*', spec] : [spec.slice(0, eq), spec.slice(eq + 1)];
    registerCustom(custom, await readCertFile(ca, path, passphrase, warn), domain);
  }
  return {
    ca,
    paths,
    crlDer: await buildEmptyCrl(ca.key, ca.cert.subjectDer),
    dhparamPem,
    custom,
    generated: new Map(),
    pending: new Map(),
  };
}
