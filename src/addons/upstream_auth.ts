import type { Loader } from '../addonmanager.js';
import type { HTTPFlow } from '../http.js';
import type { Master } from '../master.js';
import { OptionsError } from '../optmanager.js';
import { modeType } from './util/mode.js';

/** `Basic <base64(user:pass)>` for an `upstream_auth` value; throws OptionsError for a value without "user:". */
export function parseUpstreamAuth(auth: string): string {
  if (!/[^\n]+:/.test(auth)) throw new OptionsError(`Invalid upstream auth specification: ${auth}`);
  return `Basic ${Buffer.from(auth, 'utf8').toString('base64')}`;
}

/**
 * Credentials for what is upstream of us: `Proxy-Authorization` on CONNECTs to an upstream
 * proxy and on plain HTTP requests sent to it in upstream mode (requests inside an established
 * tunnel are not touched), and `Authorization` on every request in reverse mode.
 */
export class UpstreamAuth {
  readonly name = 'upstreamauth';
  private master!: Master;
  private auth: string | null = null;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addOption(
      'upstream_auth',
      'optional str',
      null,
      'Add HTTP Basic authentication to upstream proxy and reverse proxy requests. Format: username:password.',
    );
  }

  configure(updated: Set<string>): void {
    if (!updated.has('upstream_auth')) return;
    const v = this.master.options.get<string | null>('upstream_auth');
    this.auth = v === null ? null : parseUpstreamAuth(v);
  }

  http_connect_upstream(flow: HTTPFlow): void {
    if (this.auth) flow.request.headers.set('Proxy-Authorization', this.auth);
  }

  requestheaders(flow: HTTPFlow): void {
    if (!this.auth) return;
    const mode = modeType(flow.clientConn.proxyMode);
    if (mode === 'upstream' && flow.request.scheme === 'http') flow.request.headers.set('Proxy-Authorization', this.auth);
    else if (mode === 'reverse') flow.request.headers.set('Authorization', this.auth);
  }
}
