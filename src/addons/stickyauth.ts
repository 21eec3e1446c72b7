import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { filterOption } from './util/filteroption.js';
import type { FlowMatcher } from './util/spec.js';

/**
 * `stickyauth FILTER`: remember the last Authorization header sent to each host and add it to
 * later requests to that host that match the filter and carry none.
 */
export class StickyAuth {
  readonly name = 'stickyauth';
  private master!: Master;
  private filter: FlowMatcher | null = null;
  /** host -> Authorization value. */
  readonly hosts = new Map<string, string>();

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('stickyauth', 'optional str', null, 'Set sticky auth filter. Matched against requests.');
  }

  configure(updated: Set<string>): void {
    if (updated.has('stickyauth')) this.filter = filterOption(this.master.options.get<string | null>('stickyauth'));
  }

  request(flow: HTTPFlow): void {
    if (!this.filter) return;
    const host = flow.request.host;
    const auth = flow.request.headers.get('authorization');
    if (auth !== undefined) this.hosts.set(host, auth);
    else if (this.filter.match(flow)) {
      const saved = this.hosts.get(host);
      if (saved !== undefined) flow.request.headers.set('authorization', saved);
    }
  }
}
