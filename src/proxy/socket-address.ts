/** The addresses of a connected socket as mitmproxy shows them (IPv4-mapped ones unmapped). */
import { unmappedAddress } from '../certs/ip.js';
import type dgram from 'node:dgram';
import type net from 'node:net';

/** The remote end of a connected socket (peername). */
export function socketPeername(socket: net.Socket, fallback: readonly [string, number] = ['', 0]): [string, number] {
  return [socket.remoteAddress === undefined ? fallback[0] : unmappedAddress(socket.remoteAddress), socket.remotePort ?? fallback[1]];
}

/** Our end of a connected socket (sockname). */
export function socketSockname(socket: net.Socket): [string, number] {
  return [unmappedAddress(socket.localAddress ?? ''), socket.localPort ?? 0];
}

/** A connected UDP socket's addresses, as for a TCP connection: [peername, sockname]. */
export function udpSocketAddresses(socket: dgram.Socket): [peername: [string, number], sockname: [string, number]] {
  const remote = socket.remoteAddress();
  const local = socket.address();
  return [
    [unmappedAddress(remote.address), remote.port],
    [unmappedAddress(local.address), local.port],
  ];
}
