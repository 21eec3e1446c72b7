/**
 * The CA files in confdir, named and formatted as mitmproxy writes them, so a confdir works with
 * both programs:
 *
 *   mitmproxy-ca.pem        key (traditional OpenSSL PEM) + certificate   mode 0600
 *   mitmproxy-ca.p12        PKCS#12 key + certificate, friendly name       mode 0600
 *   mitmproxy-ca-cert.pem   certificate                                    normal umask
 *   mitmproxy-ca-cert.cer   the same bytes (Android wants the extension)
 *   mitmproxy-ca-cert.p12   PKCS#12, certificate only (Windows)
 *   mitmproxy-dhparam.pem   fixed DH parameters
 *
 * Files are written to a temporary name and renamed into place, so a crash never leaves a
 * half-written key. `mitmproxy-ca.pem` is linked into place exclusively: when two processes
 * create a CA in the same confdir at once, one wins and the other loads the winner's CA.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { OptionsError, expandHome } from '../optmanager.js';
import { caFileText, caFromPem, generateCa, hasExpired, type CertificateAuthority } from './ca.js';
import { DEFAULT_DHPARAM_PEM } from './dhparam.js';
import { writePkcs12 } from './pkcs12.js';
import { certificatePem } from './x509.js';

/** mitmproxy's CONF_BASENAME. */
export const DEFAULT_BASENAME = 'mitmproxy';

/** Where the CA files of one confdir live. */
export interface ConfdirPaths {
  /** The confdir, `~` expanded and made absolute. */
  dir: string;
  /** `mitmproxy-ca.pem`: key + certificate (+ chain). */
  caPem: string;
  /** `mitmproxy-ca.p12`: key + certificate. */
  caP12: string;
  /** `mitmproxy-ca-cert.pem`. */
  caCertPem: string;
  /** `mitmproxy-ca-cert.cer`. */
  caCertCer: string;
  /** `mitmproxy-ca-cert.p12`. */
  caCertP12: string;
  /** `mitmproxy-dhparam.pem`. */
  dhparam: string;
}

export function confdirPaths(confdir: string, basename = DEFAULT_BASENAME): ConfdirPaths {
  const dir = resolve(expandHome(confdir));
  return {
    dir,
    caPem: join(dir, `${basename}-ca.pem`),
    caP12: join(dir, `${basename}-ca.p12`),
    caCertPem: join(dir, `${basename}-ca-cert.pem`),
    caCertCer: join(dir, `${basename}-ca-cert.cer`),
    caCertP12: join(dir, `${basename}-ca-cert.p12`),
    dhparam: join(dir, `${basename}-dhparam.pem`),
  };
}

const SECRET_MODE = 0o600;
const PUBLIC_MODE = 0o644;

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/**
 * Write `data` to `path` through a temporary file created with `mode` ('wx': never follows or
 * reuses an existing file, so the mode really applies). With `exclusive`, an existing `path` is
 * left alone and false is returned.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, exclusive = false): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!exclusive) {
      await fsp.rename(tmp, path);
      return true;
    }
    try {
      await fsp.link(tmp, path);
      return true;
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      // Some filesystems have no hard links: fall back to a (non-exclusive) rename.
      if (['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(errnoCode(e) ?? '')) {
        if (await exists(path)) return false;
        await fsp.rename(tmp, path);
        return true;
      }
      throw e;
    }
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.access(path);
    return true;
  } catch {
    return false;
  }
}

/** The public files derived from the CA certificate. */
async function writePublicFiles(paths: ConfdirPaths, certDer: Buffer, basename: string, only?: Set<keyof ConfdirPaths>): Promise<void> {
  const pem = certificatePem(certDer);
  const want = (k: keyof ConfdirPaths) => !only || only.has(k);
  if (want('caCertPem')) await writeFileAtomic(paths.caCertPem, pem, PUBLIC_MODE);
  if (want('caCertCer')) await writeFileAtomic(paths.caCertCer, pem, PUBLIC_MODE);
  if (want('caCertP12')) await writeFileAtomic(paths.caCertP12, writePkcs12({ certDer, friendlyName: basename }), PUBLIC_MODE);
  if (want('dhparam')) await writeFileAtomic(paths.dhparam, DEFAULT_DHPARAM_PEM, PUBLIC_MODE);
}

