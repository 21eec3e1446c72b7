import tls from 'node:tls';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { OptionsError, expandHome } from '../optmanager.js';
import { Client, Server } from '../connection.js';
import type { ClientHelloData, TlsData } from '../hooks.js';
import { Response, type HTTPFlow } from '../http.js';
import { CertStore, certStoreConfigFromOptions, certStoreNeedsReload, chooseCertNames, type CertEntry, type CertRequest } from '../certs/index.js';
import { upstreamTrustStore } from '../certs/trust-store.js';
import { BoundedCache } from '../util/bounded-cache.js';

export const TLS_VERSION_CHOICES = ['UNBOUNDED', 'SSL3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3'] as const;
type TlsVersionOption = (typeof TLS_VERSION_CHOICES)[number];

const NODE_VERSIONS: Record<TlsVersionOption, tls.SecureVersion | null> = {
  UNBOUNDED: null,
  // Node's OpenSSL has no SSLv3; the lowest it speaks is TLS 1.0.
  SSL3: 'TLSv1',
  TLS1: 'TLSv1',
  TLS1_1: 'TLSv1.1',
  TLS1_2: 'TLSv1.2',
  TLS1_3: 'TLSv1.3',
};

const INSECURE_MIN = ['UNBOUNDED', 'SSL3', 'TLS1', 'TLS1_1'];

/** The protocol versions and ciphers for one side, as node TLS options. */
function versionSettings(min: TlsVersionOption, max: TlsVersionOption, ciphers: string | null, curve: string | null): tls.SecureContextOptions {
  const s: tls.SecureContextOptions = {
    minVersion: NODE_VERSIONS[min] ?? 'TLSv1',
    maxVersion: NODE_VERSIONS[max] ?? 'TLSv1.3',
  };
  if (ciphers) s.ciphers = ciphers;
  // OpenSSL 3 refuses TLS 1.0/1.1 at the default security level; mitmproxy lowers it likewise.
  else if (INSECURE_MIN.includes(min)) s.ciphers = 'DEFAULT@SECLEVEL=0';
  if (curve) s.ecdhCurve = curve;
  return s;
}

/**
 * Which ALPN protocol to accept from a client's offers (mitmproxy's alpn_select_callback);
 * undefined means none: the handshake goes on without ALPN.
 */
export function selectAlpn(offers: readonly string[], opts: { forced: string | null; serverAlpn: string | null; http2: boolean }): string | undefined {
  if (opts.forced !== null) return offers.includes(opts.forced) ? opts.forced : undefined;
  if (opts.serverAlpn && offers.includes(opts.serverAlpn)) return opts.serverAlpn;
  // The server refused every protocol: mirror that.
  if (opts.serverAlpn === '') return undefined;
  const http = opts.http2 ? ['http/1.1', 'h2', 'http/1.0', 'http/0.9'] : ['http/1.1', 'http/1.0', 'http/0.9'];
  return offers.find((o) => http.includes(o));
}

/**
 * The TLS settings of both sides: loads the CA (creating it in confdir), picks or issues the
 * certificate a client sees, and applies the tls_version_*, ciphers_*, tls_ecdh_curve_*,
 * client_certs and upstream verification options. Serves the CA's empty CRL.
 */
export class TlsConfig {
  readonly name = 'tlsconfig';
  private master!: Master;
  private store: CertStore | null = null;
  private storeLoading: Promise<CertStore> | null = null;
  /** SecureContexts per certificate entry; rebuilt when TLS options change. */
  private contexts = new WeakMap<CertEntry, tls.SecureContext>();
  /** Certificate names chosen for recent (upstream certificate, SNI, address) combinations. */
  private readonly namesMemo = new BoundedCache<string, CertRequest>(1024);

