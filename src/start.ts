import { Master } from './master.js';
import type { Addon } from './hooks.js';
import { defaultAddons } from './addons/index.js';
import type { ProxyServer } from './addons/proxyserver.js';
import type { TlsConfig } from './addons/tlsconfig.js';
import type { OptionValues } from './optmanager.js';
import type { LogEntry, LogLevel } from './log.js';
import { TermLog } from './addons/termlog.js';

/** Options for `startProxy`. */
export interface StartProxyOptions {
  /** Option values by mitmproxy name, e.g. `{ ssl_insecure: true, mode: ['regular'] }` (built-in ones typed). */
  options?: OptionValues;
  /**
   * Your addons. They run where mitmproxy runs scripts (`-s`): after the built-in addons that
   * block, authenticate or answer requests, and before the ones that rewrite, save and print
   * flows (map_remote, modify_headers, save_stream_file, hardump), so what is saved is what
   * your addons made of a flow.
   */
  addons?: Addon[];
  /**
   * Event log lines at this level or above are written to stderr (by mitmdump's termlog, whose
   * `termlog_verbosity` option then changes it): addon errors (a hook that threw) and warnings by
   * default, as Python's logging shows them for an embedded mitmproxy. `'none'` prints nothing;
   * subscribe to `master.log` (or use the `add_log` hook) to route them yourself.
   */
  log?: LogLevel | 'none';
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
  /** "http://host:port" ("socks5://host:port" for a SOCKS5 first mode): the proxy URL for a client. */
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
 * Why `startProxy` failed: the error lines logged while starting, joined. `cause` is the first
 * exception behind them (an addon's own error from `load`, the socket error of a listener) and
 * `code` that exception's code (`EADDRINUSE`, say), when there is one.
 */
export class ProxyStartError extends Error {
  readonly code: string | undefined;

  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ProxyStartError';
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
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
  const errors: LogEntry[] = [];
  const unsubscribe = master.log.subscribe((e) => {
    if (e.level === 'error') errors.push(e);
  });
  let caCertPem: string;
  try {
    // mitmdump's log printer, on stderr and at the `log` level (its option can change it later).
    const shown = opts.log ?? 'warn';
    if (shown !== 'none') {
      await master.addons.add(new TermLog(process.stderr));
      await master.options.update({ termlog_verbosity: shown });
    }
    await master.addons.add(...defaultAddons());
    if (opts.addons?.length) {
      const scripts = master.addons.get('scriptloader');
      await (scripts ? master.addons.addAfter(scripts, ...opts.addons) : master.addons.add(...opts.addons));
    }
    await master.options.update({
      listen_host: opts.listenHost ?? '127.0.0.1',
      listen_port: opts.listenPort ?? 0,
      ...opts.options,
    });
    await master.run();
    const tls = master.addons.get('tlsconfig') as TlsConfig | undefined;
    caCertPem = tls ? (await tls.certStore()).caCertPem : '';
    const ps = master.addons.get('proxyserver') as ProxyServer | undefined;
    if (errors.length === 0 && !ps?.listenAddresses().length) throw new ProxyStartError('the proxy did not start: no mode is listening');
    if (errors.length) throw new ProxyStartError(errors.map((e) => e.message).join('; '), errors.find((e) => e.error !== undefined)?.error);
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
      const { mode, host, port } = first();
      const h = host || '127.0.0.1';
      return `${mode.startsWith('socks5') ? 'socks5' : 'http'}://${h.includes(':') ? `[${h}]` : h}:${port}`;
    },
    get listeners() {
      return ps.listenAddresses();
    },
    caCertPem,
    close: () => master.shutdown(),
  };
}
