/**
 * mitmweb's own options (`web_*`) and the life of the API server: it starts listening when the
 * tool runs (printing the URL with its token), tells the proxy never to connect to it, and
 * pushes option and server changes to `/updates` clients.
 */
import type { Loader } from '../../addonmanager.js';
import type { ProxyServer } from '../../addons/proxyserver.js';
import type { Master } from '../../master.js';
import type { WebApp } from './app.js';
import type { WebAuth } from './auth.js';
import { serversJson } from './state.js';
import type { JsonValue } from './json.js';
import { openBrowser } from './open-browser.js';

/** Columns the front end's flow list can show (the help text of `web_columns`). */
export const AVAILABLE_WEB_COLUMNS = ['icon', 'index', 'method', 'version', 'path', 'quickactions', 'size', 'status', 'time', 'timestamp', 'tls', 'comment'];

/** Options whose change restarts or changes the proxy listeners. */
const SERVER_OPTIONS = ['mode', 'listen_host', 'listen_port', 'server'];

export class WebAddon {
  readonly name = 'web';
  private master!: Master;
  private registered: { host: string; port: number } | null = null;

  constructor(
    private readonly app: WebApp,
    private readonly auth: WebAuth,
  ) {}

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('web_open_browser', 'bool', true, 'Start a browser.');
    loader.addOption('web_debug', 'bool', false, 'Enable mitmweb debugging.');
    loader.addOption('web_port', 'int', 8081, 'Web UI port.');
    loader.addOption('web_host', 'str', '127.0.0.1', 'Web UI host.');
    loader.addOption(
      'web_columns',
      'sequence of str',
      ['tls', 'icon', 'path', 'method', 'status', 'size', 'time'],
      `Columns to show in the flow list. Can be one of the following: ${AVAILABLE_WEB_COLUMNS.join(', ')}`,
    );
    loader.addOption('web_theme', 'str', 'system', 'Preferred color theme for the mitmweb user interface.', ['system', 'dark', 'light']);
  }

  /** The proxy servers changed (mode or listen options): tell the front ends. */
  configure(updated: Set<string>): void {
    if (this.master.isRunning && SERVER_OPTIONS.some((o) => updated.has(o))) this.broadcastServers();
  }

  private broadcastServers(): void {
    this.app.hub.broadcast('state/update', { servers: serversJson(this.master) } as unknown as JsonValue);
  }

  async running(): Promise<void> {
    if (this.app.address) return;
    const o = this.master.options;
    const host = o.get<string>('web_host');
    const port = o.get<number>('web_port');
    let bound: { host: string; port: number };
    try {
      bound = await this.app.listen(host, port);
    } catch (e) {
      this.master.log.error((e as Error).message);
      return;
    }
    const ps = this.master.addons.get('proxyserver') as ProxyServer | undefined;
    ps?.addOwnAddress(bound.host, bound.port);
    this.registered = bound;
    // With `web_port` 0 the OS picks the port; the URL must show the real one.
    if (port === 0) await o.update({ web_port: bound.port });
    this.master.log.info(`Web server listening at ${this.auth.webUrl}`);
    if (o.get<boolean>('web_open_browser')) void this.openBrowser();
    this.broadcastServers();
  }

  /** `web_open_browser`: open the URL (with its token) in a browser, or say where to point one. */
  private async openBrowser(): Promise<void> {
    const url = this.auth.webUrl;
    if (await openBrowser(url)) return;
    this.master.log.info(`No web browser found. Please open a browser and point it to ${url}`);
    if (!this.master.options.get<string>('web_password')) {
      this.master.log.info(
        'You can configure a fixed authentication token by setting the `web_password` option (https://docs.mitmproxy.org/stable/concepts-options/#web_password).',
      );
    }
  }

  async done(): Promise<void> {
    if (this.registered) {
      const ps = this.master.addons.get('proxyserver') as ProxyServer | undefined;
      ps?.removeOwnAddress(this.registered.host, this.registered.port);
      this.registered = null;
    }
    await this.app.close();
  }
}