  load(loader: Loader): void {
    this.master = loader.master;
    const insecure = 'UNBOUNDED, SSL3, TLS1 and TLS1_1';
    loader.addOption('tls_version_client_min', 'str', 'TLS1_2', `Set the minimum TLS version for client connections. ${insecure} are insecure.`, TLS_VERSION_CHOICES);
    loader.addOption('tls_version_client_max', 'str', 'UNBOUNDED', 'Set the maximum TLS version for client connections.', TLS_VERSION_CHOICES);
    loader.addOption('tls_version_server_min', 'str', 'TLS1_2', `Set the minimum TLS version for server connections. ${insecure} are insecure.`, TLS_VERSION_CHOICES);
    loader.addOption('tls_version_server_max', 'str', 'UNBOUNDED', 'Set the maximum TLS version for server connections.', TLS_VERSION_CHOICES);
    loader.addOption(
      'tls_ecdh_curve_client',
      'optional str',
      null,
      'Use a specific elliptic curve for ECDHE key exchange on client connections. OpenSSL syntax, for example "prime256v1" (see `openssl ecparam -list_curves`).',
    );
    loader.addOption(
      'tls_ecdh_curve_server',
      'optional str',
      null,
      'Use a specific elliptic curve for ECDHE key exchange on server connections. OpenSSL syntax, for example "prime256v1" (see `openssl ecparam -list_curves`).',
    );
    loader.addOption(
      'request_client_cert',
      'bool',
      false,
      "Requests a client certificate (TLS message 'CertificateRequest') to establish a mutual TLS connection between client and mitmproxy (combined with 'client_certs' option for mitmproxy and upstream).",
    );
    loader.addOption('ciphers_client', 'optional str', null, 'Set supported ciphers for client <-> mitmproxy connections using OpenSSL syntax.');
    loader.addOption('ciphers_server', 'optional str', null, 'Set supported ciphers for mitmproxy <-> server connections using OpenSSL syntax.');
  }

  async configure(updated: Set<string>): Promise<void> {
    const o = this.master.options;
    for (const side of ['client', 'server']) {
      const curve = o.get<string | null>(`tls_ecdh_curve_${side}`);
      if (curve && updated.has(`tls_ecdh_curve_${side}`)) {
        try {
          tls.createSecureContext({ ecdhCurve: curve });
        } catch {
          throw new OptionsError(`Invalid ECDH curve: ${JSON.stringify(curve)}`);
        }
      }
      const ciphers = o.get<string | null>(`ciphers_${side}`);
      if (ciphers && updated.has(`ciphers_${side}`)) {
        try {
          tls.createSecureContext({ ciphers });
        } catch (e) {
          throw new OptionsError(`Invalid cipher list ${JSON.stringify(ciphers)} for ciphers_${side}: ${(e as Error).message}`);
        }
      }
    }
    if (updated.has('ssl_verify_upstream_trusted_ca')) {
      const p = o.get<string | null>('ssl_verify_upstream_trusted_ca');
      if (p && !existsSync(expandHome(p))) throw new OptionsError(`Trusted CA file does not exist: ${p}`);
    }
    if (updated.has('ssl_verify_upstream_trusted_confdir')) {
      const p = o.get<string | null>('ssl_verify_upstream_trusted_confdir');
      if (p && !existsSync(expandHome(p))) throw new OptionsError(`Trusted CA directory does not exist: ${p}`);
    }
    if ([...updated].some((n) => n.startsWith('tls_') || n.startsWith('ciphers_') || n === 'request_client_cert')) this.contexts = new WeakMap();
    if (certStoreNeedsReload(updated)) {
      // As mitmproxy: the CA and the certs files are loaded when these options are set, so a
      // missing or unusable file is an option error (startup fails, a `set` is refused and rolled
      // back) instead of a failure of every later TLS connection. A failed reload keeps the old store.
      await this.loadStore();
    }
  }

  /** A CA still being created finishes before the proxy counts as stopped (its files are complete). */
  async done(): Promise<void> {
    await this.storeLoading?.catch(() => undefined);
  }

  private loadStore(): Promise<CertStore> {
    const config = certStoreConfigFromOptions(this.master.options);
    const job = CertStore.open(config, { onWarning: (m) => this.master.log.warn(m) });
    this.storeLoading = job;
    return job.then(
      (s) => {
        if (this.storeLoading === job) {
          this.store = s;
          this.storeLoading = null;
          this.contexts = new WeakMap();
        }
        return s;
      },
      (e: unknown) => {
        // Never leave a rejected load behind for certStore() to hand out again.
        if (this.storeLoading === job) this.storeLoading = null;
        throw e;
      },
    );
  }

  /** The certificate store (loaded by `configure`; a master that never ran loads it on first use). */
  certStore(): Promise<CertStore> {
    if (this.store) return Promise.resolve(this.store);
    return this.storeLoading ?? this.loadStore();
  }

  tls_clienthello(data: ClientHelloData): void {
    data.establishServerTlsFirst = data.context.server.tls && this.master.options.get<string>('connection_strategy') === 'eager';
  }

  private secureContext(entry: CertEntry, extraChain: readonly string[]): tls.SecureContext {
    const cached = extraChain.length === 0 ? this.contexts.get(entry) : undefined;
    if (cached) return cached;
    const o = this.master.options;
    const ctx = tls.createSecureContext({
      key: entry.keyPem,
      cert: [entry.certPem, ...entry.chainPem, ...extraChain].join('\n'),
      dhparam: this.store?.dhparamPem,
      ...versionSettings(o.get('tls_version_client_min'), o.get('tls_version_client_max'), o.get('ciphers_client'), o.get('tls_ecdh_curve_client')),
    });
    if (extraChain.length === 0) this.contexts.set(entry, ctx);
    return ctx;
  }

