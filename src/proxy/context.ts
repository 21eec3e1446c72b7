import type { Duplex } from 'node:stream';
import type { Master } from '../master.js';
import type { Client, Server } from '../connection.js';
import type { ProxyMode } from './modes.js';
import type { SocketReader } from './socket-reader.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { ProxyOptions } from './proxy-options.js';
import type { OwnAddresses } from './own-addresses.js';
import type { IdleConnections } from './idle-connections.js';
import type { ConnectionHooks } from './connection-hooks.js';

/**
 * Everything the protocol code needs to know about one client connection: who the client is,
 * which listener (mode) accepted it, where a tunnel points, the options in force, and the
 * upstream connections it owns. It is passed down from layer to layer (HTTP -> TLS -> HTTP).
 */
export interface ConnectionContext {
  master: Master;
  /** The addon hooks, fired for this connection (its idle timeouts wait while one runs). */
  hooks: ConnectionHooks;
  mode: ProxyMode;
  client: Client;
  /**
   * The server this connection is about: the CONNECT / SOCKS target or the reverse-proxy target.
   * Its address is null for a plain forward proxy connection (each request names its own).
   */
  server: Server;
  /** The current client-side byte stream (the raw socket, or the TLS socket once decrypted). */
  socket: Duplex;
  reader: SocketReader;
  /** The raw TCP socket of the client (for addresses and final teardown). */
  rawSocket: Duplex;
  upstream: UpstreamPool;
  /** Option values read on the hot path, refreshed on `configure`. */
  options: ProxyOptions;
  /** The proxy's own listening addresses, to refuse requests that would loop back into it. */
  own: OwnAddresses;
  /** Upstream connections kept between client connections from the same address (absent for replays). */
  idle?: IdleConnections;
  /** "host:port" of the client, for log lines. */
  clientLabel: string;
  /** Set once the client connection is closing; layers stop reading. */
  closed: boolean;
  /**
   * The client's FIN ends only its direction (a raw TCP relay, or a tunnel that may become one).
   * Otherwise it ends the connection, as node does by default: HTTP, TLS and HTTP/2 take a
   * client's FIN as its leaving.
   */
  halfClose?: boolean;
}
