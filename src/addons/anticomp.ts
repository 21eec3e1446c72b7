import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';

/** `anticomp`: ask servers for uncompressed bodies (`accept-encoding: identity`). */
export class AntiComp {
  readonly name = 'anticomp';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption('anticomp', 'bool', false, 'Try to convince servers to send us un-compressed data.');
  }

  request(flow: HTTPFlow): void {
    if (this.master.options.get<boolean>('anticomp')) flow.request.anticomp();
  }
}