  async tls_start_client(data: TlsData): Promise<void> {
    if (data.settings.secureContext) return; // another addon chose the certificate already
    const client = data.conn as Client;
    const server = data.context.server;
    const o = this.master.options;
    const store = await this.certStore();
    const inputs = {
      upstreamCert: o.get<boolean>('upstream_cert'),
      upstreamCertificate: server.certificateList[0] ?? null,
      sni: client.sni,
      clientSocknameHost: client.sockname?.[0] ?? null,
      serverAddressHost: server.address?.[0] ?? null,
      crlPath: store.crlPath(),
    };
    // The same server and name give the same certificate names: remember the choice.
    const memoKey = JSON.stringify([inputs.upstreamCert, inputs.upstreamCertificate, inputs.sni, inputs.clientSocknameHost, inputs.serverAddressHost, inputs.crlPath]);
    const names = this.namesMemo.getOrCompute(memoKey, () => chooseCertNames(inputs));
    const entry = await store.getCert(names);
    const extra = o.get<boolean>('add_upstream_certs_to_client_chain') ? server.certificateList : [];
    data.settings.secureContext = this.secureContext(entry, extra);
    client.mitmcert = entry.certPem;
    if (o.get<boolean>('request_client_cert')) {
      data.settings.requestCert = true;
      data.settings.rejectUnauthorized = false;
    }
    const forced = (data.settings.forceAlpn as string | undefined) ?? null;
    const http2 = o.get<boolean>('http2') && data.settings.http2Supported !== false;
    // The ClientHello is parsed already, so the choice is made here rather than in an
    // ALPNCallback: Node answers a callback without a choice (and an ALPNProtocols list without
    // overlap) with a fatal no_application_protocol alert, where mitmproxy (like OpenSSL's
    // SSL_TLSEXT_ERR_NOACK) carries on without ALPN. With no ALPNProtocols Node does the latter.
    const alpn = selectAlpn(client.alpnOffers, { forced, serverAlpn: server.tlsEstablished ? server.alpn : null, http2 });
    if (alpn !== undefined) data.settings.ALPNProtocols = [alpn];
  }

  tls_start_server(data: TlsData): void {
    const s = data.settings;
    const server = data.conn as Server;
    const o = this.master.options;
    s.rejectUnauthorized = !o.get<boolean>('ssl_insecure');
    const ca = upstreamTrustStore(this.master.options);
    if (ca) s.ca = ca;
    Object.assign(s, versionSettings(o.get('tls_version_server_min'), o.get('tls_version_server_max'), o.get('ciphers_server'), o.get('tls_ecdh_curve_server')));
    const certs = o.get<string | null>('client_certs');
    if (certs) {
      const path = expandHome(certs);
      let file: string | null = null;
      try {
        if (statSync(path).isFile()) file = path;
        else {
          const p = join(path, `${server.sni ?? server.address?.[0] ?? ''}.pem`);
          if (existsSync(p)) file = p;
        }
      } catch {
        file = null;
      }
      const pem = file ? readPemFile(file) : null;
      if (pem !== null) {
        // The file holds the client certificate and its key, as for mitmproxy.
        s.cert = pem;
        s.key = pem;
      }
    }
  }

  /** Answer requests for our CRL (the leaf certificates point to it when the upstream one had a CRL). */
  request(flow: HTTPFlow): void {
    if (flow.response || !this.store) return;
    const path = flow.request.path;
    const query = path.indexOf('?');
    if ((query < 0 ? path : path.slice(0, query)).endsWith(this.store.crlPath())) {
      flow.response = Response.make(200, this.store.crlDer, { 'Content-Type': 'application/pkix-crl' });
    }
  }
}

/**
 * Client certificate files are read on the connect path: each is kept, and read again once its
 * modification time or size changes, so a replaced certificate is used from the next connection
 * on (mitmproxy reads the file every time). Null when it cannot be read.
 */
const pemFileCache = new Map<string, { mtimeMs: number; size: number; text: string }>();
function readPemFile(path: string): string | null {
  try {
    const st = statSync(path);
    const cached = pemFileCache.get(path);
    if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.text;
    const text = readFileSync(path, 'utf8');
    pemFileCache.set(path, { mtimeMs: st.mtimeMs, size: st.size, text });
    return text;
  } catch {
    pemFileCache.delete(path);
    return null;
  }
}
