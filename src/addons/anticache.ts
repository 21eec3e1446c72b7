import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';

/** `anticache`: strip If-Modified-Since and If-None-Match so servers send full responses, not 304s. */
export class AntiCache {
  readonly name = 'anticache';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('anticache', 'bool', false, 'Strip out request headers that might cause the server to return 304-not-modified.');
  }

  request(flow: HTTPFlow): void {
    if (this.master.options.get<boolean>('anticache')) flow.request.anticache();
  }
}
