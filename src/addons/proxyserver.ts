import { formatAddress } from '../connection.js';
import type { Loader } from '../addonmanager.js';
import type { Master } from '../master.js';
import { OptionsError } from '../optmanager.js';
import { ProxyMode, ModeSpecError } from '../proxy/modes.js';
import { ProxyServers } from '../proxy/server.js';
import { readProxyOptions, type ProxyOptions } from '../proxy/proxy-options.js';

/** Options that change how upstream connections are made (kept idle ones become unusable). */
const KEEPALIVE_OPTIONS = new Set(['client_certs', 'upstream_cert', 'connect_addr', 'certs', 'confdir', 'http2', 'upstream_auth']);

/** Options whose change restarts the listeners. */
const LISTEN_OPTIONS = ['mode', 'listen_host', 'listen_port', 'server'];

/**
 * Runs the proxy listeners for every `mode` and keeps the option snapshot the proxy core reads.
 * Declares the connection, body and header options of mitmproxy's proxyserver addon.
 */
export class ProxyServer {
  readonly name = 'proxyserver';
  private master!: Master;
  /** The servers for `mode`; created on load, updated whenever the listen options change. */
  servers!: ProxyServers;
  /** Shared with every connection; replaced field by field on configure so running connections see changes. */
  private readonly options = {} as ProxyOptions;
  private isRunning = false;

  load(loader: Loader): void {
    this.master = loader.master;
    this.servers = new ProxyServers(this.master, this.options);
    loader.addOption(
      'store_streamed_bodies',
      'bool',
      false,
      'Store HTTP request and response bodies when streamed (see `stream_large_bodies`). This increases memory consumption, but makes it possible to inspect streamed bodies.',
    );
    loader.addOption(
      'connection_strategy',
      'str',
      'eager',
      'Determine when server connections should be established. When set to lazy, mitmproxy tries to defer establishing an upstream connection as long as possible. This makes it possible to use server replay while being offline. When set to eager, mitmproxy can detect protocols with server-side greetings, as well as accurately mirror TLS ALPN negotiation.',
      ['eager', 'lazy'],
    );
    loader.addOption(
      'stream_large_bodies',
      'optional str',
      null,
      'Stream data to the client if request or response body exceeds the given threshold. If streamed, the body will not be stored in any way, and such responses cannot be modified. Understands k/m/g suffixes, i.e. 3m for 3 megabytes. To store streamed bodies, see `store_streamed_bodies`.',
    );
    loader.addOption(
      'body_size_limit',
      'optional str',
      null,
      'Byte size limit of HTTP request and response bodies. Understands k/m/g suffixes, i.e. 3m for 3 megabytes.',
    );
    loader.addOption(
      'keep_host_header',
      'bool',
      false,
      'Reverse Proxy: Keep the original host header instead of rewriting it to the reverse proxy target.',
    );
    loader.addOption('proxy_debug', 'bool', false, 'Enable debug logs in the proxy core.');
    loader.addOption(
      'normalize_outbound_headers',
      'bool',
      true,
      'Normalize outgoing HTTP/2 header names, but emit a warning when doing so. HTTP/2 does not allow uppercase header names. This option makes sure that HTTP/2 headers set in custom scripts are lowercased before they are sent.',
    );
    loader.addOption(
      'validate_inbound_headers',
      'bool',
      true,
      'Make sure that incoming HTTP requests are not malformed. Disabling this option makes mitmproxy vulnerable to HTTP smuggling attacks.',
    );
    loader.addOption(
      'connect_addr',
      'optional str',
      null,
      'Set the local IP address that mitmproxy should use when connecting to upstream servers.',
    );
    loader.addCommand('proxyserver.active_connections', { help: 'Number of open client connections.', returns: 'int' }, () => this.servers.activeConnections);
  }

  private modes(): ProxyMode[] {
    const specs = this.master.options.get<string[]>('mode');
    const modes: ProxyMode[] = [];
    for (const spec of specs) {
      try {
        modes.push(ProxyMode.parse(spec));
      } catch (e) {
        throw new OptionsError(e instanceof ModeSpecError ? e.message : String(e));
      }
    }
    // Two modes on the same address and transport would fight over one port. Port 0 is exempt
    // (the system picks a different port for each), where mitmproxy refuses it too.
    const seen = new Set<string>();
    const o = this.master.options;
    for (const m of modes) {
      const port = m.listenPort(o.get<number | null>('listen_port'));
      if (port === null) continue;
      const host = m.listenHost(o.get<string>('listen_host'));
      const protocols = m.transportProtocol === 'both' ? ['tcp', 'udp'] : [m.transportProtocol];
      for (const proto of protocols) {
        const key = JSON.stringify([host, port, proto]);
        if (port !== 0 && seen.has(key)) throw new OptionsError(`Cannot spawn multiple servers on the same address: ${formatAddress([host || '0.0.0.0', port])}`);
        seen.add(key);
      }
    }
    return modes;
  }

  async configure(updated: Set<string>): Promise<void> {
    let fresh: ProxyOptions;
    try {
      fresh = readProxyOptions(this.master.options);
    } catch (e) {
      throw new OptionsError((e as Error).message);
    }
    Object.assign(this.options, fresh);
    // Kept upstream connections were opened under the old TLS and routing settings.
    if ([...updated].some((n) => KEEPALIVE_OPTIONS.has(n) || n.startsWith('tls_') || n.startsWith('ciphers_') || n.startsWith('ssl_'))) this.servers.idle.clear();
    if (updated.has('mode')) this.modes();
    if (this.isRunning && LISTEN_OPTIONS.some((n) => updated.has(n))) await this.updateServers();
  }

  async running(): Promise<void> {
    this.isRunning = true;
    await this.updateServers();
  }

  /** Start, keep or stop servers to match the options (a server that fails keeps its lastError). */
  private updateServers(): Promise<void> {
    const o = this.master.options;
    const modes = o.get<boolean>('server') ? this.modes() : [];
    return this.servers.update(modes, o.get<string>('listen_host'), o.get<number | null>('listen_port'));
  }

  /**
   * Declare another listener of this process (the mitmweb API): upstream connections that end
   * up there are refused like connections to the proxy's own ports (GHSA-wg33-5h85-7q5p).
   */
  addOwnAddress(host: string, port: number): void {
    this.servers.own.add(host, port);
  }

  removeOwnAddress(host: string, port: number): void {
    this.servers.own.remove(port);
  }

  /** The addresses the listeners are bound to, in mode order (port 0 resolved). */
  listenAddresses(): Array<{ mode: string; host: string; port: number }> {
    return this.servers.listeners.map((l) => ({ mode: l.mode.fullSpec, host: l.host, port: l.port }));
  }

  async done(): Promise<void> {
    this.isRunning = false;
    await this.servers.stop();
  }
}
