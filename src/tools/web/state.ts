/**
 * `GET /state` and the `state/update` push: version, content views, the proxy servers (one per
 * `mode` spec, running or not) and the platform (web-api.md §6.1).
 */
import type { AddressInfo } from 'node:net';
import { availableViews } from '../../contentviews/index.js';
import type { Master } from '../../master.js';
import type { ProxyServer } from '../../addons/proxyserver.js';
import { ProxyMode } from '../../proxy/modes.js';
import { MITMPROXY_COMPAT_VERSION } from '../../version.js';

/** Why the `local` capture mode cannot be used (the front end greys it out). */
export const LOCAL_MODE_UNAVAILABLE = 'Local capture mode is not supported by mitmproxy-ts.';

export type ServerInfoJson = {
  type: string;
  description: string;
  full_spec: string;
  is_running: boolean;
  last_exception: string | null;
  listen_addrs: Array<[string, number]>;
};

export type StateJson = {
  version: string;
  contentViews: string[];
  servers: Record<string, ServerInfoJson>;
  platform: string;
  localModeUnavailable: string | null;
};

/** The proxy servers by full mode spec, in `mode` order, each running or with why it is not. */
export function serversJson(master: Master): Record<string, ServerInfoJson> {
  const ps = master.addons.get('proxyserver') as ProxyServer | undefined;
  const instances = ps?.servers.servers ?? [];
  const out: Record<string, ServerInfoJson> = {};
  const specs = master.options.has('mode') ? master.options.get<string[]>('mode') : [];
  for (const spec of specs) {
    let mode: ProxyMode;
    try {
      mode = ProxyMode.parse(spec);
    } catch {
      continue;
    }
    const instance = instances.find((i) => i.mode.fullSpec === mode.fullSpec);
    const address = instance?.listener?.address();
    out[mode.fullSpec] = {
      type: mode.type,
      description: mode.description,
      full_spec: mode.fullSpec,
      is_running: Boolean(instance?.listener),
      last_exception: instance?.lastError ?? null,
      listen_addrs: address ? [[address.address, address.port]] : [],
    };
  }
  return out;
}

export function stateJson(master: Master): StateJson {
  return {
    version: MITMPROXY_COMPAT_VERSION,
    contentViews: availableViews(),
    servers: serversJson(master),
    platform: process.platform,
    localModeUnavailable: LOCAL_MODE_UNAVAILABLE,
  };
}
