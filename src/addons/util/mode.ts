/** The proxy mode a client connection came in through, from its mode spec (`client.proxyMode`). */
import { ProxyMode, type ModeName } from '../../proxy/modes.js';

const cache = new Map<string, ProxyMode | null>();

/** The parsed mode of a spec such as "regular", "reverse:http://x@8080"; null when it does not parse. */
export function parseMode(spec: string): ProxyMode | null {
  let m = cache.get(spec);
  if (m === undefined) {
    try {
      m = ProxyMode.parse(spec);
    } catch {
      m = null;
    }
    // Specs come from a handful of listeners; the cache only guards against pathological input.
    if (cache.size > 1000) cache.clear();
    cache.set(spec, m);
  }
  return m;
}

/** The mode's type ("regular", "reverse", ...), or null for an unparsable spec. */
export function modeType(spec: string): ModeName | null {
  return parseMode(spec)?.type ?? null;
}
