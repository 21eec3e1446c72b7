import { Master } from './master.js';
import type { Addon } from './hooks.js';
import { defaultAddons } from './addons/index.js';
import type { ProxyServer } from './addons/proxyserver.js';
import type { OptionValue } from './optmanager.js';

/** Options for `startProxy`. */
export interface StartProxyOptions {
  /** Option values by mitmproxy name, e.g. `{ ssl_insecure: true, mode: ['regular'] }`. */
  options?: Record<string, OptionValue>;
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
  /** Host and port of the first listener. */
  host: string;
  port: number;
  /** "http://host:port": use as the HTTP(S) proxy URL of a client. */
  url: string;
  /** Every listener, one per mode. */
  listeners: Array<{ mode: string; host: string; port: number }>;
  /** Stop the listeners and close connections; `done` runs on every addon. */
  close(): Promise<void>;
}

/**
 * Start a proxy in-process (for test suites and embedding): the default addons plus yours,
 * listening on 127.0.0.1 and a free port unless told otherwise.
 */
export async function startProxy(opts: StartProxyOptions = {}): Promise<RunningProxy> {
  const master = new Master();
  await master.addons.add(...defaultAddons());
  if (opts.addons?.length) await master.addons.add(...opts.addons);
  await master.options.update({
    listen_host: opts.listenHost ?? '127.0.0.1',
    listen_port: opts.listenPort ?? 0,
    ...opts.options,
  });
  const errors: string[] = [];
  const unsubscribe = master.log.subscribe((e) => {
    if (e.level === 'error') errors.push(e.message);
  });
  try {
    await master.run();
  } finally {
    unsubscribe();
  }
  const ps = master.addons.get('proxyserver') as ProxyServer | undefined;
  const listeners = ps?.listenAddresses() ?? [];
  // A library caller asked for every one of its modes: one that could not start is a failure.
  if (listeners.length === 0 || (ps?.startErrors().length ?? 0) > 0) {
    await master.shutdown();
    throw new Error(errors.length ? errors.join('; ') : 'the proxy did not start');
  }
  const first = listeners[0]!;
  const host = first.host || '127.0.0.1';
  return {
    master,
    host,
    port: first.port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${first.port}`,
    listeners,
    close: () => master.shutdown(),
  };
}
