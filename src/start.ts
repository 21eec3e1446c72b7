import { Master } from './master.js';
import type { Addon } from './hooks.js';
import { defaultAddons } from './addons/index.js';
import type { ProxyServer } from './addons/proxyserver.js';
import type { TlsConfig } from './addons/tlsconfig.js';
import type { OptionValues } from './optmanager.js';

/** Options for `startProxy`. */
export interface StartProxyOptions {
  /** Option values by mitmproxy name, e.g. `{ ssl_insecure: true, mode: ['regular'] }` (built-in ones typed). */
  options?: OptionValues;
  /** Your addons, added after the default ones (so they see flows after the built-in features). */
  addons?: Addon[];
  /** Bind address; default "127.0.0.1" (not every interface, unlike the command line tools). */
  listenHost?: string;
  /** Port; default 0 (any free port). */
  listenPort?: number;
}

/** A proxy running in this process. */
export interface RunningProxy {
  master: Master;
  /** Host and port of the first listener, as it is now (0 while no mode is listening). */
  readonly host: string;
  readonly port: number;
  /** "http://host:port": use as the HTTP(S) proxy URL of a client. */
  readonly url: string;
  /** Every listener, one per mode, as they are now (a `mode` change starts and stops them). */
  readonly listeners: Array<{ mode: string; host: string; port: number }>;
  /**
   * The certificate authority the proxy signs with (PEM), for clients to trust. It is created in
   * `confdir` (default ~/.mitmproxy) on first start, as `mitmproxy-ca-cert.pem` among others.
   */
  readonly caCertPem: string;
  /** Stop the listeners and close connections; `done` runs on every addon. */
  close(): Promise<void>;
}

/**
 * Start a proxy in-process (for test suites and embedding): the default addons plus yours,
 * listening on 127.0.0.1 and a free port unless told otherwise.
 *
 * Resolves once every mode listens and the CA is ready. Like mitmdump, it fails when anything
 * logs an error while starting (an addon whose `load` or `running` throws, a mode that cannot
 * listen, a CA that cannot be read): the error says what, and nothing is left running.
 */
export async function startProxy(opts: StartProxyOptions = {}): Promise<RunningProxy> {
  const master = new Master();
  const errors: string[] = [];
  const unsubscribe = master.log.subscribe((e) => {
    if (e.level === 'error') errors.push(e.message);
  });
  let caCertPem: string;
  try {
    await master.addons.add(...defaultAddons());
    if (opts.addons?.length) await master.addons.add(...opts.addons);
    await master.options.update({
      listen_host: opts.listenHost ?? '127.0.0.1',
      listen_port: opts.listenPort ?? 0,
      ...opts.options,
    });
    await master.run();
    const tls = master.addons.get('tlsconfig') as TlsConfig | undefined;
    caCertPem = tls ? (await tls.certStore()).caCertPem : '';
    const ps = master.addons.get('proxyserver') as ProxyServer | undefined;
    if (errors.length === 0 && !ps?.listenAddresses().length) errors.push('the proxy did not start: no mode is listening');
    if (errors.length) throw new Error(errors.join('; '));
  } catch (e) {
    await master.shutdown();
    throw e;
  } finally {
    unsubscribe();
  }
  const ps = master.addons.get('proxyserver') as ProxyServer;
  const first = () => ps.listenAddresses()[0] ?? { mode: '', host: '127.0.0.1', port: 0 };
  return {
    master,
    get host() {
      return first().host || '127.0.0.1';
    },
    get port() {
      return first().port;
    },
    get url() {
      const { host, port } = first();
      const shown = host || '127.0.0.1';
      return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
    },
    get listeners() {
      return ps.listenAddresses();
    },
    caCertPem,
    close: () => master.shutdown(),
  };
}
