import net from 'node:net';
import type { Master } from '../master.js';
import { ProxyMode } from './modes.js';
import { handleClientConnection } from './client-connection.js';
import type { ProxyOptions } from './proxy-options.js';
import { OwnAddresses } from './own-addresses.js';
import { IdleConnections } from './idle-connections.js';
import { checkConntrackReadable } from './original-destination.js';
import { DnsServer } from './dns-server.js';
import { UdpRelay } from './udp-relay.js';

/** The TCP modes this version can serve (DNS and UDP relays are told apart by servesDns / relaysUdp). */
const SUPPORTED_MODES: ReadonlySet<string> = new Set(['regular', 'transparent', 'reverse', 'upstream', 'socks5']);

/** Why a listener could not start, as the startup error says it. */
function startFailure(mode: ProxyMode, host: string, port: number, e: unknown): Error {
  const why = (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : (e as Error).message;
  return new Error(`Failed to start ${mode.description} on ${host || '*'}:${port}: ${why}`);
}

/** A UDP relay: reverse proxies to a udp:// target. */
function relaysUdp(mode: ProxyMode): boolean {
  return mode.type === 'reverse' && mode.server?.scheme === 'udp';
}

/** A DNS server (UDP and TCP) rather than a TCP proxy: `dns` mode and reverse proxies to a dns:// target. */
function servesDns(mode: ProxyMode): boolean {
  return mode.type === 'dns' || (mode.type === 'reverse' && mode.server?.scheme === 'dns');
}

/** One listening socket for one mode spec. */
export interface Listener {
  mode: ProxyMode;
  /** The host asked for and the port actually bound (port 0 resolved). */
  host: string;
  port: number;
  /** The bound address as the socket reports it ("::" for every interface, say). */
  address(): net.AddressInfo | null;
  /** Stop listening (and, for DNS and UDP, end the clients the listener keeps). */
  close(): Promise<void>;
}

/**
 * The proxy's listeners, one per mode spec, and the connections they accepted. The options
 * object is shared with every connection and updated in place on `configure`.
 */
export class ProxyServers {
  readonly listeners: Listener[] = [];
  readonly own = new OwnAddresses();
  /** Upstream connections kept between client connections from the same address. */
  readonly idle = new IdleConnections();
  private readonly sockets = new Set<net.Socket>();
  private readonly handlers = new Set<Promise<void>>();

  constructor(
    private readonly master: Master,
    readonly options: ProxyOptions,
  ) {}

  get activeConnections(): number {
    return this.sockets.size;
  }

  /** Start a listener for each mode; on failure, close the ones already started and throw. */
  async start(modes: ProxyMode[], listenHost: string, listenPort: number | null): Promise<void> {
    for (const mode of modes) {
      if (servesDns(mode) || relaysUdp(mode)) continue;
      if (mode.transportProtocol === 'udp') throw new Error(`${mode.description} (${mode.fullSpec}) needs UDP, which is not supported yet.`);
      if (!SUPPORTED_MODES.has(mode.type)) {
        throw new Error(`Proxy mode "${mode.type}" is not supported by mitmproxy-ts yet (${mode.fullSpec}).`);
      }
    }
    // A transparent listener learns destinations from the conntrack table: say at once when it cannot.
    if (modes.some((m) => m.type === 'transparent')) await checkConntrackReadable();
    try {
      for (const mode of modes) {
        const host = mode.listenHost(listenHost);
        const port = mode.listenPort(listenPort) ?? 8080;
        if (servesDns(mode) || relaysUdp(mode)) await this.listenDatagrams(mode, host, port);
        else await this.listen(mode, host, port);
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private listen(mode: ProxyMode, host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, (socket) => this.accept(mode, socket));
      server.on('error', (e) => reject(startFailure(mode, host, port, e)));
      server.listen({ host: host || undefined, port }, () => {
        this.added({
          mode,
          host,
          port: (server.address() as net.AddressInfo).port,
          address: () => server.address() as net.AddressInfo | null,
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
        server.removeAllListeners('error');
        server.on('error', (e) => this.master.log.error(`${mode.description}: ${e.message}`));
        resolve();
      });
    });
  }

  /** A listener that is not a TCP proxy: a DNS server (UDP and TCP) or a UDP relay. */
  private async listenDatagrams(mode: ProxyMode, host: string, port: number): Promise<void> {
    const server = servesDns(mode) ? new DnsServer(this.master, mode) : new UdpRelay(this.master, mode);
    try {
      await server.listen(host, port);
    } catch (e) {
      await server.close();
      throw startFailure(mode, host, port, e);
    }
    this.added({ mode, host, port: server.port, address: () => server.address(), close: () => server.close() });
  }

  /** Keep a started listener, count its port as our own, and say where it listens. */
  private added(l: Listener): void {
    this.listeners.push(l);
    this.own.add(l.host || '', l.port);
    const shown = l.host ? (l.host.includes(':') ? `[${l.host}]` : l.host) : '*';
    this.master.log.info(`${l.mode.description} listening at ${shown}:${l.port}.`);
  }

  private accept(mode: ProxyMode, socket: net.Socket): void {
    // From birth every socket has an error handler: a reset client must never crash the process.
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const p = handleClientConnection(this.master, mode, socket, this.options, this.own, this.idle).catch((e) => {
      this.master.log.error(`Unexpected error: ${(e as Error).stack ?? String(e)}`);
    });
    this.handlers.add(p);
    void p.finally(() => this.handlers.delete(p));
  }

  /** Close every listener and every client connection. */
  async stop(): Promise<void> {
    const closing = this.listeners.splice(0).map((l) => {
      this.own.remove(l.port);
      return l.close();
    });
    for (const s of this.sockets) s.destroy();
    await Promise.all(closing);
    await Promise.allSettled([...this.handlers]);
    this.idle.clear();
  }
}
