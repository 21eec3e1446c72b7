import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { modeType } from './util/mode.js';

/** Point every "host:port" of an Alt-Svc value at `port` (the host is dropped: same host as the proxy). */
export function updateAltSvcHeader(header: string, port: number): string {
  return header.replace(/([a-zA-Z0-9.-]*:\d{1,5})/g, `:${port}`);
}

/**
 * Reverse proxy: an upstream's Alt-Svc header would send clients straight to the upstream (for
 * example over HTTP/3), around the proxy. Rewrite it to point at the port the client connected
 * to, unless `keep_alt_svc_header` is set.
 */
export class UpdateAltSvc {
  readonly name = 'updatealtsvc';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'keep_alt_svc_header',
      'bool',
      false,
      'Reverse Proxy: Keep Alt-Svc headers as-is, even if they do not point to mitmproxy. Enabling this option may cause clients to bypass the proxy.',
    );
  }

  responseheaders(flow: HTTPFlow): void {
    const resp = flow.response;
    if (!resp || this.master.options.get<boolean>('keep_alt_svc_header')) return;
    if (modeType(flow.clientConn.proxyMode) !== 'reverse' || !resp.headers.has('alt-svc')) return;
    const port = flow.clientConn.sockname?.[1];
    if (port === undefined) return;
    resp.headers.set('alt-svc', updateAltSvcHeader(resp.headers.get('alt-svc')!, port));
  }
}
