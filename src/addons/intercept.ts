/**
 * Intercept: pause flows that match the `intercept` filter (while `intercept_active` is on) at
 * the request and at the response, and at each WebSocket/TCP/UDP message and DNS step, until
 * they are resumed (web API, `flow.resume`) or killed. Replayed flows are never intercepted.
 */
import type { Loader } from '../addonmanager.js';
import type { AnyFlow } from '../flows.js';
import type { Filter } from '../flowfilter/index.js';
import type { Master } from '../master.js';
import { filterOption } from './util/filteroption.js';

export class Intercept {
  readonly name = 'intercept';
  private master!: Master;
  filter: Filter | null = null;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('intercept_active', 'bool', false, 'Intercept toggle');
    loader.addOption('intercept', 'optional str', null, 'Intercept filter expression.');
  }

  async configure(updated: Set<string>): Promise<void> {
    if (!updated.has('intercept')) return;
    this.filter = filterOption(this.master.options.get<string | null>('intercept'));
    // Setting a filter switches interception on, clearing it switches it off (as mitmproxy).
    const active = this.filter !== null;
    if (this.master.options.get<boolean>('intercept_active') !== active) await this.master.options.update({ intercept_active: active });
  }

  shouldIntercept(f: AnyFlow): boolean {
    return !!(this.master.options.get<boolean>('intercept_active') && this.filter && !f.isReplay && this.filter.match(f));
  }

  private process(f: AnyFlow): void {
    if (this.shouldIntercept(f)) f.intercept();
  }

  /** Without an active filter nothing is intercepted: a message need not wait for this addon. */
  readsOnly(): boolean {
    return !(this.filter && this.master.options.get<boolean>('intercept_active'));
  }

  request(f: AnyFlow): void {
    this.process(f);
  }
  response(f: AnyFlow): void {
    this.process(f);
  }
  websocket_message(f: AnyFlow): void {
    this.process(f);
  }
  tcp_message(f: AnyFlow): void {
    this.process(f);
  }
  udp_message(f: AnyFlow): void {
    this.process(f);
  }
  dns_request(f: AnyFlow): void {
    this.process(f);
  }
  dns_response(f: AnyFlow): void {
    this.process(f);
  }
}
