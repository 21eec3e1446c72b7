import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import type { Loader } from '../addonmanager.js';

/**
 * HTTP/2 is only spoken over TLS. A client that asks to upgrade a plain HTTP/1.1 connection to
 * h2c gets its upgrade headers removed (so neither side switches protocols mid-stream), and a
 * connection that starts with the HTTP/2 prior-knowledge preface is killed.
 */
export class DisableH2C {
  readonly name = 'disableh2c';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
  }

  request(flow: HTTPFlow): void {
    const req = flow.request;
    if ((req.headers.get('upgrade') ?? '') === 'h2c') {
      this.master.log.warn('HTTP/2 cleartext connections (h2c upgrade requests) are currently not supported.');
      req.headers.delete('upgrade');
      req.headers.delete('connection');
      req.headers.delete('http2-settings');
    }
    if (req.method === 'PRI' && req.path === '*' && req.httpVersion === 'HTTP/2.0') {
      if (flow.killable) flow.kill();
      this.master.log.warn('Initiating HTTP/2 connections with prior knowledge are currently not supported.');
    }
  }
}