/**
 * Create a new CA and every confdir file. Returns false when another process created
 * `mitmproxy-ca.pem` first (its CA is then the one to load).
 */
export async function createCaFiles(paths: ConfdirPaths, keySize: number, basename = DEFAULT_BASENAME): Promise<boolean> {
  await fsp.mkdir(paths.dir, { recursive: true });
  const { key, certDer } = await generateCa({ keySize, commonName: basename, organization: basename });
  if (!(await writeFileAtomic(paths.caPem, caFileText(key, certDer), SECRET_MODE, true))) return false;
  await writeFileAtomic(paths.caP12, writePkcs12({ certDer, key, friendlyName: basename }), SECRET_MODE);
  await writePublicFiles(paths, certDer, basename);
  return true;
}

/** Options for loading (or first creating) the CA of a confdir. */
export interface LoadCaOptions {
  confdir: string;
  /** RSA key size for a new CA (mitmproxy's `key_size`, default 2048). */
  keySize?: number;
  /** Passphrase of an encrypted CA key (`cert_passphrase`). */
  passphrase?: string | null;
  basename?: string;
  /** Receives warnings (expired CA, key file readable by others). */
  onWarning?: (message: string) => void;
}

export interface LoadedCa {
  ca: CertificateAuthority;
  paths: ConfdirPaths;
  /** True when this call generated the CA. */
  created: boolean;
}

/** CA creations in progress in this process, per CA file, so concurrent callers share one. */
const creating = new Map<string, Promise<boolean>>();

/**
 * Load the CA of a confdir, creating it first when `mitmproxy-ca.pem` does not exist. Missing
 * public files (cert .pem/.cer/.p12, dhparam) are recreated from the loaded CA, never the key
 * files. Throws OptionsError with a clear reason when the CA cannot be read or written.
 */
export async function loadOrCreateCa(opts: LoadCaOptions): Promise<LoadedCa> {
  const basename = opts.basename ?? DEFAULT_BASENAME;
  const paths = confdirPaths(opts.confdir, basename);
  const warn = opts.onWarning ?? (() => undefined);
  let created = false;

  let text = await readIfExists(paths.caPem);
  if (text === null) {
    let job = creating.get(paths.caPem);
    if (!job) {
      job = createCaFiles(paths, opts.keySize ?? 2048, basename).finally(() => creating.delete(paths.caPem));
      creating.set(paths.caPem, job);
      created = await job.catch((e: unknown) => {
        throw e instanceof OptionsError ? e : new OptionsError(`Cannot create the certificate authority in ${paths.dir}: ${(e as Error).message}`);
      });
    } else {
      await job.catch(() => undefined);
    }
    text = await readIfExists(paths.caPem);
    if (text === null) throw new OptionsError(`Cannot create the certificate authority in ${paths.dir}: ${paths.caPem} is missing`);
  }

  const ca = caFromPem(text, opts.passphrase ?? null, paths.caPem);

  if (process.platform !== 'win32') {
    try {
      const st = await fsp.stat(paths.caPem);
      if ((st.mode & 0o077) !== 0) {
        warn(
          `The CA private key file ${paths.caPem} can be read by other users (mode ${(st.mode & 0o777).toString(8)}). ` +
            `Anyone who can read it can intercept the traffic of every device that trusts this CA; run: chmod 600 ${paths.caPem}`,
        );
      }
    } catch {
      // The file was just read; a failing stat is not worth an error.
    }
  }
  if (hasExpired(ca.cert)) {
    warn(
      'The mitmproxy certificate authority has expired!\n' +
        `Please delete all CA-related files in ${paths.dir}.\n` +
        'The CA will be regenerated automatically after restarting mitmproxy.\n' +
        'See https://docs.mitmproxy.org/stable/concepts-certificates/ for additional help.',
    );
  }

  const missing = new Set<keyof ConfdirPaths>();
  for (const k of ['caCertPem', 'caCertCer', 'caCertP12', 'dhparam'] as const) if (!(await exists(paths[k]))) missing.add(k);
  if (missing.size) {
    try {
      await writePublicFiles(paths, ca.cert.der, basename, missing);
    } catch (e) {
      warn(`Cannot write ${[...missing].map((k) => paths[k]).join(', ')}: ${(e as Error).message}`);
    }
  }
  return { ca, paths, created };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new OptionsError(`Cannot read ${path}: ${(e as Error).message}`);
  }
}
