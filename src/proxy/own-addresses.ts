import { networkInterfaces } from 'node:os';
import { canonicalPeerIp } from '../certs/ip.js';
import { formatAddress } from '../connection.js';

/**
 * The addresses the proxy (and the web API) listen on. A request whose upstream connection ends
 * up at one of them would loop back into the proxy, or reach the web API through the proxy port
 * (GHSA-wg33-5h85-7q5p); we judge this on the resolved addresses of the destination, before
 * connecting, so no host name spelling (localhost, 127.1, 2130706433, [::ffff:127.0.0.1], 0.0.0.0)
 * gets around it.
 */
export class OwnAddresses {
  /**
   * Listening ports with the host they are bound to ("" or "::" or "0.0.0.0" = every interface)
   * and the transport they listen on (a DNS server listens on both, a UDP relay on UDP only).
   */
  private listeners: Array<{ host: string; port: number; transport: OwnTransport }> = [];

  set(listeners: Array<{ host: string; port: number; transport?: OwnTransport }>): void {
    this.listeners = listeners.map((l) => ({ host: normalize(l.host), port: l.port, transport: l.transport ?? 'tcp' }));
  }

  add(host: string, port: number, transport: OwnTransport = 'tcp'): void {
    this.listeners.push({ host: normalize(host), port, transport });
  }

  /** Forget a listener: the one of that port and transport (a UDP relay and a TCP proxy may share a port number). */
  remove(port: number, transport: OwnTransport = 'tcp', host?: string): void {
    const h = host === undefined ? undefined : normalize(host);
    const i = this.listeners.findIndex((l) => l.port === port && l.transport === transport && (h === undefined || l.host === h));
    if (i >= 0) this.listeners.splice(i, 1);
  }

  /**
   * True if a connection (or, with 'udp', a datagram) to `ip:port` (a resolved address) reaches
   * one of our own listeners. A UDP port and a TCP port of the same number are different things.
   */
  isOwn(ip: string | undefined, port: number | undefined, transport: 'tcp' | 'udp' = 'tcp'): boolean {
    if (ip === undefined || port === undefined) return false;
    const addr = normalize(ip);
    for (const l of this.listeners) {
      if (l.port !== port || (l.transport !== 'both' && l.transport !== transport)) continue;
      if (l.host === '' || l.host === '0.0.0.0' || l.host === '::') {
        if (isLocalAddress(addr)) return true;
      } else if (l.host === addr || (isLoopback(l.host) && (isLoopback(addr) || isUnspecified(addr)))) {
        return true;
      }
    }
    return false;
  }
}

/** What a listener of ours listens on. */
export type OwnTransport = 'tcp' | 'udp' | 'both';

/**
 * The error for a datagram or DNS query that would be sent to one of our own listeners: each hop
 * would come back as a new client and be relayed again, a socket per hop, without end.
 */
export function ownListenerError(address: readonly [string, number]): Error {
  return new Error(`${formatAddress(address)} is one of this proxy's own listeners; refusing to forward there, which would loop`);
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
