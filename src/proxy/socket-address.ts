import { isIPv4 } from 'node:net';
import type net from 'node:net';

/**
 * Socket addresses as mitmproxy shows them. A listener on "" or "::" is one dual-stack socket,
 * through which node reports IPv4 peers as IPv4-mapped IPv6 ("::ffff:127.0.0.1"); mitmproxy
 * listens per address family and sees plain IPv4. Unmapped, such an address names the client in
 * log lines, flows and hooks, and the leaf for a client without SNI gets an IPv4 SAN it can verify.
 */
export function unmappedAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** The remote end of a connected socket (peername). */
export function socketPeername(socket: net.Socket, fallback: readonly [string, number] = ['', 0]): [string, number] {
  return [socket.remoteAddress === undefined ? fallback[0] : unmappedAddress(socket.remoteAddress), socket.remotePort ?? fallback[1]];
}

/** Our end of a connected socket (sockname). */
export function socketSockname(socket: net.Socket): [string, number] {
  return [unmappedAddress(socket.localAddress ?? ''), socket.localPort ?? 0];
}
