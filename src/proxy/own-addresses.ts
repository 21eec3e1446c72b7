import { networkInterfaces } from 'node:os';
import { canonicalPeerIp } from '../certs/ip.js';

/**
 * The addresses the proxy (and the web API) listen on. A request whose upstream connection ends
 * up at one of them would loop back into the proxy, or reach the web API through the proxy port
 * (GHSA-wg33-5h85-7q5p); we judge this on the resolved addresses of the destination, before
 * connecting, so no host name spelling (localhost, 127.1, 2130706433, [::ffff:127.0.0.1], 0.0.0.0)
 * gets around it.
 */
export class OwnAddresses {
  /** Listening ports with the host they are bound to ("" or "::" or "0.0.0.0" = every interface). */
  private listeners: Array<{ host: string; port: number }> = [];

  set(listeners: Array<{ host: string; port: number }>): void {
    this.listeners = listeners.map((l) => ({ host: normalize(l.host), port: l.port }));
  }

  add(host: string, port: number): void {
    this.listeners.push({ host: normalize(host), port });
  }

  remove(port: number): void {
    this.listeners = this.listeners.filter((l) => l.port !== port);
  }

  /** True if a connection to `ip:port` (a resolved address) reaches one of our own listeners. */
  isOwn(ip: string | undefined, port: number | undefined): boolean {
    if (ip === undefined || port === undefined) return false;
    const addr = normalize(ip);
    for (const l of this.listeners) {
      if (l.port !== port) continue;
      if (l.host === '' || l.host === '0.0.0.0' || l.host === '::') {
        if (isLocalAddress(addr)) return true;
      } else if (l.host === addr || (isLoopback(l.host) && (isLoopback(addr) || isUnspecified(addr)))) {
        return true;
      }
    }
    return false;
  }
}

function normalize(ip: string): string {
  const a = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  return canonicalPeerIp(a);
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip === 'localhost';
}

/** 0.0.0.0 and :: as a destination: the kernel connects to the local host (loopback). */
function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function isLocalAddress(ip: string): boolean {
  if (isLoopback(ip) || isUnspecified(ip)) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (normalize(i.address) === ip) return true;
  }
  return false;
}
