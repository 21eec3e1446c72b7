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

/** The proxy servers by full mode spec, in `mode` order. */
export function serversJson(master: Master): Record<string, ServerInfoJson> {
  const ps = master.addons.get('proxyserver') as ProxyServer | undefined;
  const listeners = ps?.servers?.listeners ?? [];
  const out: Record<string, ServerInfoJson> = {};
  const specs = master.options.has('mode') ? master.options.get<string[]>('mode') : [];
  for (const spec of specs) {
    let mode: ProxyMode;
    try {
      mode = ProxyMode.parse(spec);
    } catch {
      continue;
    }
    const running = listeners.filter((l) => l.mode.fullSpec === spec);
    const addrs: Array<[string, number]> = [];
    for (const l of running) {
      const a = l.address();
      if (a) addrs.push([a.address, a.port]);
    }
    out[mode.fullSpec] = {
      type: mode.type,
      description: mode.description,
      full_spec: mode.fullSpec,
      is_running: running.length > 0,
      last_exception: running.length > 0 ? null : (ps?.lastError ?? null),
      listen_addrs: addrs,
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
